/**
 * HTTP requests by route, method and status, and their latency: recorded where the listener hands
 * a request to the app (HttpListener.ts), so every answer counts — the API and the 503s of start-up
 * and shutdown — and, counted but not timed, the cached reads answered before it (HotRoutes.ts). Labels are bounded: the route's template (never the path), a known method or
 * `OTHER`, the status code.
 */
import type { Metric } from "effect"
import * as MetricKey from "effect/MetricKey"
import { DAEMON_ROUTES, templateOfPath } from "../src/http/RouteTemplate.js"
import { latencyBoundaries } from "../src/metrics/Latency.js"
import { NO_LABELS, seriesOf } from "../src/metrics/Series.js"

const requests = MetricKey.counter("telemux_http_requests_total", {
  description: "HTTP requests answered, by route template, method and status",
  incremental: true
})

const duration = MetricKey.histogram(
  "telemux_http_request_duration_seconds",
  latencyBoundaries,
  "HTTP request latency from its arrival to the end of its answer, by route template and method"
)

const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])

const countOf = seriesOf(requests, "method", "route", "status")
const latencyOf = seriesOf(duration, "method", "route")

/** The series of one route and method: its latency, and its count by status (no string built per request). */
interface RouteSeries {
  readonly latency: Metric.Metric<MetricKey.MetricKey.Histogram["keyType"], number, unknown>
  readonly byStatus: Map<number, Metric.Metric<MetricKey.MetricKey.Counter<number>["keyType"], number, unknown>>
}

/** method → route template → series; bounded by construction (known methods × the API's routes × statuses). */
const series = new Map<string, Map<string, RouteSeries>>()

const routeSeries = (method: string, route: string): RouteSeries => {
  let routes = series.get(method)
  if (routes === undefined) series.set(method, routes = new Map())
  let found = routes.get(route)
  if (found === undefined) {
    found = { latency: latencyOf(method, route), byStatus: new Map() }
    routes.set(route, found)
  }
  return found
}

const countOfRoute = (found: RouteSeries, verb: string, route: string, status: number) => {
  let count = found.byStatus.get(status)
  if (count === undefined) {
    count = countOf(verb, route, String(status))
    found.byStatus.set(status, count)
  }
  return count
}

const templateOfUrl = (url: string) => {
  const q = url.indexOf("?")
  return templateOfPath(DAEMON_ROUTES, q < 0 ? url : url.slice(0, q))
}

/** Records one answered request. `url` may carry a query: only its path's template is kept. */
export const record = (method: string, url: string, status: number, seconds: number) => {
  const verb = METHODS.has(method) ? method : "OTHER"
  const route = templateOfUrl(url)
  const found = routeSeries(verb, route)
  countOfRoute(found, verb, route, status).unsafeUpdate(1, NO_LABELS)
  found.latency.unsafeUpdate(seconds, NO_LABELS)
}

/**
 * Counts an answer without timing it: the cached reads (HotRoutes.ts), answered in a few µs from
 * bytes at hand, where a timer and a listener per response cost a measurable share of the answer.
 * `route` is the read's own template.
 */
export const countHot = (route: string) => {
  countOfRoute(routeSeries("GET", route), "GET", route, 200).unsafeUpdate(1, NO_LABELS)
}
