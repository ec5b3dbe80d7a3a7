/**
 * HTTP requests by route, method and status, and their latency: recorded where node hands the
 * listener a request (HttpListener.ts), so every answer counts — the hot reads, the API, the 503s
 * of start-up and shutdown. Labels are bounded: the route's template (never the path), a known
 * method or `OTHER`, the status code.
 */
import { Metric } from "effect"
import { DAEMON_ROUTES, templateOfPath } from "../src/http/RouteTemplate.js"
import { labelSets } from "../src/metrics/LabelSets.js"
import { latencyBoundaries } from "../src/metrics/Latency.js"

export const requests = Metric.counter("telemux_http_requests_total", {
  description: "HTTP requests answered, by route template, method and status (status 0: the client went away first)"
})

export const duration = Metric.histogram(
  "telemux_http_request_duration_seconds",
  latencyBoundaries,
  "HTTP request latency from its arrival to the end of its answer, by route template and method"
)

const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])

const statusLabels = labelSets("method", "route", "status")
const latencyLabels = labelSets("method", "route")

/** Records one answered request. `url` may carry a query: only its path's template is kept. */
export const record = (method: string, url: string, status: number, seconds: number) => {
  const q = url.indexOf("?")
  const route = templateOfPath(DAEMON_ROUTES, q < 0 ? url : url.slice(0, q))
  const verb = METHODS.has(method) ? method : "OTHER"
  requests.unsafeUpdate(1, statusLabels(verb, route, String(status)))
  duration.unsafeUpdate(seconds, latencyLabels(verb, route))
}
