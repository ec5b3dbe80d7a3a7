/**
 * What recording metrics costs: the same daemon (dist/main.js) with metrics on (the default) and
 * with `TELEMUX_METRICS=false`, measured side by side in this run. Target (issue 16): ≤ 5 %
 * difference in request throughput and in CPU per delivered output update.
 *
 * - HTTP: a pair of daemons (metrics on, off) loaded at the same time, each by its own load
 *   generator, the daemons sharing one core and the generators the other (`taskset`, where there
 *   is one): the kernel shares the core fairly, so the daemon that spends more CPU per request
 *   answers fewer. Measured one after the other instead, two identical daemons differed by up to
 *   16 % on this VM (its throughput drifts between seconds), far more than what is measured. Each
 *   figure is the median of the rounds of PAIRS fresh pairs; a last row measures FLOOR_PAIRS
 *   pairs of identical daemons the same way (the noise floor of these figures). `GET /health` is the
 *   cheapest request (the metrics' share is largest there); `GET /v1/sessions/:id` goes through
 *   the whole Effect pipeline.
 * - Output: two daemons at once (on, off), each with BUSY_SESSIONS sessions printing every 200 ms
 *   watched over its WebSocket (the busy section's daemon side); daemon CPU per delivered update,
 *   compared within each of BUSY_PAIRS pairs, the median of the pairs.
 *
 * `npx tsx bench/metricsBench.ts` runs it alone (after `npm run build`).
 */
import { execFileSync } from "node:child_process"
import * as os from "node:os"
import { pathToFileURL } from "node:url"
import { telemuxSide } from "./busyBench.js"
import { type Cell, describe, forkRole, measure, rate } from "./httpBench.js"
import type { BenchRow } from "./measure.js"
import { createSessions, type Daemon, startDaemon } from "./outputBench.js"

const SESSIONS = 5
const PAIRS = 2
/**
 * Pairs of identical daemons for the noise floor: its row tells how far these figures move when
 * nothing differs. One pair (two rounds) read 1.8 … 4.5 % and −3.5 … 2.6 % in two runs, two pairs
 * (four rounds) 0.5 … 3.4 % in one: a rough floor either way, and one pair is 10 s of the bench fewer.
 */
const FLOOR_PAIRS = 1
const CONNECTIONS = 10
const ROUNDS = 2
const WARMUP_MS = 500
const MEASURE_MS = 2000
/** The uncounted first round only warms both daemons up (JIT, heap). */
const WARM_ROUND_MS = 1000
const BUSY_SESSIONS = 60
/**
 * Three, for a median that one pair cannot move alone: with two (the mean of them), one pair of a
 * run read −13.8 % beside +0.9 %, and the row said −6.4 %.
 */
const BUSY_PAIRS = 3
const BUSY_MEASURE_MS = 6000
/** 60 sessions' start-up (first captures, status) is over in a second or two; the busy section's 4 s is for 500. */
const BUSY_WARMUP_MS = 2000
const TARGET_PERCENT = 5
const OFF = { TELEMUX_METRICS: "false" } as const

/** Pins a process to one CPU (Linux `taskset`); a no-op where that cannot be done. */
const pin = (pid: number, cpu: number) => {
  if (os.cpus().length < 2) return
  try {
    execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" })
  } catch {
    // no taskset: the scheduler decides, and the figures are noisier
  }
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** How much worse `on` is than `off`, in % (positive: metrics cost that much). */
const costPercent = (on: number, off: number, higherIsBetter: boolean) =>
  (higherIsBetter ? (off - on) / off : (on - off) / off) * 100

/**
 * Met within the target either way; past it the other way (metrics off measured dearer by more
 * than the target) is the measurement's noise, not a cost, and is said so rather than met or missed.
 */
const verdict = (percent: number) =>
  `${percent >= 0 ? "+" : ""}${percent.toFixed(1)} % ${
    Math.abs(percent) <= TARGET_PERCENT
      ? "(met"
      : percent > 0
      ? "(MISSED"
      : "(inconclusive: off measured dearer, noise over the target"
  } ≤ ${TARGET_PERCENT} %)`

type Load = ReturnType<typeof forkRole>

/** ROUNDS rounds of `a` and `b` loaded at the same time, each by its own generator; per round, a's cost over b in %. */
const sideBySide = async (
  loads: readonly [Load, Load],
  a: { readonly daemon: Daemon; readonly path: string },
  b: { readonly daemon: Daemon; readonly path: string }
) => {
  const rounds: Array<{ readonly a: Cell; readonly b: Cell; readonly cost: number }> = []
  const base = { connections: CONNECTIONS, warmupMs: WARMUP_MS }
  // round -1 is not counted: it warms both up (JIT, heap)
  for (let round = -1; round < ROUNDS; round++) {
    // at the same time, on the same core: whatever the machine does meanwhile, it does to both
    const cell = { ...base, measureMs: round < 0 ? WARM_ROUND_MS : MEASURE_MS }
    const [cellA, cellB] = await Promise.all([
      measure(loads[0], a.daemon.pid, { ...cell, path: a.path, token: a.daemon.token, port: a.daemon.port }),
      measure(loads[1], b.daemon.pid, { ...cell, path: b.path, token: b.daemon.token, port: b.daemon.port })
    ])
    if (round >= 0) rounds.push({ a: cellA, b: cellB, cost: costPercent(rate(cellA.result), rate(cellB.result), true) })
  }
  return rounds
}

interface Route {
  readonly name: string
  /** The path on a daemon, given one of its sessions. */
  readonly path: (sessionId: string) => string
}

const ROUTES: ReadonlyArray<Route> = [
  { name: "GET /health", path: () => "/health" },
  { name: "GET /v1/sessions/:id", path: (id) => `/v1/sessions/${id}` }
]

/**
 * A pair of daemons, `a` as users run it and `b` with `bEnv`, started at the same time: their
 * start-ups are set-up, and each takes seconds of loading modules. One that fails stops the other.
 */
const startPair = async (bEnv: Readonly<Record<string, string>>): Promise<readonly [Daemon, Daemon]> => {
  const started = await Promise.allSettled([startDaemon({ probe: false }), startDaemon({ probe: false, env: bEnv })])
  const [a, b] = started
  if (a.status === "fulfilled" && b.status === "fulfilled") return [a.value, b.value]
  await Promise.all(started.map((one) => (one.status === "fulfilled" ? one.value.stop() : undefined)))
  throw started.find((one) => one.status === "rejected")!.reason
}

/**
 * PAIRS fresh pairs of daemons — `a` as users run it, `b` with `bEnv` — each pair measured side by
 * side on every route; the generators swap sides every other pair. Fresh pairs because one
 * process differs from the next: two identical daemons measured this way differed by up to 10 %
 * from one pair to the next (JIT and memory placement), as much as the effect measured.
 */
const pairs = async (
  loads: readonly [Load, Load],
  bEnv: Readonly<Record<string, string>>,
  routes: ReadonlyArray<Route>,
  count = PAIRS
) => {
  const byRoute = new Map<string, Array<{ readonly a: Cell; readonly b: Cell; readonly cost: number }>>()
  for (let pair = 0; pair < count; pair++) {
    const [a, b] = await startPair(bEnv)
    try {
      pin(a.pid, 0)
      pin(b.pid, 0)
      const [[aId], [bId]] = await Promise.all([
        createSessions(a, SESSIONS, os.tmpdir()),
        createSessions(b, SESSIONS, os.tmpdir())
      ])
      const order: readonly [Load, Load] = pair % 2 === 0 ? loads : [loads[1], loads[0]]
      for (const route of routes) {
        const rounds = await sideBySide(order, { daemon: a, path: route.path(aId!) }, {
          daemon: b,
          path: route.path(bId!)
        })
        byRoute.set(route.name, [...(byRoute.get(route.name) ?? []), ...rounds])
      }
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  }
  return routes.map((route) => {
    const rounds = byRoute.get(route.name) ?? []
    const cost = median(rounds.map((r) => r.cost))
    return { route, cost, middle: rounds.find((r) => r.cost === cost) ?? rounds[0]!, each: rounds.map((r) => r.cost) }
  })
}

const spread = (costs: ReadonlyArray<number>) =>
  `${costs.length} rounds, ${Math.min(...costs).toFixed(1)} … ${Math.max(...costs).toFixed(1)} %`

const httpRows = async (): Promise<Array<BenchRow>> => {
  const loads: readonly [Load, Load] = [forkRole("load"), forkRole("load")]
  for (const load of loads) pin(load.child.pid!, 1)
  try {
    const rows: Array<BenchRow> = []
    for (const result of await pairs(loads, OFF, ROUTES)) {
      rows.push({
        name: `${result.route.name}, ${CONNECTIONS} connections each, sharing one core: metrics on`,
        value: describe(result.middle.a),
        baseline: `metrics off ${describe(result.middle.b)}; ${spread(result.each)}`,
        ratio: verdict(result.cost)
      })
    }
    // both as users run them: what the figures above may differ by when nothing differs
    const [floor] = await pairs(loads, {}, [ROUTES[0]!], FLOOR_PAIRS)
    rows.push({
      name: `  noise floor: two identical daemons (both on), ${floor!.route.name}, the same way`,
      value: `${floor!.cost >= 0 ? "+" : ""}${floor!.cost.toFixed(1)} %`,
      baseline: spread(floor!.each)
    })
    return rows
  } finally {
    for (const load of loads) load.child.kill()
  }
}

const outputRows = async (): Promise<Array<BenchRow>> => {
  const costs: Array<number> = []
  const perUpdate = { on: [] as Array<number>, off: [] as Array<number> }
  let updates = 0
  for (let pair = 0; pair < BUSY_PAIRS; pair++) {
    // both at once, under the same load of the machine: one after the other, identical runs differed by ±12 %
    const [on, off] = await Promise.all([
      telemuxSide({ sessions: BUSY_SESSIONS, measureMs: BUSY_MEASURE_MS, warmupMs: BUSY_WARMUP_MS }),
      telemuxSide({ sessions: BUSY_SESSIONS, measureMs: BUSY_MEASURE_MS, warmupMs: BUSY_WARMUP_MS, env: OFF })
    ])
    const cpu = (side: typeof on) => side.cpuMs / Math.max(1, side.updates + side.resyncs)
    perUpdate.on.push(cpu(on))
    perUpdate.off.push(cpu(off))
    costs.push(costPercent(cpu(on), cpu(off), false))
    updates += on.updates + off.updates
  }
  const cost = median(costs)
  const each = (values: ReadonlyArray<number>) => values.map((v) => v.toFixed(3)).join(", ")
  return [{
    name:
      `2 × ${BUSY_SESSIONS} busy sessions at once: daemon CPU per delivered update, metrics on (${updates} updates, ${BUSY_PAIRS} pairs)`,
    value: `${median(perUpdate.on).toFixed(3)} ms (pairs ${each(perUpdate.on)})`,
    baseline: `metrics off ${median(perUpdate.off).toFixed(3)} ms (pairs ${each(perUpdate.off)}); per pair ${
      costs.map((c) => c.toFixed(1)).join(", ")
    } %`,
    ratio: verdict(cost)
  }]
}

export const benchMetrics = async (): Promise<ReadonlyArray<BenchRow>> => [
  ...(await httpRows()),
  ...(await outputRows())
]

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { printRows } = await import("./measure.js")
  printRows("metrics on vs off (TELEMUX_METRICS=false), same daemon, same run", await benchMetrics())
}
