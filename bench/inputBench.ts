/**
 * Input latency as a user sees it: from sending a command to the daemon's HTTP API until the
 * command's OUTPUT (computed by the shell, so it never appears in the echo of the typed text)
 * comes out of the pane — beside the floor measured in the same run on the same tmux server: a
 * bare `tmux -C` client of this benchmark's own typing the same command (`send-keys`) and timing
 * the same output. Both are timed by that client's `%output`, so the daemon's output path (its
 * poller, its WebSocket) is not part of the figure; only the input path is.
 *
 * The HTTP client is a lean one (one keep-alive connection, the token read once), so the figure is
 * the daemon's: fetch alone adds ~0.8 ms a request here. Both input paths are warmed up first
 * (WARM_UP_INPUTS): the figure is that of a daemon that has been in use, not of its first inputs.
 *
 * A third column times the daemon's input path without its HTTP layer: TerminalBridge.type
 * (ControlBridge, two control clients of its own on the same server) called in this process.
 *
 * Cases: 1 idle session; 100 sessions each printing every 200 ms (the daemon capturing all of
 * them meanwhile); and an agent's UI (the fake agent: it draws a paste 50 ms after taking it in and
 * reads an Enter before that as part of the paste), where the floor is the same client pasting,
 * waiting for the paste to show, then pressing Enter.
 */
import { NodeContext } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as ControlBridge from "../layers/ControlBridge.js"
import { TerminalBridge } from "../services/TerminalBridge.js"
import type { PaneId } from "../src/domain/Session.js"
import { FAKE_AGENTS } from "../test/fixtures/agents/hookBuild.js"
import {
  type DaemonEnv,
  keepAliveApi,
  makeDaemonEnv,
  removeDaemonEnv,
  startDaemon
} from "../test/support/daemonProcess.js"
import { childrenOf } from "../test/support/processes.js"
import type { BenchRow } from "./measure.js"

const ROOT = path.resolve(import.meta.dirname, "..")
const WRAPPER_DIR = path.join(ROOT, "bench", "bin")
const REAL_TMUX = (process.env.PATH ?? "")
  .split(":")
  .filter((dir) => dir !== "" && path.resolve(dir) !== WRAPPER_DIR)
  .map((dir) => path.join(dir, "tmux"))
  .find((file) => fs.existsSync(file)) ?? "tmux"

const HUB = "_telemux_hub"
/** A marker not seen this long is a miss (counted, not sampled). */
const MISS_AFTER_MS = 5000
/** Each session's load: a line every 200 ms from a background loop (`read -t` is a builtin sleep). */
export const PRINTER =
  "exec 9<> <(:); { read -t 0.$((RANDOM % 10)) -u 9; while :; do echo tick-$RANDOM; read -t 0.2 -u 9; done; } &"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface Stats {
  readonly n: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

export const stats = (samples: ReadonlyArray<number>): Stats => {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (p: number) =>
    sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((sorted.length * p) / 100) - 1)]!
  return { n: sorted.length, p50: at(50), p90: at(90), p99: at(99), max: sorted[sorted.length - 1] ?? NaN }
}

export const show = (s: Stats) =>
  `${s.p50.toFixed(1)} / ${s.p90.toFixed(1)} / ${s.p99.toFixed(1)} / ${s.max.toFixed(1)} ms (n=${s.n})`

/** `\ooo` escapes of %output back to bytes (as text: markers are ASCII). */
const unescape = (data: string) =>
  data.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))

/**
 * The benchmark's own control client, attached to the daemon's hub (where every session's window is
 * linked): it types (the floor) and watches every pane's output for markers.
 */
export const observer = (socket: string) => {
  const child: ChildProcess = spawn(REAL_TMUX, [
    "-L",
    socket,
    "-C",
    "attach-session",
    "-f",
    "ignore-size",
    "-t",
    `=${HUB}`
  ], {
    stdio: ["pipe", "pipe", "ignore"]
  })
  /** Per pane, what waits for a marker, each with the output seen since it started waiting. */
  const waiters = new Map<
    string,
    Set<{ readonly marker: string; seen: string; readonly resolve: (at: number) => void }>
  >()
  let partial = ""
  child.stdout!.setEncoding("latin1")
  child.stdout!.on("data", (chunk: string) => {
    const at = performance.now()
    const lines = (partial + chunk).split("\n")
    partial = lines.pop()!
    for (const line of lines) {
      if (!line.startsWith("%output ")) continue
      const space = line.indexOf(" ", 8)
      const waiting = waiters.get(line.slice(8, space))
      if (waiting === undefined) continue
      const data = unescape(line.slice(space + 1))
      for (const waiter of waiting) {
        waiter.seen = (waiter.seen + data).slice(-1024)
        if (!waiter.seen.includes(waiter.marker)) continue
        waiting.delete(waiter)
        waiter.resolve(at)
      }
    }
  })
  return {
    /** When `marker` comes out of `pane` (performance.now()), or undefined after MISS_AFTER_MS. */
    seen: (pane: string, marker: string, missAfterMs = MISS_AFTER_MS) =>
      new Promise<number | undefined>((resolve) => {
        const waiting = waiters.get(pane) ?? new Set()
        waiters.set(pane, waiting)
        const waiter = { marker, seen: "", resolve: (at: number) => (clearTimeout(timer), resolve(at)) }
        const timer = setTimeout(() => {
          waiting.delete(waiter)
          resolve(undefined)
        }, missAfterMs)
        waiting.add(waiter)
      }),
    /** Writes a command line (tmux syntax) on the client's stdin. */
    send: (line: string) => void child.stdin!.write(line + "\n"),
    close: () => child.kill("SIGTERM")
  }
}

export type Observer = ReturnType<typeof observer>
type Call = ReturnType<typeof keepAliveApi>

interface Session {
  readonly id: string
  readonly pane: string
}

/** A command whose output holds the marker and whose echo cannot: the shell computes it. */
export const shellMarker = (tag: string) => {
  const [a, b] = [1000 + Math.floor(Math.random() * 9000), 1000 + Math.floor(Math.random() * 9000)]
  return { text: `echo ${tag}Q$((${a}+${b}))Z`, marker: `${tag}Q${a + b}Z` }
}

/** One sample: from `send` until the marker is out; a miss is undefined. */
const timed = async (watch: Observer, pane: string, marker: string, send: () => Promise<unknown> | void) => {
  const seen = watch.seen(pane, marker)
  const start = performance.now()
  await send()
  const at = await seen
  return at === undefined ? undefined : at - start
}

export const sessionsOf = async (call: Call, env: DaemonEnv, n: number): Promise<ReadonlyArray<Session>> => {
  const out: Array<Session> = []
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, () => call("POST", "/v1/sessions", { projectDir: env.projectDir }))
    )
    for (const created of batch) {
      if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`)
      out.push({ id: created.body.sessionId, pane: created.body.paneId })
    }
  }
  return out
}

interface Case {
  readonly name: string
  readonly telemux: Stats
  /** The input path in this process, without HTTP. */
  readonly bridge?: Stats
  readonly floor: Stats
  readonly misses: number
}

/** The daemon's input path in this process: a ControlBridge of its own on the daemon's tmux server. */
const inProcessBridge = async (socket: string) => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(ControlBridge.layer({ socket }), scope).pipe(
      Effect.provide(NodeContext.layer),
      Logger.withMinimumLogLevel(LogLevel.Error)
    )
  )
  const bridge = Context.get(context, TerminalBridge)
  return {
    type: (pane: string, text: string) => Effect.runPromise(bridge.type(pane as PaneId, text, true)),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

type Bridge = Awaited<ReturnType<typeof inProcessBridge>>

/** Shell sessions: telemux, its input path in-process and the floor take turns, round-robin over the sessions. */
const shellCase = async (
  call: Call,
  watch: Observer,
  bridge: Bridge,
  sessions: ReadonlyArray<Session>,
  samples: number
) => {
  const ways = ["telemux", "bridge", "floor"] as const
  const taken: Record<(typeof ways)[number], Array<number>> = { telemux: [], bridge: [], floor: [] }
  let misses = 0
  for (let i = 0; i < samples * ways.length; i++) {
    const session = sessions[Math.floor(i / ways.length) % sessions.length]!
    // each session's turn starts with another way, so none always follows the same one
    const way = ways[(i + Math.floor(i / ways.length)) % ways.length]!
    const { marker, text } = shellMarker(`${way[0]}${i}`)
    const took = await timed(
      watch,
      session.pane,
      marker,
      {
        telemux: () => call("POST", `/v1/sessions/${session.id}/input`, { text, enter: true }),
        bridge: () => bridge.type(session.pane, text),
        floor: () => watch.send(`send-keys -t ${session.pane} -l '${text}' ; send-keys -t ${session.pane} Enter`)
      }[way]
    )
    if (took === undefined) misses++
    else taken[way].push(took)
    await sleep(5 + Math.random() * 10)
  }
  return { telemux: stats(taken.telemux), bridge: stats(taken.bridge), floor: stats(taken.floor), misses }
}

/** An agent's UI: the floor pastes, waits for the paste to show, then presses Enter. */
const agentCase = async (call: Call, watch: Observer, session: Session, samples: number) => {
  const telemux: Array<number> = []
  const floor: Array<number> = []
  let misses = 0
  for (let i = 0; i < samples * 2; i++) {
    const viaTelemux = i % 2 === 0
    const text = `${viaTelemux ? "t" : "f"}${i}-${Math.random().toString(36).slice(2, 8)}`
    const took = await timed(
      watch,
      session.pane,
      `reply: ${text}`,
      viaTelemux
        ? () => call("POST", `/v1/sessions/${session.id}/input`, { text, enter: true })
        : async () => {
          const drawn = watch.seen(session.pane, text)
          watch.send(`set-buffer -b floor -- '${text}' ; paste-buffer -p -d -b floor -t ${session.pane}`)
          await drawn
          watch.send(`send-keys -t ${session.pane} Enter`)
        }
    )
    if (took === undefined) misses++
    else (viaTelemux ? telemux : floor).push(took)
    await sleep(20)
  }
  return { telemux: stats(telemux), floor: stats(floor), misses }
}

const spawnCount = (log: string) => fs.readFileSync(log, "utf8").split("\n").filter(Boolean).length

/** A daemon (dist/main.js) on its own socket and state dir, with tmux spawns counted; `run` gets its API and a watcher. */
const withDaemon = async <A>(
  run: (call: Call, env: DaemonEnv, watch: Observer, spawns: () => number, clients: () => number) => Promise<A>
) => {
  const env = await makeDaemonEnv()
  const spawnLog = path.join(env.home, "spawns.log")
  fs.writeFileSync(spawnLog, "")
  const daemon = await startDaemon(env, {
    PATH: `${WRAPPER_DIR}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    TELEMUX_BENCH_REAL_TMUX: REAL_TMUX,
    TELEMUX_BENCH_SPAWN_LOG: spawnLog,
    TELEMUX_LOG_LEVEL: "Warning"
  })
  const watch = observer(env.socket)
  try {
    await sleep(300)
    return await run(
      keepAliveApi(env),
      env,
      watch,
      () => spawnCount(spawnLog),
      () => childrenOf(daemon.child.pid!).filter((cmd) => /\btmux\b/.test(cmd)).length
    )
  } finally {
    watch.close()
    await daemon.stop()
    removeDaemonEnv(env)
  }
}

/** Waits until each session's shell has answered once (it reads input from then on). */
export const ready = async (call: Call, watch: Observer, sessions: ReadonlyArray<Session>) => {
  for (const session of sessions) {
    const { marker, text } = shellMarker("ready")
    if (
      await timed(
        watch,
        session.pane,
        marker,
        () => call("POST", `/v1/sessions/${session.id}/input`, { text, enter: true })
      ) === undefined
    ) {
      throw new Error(`session ${session.id} never answered`)
    }
  }
}

/**
 * Inputs each way takes before it is timed. A daemon that has been running for a while has its
 * input path compiled by V8; one just started runs it cold: measured in the daemon, a request's
 * way from arrival to tmux took 1.9 ms (p50) over its first 300 inputs and 0.8 ms after 3,000.
 */
const WARM_UP_INPUTS = 1500

/**
 * Warm-up inputs in flight at once, each way. What V8 compiles depends on how often a path runs,
 * not on how far apart the runs are; one after the other, the two warm-ups took 14 and 20 s of
 * this section's 73 s.
 */
const WARM_UP_IN_FLIGHT = 8

/**
 * The daemon's input path and the in-process one, each run WARM_UP_INPUTS times (a no-op command,
 * `:`): both ways type each input at the same time, and the lanes take the sessions in turn (with
 * one session, its inputs wait in the daemon's queue for that session, as a busy user's would).
 */
const warmUp = async (call: Call, bridge: Bridge, sessions: ReadonlyArray<Session>) => {
  let next = 0
  const lane = async () => {
    while (next < WARM_UP_INPUTS) {
      const i = next++
      const session = sessions[i % sessions.length]!
      const [typed] = await Promise.all([
        call("POST", `/v1/sessions/${session.id}/input`, { text: `: warm ${i}`, enter: true }),
        bridge.type(session.pane, `: warm ${i}`)
      ])
      if (typed.status >= 300) throw new Error(`warm-up input ${i}: ${typed.status} ${JSON.stringify(typed.body)}`)
    }
  }
  await Promise.all(Array.from({ length: WARM_UP_IN_FLIGHT }, lane))
  await sleep(500)
}

const verdict = (value: Stats, floor: Stats, p99Max: number) => {
  const over = value.p50 - floor.p50
  const ok = over <= 3 && value.p99 <= p99Max
  return `p50 floor${over >= 0 ? "+" : ""}${over.toFixed(1)} ms, p99 ${
    value.p99.toFixed(1)
  } ms (target ≤ +3 / ≤ ${p99Max}): ${ok ? "met" : "MISSED"}`
}

export const benchInput = async (): Promise<ReadonlyArray<BenchRow>> => {
  const rows: Array<BenchRow> = []
  const push = (c: Case, extra: string, p99Max?: number) => {
    const target = (value: Stats) => (p99Max === undefined ? {} : { ratio: verdict(value, c.floor, p99Max) })
    rows.push({
      name: `${c.name}, p50/p90/p99/max`,
      value: show(c.telemux),
      baseline: `${show(c.floor)} floor`,
      ...target(c.telemux)
    })
    if (c.bridge !== undefined) {
      rows.push({
        name: "  the same, the daemon's input path in-process (no HTTP)",
        value: show(c.bridge),
        baseline: "",
        ...target(c.bridge)
      })
    }
    rows.push({
      name: `  markers never seen within ${MISS_AFTER_MS / 1000} s; ${extra}`,
      value: String(c.misses),
      baseline: ""
    })
  }

  await withDaemon(async (call, env, watch, spawns, clients) => {
    const sessions = await sessionsOf(call, env, 1)
    await ready(call, watch, sessions)
    const bridge = await inProcessBridge(env.socket)
    try {
      await warmUp(call, bridge, sessions)
      const before = spawns()
      const shell = await shellCase(call, watch, bridge, sessions, 200)
      push(
        { name: `input → command output, 1 idle shell session (after ${WARM_UP_INPUTS} inputs)`, ...shell },
        `tmux spawned by the daemon ${spawns() - before}, its tmux clients ${clients()}`,
        25
      )
    } finally {
      await bridge.close()
    }

    // the fake agent in a shell session: what runs in the pane decides how the Enter goes
    const [agent] = sessions
    await call("POST", `/v1/sessions/${agent!.id}/input`, {
      text: `exec node ${FAKE_AGENTS}/fake-agent.mjs claude`,
      enter: true
    })
    await sleep(3000)
    const ui = await agentCase(call, watch, agent!, 30)
    push(
      {
        name: "input → agent's reply, an agent's UI drawing a paste 50 ms after it (Enter after the paste shows)",
        ...ui
      },
      "floor: paste, wait for its draw, Enter"
    )
  })

  await withDaemon(async (call, env, watch, spawns, clients) => {
    const sessions = await sessionsOf(call, env, 100)
    await ready(call, watch, sessions)
    await Promise.all(sessions.map((s) => call("POST", `/v1/sessions/${s.id}/input`, { text: PRINTER, enter: true })))
    await sleep(2000)
    const bridge = await inProcessBridge(env.socket)
    try {
      await warmUp(call, bridge, sessions)
      const before = spawns()
      const shell = await shellCase(call, watch, bridge, sessions, 300)
      push(
        {
          name:
            `input → command output, 100 shell sessions each printing every 200 ms (after ${WARM_UP_INPUTS} inputs)`,
          ...shell
        },
        `tmux spawned by the daemon ${spawns() - before}, its tmux clients ${clients()}`,
        50
      )
    } finally {
      await bridge.close()
    }
  })
  return rows
}
