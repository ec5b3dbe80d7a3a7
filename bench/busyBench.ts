/**
 * 500 busy sessions on this machine: the daemon (dist/main.js) watched over its WebSocket by one
 * client that reads as fast as it can, beside the floor measured in the same run: the same tmux
 * layout (every session's window linked into one hub session) with one bare `tmux -C` client and
 * nothing else.
 *
 * Every session runs a background loop printing `t<µs since the epoch>` every 200 ms, so each
 * printed line is its own clock: "printed → seen" is measured on every line of every session.
 * Meanwhile a command (`echo q$((K+1))z`) is typed into one session after another every 100 ms
 * and timed until its *output* line (`q<K+1>z`, which the typed text does not contain) is seen.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import WebSocket from "ws"
import type { BenchRow } from "./measure.js"
import {
  cpuSeconds,
  createSessions,
  killTmuxServer,
  type LoopDelay,
  loopTicks,
  REAL_TMUX,
  startDaemon
} from "./outputBench.js"
import { applyFrame, type ScreenFrame } from "./screenFrames.js"

const SESSIONS = Number(process.env.TELEMUX_BENCH_BUSY_SESSIONS ?? 500)
const WARMUP_MS = 4000
/** The floor has no daemon starting up: its shells print within a second of being told to. */
const FLOOR_WARMUP_MS = 2000
const MEASURE_MS = 15_000
const PROBE_EVERY_MS = 100

/** Prints its own timestamp every 200 ms in the background; the shell stays free for commands. */
const ACTIVITY =
  "exec 9<> <(:); (read -t 0.$((RANDOM % 10)) -u 9; while :; do echo t${EPOCHREALTIME/./}; read -t 0.2 -u 9; done) &"
const TICK = /\bt(\d{16})\b/g

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!
const ms = (n: number) => (Number.isNaN(n) ? "n/a" : `${n.toFixed(1)} ms`)

/** Latency samples from timestamps seen on screens: each tick counted once, when it first shows. */
const tickClock = () => {
  const newest = new Map<string, number>()
  const samples: Array<number> = []
  let recording = false
  return {
    samples,
    start: () => {
      recording = true
    },
    stop: () => {
      recording = false
    },
    /** `text`: new lines of the session's screen (or the whole screen). */
    see: (id: string, text: string, nowUs: number) => {
      const last = newest.get(id) ?? 0
      let max = last
      for (const match of text.matchAll(TICK)) {
        const tick = Number(match[1])
        if (tick <= last) continue
        if (recording) samples.push((nowUs - tick) / 1000)
        if (tick > max) max = tick
      }
      newest.set(id, max)
    }
  }
}

const nowUs = () => (performance.timeOrigin + performance.now()) * 1000

/** Typed commands: resolves with the time from sending until the output line shows. */
const commandProbes = () => {
  const waiting = new Map<
    string,
    { readonly marker: string; readonly t0: number; readonly resolve: (ms: number) => void }
  >()
  return {
    expect: (id: string, marker: string) =>
      new Promise<number | undefined>((resolve) => {
        const t0 = performance.now()
        const timer = setTimeout(() => {
          waiting.delete(id)
          resolve(undefined)
        }, 10_000)
        waiting.set(id, { marker, t0, resolve: (took) => (clearTimeout(timer), resolve(took)) })
      }),
    see: (id: string, text: string) => {
      const w = waiting.get(id)
      if (w !== undefined && text.includes(w.marker)) {
        waiting.delete(id)
        w.resolve(performance.now() - w.t0)
      }
    }
  }
}

const command = () => {
  const k = 100_000 + Math.floor(Math.random() * 800_000)
  return { text: `echo q$((${k}+1))z`, marker: `q${k + 1}z` }
}

interface Side {
  readonly ticks: ReadonlyArray<number>
  readonly commands: ReadonlyArray<number>
  readonly missed: number
  readonly cpuMs: number
  readonly tmuxCpuPercent: number
  readonly updates: number
  readonly resyncs: number
  readonly bytes: number
  /** The whole machine over the counted window (see `machineLoad`). */
  readonly machine: MachineLoad
}

interface MachineLoad {
  /** CPU time spent, as a share of all the machine's cores' time (steal included). */
  readonly busyPercent: number
  /** Time the hypervisor gave to other guests while this one wanted to run, same share. */
  readonly stealPercent: number
}

/** The machine's CPU counters (/proc/stat's first line, in ticks); `machineLoad` compares two. */
const machineTicks = () => {
  const fields = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = fields[3]! + fields[4]!
  return { total, busy: total - idle, steal: fields[7]! }
}

/**
 * How loaded the machine was: these figures move a lot between runs on a 2-core machine that this
 * load saturates, and the share of it that was busy (or taken by the hypervisor) says why.
 */
const machineLoad = (before: ReturnType<typeof machineTicks>): MachineLoad => {
  const after = machineTicks()
  const total = Math.max(1, after.total - before.total)
  return {
    busyPercent: ((after.busy - before.busy) / total) * 100,
    stealPercent: ((after.steal - before.steal) / total) * 100
  }
}

const tmuxServerPid = (socket: string) =>
  Number(execFileSync(REAL_TMUX, ["-L", socket, "display", "-p", "#{pid}"]).toString().trim())

/** Sends a probe every PROBE_EVERY_MS to the next session until `until`; the samples once all are in. */
const probeLoop = async (
  ids: ReadonlyArray<string>,
  until: number,
  send: (id: string, text: string) => Promise<void>,
  probes: ReturnType<typeof commandProbes>
) => {
  const pending: Array<Promise<number | undefined>> = []
  for (let i = 0; performance.now() < until; i++) {
    const id = ids[i % ids.length]!
    const { marker, text } = command()
    pending.push(probes.expect(id, marker))
    void send(id, text)
    await sleep(PROBE_EVERY_MS)
  }
  const results = await Promise.all(pending)
  return {
    samples: results.filter((r): r is number => r !== undefined),
    missed: results.filter((r) => r === undefined).length
  }
}

/** What one run of the daemon's side is: how many sessions, how long counted, the daemon's extra environment. */
export interface BusyRun {
  readonly sessions: number
  readonly measureMs: number
  /** Before counting begins (default WARMUP_MS). */
  readonly warmupMs?: number
  readonly env?: Readonly<Record<string, string>>
  /** Another build's dist/main.js (see startDaemon). */
  readonly main?: string
}

export const telemuxSide = async (
  run: BusyRun = { sessions: SESSIONS, measureMs: MEASURE_MS }
): Promise<Side & { readonly loop: LoopDelay }> => {
  const daemon = await startDaemon({
    ...(run.env === undefined ? {} : { env: run.env }),
    ...(run.main === undefined ? {} : { main: run.main })
  })
  try {
    const ids = await createSessions(daemon, run.sessions, os.tmpdir())
    for (let i = 0; i < ids.length; i += 20) {
      await Promise.all(
        ids.slice(i, i + 20).map((id) => daemon.call("POST", `/v1/sessions/${id}/input`, { text: ACTIVITY }))
      )
    }
    const ws = new WebSocket(`ws://127.0.0.1:${daemon.port}/v1/stream`, {
      headers: { authorization: `Bearer ${daemon.token}` }
    })
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve())
      ws.once("error", reject)
    })
    const clock = tickClock()
    const probes = commandProbes()
    const screens = new Map<string, ScreenFrame>()
    const counts = { updates: 0, resyncs: 0, bytes: 0 }
    let counting = false
    ws.on("message", (raw: Buffer) => {
      const message = JSON.parse(raw.toString())
      const applied = applyFrame(screens, message)
      if (applied === undefined) return
      if (counting) {
        counts.bytes += raw.length
        if (message.type === "resync") counts.resyncs++
        else counts.updates++
      }
      const now = nowUs()
      clock.see(message.sessionId, applied.changed, now)
      probes.see(message.sessionId, applied.changed)
    })
    ws.send(
      JSON.stringify({ type: "subscribe", output: ids.map((sessionId) => ({ sessionId })), ...subscribeOptions() })
    )
    await sleep(run.warmupMs ?? WARMUP_MS)
    const tmuxPid = tmuxServerPid(daemon.socket)
    await daemon.probe()
    const cpu0 = cpuSeconds(daemon.pid)
    const tmux0 = cpuSeconds(tmuxPid)
    const machine0 = machineTicks()
    counting = true
    clock.start()
    const started = performance.now()
    const probed = await probeLoop(
      ids,
      started + run.measureMs,
      (id, text) => daemon.call("POST", `/v1/sessions/${id}/input`, { text }).catch(() => undefined),
      probes
    )
    const elapsed = (performance.now() - started) / 1000
    clock.stop()
    counting = false
    const cpuMs = (cpuSeconds(daemon.pid) - cpu0) * 1000
    const tmuxCpu = cpuSeconds(tmuxPid) - tmux0
    const machine = machineLoad(machine0)
    const loop = await daemon.probe()
    ws.close()
    return {
      ticks: clock.samples.sort((a, b) => a - b),
      commands: probed.samples.sort((a, b) => a - b),
      missed: probed.missed,
      cpuMs,
      tmuxCpuPercent: (tmuxCpu / elapsed) * 100,
      ...counts,
      machine,
      loop
    }
  } finally {
    await daemon.stop()
  }
}

/** Picks what the bench's client asks for; TELEMUX_BENCH_STREAM=full keeps the plain screen frames. */
const subscribeOptions = (): Record<string, unknown> =>
  process.env.TELEMUX_BENCH_STREAM === "full" ? {} : { patches: true }

/** The floor: the same layout on a bare tmux server, one `tmux -C` client reading %output. */
const floorSide = async (): Promise<Side> => {
  const socket = `telemux-floor-${process.pid}-${Math.random().toString(16).slice(2, 8)}`
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-floor-"))
  const tmux = (...args: ReadonlyArray<string>) => execFileSync(REAL_TMUX, ["-u", "-L", socket, ...args]).toString()
  try {
    const env = { ...process.env, HOME: dir, HISTFILE: "/dev/null" }
    execFileSync(REAL_TMUX, [
      "-u",
      "-L",
      socket,
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-s",
      "hub",
      "-x",
      "200",
      "-y",
      "50",
      "tail -f /dev/null"
    ], { env })
    let script = ""
    for (let i = 0; i < SESSIONS; i++) {
      script += `new-session -d -s s${i} -x 200 -y 50 -c ${dir}\nlink-window -d -s s${i}:0 -t hub:${i + 1}\n`
    }
    fs.writeFileSync(path.join(dir, "setup.tmux"), script)
    tmux("source-file", path.join(dir, "setup.tmux"))
    const panes = tmux("list-panes", "-a", "-F", "#{session_name} #{pane_id}").trim().split("\n")
      .filter((line) => !line.startsWith("hub ")).map((line) => line.split(" ")[1]!)
    const client = spawn(REAL_TMUX, ["-u", "-L", socket, "-C", "attach", "-t", "hub"], {
      stdio: ["pipe", "pipe", "ignore"]
    })
    const clock = tickClock()
    const probes = commandProbes()
    const counts = { updates: 0, resyncs: 0, bytes: 0 }
    let counting = false
    let rest = ""
    client.stdout.on("data", (chunk: Buffer) => {
      const text = rest + chunk.toString("utf8")
      const lines = text.split("\n")
      rest = lines.pop()!
      const now = nowUs()
      for (const line of lines) {
        if (!line.startsWith("%output ")) continue
        const space = line.indexOf(" ", 8)
        const pane = line.slice(8, space)
        const data = line.slice(space + 1)
        if (counting) {
          counts.updates++
          counts.bytes += line.length + 1
        }
        clock.see(pane, data, now)
        probes.see(pane, data)
      }
    })
    await sleep(500)
    let keys = ""
    for (const pane of panes) keys += `send-keys -t ${pane} -l '${ACTIVITY}'\nsend-keys -t ${pane} Enter\n`
    fs.writeFileSync(path.join(dir, "activity.tmux"), keys)
    tmux("source-file", path.join(dir, "activity.tmux"))
    await sleep(FLOOR_WARMUP_MS)
    const serverPid = tmuxServerPid(socket)
    const tmux0 = cpuSeconds(serverPid)
    const self0 = process.cpuUsage()
    const machine0 = machineTicks()
    counting = true
    clock.start()
    const started = performance.now()
    const quote = (text: string) => `'${text.replace(/'/g, "'\\''")}'`
    const probed = await probeLoop(panes, started + MEASURE_MS, async (pane, text) => {
      client.stdin.write(`send-keys -t ${pane} -l ${quote(text)} ; send-keys -t ${pane} Enter\n`)
    }, probes)
    const elapsed = (performance.now() - started) / 1000
    clock.stop()
    counting = false
    const self = process.cpuUsage(self0)
    const tmuxCpu = cpuSeconds(serverPid) - tmux0
    const machine = machineLoad(machine0)
    client.kill()
    return {
      ticks: clock.samples.sort((a, b) => a - b),
      commands: probed.samples.sort((a, b) => a - b),
      missed: probed.missed,
      cpuMs: (self.user + self.system) / 1000,
      tmuxCpuPercent: (tmuxCpu / elapsed) * 100,
      ...counts,
      machine
    }
  } finally {
    await killTmuxServer(socket)
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const quantiles = (sorted: ReadonlyArray<number>) =>
  `p50 ${ms(percentile(sorted, 50))} p90 ${ms(percentile(sorted, 90))} p99 ${ms(percentile(sorted, 99))} max ${
    ms(sorted[sorted.length - 1] ?? NaN)
  }`

export const benchBusy = async (): Promise<ReadonlyArray<BenchRow>> => {
  const telemux = await telemuxSide()
  const floor = await floorSide()
  const n = `${SESSIONS} active sessions`
  const perUpdate = telemux.updates === 0 ? NaN : telemux.cpuMs / (telemux.updates + telemux.resyncs)
  return [
    {
      name: `${n}: printed → seen on WebSocket, p99 (${telemux.ticks.length} lines)`,
      value: ms(percentile(telemux.ticks, 99)),
      baseline: `${ms(percentile(floor.ticks, 99))} bare tmux -C (${floor.ticks.length})`
    },
    { name: `  distribution`, value: quantiles(telemux.ticks), baseline: `floor ${quantiles(floor.ticks)}` },
    {
      name:
        `${n}: command typed → its output seen, p99 (${telemux.commands.length} commands, ${telemux.missed} unseen in 10 s)`,
      value: ms(percentile(telemux.commands, 99)),
      baseline: `${ms(percentile(floor.commands, 99))} bare tmux -C (${floor.commands.length})`
    },
    { name: `  distribution`, value: quantiles(telemux.commands), baseline: `floor ${quantiles(floor.commands)}` },
    {
      name: `${n}: resyncs to a client reading as fast as it can (${telemux.updates} updates)`,
      value: String(telemux.resyncs),
      baseline: "0 target"
    },
    {
      name: `${n}: daemon event-loop delay p99`,
      value: ms(telemux.loop.p99Ms),
      baseline: `max ${ms(telemux.loop.maxMs)}, p50 ${ms(telemux.loop.p50Ms)}; ${
        loopTicks(telemux.loop)
      }; target ≤ 20 ms`
    },
    {
      name: `${n}: daemon CPU per delivered update`,
      value: `${perUpdate.toFixed(3)} ms`,
      baseline: `${(floor.cpuMs / floor.updates).toFixed(3)} ms bare client per %output; target ≤ 0.15 ms`
    },
    {
      name: `${n}: bytes per delivered update`,
      value: (telemux.bytes / Math.max(1, telemux.updates + telemux.resyncs)).toFixed(0),
      baseline: `${(floor.bytes / Math.max(1, floor.updates)).toFixed(0)} per %output line`
    },
    {
      name: `${n}: tmux server CPU (% of one core)`,
      value: `${telemux.tmuxCpuPercent.toFixed(1)} %`,
      baseline: `${floor.tmuxCpuPercent.toFixed(1)} % bare server, one control client`,
      ratio: `${(telemux.tmuxCpuPercent / floor.tmuxCpuPercent).toFixed(2)}×`
    },
    {
      name: `${n}: the machine over the window (all ${os.cpus().length} cores): busy / stolen by the hypervisor`,
      value: `${telemux.machine.busyPercent.toFixed(0)} % / ${telemux.machine.stealPercent.toFixed(1)} %`,
      baseline: `${floor.machine.busyPercent.toFixed(0)} % / ${floor.machine.stealPercent.toFixed(1)} % with the floor`
    }
  ]
}
