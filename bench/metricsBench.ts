/**
 * What recording metrics costs: the same daemon (dist/main.js) with metrics on (the default) and
 * with `TELEMUX_METRICS=false`, measured side by side in this run. Target (issue 16): ≤ 5 %
 * difference in request throughput and in CPU per delivered output update.
 *
 * - HTTP: both daemons up at once (20 idle sessions each), the cells alternating on / off so that
 *   drift of the machine falls on both; each figure is the median of ROUNDS cells. The daemons
 *   run on one core and the load generator on the other (`taskset`, where there is one): left
 *   to the scheduler, the two busy processes sharing or not sharing a core moved the throughput
 *   of identical runs by up to 50 %, far more than what is measured. `GET /health`
 *   is the cheapest request (the metrics' share is largest there); `GET /v1/sessions/:id` goes
 *   through the whole Effect pipeline.
 * - Output: BUSY_SESSIONS sessions each printing every 200 ms watched over the WebSocket (the busy
 *   section's daemon side), on, off, on, off, …; daemon CPU per delivered update, median per side.
 *
 * `npx tsx bench/metricsBench.ts` runs it alone (after `npm run build`).
 */
import { execFileSync } from "node:child_process"
import * as os from "node:os"
import { pathToFileURL } from "node:url"
import { telemuxSide } from "./busyBench.js"
import { type Cell, describe, forkRole, measure, rate } from "./httpBench.js"
import type { BenchRow } from "./measure.js"
import { createSessions, startDaemon } from "./outputBench.js"

const SESSIONS = 20
const CONNECTIONS = 10
const ROUNDS = 5
const WARMUP_MS = 500
const MEASURE_MS = 2000
const BUSY_SESSIONS = 100
const BUSY_RUNS = 3
const BUSY_MEASURE_MS = 8000
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

const verdict = (percent: number) =>
  `${percent >= 0 ? "+" : ""}${percent.toFixed(1)} % ${
    Math.abs(percent) <= TARGET_PERCENT ? "(met" : "(MISSED"
  } ≤ ${TARGET_PERCENT} %)`

const httpRows = async (): Promise<Array<BenchRow>> => {
  const on = await startDaemon({ probe: false })
  const off = await startDaemon({ probe: false, env: OFF })
  const load = forkRole("load")
  pin(on.pid, 0)
  pin(off.pid, 0)
  pin(load.child.pid!, 1)
  try {
    const [onId] = await createSessions(on, SESSIONS, os.tmpdir())
    const [offId] = await createSessions(off, SESSIONS, os.tmpdir())
    const routes = [
      { name: "GET /health", on: "/health", off: "/health" },
      { name: "GET /v1/sessions/:id", on: `/v1/sessions/${onId}`, off: `/v1/sessions/${offId}` }
    ]
    const rows: Array<BenchRow> = []
    for (const route of routes) {
      const cells: { on: Array<Cell>; off: Array<Cell> } = { on: [], off: [] }
      for (let round = 0; round < ROUNDS; round++) {
        const base = { connections: CONNECTIONS, warmupMs: WARMUP_MS, measureMs: MEASURE_MS }
        cells.on.push(await measure(load, on.pid, { ...base, path: route.on, token: on.token, port: on.port }))
        cells.off.push(await measure(load, off.pid, { ...base, path: route.off, token: off.token, port: off.port }))
      }
      const rateOn = median(cells.on.map((c) => rate(c.result)))
      const rateOff = median(cells.off.map((c) => rate(c.result)))
      const middle = (side: Array<Cell>, value: number) => side.find((c) => rate(c.result) === value) ?? side[0]!
      rows.push({
        name: `${route.name}, ${CONNECTIONS} connections: metrics on (median of ${ROUNDS})`,
        value: describe(middle(cells.on, rateOn)),
        baseline: `metrics off ${describe(middle(cells.off, rateOff))}`,
        ratio: verdict(costPercent(rateOn, rateOff, true))
      })
    }
    return rows
  } finally {
    load.child.kill()
    await on.stop()
    await off.stop()
  }
}

const outputRows = async (): Promise<Array<BenchRow>> => {
  const perUpdate = { on: [] as Array<number>, off: [] as Array<number> }
  let updates = 0
  const sides = Array.from({ length: BUSY_RUNS * 2 }, (_, i) => (i % 2 === 0 ? "on" as const : "off" as const))
  for (const side of sides) {
    const run = await telemuxSide({
      sessions: BUSY_SESSIONS,
      measureMs: BUSY_MEASURE_MS,
      ...(side === "off" ? { env: OFF } : {})
    })
    perUpdate[side].push(run.cpuMs / Math.max(1, run.updates + run.resyncs))
    updates += run.updates
  }
  const on = median(perUpdate.on)
  const off = median(perUpdate.off)
  const each = (values: ReadonlyArray<number>) => values.map((v) => v.toFixed(3)).join(", ")
  return [{
    name:
      `${BUSY_SESSIONS} busy sessions: daemon CPU per delivered update, metrics on (${updates} updates in ${sides.length} runs)`,
    value: `${on.toFixed(3)} ms (runs ${each(perUpdate.on)})`,
    baseline: `metrics off ${off.toFixed(3)} ms (runs ${each(perUpdate.off)})`,
    ratio: verdict(costPercent(on, off, false))
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
