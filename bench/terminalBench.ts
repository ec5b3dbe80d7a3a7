/**
 * The terminal stream as a user of the dashboard sees it, beside the floor measured in the same run
 * on the same tmux server: a bare `tmux -C` client of this benchmark's own (inputBench's observer).
 *
 * - Keystroke → its echo: a key sent as an `input` message on the daemon's WebSocket until the
 *   shell's echo of it arrives as a chunk frame on the same socket; the floor sends the same key
 *   with `send-keys -H` and times the `%output` that carries its echo. Taken in turns on one idle
 *   shell, with no other session (1) and with 100 other sessions printing every 200 ms (100).
 * - Throughput: a pane `cat`s a large file; bytes per second until the end marker arrives at a
 *   healthy WebSocket client, beside the same `cat` timed by the bare client alone; and the
 *   daemon's CPU time per MB streamed.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import WebSocket from "ws"
import { decodeChunkFrame } from "../src/api/TerminalFrames.js"
import {
  type DaemonEnv,
  keepAliveApi,
  makeDaemonEnv,
  removeDaemonEnv,
  startDaemon
} from "../test/support/daemonProcess.js"
import { observer, PRINTER, ready, sessionsOf, shellMarker, show, stats } from "./inputBench.js"
import type { BenchRow } from "./measure.js"

const SAMPLES = 150
/**
 * Keystrokes sent through the stream before any is timed, back to back (each waits for its echo):
 * a daemon in use has its keystroke path compiled by V8, as the input bench's daemon has its
 * input path (see WARM_UP_INPUTS there).
 */
const WARM_UP = 1500
const FILE_MB = 6
const THROUGHPUT_ROUNDS = 3
const MISS_AFTER_MS = 5000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A WebSocket client of the daemon watching one session's terminal; calls `onBytes` with each chunk's bytes. */
const terminalClient = async (env: DaemonEnv, sessionId: string) => {
  const token = fs.readFileSync(path.join(env.home, "token"), "utf8").trim()
  const ws = new WebSocket(`ws://127.0.0.1:${env.port}/v1/stream`, { headers: { authorization: `Bearer ${token}` } })
  let onBytes: (bytes: Uint8Array, at: number) => void = () => undefined
  let snapshot: () => void = () => undefined
  const drawn = new Promise<void>((resolve) => (snapshot = resolve))
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    const at = performance.now()
    if (!isBinary) {
      if ((JSON.parse(data.toString()) as { type: string }).type === "terminal") snapshot()
      return
    }
    const frame = decodeChunkFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    if (frame !== undefined && frame.sessionId === sessionId) onBytes(frame.bytes, at)
  })
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve())
    ws.once("error", reject)
  })
  ws.send(JSON.stringify({ type: "subscribe", terminal: [{ sessionId }] }))
  await drawn
  return {
    listen: (listener: (bytes: Uint8Array, at: number) => void) => void (onBytes = listener),
    input: (data: string) => ws.send(JSON.stringify({ type: "input", sessionId, data })),
    close: () => ws.close()
  }
}

type Client = Awaited<ReturnType<typeof terminalClient>>

/** When `byte` comes in a chunk on `client` (performance.now()), or undefined after MISS_AFTER_MS. */
const echoed = (client: Client, byte: number) =>
  new Promise<number | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), MISS_AFTER_MS)
    client.listen((bytes, at) => {
      if (!bytes.includes(byte)) return
      clearTimeout(timer)
      client.listen(() => undefined)
      resolve(at)
    })
  })

const warmUp = async (client: Client, watch: ReturnType<typeof observer>, pane: string) => {
  for (let i = 0; i < WARM_UP; i++) {
    // clear the line (Ctrl-U) now and then, so the echo stays one byte at the line's end
    if (i % 40 === 39) watch.send(`send-keys -t ${pane} -H 15`)
    const key = 0x61 + (i % 26)
    const seen = echoed(client, key)
    client.input(String.fromCharCode(key))
    if ((await seen) === undefined) throw new Error(`warm-up keystroke ${i} was never echoed`)
  }
  watch.send(`send-keys -t ${pane} -H 15`)
  await sleep(200)
}

const keystrokes = async (client: Client, watch: ReturnType<typeof observer>, pane: string, samples = SAMPLES) => {
  const ws: Array<number> = []
  const floor: Array<number> = []
  /** For the stream's keys: until tmux wrote the echo (seen by the bare client), then on to the WebSocket. */
  const inputSide: Array<number> = []
  const outputSide: Array<number> = []
  let misses = 0
  for (let i = 0; i < samples * 2; i++) {
    if (i % 40 === 39) {
      // clear the line (Ctrl-U) now and then, so the echo stays one byte at the line's end
      watch.send(`send-keys -t ${pane} -H 15`)
      await sleep(100)
    }
    const key = 0x61 + (i % 26)
    const viaStream = i % 2 === 0
    const seen = viaStream ? echoed(client, key) : watch.seen(pane, String.fromCharCode(key))
    const written = viaStream ? watch.seen(pane, String.fromCharCode(key)) : undefined
    const start = performance.now()
    if (viaStream) client.input(String.fromCharCode(key))
    else watch.send(`send-keys -t ${pane} -H ${key.toString(16)}`)
    const at = await seen
    const wroteAt = await written
    if (at === undefined) misses++
    else (viaStream ? ws : floor).push(at - start)
    if (at !== undefined && wroteAt !== undefined) {
      inputSide.push(wroteAt - start)
      outputSide.push(at - wroteAt)
    }
    await sleep(5 + Math.random() * 10)
  }
  return { ws: stats(ws), floor: stats(floor), inputSide: stats(inputSide), outputSide: stats(outputSide), misses }
}

const cpuMs = (pid: number) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  // utime and stime, fields 14 and 15 of stat (11 and 12 after the command), in clock ticks
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const throughput = async (
  client: Client,
  watch: ReturnType<typeof observer>,
  pane: string,
  file: string,
  daemonPid: number
) => {
  const bytes = fs.statSync(file).size
  const ws: Array<number> = []
  const floor: Array<number> = []
  const cpuPerMb: Array<number> = []
  for (let round = 0; round < THROUGHPUT_ROUNDS * 2; round++) {
    const viaStream = round % 2 === 0
    const { marker, text } = shellMarker(`T${round}`)
    let tail = ""
    const done = viaStream
      ? new Promise<number>((resolve) => {
        const timer = setTimeout(() => resolve(NaN), 120_000)
        client.listen((chunk, at) => {
          tail = (tail + Buffer.from(chunk).toString("latin1")).slice(-256)
          if (!tail.includes(marker)) return
          clearTimeout(timer)
          resolve(at)
        })
      })
      : watch.seen(pane, marker, 120_000).then((at) => at ?? NaN)
    const cpuBefore = cpuMs(daemonPid)
    const start = performance.now()
    watch.send(`send-keys -t ${pane} -l 'cat ${file}; ${text}' ; send-keys -t ${pane} Enter`)
    const at = await done
    const seconds = (at - start) / 1000
    if (viaStream) {
      ws.push(bytes / seconds)
      cpuPerMb.push((cpuMs(daemonPid) - cpuBefore) / (bytes / 1e6))
      client.listen(() => undefined)
    } else {
      floor.push(bytes / seconds)
    }
    await sleep(500)
  }
  return { ws: median(ws), floor: median(floor), cpuPerMb: median(cpuPerMb) }
}

const mbps = (bytesPerSecond: number) => `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`

export const benchTerminal = async (): Promise<ReadonlyArray<BenchRow>> => {
  const env = await makeDaemonEnv()
  const daemon = await startDaemon(env, { TELEMUX_LOG_LEVEL: "Warning" })
  const call = keepAliveApi(env)
  const watch = observer(env.socket)
  const rows: Array<BenchRow> = []
  const file = path.join(env.home, "big.txt")
  try {
    const line = "telemux terminal stream throughput line — 0123456789 abcdefghijklmnopqrstuvwxyz\n"
    fs.writeFileSync(file, line.repeat(Math.ceil((FILE_MB * 1e6) / Buffer.byteLength(line))))
    const [typing] = await sessionsOf(call, env, 1)
    await ready(call, watch, [typing!])
    const client = await terminalClient(env, typing!.id)
    // a daemon in use has its paths compiled: warm the stream's keystroke path up before timing
    await warmUp(client, watch, typing!.pane)

    const row = (name: string, result: Awaited<ReturnType<typeof keystrokes>>) => {
      rows.push({
        name: `keystroke → echo on the WebSocket, ${name}, p50/p90/p99/max`,
        value: show(result.ws),
        baseline: `bare tmux -C ${show(result.floor)}`,
        ratio: `p50 +${(result.ws.p50 - result.floor.p50).toFixed(1)} ms${
          result.misses > 0 ? `, ${result.misses} missed` : ""
        }`
      })
      rows.push({
        name: `  where the stream's time goes, ${name}: key sent → tmux wrote its echo | → on the WebSocket`,
        value: `${result.inputSide.p50.toFixed(1)} | ${result.outputSide.p50.toFixed(1)} ms (p50)`,
        baseline: `p99 ${result.inputSide.p99.toFixed(1)} | ${result.outputSide.p99.toFixed(1)} ms`
      })
    }
    row("1 session", await keystrokes(client, watch, typing!.pane))

    const printers = await sessionsOf(call, env, 100)
    await ready(call, watch, printers)
    await Promise.all(printers.map((s) => call("POST", `/v1/sessions/${s.id}/input`, { text: PRINTER, enter: true })))
    await sleep(2000)
    row("100 other sessions printing every 200 ms", await keystrokes(client, watch, typing!.pane))
    await Promise.all(printers.map((s) => call("DELETE", `/v1/sessions/${s.id}`)))
    await sleep(1000)

    watch.send(`send-keys -t ${typing!.pane} -H 15`)
    await sleep(200)
    const moved = await throughput(client, watch, typing!.pane, file, daemon.child.pid!)
    rows.push({
      name: `throughput: cat of ${FILE_MB} MB to a healthy WebSocket client (median of ${THROUGHPUT_ROUNDS})`,
      value: mbps(moved.ws),
      baseline: `bare tmux -C ${mbps(moved.floor)}`,
      ratio: `${(moved.ws / moved.floor).toFixed(2)}×`
    })
    rows.push({
      name: "throughput: daemon CPU per MB streamed",
      value: `${moved.cpuPerMb.toFixed(1)} ms/MB`,
      baseline: ""
    })
    client.close()
  } finally {
    watch.close()
    await daemon.stop()
    removeDaemonEnv(env)
  }
  return rows
}
