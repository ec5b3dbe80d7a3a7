import { Duration, Effect, ManagedRuntime, Redacted } from "effect"
import { Redis } from "ioredis"
import { spawn } from "node:child_process"
import { pathToFileURL } from "node:url"
import * as RedisTransport from "../layers/RedisTransport.js"
import { KEY_PREFIX, Transport } from "../services/Transport.js"
import { startRedisServer } from "../test/support/redisServer.js"
import { type BenchRow, formatNs, ratio } from "./measure.js"

const UNRELATED_KEYS = 100_000
const COMPUTERS = 50
const PATTERN = `${KEY_PREFIX}computer:*`
/** How long each workload runs while the probe samples PING latency. */
const WINDOW_MS = 3_000
const APPENDS = 20_000
const STREAM_CAP = 1_000

interface Latencies {
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly samples: number
}

const summarise = (ns: Array<number>): Latencies => {
  ns.sort((a, b) => a - b)
  const at = (q: number) => ns[Math.min(ns.length - 1, Math.floor(ns.length * q))] ?? 0
  return { p50: at(0.5), p99: at(0.99), max: ns[ns.length - 1] ?? 0, samples: ns.length }
}

const elapsedNs = (start: bigint) => Number(process.hrtime.bigint() - start)

/**
 * The other client, in a process of its own so that only Redis's latency is measured, not this
 * process's event loop: PINGs back to back from "go" until stdin ends, then prints its samples.
 */
const PROBE = `
const { Redis } = require("ioredis")
const client = new Redis(process.argv[1])
const samples = []
let running = true
process.stdin.on("end", () => { running = false })
process.stdin.resume()
client.ping().then(async () => {
  process.stdout.write("go\\n")
  while (running) {
    const start = process.hrtime.bigint()
    await client.ping()
    samples.push(Number(process.hrtime.bigint() - start))
  }
  process.stdout.write(JSON.stringify(samples) + "\\n")
  client.disconnect()
})
`

const startProbe = (url: string) =>
  new Promise<{ readonly stop: () => Promise<Array<number>> }>((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", PROBE, url], {
      cwd: process.cwd(),
      stdio: ["pipe", "pipe", "inherit"]
    })
    let out = ""
    let started = false
    child.once("error", reject)
    child.once("exit", (code) => {
      if (!started) reject(new Error(`PING probe exited (${code}) before it started`))
    })
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (!started && out.startsWith("go\n")) {
        started = true
        out = out.slice(3)
        resolve({
          stop: () =>
            new Promise((done) => {
              child.once("exit", () => done(JSON.parse(out) as Array<number>))
              child.stdin.end()
            })
        })
      }
    })
  })

/**
 * Runs `workload` back to back for WINDOW_MS while another process PINGs continuously; returns
 * what that other client saw and how long one workload run took.
 */
const underLoad = async (url: string, workload: () => Promise<number>) => {
  const probe = await startProbe(url)
  const runs: Array<number> = []
  const until = Date.now() + WINDOW_MS
  while (Date.now() < until) {
    const start = process.hrtime.bigint()
    const found = await workload()
    runs.push(elapsedNs(start))
    if (found !== COMPUTERS) throw new Error(`discovery found ${found} computers, expected ${COMPUTERS}`)
  }
  return { ping: summarise(await probe.stop()), run: summarise(runs) }
}

const memoryOf = async (client: Redis) => {
  const info = await client.info("memory")
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN)
}

const formatBytes = (bytes: number) =>
  Math.abs(bytes) >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`

/**
 * Discovery on a Redis holding 100k unrelated keys: SCAN (through the transport) beside the KEYS
 * it replaces, measured as the PING latency another client sees meanwhile; and the memory of a
 * capped stream after 100k appends beside an uncapped one.
 */
export const benchDiscovery = async (): Promise<ReadonlyArray<BenchRow>> => {
  const server = await startRedisServer()
  const admin = new Redis(server.url)
  const runtime = ManagedRuntime.make(RedisTransport.layer({ url: Redacted.make(server.url) }))
  try {
    for (let from = 0; from < UNRELATED_KEYS; from += 10_000) {
      const batch = admin.pipeline()
      for (let i = from; i < from + 10_000; i++) batch.set(`app:cache:item:${i}`, "x".repeat(32))
      await batch.exec()
    }
    const computers = admin.pipeline()
    for (let i = 0; i < COMPUTERS; i++) computers.set(`${KEY_PREFIX}computer:host-${i}`, "{}", "PX", 3_600_000)
    await computers.exec()

    const transport = await runtime.runPromise(Transport)
    const idle = await underLoad(server.url, async () => {
      await new Promise((resolve) => setTimeout(resolve, 5))
      return COMPUTERS
    })
    const scan = await underLoad(server.url, async () => (await runtime.runPromise(transport.scan(PATTERN))).length)
    const keys = await underLoad(server.url, async () => (await admin.keys(PATTERN)).length)

    const rows: Array<BenchRow> = [
      {
        name: `PING p50 from another client during discovery, ${UNRELATED_KEYS.toLocaleString("en")} unrelated keys`,
        value: `${formatNs(scan.ping.p50)} SCAN`,
        baseline: `${formatNs(keys.ping.p50)} KEYS (idle ${formatNs(idle.ping.p50)})`,
        ratio: ratio(keys.ping.p50, scan.ping.p50)
      },
      {
        name: "PING p99 from another client during discovery",
        value: `${formatNs(scan.ping.p99)} SCAN`,
        baseline: `${formatNs(keys.ping.p99)} KEYS (idle ${formatNs(idle.ping.p99)})`,
        ratio: ratio(keys.ping.p99, scan.ping.p99)
      },
      {
        name: "PING worst case during discovery",
        value: `${formatNs(scan.ping.max)} SCAN`,
        baseline: `${formatNs(keys.ping.max)} KEYS`,
        ratio: ratio(keys.ping.max, scan.ping.max)
      },
      {
        name: `one discovery of ${COMPUTERS} computers (median; the price of not blocking)`,
        value: `${formatNs(scan.run.p50)} SCAN COUNT 500`,
        baseline: `${formatNs(keys.run.p50)} KEYS`,
        ratio: ratio(keys.run.p50, scan.run.p50)
      }
    ]

    const streamKey = `${KEY_PREFIX}inbox:bench`
    const append = (i: number) =>
      transport.append(streamKey, `{"n":${i}}`, { maxLen: STREAM_CAP, ttl: Duration.hours(1) })
    await runtime.runPromise(Effect.forEach(Array.from({ length: STREAM_CAP }, (_, i) => i), append, { discard: true }))
    const keysAtCap = await admin.dbsize()
    const memoryAtCap = await memoryOf(admin)
    await runtime.runPromise(
      Effect.forEach(Array.from({ length: APPENDS }, (_, i) => i), append, { concurrency: 64, discard: true })
    )
    const keysAfter = await admin.dbsize()
    const memoryAfter = await memoryOf(admin)
    const cappedLength = await admin.xlen(streamKey)

    const uncappedKey = `${KEY_PREFIX}inbox:uncapped`
    const memoryBeforeUncapped = await memoryOf(admin)
    for (let from = 0; from < APPENDS; from += 10_000) {
      const batch = admin.pipeline()
      for (let i = from; i < from + 10_000; i++) batch.xadd(uncappedKey, "*", "p", `{"n":${i}}`)
      await batch.exec()
    }
    const uncappedGrowth = (await memoryOf(admin)) - memoryBeforeUncapped

    rows.push(
      {
        name: `${APPENDS.toLocaleString("en")} appends to a stream capped at ${STREAM_CAP}: used_memory growth`,
        value: `${formatBytes(memoryAfter - memoryAtCap)} (${formatBytes(memoryAtCap)} → ${formatBytes(memoryAfter)})`,
        baseline: `${formatBytes(uncappedGrowth)} uncapped XADD`
      },
      {
        name: "same appends: key count and stream length",
        value: `${keysAtCap} → ${keysAfter} keys, XLEN ${cappedLength}`,
        baseline: `XLEN ${await admin.xlen(uncappedKey)} uncapped`
      }
    )
    return rows
  } finally {
    await runtime.dispose()
    admin.disconnect()
    await server.stop()
  }
}

export const main = async () => {
  const { printRows } = await import("./measure.js")
  printRows("fleet discovery on Redis: SCAN vs KEYS, capped streams", await benchDiscovery())
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
