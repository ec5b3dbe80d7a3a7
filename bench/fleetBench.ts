import { Duration, Effect, Layer, Logger, LogLevel, ManagedRuntime, Redacted, Schedule } from "effect"
import { Redis } from "ioredis"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as FleetLive from "../layers/FleetLive.js"
import * as FleetServer from "../layers/FleetServer.js"
import * as MemoryOutputLog from "../layers/MemoryOutputLog.js"
import * as NodeSystemStats from "../layers/NodeSystemStats.js"
import * as RedisTransport from "../layers/RedisTransport.js"
import * as SqliteListeners from "../layers/SqliteListeners.js"
import * as SqliteSessionStore from "../layers/SqliteSessionStore.js"
import * as SqliteStreamPositions from "../layers/SqliteStreamPositions.js"
import { Fleet } from "../services/Fleet.js"
import { Sessions } from "../services/Sessions.js"
import { makeSlicedScheduler } from "../src/concurrency/SlicedScheduler.js"
import { ComputerName } from "../src/domain/Session.js"
import { FleetKeys, INBOX_MAXLEN } from "../src/fleet/Protocol.js"
import { startRedisServer } from "../test/support/redisServer.js"
import { agentsUnused, sessionsOnDoubles } from "../test/support/unitLayers.js"
import { type BenchRow, formatNs } from "./measure.js"

const A = ComputerName.make("bench-a")
const B = ComputerName.make("bench-b")
const SECRET = "fleet-bench-secret"
const WARMUP = 300
const TIMED = 2_000
/**
 * Requests that fill the inbox and replies streams to their caps before the volume run is measured.
 * `XADD … MAXLEN ~` trims whole nodes of a stream (at most 100 entries or 4 KB each), so a stream
 * stays at its cap from one node past it on; a tenth more than the cap is a margin of many nodes.
 */
const FILL = INBOX_MAXLEN + INBOX_MAXLEN / 10
/**
 * Requests timed past the fill: the streams stay at their caps throughout, so half the cap is
 * thousands of trims and a throughput over several seconds (15,000 took 21 s of the 10-minute bench
 * and read the same rate and the same +0.00 MiB).
 */
const VOLUME = 5_000
const IN_FLIGHT = 64
const P99_TARGET_MS = 5

/** The daemon's scheduler (src/cli/DaemonProgram.ts): fiber batches as macrotasks, so timings here match a daemon's. */
const scheduler = makeSlicedScheduler()

/**
 * One computer as the daemon builds its fleet: RedisTransport, stream positions in a SQLite file,
 * sessions on the in-memory doubles (the request's work there is not what is measured).
 */
const computer = (name: ComputerName, url: string, home: string) =>
  FleetServer.layer.pipe(
    Layer.provideMerge(FleetLive.layer()),
    Layer.provideMerge(Layer.mergeAll(
      MemoryOutputLog.layer,
      SqliteStreamPositions.layer.pipe(Layer.provide(SqliteSessionStore.layerFile(path.join(home, "telemux.db")))),
      SqliteListeners.layerMemory,
      agentsUnused,
      NodeSystemStats.layer,
      RedisTransport.layer({ url: Redacted.make(url) })
    )),
    Layer.provideMerge(sessionsOnDoubles({
      TELEMUX_COMPUTER: name,
      TELEMUX_HOME: home,
      TELEMUX_REDIS_URL: url,
      TELEMUX_FLEET_SECRET: SECRET,
      TELEMUX_TRUSTED_DIRS: home,
      TELEMUX_HEARTBEAT_INTERVAL: "1 second"
    })),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)),
    Layer.provide(Layer.setScheduler(scheduler))
  )

const percentile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0

const redisFigures = async (client: Redis) => {
  const memory = Number(/^used_memory:(\d+)/m.exec(await client.info("memory"))?.[1] ?? Number.NaN)
  return {
    memory,
    keys: await client.dbsize(),
    inbox: await client.xlen(FleetKeys.inbox(B)),
    replies: await client.xlen(FleetKeys.replies(A))
  }
}

/**
 * The floor under any stream-based request: the same two stream hops (XADD to an inbox, a blocked
 * XREAD wakes the other side, XADD of the reply, a blocked XREAD wakes the asker) on bare ioredis
 * connections, with no envelope, signature, schema or fiber in between. Returns sorted ns.
 */
const bareStreamRoundTrips = async (url: string, admin: Redis, n: number) => {
  const inbox = "bench:bare:inbox"
  const replies = "bench:bare:replies"
  await admin.del(inbox, replies)
  const [asker, askerReader, answerer, answererReader] = [
    new Redis(url),
    new Redis(url),
    new Redis(url),
    new Redis(url)
  ]
  let serving = true
  const serve = (async () => {
    let after = "0-0"
    while (serving) {
      const got = (await answererReader.xread("COUNT", 100, "BLOCK", 1000, "STREAMS", inbox, after)) as
        | Array<[string, Array<[string, Array<string>]>]>
        | null
      for (const [, entries] of got ?? []) {
        for (const [id, fields] of entries) {
          after = id
          await answerer.xadd(replies, "MAXLEN", "~", 1000, "*", "p", fields[1] ?? "")
        }
      }
    }
  })()
  const times: Array<number> = []
  let after = "0-0"
  for (let i = 0; i < WARMUP + n; i++) {
    const start = process.hrtime.bigint()
    await asker.xadd(inbox, "MAXLEN", "~", 1000, "*", "p", String(i))
    const got = (await askerReader.xread("BLOCK", 1000, "STREAMS", replies, after)) as
      | Array<[string, Array<[string, Array<string>]>]>
      | null
    after = got?.[0]?.[1].at(-1)?.[0] ?? after
    if (i >= WARMUP) times.push(Number(process.hrtime.bigint() - start))
  }
  serving = false
  await serve
  for (const client of [asker, askerReader, answerer, answererReader]) client.disconnect()
  await admin.del(inbox, replies)
  return times.sort((x, y) => x - y)
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`

/**
 * Remote requests between two in-process fleet stacks on one loopback redis-server: the round trip
 * of a remote Capture (A → B's inbox → B's handler → A's replies) beside a bare PING measured in
 * the same loop; then VOLUME remote requests with Redis memory and key count before and after.
 */
export const benchFleet = async (): Promise<ReadonlyArray<BenchRow>> => {
  const server = await startRedisServer()
  const admin = new Redis(server.url)
  const homeA = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-bench-a-"))
  const homeB = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-bench-b-"))
  const a = ManagedRuntime.make(computer(A, server.url, homeA))
  const b = ManagedRuntime.make(computer(B, server.url, homeB))
  try {
    const fleetA = await a.runPromise(Fleet)
    const session = await b.runPromise(Effect.flatMap(Sessions, (sessions) => sessions.create({ projectDir: homeB })))
    // A learns of B on its next discovery round
    await a.runPromise(
      fleetA.call(B, (c) => c.ListSessions()).pipe(
        Effect.retry({
          while: (e) => e._tag === "ComputerUnreachable",
          schedule: Schedule.spaced(Duration.millis(100))
        }),
        Effect.timeout(Duration.seconds(10))
      )
    )

    const capture = fleetA.call(B, (c) => c.Capture({ sessionId: session.sessionId, lines: 0 }))
    const ping = Effect.promise(() => admin.ping())
    const { requestNs, pingNs } = await a.runPromise(
      Effect.gen(function*() {
        for (let i = 0; i < WARMUP; i++) {
          yield* capture
          yield* ping
        }
        const requestNs: Array<number> = []
        const pingNs: Array<number> = []
        for (let i = 0; i < TIMED; i++) {
          let start = process.hrtime.bigint()
          yield* ping
          pingNs.push(Number(process.hrtime.bigint() - start))
          start = process.hrtime.bigint()
          yield* capture
          requestNs.push(Number(process.hrtime.bigint() - start))
        }
        return { requestNs: requestNs.sort((x, y) => x - y), pingNs: pingNs.sort((x, y) => x - y) }
      }).pipe(Effect.withScheduler(scheduler))
    )
    const bareNs = await bareStreamRoundTrips(server.url, admin, TIMED)

    const list = fleetA.call(B, (c) => c.ListSessions())
    const burst = (n: number) =>
      a.runPromise(
        Effect.forEach(Array.from({ length: n }), () => list, { concurrency: IN_FLIGHT, discard: true }).pipe(
          Effect.withScheduler(scheduler)
        )
      )
    const empty = await redisFigures(admin)
    await burst(FILL)
    const before = await redisFigures(admin)
    const started = process.hrtime.bigint()
    await burst(VOLUME)
    const elapsedNs = Number(process.hrtime.bigint() - started)
    const after = await redisFigures(admin)

    const p50 = percentile(requestNs, 0.5)
    const p99 = percentile(requestNs, 0.99)
    return [
      {
        name: `remote Capture round trip A→B→A, p50 (${TIMED} sequential, loopback)`,
        value: formatNs(p50),
        baseline: `${formatNs(percentile(pingNs, 0.5))} bare PING`,
        ratio: `${(p50 / percentile(pingNs, 0.5)).toFixed(1)}× PING`
      },
      {
        name: `remote Capture round trip, p99 (target ≤ ${P99_TARGET_MS} ms)`,
        value: `${formatNs(p99)} ${p99 <= P99_TARGET_MS * 1e6 ? "(met)" : "(MISSED)"}`,
        baseline: `${formatNs(percentile(pingNs, 0.99))} bare PING`,
        ratio: `${(p99 / percentile(pingNs, 0.99)).toFixed(1)}× PING`
      },
      {
        name: "bare stream round trip (XADD → blocked XREAD → XADD → blocked XREAD, raw ioredis), p50 / p99",
        value: `${formatNs(percentile(bareNs, 0.5))} / ${formatNs(percentile(bareNs, 0.99))}`,
        baseline: "the floor under any request over streams",
        ratio: `fleet ${(p50 / percentile(bareNs, 0.5)).toFixed(1)}× / ${(p99 / percentile(bareNs, 0.99)).toFixed(1)}×`
      },
      {
        name: "remote Capture round trip, max",
        value: formatNs(requestNs[requestNs.length - 1] ?? 0),
        baseline: `${formatNs(pingNs[pingNs.length - 1] ?? 0)} bare PING`
      },
      {
        name: `${VOLUME.toLocaleString("en")} remote ListSessions (${IN_FLIGHT} in flight): throughput`,
        value: `${Math.round(VOLUME / (elapsedNs / 1e9)).toLocaleString("en")} requests/s`,
        baseline: `${formatNs(elapsedNs / VOLUME)} per request`
      },
      {
        name: `same: Redis used_memory (streams capped at ${INBOX_MAXLEN.toLocaleString("en")})`,
        value: `${mib(before.memory)} → ${mib(after.memory)} (${after.memory >= before.memory ? "+" : ""}${
          mib(after.memory - before.memory)
        })`,
        baseline: `${mib(empty.memory)} before the first ${FILL.toLocaleString("en")} (filling the caps)`
      },
      {
        name: "same: DBSIZE and stream lengths",
        value:
          `${before.keys} → ${after.keys} keys; XLEN inbox ${before.inbox} → ${after.inbox}, replies ${before.replies} → ${after.replies}`,
        baseline: `${empty.keys} keys at the start`
      }
    ]
  } finally {
    await Promise.allSettled([a.dispose(), b.dispose()])
    admin.disconnect()
    await server.stop()
    for (const home of [homeA, homeB]) fs.rmSync(home, { recursive: true, force: true })
  }
}

export const main = async () => {
  const { printRows } = await import("./measure.js")
  printRows("fleet requests over Redis: two in-process computers on loopback", await benchFleet())
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
