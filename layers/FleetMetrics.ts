/**
 * The fleet's procedures as this computer calls them and serves them, by procedure and result
 * (`ok`, the typed error's tag, `defect`, `interrupted`), with their latency; heartbeats read
 * from other computers; how late requests are read from this computer's inbox. The link's state
 * is read when scraped (MetricsRoute.ts). Procedure names come from FleetRpcs (a fixed set);
 * error tags from its schemas, bounded in shape and count in case a peer sends others.
 */
import { Metric, MetricBoundaries } from "effect"
import * as MetricKey from "effect/MetricKey"
import { latencyBoundaries } from "../src/metrics/Latency.js"
import { NO_LABELS, seriesOf } from "../src/metrics/Series.js"

/** `called`: this computer asked another; `served`: another asked this one. */
export type Side = "called" | "served"

const requests = MetricKey.counter("telemux_fleet_requests_total", {
  description:
    "fleet procedure calls, by side (called, served), procedure and result (ok, an error tag, defect, interrupted)",
  incremental: true
})
const duration = MetricKey.histogram(
  "telemux_fleet_request_duration_seconds",
  latencyBoundaries,
  "fleet procedure latency: from sending to the answer (called), from reading to answering (served)"
)
const heartbeats = Metric.counter("telemux_fleet_heartbeats_seen_total", {
  description: "heartbeat records of other computers read and verified",
  incremental: true
})
const inboxLag = Metric.histogram(
  "telemux_fleet_inbox_lag_seconds",
  MetricBoundaries.fromIterable([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
  "time from a request being sent (its envelope's clock) to this computer reading it from its inbox"
)

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/
const bounded = (name: string) => (NAME.test(name) ? name : "other")

const requestsOf = seriesOf(requests, "side", "procedure", "result")
const durationOf = seriesOf(duration, "side", "procedure")

export const recordRequest = (side: Side, procedure: string, result: string, seconds: number) => {
  const name = bounded(procedure)
  requestsOf(side, name, bounded(result)).unsafeUpdate(1, NO_LABELS)
  durationOf(side, name).unsafeUpdate(seconds, NO_LABELS)
}

export const recordHeartbeats = (count: number) => {
  if (count > 0) heartbeats.unsafeUpdate(count, [])
}

export const recordInboxLag = (seconds: number) => inboxLag.unsafeUpdate(Math.max(0, seconds), [])

/**
 * The result of an encoded Exit (Schema.Exit's wire form): `ok`, the first failure's `_tag`,
 * `defect` or `interrupted`. Walks sequential and parallel causes; never throws on odd input.
 */
export const resultOfEncodedExit = (exit: unknown): string => {
  const record = (u: unknown) => (typeof u === "object" && u !== null ? u as Record<string, unknown> : undefined)
  const root = record(exit)
  if (root === undefined) return "other"
  if (root._tag === "Success") return "ok"
  const stack: Array<unknown> = [root.cause]
  let found: string | undefined
  for (let steps = 0; stack.length > 0 && steps < 64; steps++) {
    const cause = record(stack.pop())
    if (cause === undefined) continue
    switch (cause._tag) {
      case "Fail": {
        const error = record(cause.error)
        return typeof error?._tag === "string" ? error._tag : "error"
      }
      case "Die":
        found ??= "defect"
        break
      case "Interrupt":
        found ??= "interrupted"
        break
      case "Sequential":
      case "Parallel":
        stack.push(cause.right, cause.left)
        break
    }
  }
  return found ?? "other"
}
