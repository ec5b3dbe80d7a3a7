/**
 * `/metrics` (layers/MetricsRoute.ts) served in-process, and the exposition format it writes
 * (src/metrics/PrometheusText.ts). The real Prometheus and promtool check the daemon's output in
 * Metrics.process.test.ts.
 */
import type { HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Logger, LogLevel, Metric, MetricBoundaries, Option, type Scope } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as HttpServerLayer from "../layers/HttpServer.js"
import { makeLoopDelaySampler } from "../layers/MetricsRoute.js"
import { HttpListener } from "../services/HttpListener.js"
import { metricsSummary } from "../src/cli/Doctor.js"
import { parse, PROMETHEUS_CONTENT_TYPE, render } from "../src/metrics/PrometheusText.js"
import { realSessionsServices, TOKEN } from "./support/apiInProcess.js"
import { httpRequest } from "./support/rawHttp.js"

const SCRAPER_TOKEN = "scraper-token-for-tests"

const services = realSessionsServices

const withServer = <A, E>(
  body: (port: number) => Effect.Effect<A, E, HttpClient.HttpClient | HttpListener | Scope.Scope>,
  env: Readonly<Record<string, string>> = { TELEMUX_METRICS_TOKEN: SCRAPER_TOKEN }
) =>
  Effect.flatMap(HttpListener, (listener) => body(listener.port)).pipe(
    Effect.provide(HttpServerLayer.layerTest.pipe(Layer.provide(services(env)))),
    Effect.provide(Logger.minimumLogLevel(LogLevel.Error))
  )

const call = (port: number, method: string, url: string, token: string | null = TOKEN, body?: unknown) =>
  Effect.promise(() =>
    httpRequest(port, {
      method,
      path: url,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { "content-type": "application/json" })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
  )

/** The value of one series in an exposition (exactly these labels), or undefined. */
const sample = (text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined =>
  parse(text).find((s) =>
    s.name === name && Object.keys(s.labels).length === Object.keys(labels).length &&
    Object.entries(labels).every(([key, value]) => s.labels[key] === value)
  )?.value

const scrape = (port: number, token: string | null = SCRAPER_TOKEN) =>
  Effect.map(call(port, "GET", "/metrics", token), (reply) => reply.body)

describe("the exposition format", () => {
  it.effect("counters, gauges and histograms by family, labels escaped, buckets cumulative up to +Inf", () =>
    Effect.gen(function*() {
      const counter = Metric.counter("test_render_things_total", { description: "things\ncounted" })
      const gauge = Metric.gauge("test_render_level")
      const histogram = Metric.histogram(
        "test_render_latency_seconds",
        MetricBoundaries.fromIterable([0.1, 1]),
        "latency"
      )
      yield* Metric.incrementBy(Metric.tagged(counter, "kind", "a \"quoted\\\" one\nand a line"), 2)
      yield* Metric.increment(Metric.tagged(counter, "kind", "plain"))
      yield* Metric.set(gauge, 7.5)
      for (const value of [0.05, 0.5, 0.5, 3]) yield* Metric.update(histogram, value)
      const text = render((yield* Metric.snapshot).filter((pair) => pair.metricKey.name.startsWith("test_render_")))
      const lines = text.trimEnd().split("\n")
      const at = (line: string) => {
        const i = lines.indexOf(line)
        assert.isAtLeast(i, 0, `missing line: ${line}\n${text}`)
        return i
      }
      assert.isBelow(
        at("# HELP test_render_things_total things\\ncounted"),
        at("# TYPE test_render_things_total counter")
      )
      at("test_render_things_total{kind=\"a \\\"quoted\\\\\\\" one\\nand a line\"} 2")
      at("test_render_things_total{kind=\"plain\"} 1")
      at("# TYPE test_render_level gauge")
      at("test_render_level 7.5")
      at("# TYPE test_render_latency_seconds histogram")
      const buckets = [
        at("test_render_latency_seconds_bucket{le=\"0.1\"} 1"),
        at("test_render_latency_seconds_bucket{le=\"1\"} 3"),
        at("test_render_latency_seconds_bucket{le=\"+Inf\"} 4")
      ]
      assert.deepStrictEqual([...buckets].sort((a, b) => a - b), buckets, "buckets in ascending order")
      at("test_render_latency_seconds_sum 4.05")
      at("test_render_latency_seconds_count 4")
      // one HELP/TYPE per family, whatever the number of series
      assert.strictEqual(lines.filter((l) => l === "# TYPE test_render_things_total counter").length, 1)
      assert.isTrue(text.endsWith("\n"))
    }))
})

describe("telemux doctor's metrics line", () => {
  it("sums the series it shows; says so when the daemon records none", () => {
    const text = [
      "telemux_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 12000",
      "telemux_http_requests_total{method=\"POST\",route=\"/v1/sessions\",status=\"503\"} 2",
      "telemux_http_requests_total{method=\"POST\",route=\"/v1/sessions\",status=\"201\"} 5",
      "telemux_tmux_commands_total{command=\"capture-pane\",channel=\"control\",result=\"ok\"} 40",
      "telemux_tmux_commands_total{command=\"capture-pane\",channel=\"control\",result=\"timeout\"} 3",
      "telemux_tmux_control_reconnects_total{client=\"events\"} 1",
      "telemux_event_loop_delay_p99_seconds 0.0125",
      "process_resident_memory_bytes 104857600"
    ].join("\n")
    const line = metricsSummary(Option.some(text))
    assert.strictEqual(line.status, "ok")
    assert.include(
      line.text,
      "12k HTTP requests (2 answered 5xx), 43 tmux commands (3 timed out, 1 control reconnects)"
    )
    assert.include(line.text, "event loop p99 12.5 ms, RSS 100 MB")
    assert.strictEqual(metricsSummary(Option.none()).status, "skipped")
    // the daemon's sampler just started (nobody had read its metrics): no figure, and no 0 ms either
    const unsampled = metricsSummary(Option.some("telemux_event_loop_delay_p99_seconds NaN\n"))
    assert.include(unsampled.text, "event loop p99 not sampled yet")
  })
})

describe("the event loop's delay at /metrics", () => {
  it.scopedLive("is sampled from the first read on, as how late its timer ran, until the idle time after the last read", () =>
    Effect.gen(function*() {
      const take = yield* makeLoopDelaySampler(Duration.millis(600))
      assert.isUndefined(yield* take, "nothing sampled before the first read")
      yield* Effect.sleep(Duration.millis(30))
      // the loop held for 80 ms: the tick due in it ran 70 ms late at least
      const until = performance.now() + 80
      while (performance.now() < until) {
        // blocking on purpose
      }
      yield* Effect.sleep(Duration.millis(30))
      const blocked = yield* take
      assert.isDefined(blocked)
      assert.isAtLeast(blocked!.maxMs, 65)
      // read again within the idle time: still sampling, and each read moves its end
      yield* Effect.sleep(Duration.millis(400))
      const quiet = yield* take
      assert.isDefined(quiet, "a read 400 ms after the last keeps it on")
      assert.isBelow(quiet!.maxMs, blocked!.maxMs, "each read's figures are since the read before")
      yield* Effect.sleep(Duration.millis(400))
      assert.isDefined(yield* take, "over 600 ms after the first read, but 400 ms after the last: on")
      // no read for longer than the idle time: stopped, and the next read starts it again
      yield* Effect.sleep(Duration.millis(900))
      assert.isUndefined(yield* take)
      yield* Effect.sleep(Duration.millis(30))
      assert.isDefined(yield* take)
    }))
})

describe("GET /metrics", () => {
  it.scopedLive("answers the API token and the scraper token; the scraper token opens nothing else", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const missing = yield* call(port, "GET", "/metrics", null)
        assert.strictEqual(missing.status, 401)
        assert.include(missing.body, "Unauthorized")
        assert.strictEqual((yield* call(port, "GET", "/metrics", "wrong-token")).status, 401)
        const byScraper = yield* call(port, "GET", "/metrics", SCRAPER_TOKEN)
        assert.strictEqual(byScraper.status, 200, byScraper.body)
        assert.strictEqual(byScraper.headers["content-type"], PROMETHEUS_CONTENT_TYPE)
        assert.strictEqual((yield* call(port, "GET", "/metrics", TOKEN)).status, 200)
        assert.strictEqual((yield* call(port, "GET", "/v1/sessions", SCRAPER_TOKEN)).status, 401)
        assert.strictEqual((yield* call(port, "POST", "/v1/sessions", SCRAPER_TOKEN, { projectDir: "/" })).status, 401)
      })
    ))

  it.scopedLive("counts requests by route template and status, and sessions by computer and status", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const dir = yield* Effect.acquireRelease(
          Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "telemux-metrics-"))),
          (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
        )
        const before = yield* scrape(port)
        // the loop delay is sampled from the first scrape on: none yet
        assert.isNaN(sample(before, "telemux_event_loop_delay_p99_seconds"))
        const created = (labels: Record<string, string>) => sample(before, "telemux_http_requests_total", labels) ?? 0
        const createdBefore = created({ method: "POST", route: "/v1/sessions", status: "201" })
        const readBefore = created({ method: "GET", route: "/v1/sessions/:id", status: "200" })
        const missingBefore = created({ method: "GET", route: "/v1/sessions/:id", status: "404" })
        const healthBefore = created({ method: "GET", route: "/health", status: "200" })
        const listBefore = created({ method: "GET", route: "/v1/sessions", status: "200" })

        const reply = yield* call(port, "POST", "/v1/sessions", TOKEN, { projectDir: dir, title: "metered" })
        assert.strictEqual(reply.status, 201, reply.body)
        const id = (JSON.parse(reply.body) as { readonly sessionId: string }).sessionId
        for (let i = 0; i < 3; i++) assert.strictEqual((yield* call(port, "GET", `/v1/sessions/${id}`)).status, 200)
        assert.strictEqual((yield* call(port, "GET", "/v1/sessions/00000000-0000-4000-8000-00000000dead")).status, 404)
        assert.strictEqual((yield* call(port, "GET", "/no/such/route?x=1")).status, 404)
        // the cached reads, answered before the app: counted too
        for (let i = 0; i < 2; i++) assert.strictEqual((yield* call(port, "GET", "/health")).status, 200)
        assert.strictEqual((yield* call(port, "GET", "/v1/sessions?status=running")).status, 200)

        const after = yield* scrape(port)
        const count = (labels: Record<string, string>) => sample(after, "telemux_http_requests_total", labels) ?? 0
        assert.strictEqual(count({ method: "POST", route: "/v1/sessions", status: "201" }), createdBefore + 1)
        assert.strictEqual(count({ method: "GET", route: "/v1/sessions/:id", status: "200" }), readBefore + 3)
        assert.strictEqual(count({ method: "GET", route: "/v1/sessions/:id", status: "404" }), missingBefore + 1)
        assert.isAtLeast(count({ method: "GET", route: "unmatched", status: "404" }), 1)
        assert.strictEqual(count({ method: "GET", route: "/health", status: "200" }), healthBefore + 2)
        assert.strictEqual(count({ method: "GET", route: "/v1/sessions", status: "200" }), listBefore + 1)
        assert.isAtLeast(
          sample(after, "telemux_http_request_duration_seconds_count", { method: "GET", route: "/v1/sessions/:id" }) ??
            0,
          readBefore + 3
        )
        // a session id, a path or a query is never a label
        assert.notInclude(after, id)
        assert.notInclude(after, "00000000-0000-4000-8000-00000000dead")
        assert.notInclude(after, "/no/such/route")
        assert.strictEqual(sample(after, "telemux_sessions", { computer: "local", status: "running" }), 1)
        assert.strictEqual(sample(after, "telemux_sessions", { computer: "local", status: "idle" }), 0)
        assert.isAbove(sample(after, "process_resident_memory_bytes") ?? 0, 0)
        assert.isAbove(sample(after, "nodejs_heap_used_bytes") ?? 0, 0)
        // since the scrape before: a delay, in seconds
        assert.isAtLeast(sample(after, "telemux_event_loop_delay_p99_seconds") ?? Number.NaN, 0)
        assert.isAtLeast(sample(after, "telemux_event_loop_delay_max_seconds") ?? Number.NaN, 0)
        assert.strictEqual(sample(after, "telemux_hook_outbox_pending"), 0)
        for (const state of ["up", "connecting", "down", "degraded"]) {
          assert.strictEqual(sample(after, "telemux_fleet_link_state", { state }), 0, "alone: no link state is on")
        }

        assert.strictEqual((yield* call(port, "DELETE", `/v1/sessions/${id}`)).status, 200)
        const closed = yield* scrape(port)
        assert.strictEqual(sample(closed, "telemux_sessions", { computer: "local", status: "running" }), 0)
      })
    ))

  it.scopedLive("with TELEMUX_METRICS=off the route says metrics are off", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const reply = yield* call(port, "GET", "/metrics", TOKEN)
        assert.strictEqual(reply.status, 404)
        assert.include(reply.body, "TELEMUX_METRICS=off")
      }), { TELEMUX_METRICS: "false" }))
})
