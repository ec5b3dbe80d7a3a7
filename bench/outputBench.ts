/**
 * Live-output benchmarks, each beside its baseline in the same run: the real daemon (dist/main.js,
 * private tmux socket, temp state dir) watched over its WebSocket, against a naive poller that
 * spawns `tmux capture-pane` for every session every second.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import WebSocket from "ws"
import { freePort } from "../test/support/daemonProcess.js"
import { childrenOf } from "../test/support/processes.js"
import type { BenchRow } from "./measure.js"

const ROOT = path.resolve(import.meta.dirname, "..")
/** TELEMUX_BENCH_DAEMON: another build of the daemon to measure (default: this tree's dist/main.js). */
const DIST_MAIN = process.env.TELEMUX_BENCH_DAEMON ?? path.join(ROOT, "dist", "main.js")
const PROBE = path.join(ROOT, "bench", "eventLoopProbe.mjs")
const WRAPPER_DIR = path.join(ROOT, "bench", "bin")
/** The real tmux on PATH, never the counting wrapper (which would exec itself). */
export const REAL_TMUX = (process.env.PATH ?? "")
  .split(":")
  .filter((dir) => dir !== "" && path.resolve(dir) !== WRAPPER_DIR)
  .map((dir) => path.join(dir, "tmux"))
  .find((file) => fs.existsSync(file)) ?? "tmux"
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
const BASELINE_INTERVAL_MS = 1000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!
const ms = (n: number) => `${n.toFixed(1)} ms`

/** CPU seconds used by `pid` and its reaped children so far (from /proc). */
export const cpuSeconds = (pid: number | "self"): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // utime stime cutime cstime are fields 14-17 (1-based) → 11..14 after the comm field
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLK_TCK
}

/**
 * Kills the tmux server on `socket` and waits until it and its panes' processes are gone, so that
 * the next section does not run beside their ending. `kill-server` made the server end its panes
 * one by one: 13 s for 500 busy panes, a third of the busy section's set-up. SIGKILL ends the
 * server at once and the kernel hangs up every pane's terminal, which ends its shell (500 panes:
 * server gone in 0.4 s, shells in 2.5 s, against 4.5 s for `kill-server` with idle shells).
 * A pane process still there after `within` (one that ignores SIGHUP) is killed.
 */
export const killTmuxServer = async (socket: string, within = 30_000) => {
  /** A process's start time (field 22 of its stat), so that a pid taken by another process later is not it. */
  const startOf = (pid: number): string | undefined => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      return fields[0] === "Z" ? undefined : fields[19]
    } catch {
      return undefined
    }
  }
  let processes: Array<{ readonly pid: number; readonly start: string | undefined }>
  try {
    const tmux = (...args: ReadonlyArray<string>) =>
      execFileSync(REAL_TMUX, ["-L", socket, ...args], { stdio: ["ignore", "pipe", "ignore"] }).toString()
    const server = Number(tmux("display-message", "-p", "#{pid}").trim())
    const panes = tmux("list-panes", "-a", "-F", "#{pane_pid}").split("\n").filter(Boolean).map(Number)
    processes = [server, ...panes].map((pid) => ({ pid, start: startOf(pid) }))
    process.kill(server, "SIGKILL")
  } catch {
    return // no server
  }
  const alive = (p: { readonly pid: number; readonly start: string | undefined }) =>
    p.start !== undefined && startOf(p.pid) === p.start
  const deadline = Date.now() + within
  while ((processes = processes.filter(alive)).length > 0 && Date.now() < deadline) await sleep(50)
  for (const { pid } of processes) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // gone meanwhile
    }
  }
}

export interface LoopDelay {
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly tickP99Ms: number
  readonly resolutionMs: number
}

/** The probe's raw figure beside the delay derived from it. */
export const loopTicks = (loop: LoopDelay) =>
  `its ${loop.resolutionMs} ms timer's ticks p99 ${loop.tickP99Ms.toFixed(1)} ms apart`

export interface Daemon {
  readonly pid: number
  readonly port: number
  /** The daemon's tmux server socket name (`tmux -L`). */
  readonly socket: string
  readonly token: string
  readonly spawnLog: string
  readonly call: (method: string, route: string, body?: unknown) => Promise<any>
  /** Event-loop delay (how late the probe's timer ticked) since the last call, and the raw tick interval's p99. */
  readonly probe: () => Promise<LoopDelay>
  readonly stop: () => Promise<void>
}

/** `probe: false` leaves the event-loop probe out: its 5 ms timer would be most of an idle daemon's CPU. */
export const startDaemon = async (
  options: {
    readonly probe?: boolean
    readonly env?: Readonly<Record<string, string>>
    /** Another build's dist/main.js (default: TELEMUX_BENCH_DAEMON, else this checkout's). */
    readonly main?: string
  } = {}
): Promise<Daemon> => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-bench-"))
  const socket = `telemux-bench-${process.pid}-${Math.random().toString(16).slice(2, 8)}`
  const port = await freePort()
  const spawnLog = path.join(home, "spawns.log")
  const probeFile = path.join(home, "probe.json")
  fs.writeFileSync(spawnLog, "")
  // TELEMUX_BENCH_NODE_ARGS: extra flags for the daemon's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  const nodeArgs = (process.env.TELEMUX_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean)
  const child = spawn(process.execPath, [...nodeArgs, "--import", PROBE, options.main ?? DIST_MAIN], {
    env: {
      // The daemon runs as `node dist/main.js` does for a user: without the NODE_OPTIONS (tsx's
      // loader and preflight) that this benchmark itself runs under.
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== "NODE_OPTIONS")),
      PATH: `${WRAPPER_DIR}:${process.env.PATH}`,
      // Panes' shells read no ~/.bashrc: the developer's shell set-up is not what is measured.
      HOME: home,
      // dying panes must not write shell history into the state dir being removed
      HISTFILE: "/dev/null",
      TELEMUX_BENCH_REAL_TMUX: REAL_TMUX,
      TELEMUX_BENCH_SPAWN_LOG: spawnLog,
      ...(options.probe === false ? {} : { TELEMUX_BENCH_PROBE: probeFile }),
      TELEMUX_HOME: home,
      TELEMUX_TMUX_SOCKET: socket,
      TELEMUX_PORT: String(port),
      TELEMUX_COMPUTER: "bench",
      TELEMUX_LOG_LEVEL: process.env.TELEMUX_BENCH_LOG_LEVEL ?? "Warning",
      ...options.env
    },
    stdio: ["ignore", fs.openSync(path.join(home, "daemon.log"), "w"), "inherit"]
  })
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) })).ok) break
    } catch {
      // not yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL")
      const log = fs.readFileSync(path.join(home, "daemon.log"), "utf8").split("\n").slice(-15).join("\n")
      throw new Error(`daemon did not start:\n${log}`)
    }
    await sleep(50)
  }
  const token = fs.readFileSync(path.join(home, "token"), "utf8").trim()
  const call = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {})
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`)
    return text === "" ? undefined : JSON.parse(text)
  }
  const probe = async () => {
    fs.rmSync(probeFile, { force: true })
    child.kill("SIGUSR2")
    for (let i = 0; i < 100 && !fs.existsSync(probeFile); i++) await sleep(20)
    return JSON.parse(fs.readFileSync(probeFile, "utf8"))
  }
  const stop = async () => {
    const exited = new Promise((r) => child.once("exit", r))
    child.kill("SIGTERM")
    await exited
    await killTmuxServer(socket)
    fs.rmSync(home, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 })
  }
  return { pid: child.pid!, port, socket, token, spawnLog, call, probe, stop }
}

/** A WebSocket watching every session's output; resolves waiters when a screen contains a marker. */
const watch = async (daemon: Daemon, ids: ReadonlyArray<string>) => {
  const ws = new WebSocket(`ws://127.0.0.1:${daemon.port}/v1/stream`, {
    headers: { authorization: `Bearer ${daemon.token}` }
  })
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve())
    ws.once("error", reject)
  })
  const waiters = new Map<string, { marker: string; resolve: () => void }>()
  const seen = new Set<string>()
  const counts = { output: 0, resync: 0 }
  ws.on("message", (raw) => {
    const message = JSON.parse(raw.toString())
    if (message.type === "output" || message.type === "resync") counts[message.type as "output" | "resync"]++
    if ((message.type === "output" || message.type === "resync") && typeof message.screen === "string") {
      seen.add(message.sessionId)
      const waiter = waiters.get(message.sessionId)
      if (waiter !== undefined && message.screen.includes(waiter.marker)) {
        waiters.delete(message.sessionId)
        waiter.resolve()
      }
    }
  })
  ws.send(JSON.stringify({ type: "subscribe", output: ids.map((sessionId) => ({ sessionId })) }))
  const deadline = Date.now() + 30_000
  while (seen.size < ids.length && Date.now() < deadline) await sleep(20)
  return {
    /** Resolves true when a frame shows the marker, false after 10 s (counted as a miss). */
    until: (sessionId: string, marker: string) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(sessionId)
          resolve(false)
        }, 10_000)
        waiters.set(sessionId, { marker, resolve: () => (clearTimeout(timer), resolve(true)) })
      }),
    counts,
    close: () => ws.close()
  }
}

export const createSessions = async (daemon: Daemon, n: number, dir: string) => {
  const ids: Array<string> = []
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, () => daemon.call("POST", "/v1/sessions", { projectDir: dir }))
    )
    ids.push(...batch.map((s) => s.sessionId))
  }
  return ids
}

/**
 * What every session runs while latency is measured: a line of output every 200 ms, each
 * session starting at a random offset (real sessions do not print in lockstep).
 */
// `read -t` on a pipe we hold open is a builtin sleep: the load is the output, not 500 forks/s.
// In the background, so the shell is free to run the commands the latency is measured with.
const ACTIVITY =
  "exec 9<> <(:); { read -t 0.$((RANDOM % 10)) -u 9; while :; do echo tick-$RANDOM; read -t 0.2 -u 9; done; } &"

export type LatencyMode =
  /** Every session prints continuously; markers are typed one at a time, round-robin. */
  | "active"
  /** Idle sessions; a marker is typed into every session at the same instant, `rounds` times. */
  | "burst"

/**
 * A command whose output is its marker: the shell computes it, so the echo of what was typed never
 * shows it (the echo reads `$((k+1))`, the output the sum). The figure is the output's, what a
 * person waits for, not the echo's.
 */
const typedCommand = (tag: string) => {
  const k = 100_000 + Math.floor(Math.random() * 800_000)
  return { text: `echo ${tag}q$((${k}+1))z`, marker: `${tag}q${k + 1}z` }
}

/** Latency from sending a command until a WebSocket update shows its output. */
export const telemuxLatency = async (n: number, mode: LatencyMode, count: number) => {
  const daemon = await startDaemon()
  try {
    const ids = await createSessions(daemon, n, os.tmpdir())
    await sleep(1000)
    if (mode === "active") {
      await Promise.all(ids.map((id) => daemon.call("POST", `/v1/sessions/${id}/input`, { text: ACTIVITY })))
    }
    const watcher = await watch(daemon, ids)
    await sleep(1000)
    const samples: Array<number> = []
    const misses: Array<string> = []
    await daemon.probe()
    const spawnsBefore = fs.readFileSync(daemon.spawnLog, "utf8").split("\n").filter(Boolean).length
    const one = async (id: string, tag: string) => {
      const { marker, text } = typedCommand(tag)
      const seen = watcher.until(id, marker)
      const t0 = performance.now()
      await daemon.call("POST", `/v1/sessions/${id}/input`, { text, enter: true })
      if (await seen) samples.push(performance.now() - t0)
      else misses.push(`${id} ${marker}`)
    }
    if (mode === "active") {
      // 100 ms apart: a pane captured a few times in the last POLL_INTERVAL_MIN waits out the rest of
      // it by design (CAPTURE_BURST); spacing measures the path, not that window.
      for (let i = 0; i < count; i++) {
        await one(ids[i % n]!, `a${i}`)
        await sleep(100)
      }
    } else {
      for (let r = 0; r < count; r++) {
        await Promise.all(ids.map((id, i) => one(id, `m${r}x${i}`)))
        await sleep(200)
      }
    }
    const loop = await daemon.probe()
    const spawned = fs.readFileSync(daemon.spawnLog, "utf8").split("\n").filter(Boolean).slice(spawnsBefore)
    watcher.close()
    return { samples: samples.sort((a, b) => a - b), loop, spawned, frames: watcher.counts, misses }
  } finally {
    await daemon.stop()
  }
}

/** The naive design: every session's screen captured by spawning tmux once a second. */
const baselinePoller = (
  socket: string,
  panes: ReadonlyArray<string>,
  onScreen: (pane: string, screen: string) => void
) => {
  let spawns = 0
  let stopped = false
  const tmux = (args: ReadonlyArray<string>) =>
    new Promise<string>((resolve) => {
      spawns++
      const child = spawn(REAL_TMUX, ["-u", "-L", socket, ...args])
      let out = ""
      child.stdout.on("data", (c) => (out += c))
      child.on("close", () => resolve(out))
    })
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now()
      await Promise.all(panes.map(async (pane) => onScreen(pane, await tmux(["capture-pane", "-p", "-t", pane]))))
      await sleep(Math.max(0, BASELINE_INTERVAL_MS - (Date.now() - started)))
    }
  })()
  return {
    tmux,
    spawns: () => spawns,
    stop: async () => {
      stopped = true
      await loop
    }
  }
}

const baselineSessions = (n: number) => {
  const socket = `telemux-baseline-${process.pid}-${Math.random().toString(16).slice(2, 8)}`
  // the same shells as the daemon's: no ~/.bashrc (a developer's prompt hooks would run in every pane)
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-baseline-"))
  const env = { ...process.env, HOME: home, HISTFILE: "/dev/null" }
  // One tmux client makes them all (the first session starts the server, a script the rest): a
  // client per session took seconds more of this section, and this set-up is not what is measured.
  const script = path.join(home, "sessions.tmux")
  fs.writeFileSync(script, "new-session -d -x 200 -y 50\n".repeat(n - 1))
  execFileSync(REAL_TMUX, [
    "-u",
    "-L",
    socket,
    "new-session",
    "-d",
    "-x",
    "200",
    "-y",
    "50",
    ";",
    "source-file",
    script
  ], {
    env
  })
  const panes = execFileSync(REAL_TMUX, ["-u", "-L", socket, "list-panes", "-a", "-F", "#{pane_id}"], { env })
    .toString().trim().split("\n")
  if (panes.length !== n) throw new Error(`the baseline's tmux server has ${panes.length} panes, not ${n}`)
  const kill = async () => {
    await killTmuxServer(socket)
    fs.rmSync(home, { recursive: true, force: true })
  }
  return { socket, panes, kill }
}

const baselineLatency = async (n: number, mode: LatencyMode, count: number) => {
  const world = baselineSessions(n)
  const waiters = new Map<string, { marker: string; resolve: () => void }>()
  const poller = baselinePoller(world.socket, world.panes, (pane, screen) => {
    const waiter = waiters.get(pane)
    if (waiter !== undefined && screen.includes(waiter.marker)) {
      waiters.delete(pane)
      waiter.resolve()
    }
  })
  const samples: Array<number> = []
  const one = async (pane: string, tag: string) => {
    const { marker, text } = typedCommand(tag)
    const seen = new Promise<void>((resolve) => waiters.set(pane, { marker, resolve }))
    const t0 = performance.now()
    await poller.tmux(["send-keys", "-t", pane, "-l", text, ";", "send-keys", "-t", pane, "Enter"])
    await seen
    samples.push(performance.now() - t0)
  }
  try {
    if (mode === "active") {
      await Promise.all(
        world.panes.map((pane) =>
          poller.tmux(["send-keys", "-t", pane, "-l", ACTIVITY]).then(() =>
            poller.tmux(["send-keys", "-t", pane, "Enter"])
          )
        )
      )
    }
    await sleep(1000)
    if (mode === "active") {
      for (let i = 0; i < count; i++) await one(world.panes[i % n]!, `a${i}`)
    } else {
      for (let r = 0; r < count; r++) await Promise.all(world.panes.map((pane, i) => one(pane, `b${r}x${i}`)))
    }
  } finally {
    await poller.stop()
    await world.kill()
  }
  return samples.sort((a, b) => a - b)
}

/**
 * How often a process woke (voluntary context switches of all its threads): an idle process that
 * wakes 100 times a second keeps a laptop's CPU out of its deep sleep whatever its CPU time says.
 */
const wakeups = (pid: number | "self") =>
  fs.readdirSync(`/proc/${pid}/task`).reduce((total, task) => {
    try {
      const status = fs.readFileSync(`/proc/${pid}/task/${task}/status`, "utf8")
      return total + Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0)
    } catch {
      return total // the thread ended meanwhile
    }
  }, 0)

const IDLE_SESSIONS = 200
const IDLE_SECONDS = 20
/** The spawn poller's cost is the same every second: a short look tells it. */
const BASELINE_IDLE_SECONDS = 5
const IDLE_SETTLE_SECONDS = 40

/** What the idle daemon cost while watched (see `idleDaemon`). */
export interface IdleFigures {
  readonly spawnsPerSecond: number
  readonly cpuPercent: number
  readonly wakeupsPerSecond: number
  readonly clients: number
}

/**
 * The daemon's idle cost, in two steps: `idleDaemon()` starts it and makes its sessions (a burst of
 * work), `measure()` lets it settle and then watches it. Between the two the machine may do
 * anything that leaves it quiet: what is measured is the daemon's own process (its CPU time, its
 * threads' wake-ups, the tmux it spawned), so another section's quiet wait can host the long one
 * here (bench/run.ts: the web section's two minutes with the list open).
 */
export const idleDaemon = async () => {
  const daemon = await startDaemon({ probe: false })
  try {
    await createSessions(daemon, IDLE_SESSIONS, os.tmpdir())
  } catch (error) {
    await daemon.stop()
    throw error
  }
  const createdAt = performance.now()
  return {
    measure: async (): Promise<IdleFigures> => {
      // Settle first: the first snapshot, status and last-output writes of 200 new sessions are
      // start-up work, not the idle cost being measured; so are the major collections V8 runs about
      // 30 s after that burst to shrink the heap (measured: ~200 ms of GC at 30-31 s, then quiet).
      await sleep(Math.max(0, createdAt + IDLE_SETTLE_SECONDS * 1000 - performance.now()))
      const spawnsBefore = fs.readFileSync(daemon.spawnLog, "utf8").split("\n").filter(Boolean).length
      const cpuBefore = cpuSeconds(daemon.pid)
      const wokeBefore = wakeups(daemon.pid)
      await sleep(IDLE_SECONDS * 1000)
      const woke = wakeups(daemon.pid) - wokeBefore
      const spawned = fs.readFileSync(daemon.spawnLog, "utf8").split("\n").filter(Boolean).length - spawnsBefore
      const cpu = cpuSeconds(daemon.pid) - cpuBefore
      const clients = childrenOf(daemon.pid).filter((cmd) => /\btmux\b/.test(cmd)).length
      return {
        spawnsPerSecond: spawned / IDLE_SECONDS,
        cpuPercent: (cpu / IDLE_SECONDS) * 100,
        wakeupsPerSecond: woke / IDLE_SECONDS,
        clients
      }
    },
    stop: () => daemon.stop()
  }
}

const baselineIdle = async () => {
  const world = baselineSessions(IDLE_SESSIONS)
  try {
    const poller = baselinePoller(world.socket, world.panes, () => {})
    await sleep(2000)
    const spawnsBefore = poller.spawns()
    const cpuBefore = cpuSeconds("self")
    const wokeBefore = wakeups("self")
    await sleep(BASELINE_IDLE_SECONDS * 1000)
    const spawned = poller.spawns() - spawnsBefore
    const cpu = cpuSeconds("self") - cpuBefore
    const woke = wakeups("self") - wokeBefore
    await poller.stop()
    return {
      spawnsPerSecond: spawned / BASELINE_IDLE_SECONDS,
      cpuPercent: (cpu / BASELINE_IDLE_SECONDS) * 100,
      wakeupsPerSecond: woke / BASELINE_IDLE_SECONDS
    }
  } finally {
    await world.kill()
  }
}

export const benchOutput = async (): Promise<ReadonlyArray<BenchRow>> => {
  if (!fs.existsSync(DIST_MAIN)) throw new Error("dist/main.js is missing: run npm run build first")
  const rows: Array<BenchRow> = []
  let loopAt100: LoopDelay = { p50Ms: NaN, p99Ms: NaN, maxMs: NaN, tickP99Ms: NaN, resolutionMs: NaN }
  const cases: ReadonlyArray<readonly [number, LatencyMode, number, number]> = [
    // sessions, mode, telemux samples (or rounds), baseline samples (or rounds): the 1 s poller's
    // figures are its interval, so a few samples tell them (each costs a second or more)
    [100, "active", 100, 5],
    [100, "burst", 2, 1]
  ]
  const measured: Array<Awaited<ReturnType<typeof telemuxLatency>>> = []
  for (const [n, mode, count] of cases) measured.push(await telemuxLatency(n, mode, count))
  const baselines: Array<ReadonlyArray<number>> = []
  for (const [n, mode, , baseCount] of cases) baselines.push(await baselineLatency(n, mode, baseCount))
  for (const [i, [n, mode]] of cases.entries()) {
    const telemux = measured[i]!
    const baseline = baselines[i]!
    if (n === 100 && mode === "active") loopAt100 = telemux.loop
    const what = mode === "active"
      ? `${n} active session${n === 1 ? "" : "s"} (each printing every 200 ms; inputs 100 ms apart)`
      : `${n} sessions all typed into at once`
    for (const p of [50, 99]) {
      const value = percentile(telemux.samples, p)
      const base = percentile(baseline, p)
      rows.push({
        name: `command typed → its output seen on WebSocket, ${what}, p${p} (${telemux.samples.length} samples)`,
        value: ms(value),
        baseline: `${ms(base)} 1 s spawn poller (${baseline.length})`,
        ratio: `${(base / value).toFixed(1)}×`
      })
    }
    if (telemux.misses.length > 0) {
      rows.push({
        name: `  markers never seen within 10 s in that run`,
        value: String(telemux.misses.length),
        baseline: ""
      })
    }
    if (telemux.spawned.length > 0) {
      rows.push({
        name: `  tmux spawned by the daemon during that run`,
        value: String(telemux.spawned.length),
        baseline: ""
      })
    }
  }
  rows.push({
    name: "daemon event-loop delay, 100 active sessions run (p99)",
    value: ms(loopAt100.p99Ms),
    baseline: `max ${ms(loopAt100.maxMs)}, p50 ${ms(loopAt100.p50Ms)}; ${loopTicks(loopAt100)}`
  })
  return rows
}

/**
 * The idle rows: the daemon with IDLE_SESSIONS idle sessions (`hosted`: measured already, inside
 * another section's quiet wait; else here) beside the 1 s spawn poller, which is measured here on
 * its own: it keeps more than a core busy, so no other figure is measured beside it.
 */
export const benchIdle = async (hosted?: Promise<IdleFigures>): Promise<ReadonlyArray<BenchRow>> => {
  if (!fs.existsSync(DIST_MAIN)) throw new Error("dist/main.js is missing: run npm run build first")
  const idle = hosted === undefined
    ? await (async () => {
      const daemon = await idleDaemon()
      try {
        return await daemon.measure()
      } finally {
        await daemon.stop()
      }
    })()
    : await hosted
  const idleBase = await baselineIdle()
  const rows: Array<BenchRow> = []
  rows.push({
    name: `${IDLE_SESSIONS} idle sessions for ${IDLE_SECONDS} s: tmux processes spawned per second`,
    value: idle.spawnsPerSecond.toFixed(2),
    baseline: `${idleBase.spawnsPerSecond.toFixed(1)} 1 s spawn poller (${BASELINE_IDLE_SECONDS} s)`
  })
  rows.push({
    name: `${IDLE_SESSIONS} idle sessions for ${IDLE_SECONDS} s: CPU (% of one core, incl. children)`,
    value: `${idle.cpuPercent.toFixed(2)} %`,
    baseline: `${idleBase.cpuPercent.toFixed(1)} % 1 s spawn poller (${BASELINE_IDLE_SECONDS} s)`
  })
  rows.push({
    name: `${IDLE_SESSIONS} idle sessions for ${IDLE_SECONDS} s: the daemon's wake-ups per second (all its threads)`,
    value: idle.wakeupsPerSecond.toFixed(1),
    baseline: `${idleBase.wakeupsPerSecond.toFixed(1)} 1 s spawn poller's process (${BASELINE_IDLE_SECONDS} s)`
  })
  rows.push({
    name: `${IDLE_SESSIONS} idle sessions: tmux client processes the daemon owns`,
    value: String(idle.clients),
    baseline: "0 long-lived, 1 per capture (poller)"
  })
  return rows
}
