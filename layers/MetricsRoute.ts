/**
 * `GET /metrics`: every Effect `Metric` of the daemon in the Prometheus text format, for a
 * scraper. Most series are recorded where things happen (HTTP, tmux commands, output, stream,
 * fleet, hooks); what is a state rather than an event — sessions by computer and status, the
 * fleet link, the hook outbox's depth, memory, CPU, the event loop's delay — is read when scraped.
 *
 * Auth as every route (the API token), or `TELEMUX_METRICS_TOKEN`, a token that opens this route
 * and nothing else, so a scraper's config never holds a token that can type into sessions. With
 * `TELEMUX_METRICS=off` nothing is recorded and this route says so (404).
 */
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import {
  Duration,
  Effect,
  FiberHandle,
  type Layer,
  Metric,
  type MetricPair,
  Option,
  Redacted,
  Ref,
  Schema
} from "effect"
import * as crypto from "node:crypto"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { HookOutbox } from "../services/AgentHooks.js"
import { AuthToken } from "../services/AuthToken.js"
import { Cache } from "../services/Cache.js"
import { Fleet } from "../services/Fleet.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { RouteNotFound, Unauthorized } from "../src/domain/Errors.js"
import { SessionStatus } from "../src/domain/Session.js"
import { INVALID_TOKEN_MESSAGE, MISSING_TOKEN_MESSAGE, NOT_BEARER_MESSAGE, parseBearer } from "../src/http/Bearer.js"
import { PROMETHEUS_CONTENT_TYPE, render } from "../src/metrics/PrometheusText.js"

export const METRICS_PATH = "/metrics"

const sessions = Metric.gauge("telemux_sessions", {
  description: "sessions the daemon knows of (this computer's and the fleet's), by computer and status"
})
const linkState = Metric.gauge("telemux_fleet_link_state", {
  description: "1 for the state this daemon's fleet link is in (up, connecting, down, degraded), 0 for the others"
})
const outboxPending = Metric.gauge("telemux_hook_outbox_pending", {
  description: "agent hook events waiting in the outbox to be delivered"
})
const outboxDeadLetters = Metric.gauge("telemux_hook_outbox_dead_letters", {
  description: "agent hook events kept as dead letters (delivery given up)"
})
const residentMemory = Metric.gauge("process_resident_memory_bytes", { description: "resident set size" })
const heapUsed = Metric.gauge("nodejs_heap_used_bytes", { description: "V8 heap in use" })
const heapTotal = Metric.gauge("nodejs_heap_total_bytes", { description: "V8 heap committed" })
const cpuSeconds = Metric.counter("process_cpu_seconds_total", {
  description: "CPU time of the daemon (user + system)"
})
const startTime = Metric.gauge("process_start_time_seconds", { description: "when the daemon started, Unix time" })
const loopDelayP99 = Metric.gauge("telemux_event_loop_delay_p99_seconds", {
  description:
    "p99 of how late the event loop ran a 10 ms timer since the previous scrape (NaN at the first scrape: sampled only while scraped)"
})
const loopDelayMax = Metric.gauge("telemux_event_loop_delay_max_seconds", {
  description: "longest event loop delay since the previous scrape (NaN at the first scrape)"
})

/** The loop-delay sampler's timer period: how late each of its ticks ran is the delay recorded. */
export const LOOP_SAMPLER_RESOLUTION_MS = 10
/**
 * The sampler runs from a scrape until this long after the last one. Its timer wakes the process
 * every LOOP_SAMPLER_RESOLUTION_MS: always on, it was an idle daemon's only wake-up 100 times a
 * second (with no session, or 200 idle ones), for a figure nobody was reading.
 */
export const LOOP_SAMPLER_IDLE = Duration.minutes(10)

const LINK_STATES = ["up", "connecting", "down", "degraded"] as const

const unauthorized = (message: string) =>
  HttpServerResponse.unsafeJson(Schema.encodeSync(Unauthorized)(new Unauthorized({ message })), {
    status: 401,
    headers: { "www-authenticate": "Bearer" }
  })

/** Comparing fixed-size digests: constant time whatever the candidate's length. */
const digest = (text: string) => crypto.createHash("sha256").update(text).digest()

/**
 * The event loop's delay, sampled only while someone reads it: the first `take` starts the sampler
 * (and answers undefined: nothing sampled yet), each later one answers p99 and max (ms) since the one
 * before; LOOP_SAMPLER_IDLE after the last, the sampler stops until the next.
 *
 * The histogram holds the intervals between the timer's ticks, never shorter than its period: the
 * delay is an interval less the period (an idle process read p99 ~10 ms as an interval).
 */
export const makeLoopDelaySampler = (idle: Duration.DurationInput = LOOP_SAMPLER_IDLE) =>
  Effect.gen(function*() {
    const histogram = monitorEventLoopDelay({ resolution: LOOP_SAMPLER_RESOLUTION_MS })
    let sampling = false
    const stop = Effect.sync(() => {
      histogram.disable()
      sampling = false
    })
    yield* Effect.addFinalizer(() => stop)
    const stopper = yield* FiberHandle.make()
    const late = (intervalNanos: number) => Math.max(0, intervalNanos / 1e6 - LOOP_SAMPLER_RESOLUTION_MS)
    return Effect.gen(function*() {
      const taken = sampling && histogram.count > 0
        ? { p99Ms: late(histogram.percentile(99)), maxMs: late(histogram.max) }
        : undefined
      histogram.reset()
      if (!sampling) {
        histogram.enable()
        sampling = true
      }
      yield* FiberHandle.run(stopper, Effect.zipRight(Effect.sleep(idle), stop))
      return taken
    })
  })

/** Reads the states into their gauges; keeps the computers it set so that one gone is set to 0. */
const makeCollect = Effect.gen(function*() {
  const config = yield* TelemuxConfig
  const cache = yield* Cache
  const fleet = yield* Fleet
  const outbox = yield* HookOutbox
  const loopDelay = yield* makeLoopDelaySampler()
  const computersSeen = yield* Ref.make<ReadonlySet<string>>(new Set())
  const cpuCounted = yield* Ref.make(0)
  yield* Metric.set(startTime, Math.round(Date.now() / 1000 - process.uptime()))
  return Effect.gen(function*() {
    const counts = new Map<string, Map<string, number>>([[config.computer, new Map()]])
    for (const session of yield* cache.getSessions()) {
      const byStatus = counts.get(session.computer) ?? new Map<string, number>()
      byStatus.set(session.status, (byStatus.get(session.status) ?? 0) + 1)
      counts.set(session.computer, byStatus)
    }
    for (const computer of yield* cache.getComputers) {
      if (!counts.has(computer.name)) counts.set(computer.name, new Map())
    }
    const before = yield* Ref.getAndSet(computersSeen, new Set(counts.keys()))
    for (const gone of before) if (!counts.has(gone)) counts.set(gone, new Map())
    for (const [computer, byStatus] of counts) {
      for (const status of SessionStatus.literals) {
        if (status === "closed") continue
        yield* Metric.set(
          Metric.tagged(Metric.tagged(sessions, "computer", computer), "status", status),
          byStatus.get(status) ?? 0
        )
      }
    }
    const link = yield* fleet.link
    for (const state of LINK_STATES) {
      const current = Option.isSome(link) && link.value.state === state ? 1 : 0
      yield* Metric.set(Metric.tagged(linkState, "state", state), current)
    }
    const stats = yield* Effect.option(outbox.stats)
    if (Option.isSome(stats)) {
      yield* Metric.set(outboxPending, stats.value.pending)
      yield* Metric.set(outboxDeadLetters, stats.value.deadLetters)
    }
    const memory = process.memoryUsage()
    yield* Metric.set(residentMemory, memory.rss)
    yield* Metric.set(heapUsed, memory.heapUsed)
    yield* Metric.set(heapTotal, memory.heapTotal)
    const cpu = process.cpuUsage()
    const cpuTotal = (cpu.user + cpu.system) / 1e6
    yield* Metric.incrementBy(cpuSeconds, cpuTotal - (yield* Ref.getAndSet(cpuCounted, cpuTotal)))
    const delay = yield* loopDelay
    yield* Metric.set(loopDelayP99, delay === undefined ? Number.NaN : delay.p99Ms / 1000)
    yield* Metric.set(loopDelayMax, delay === undefined ? Number.NaN : delay.maxMs / 1000)
  })
})

/**
 * Effect's own fiber metrics (`effect_fiber_*`, recorded only where runtime metrics are turned on)
 * are left out: they are not the daemon's, and their counters lack the `_total` suffix.
 */
const isOwn = (pair: MetricPair.MetricPair.Untyped) => !pair.metricKey.name.startsWith("effect_")

/** The exposition text as scraped: the states read now, then every metric of the registry. */
export const makeExposition = Effect.map(
  makeCollect,
  (collect) => Effect.zipRight(collect, Effect.map(Metric.snapshot, (pairs) => render(pairs.filter(isOwn))))
)

export const MetricsRouteLive: Layer.Layer<
  never,
  never,
  TelemuxConfig | AuthToken | Cache | Fleet | HookOutbox
> = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    const config = yield* TelemuxConfig
    if (!config.metrics) {
      return yield* router.get(
        METRICS_PATH,
        Effect.succeed(HttpServerResponse.unsafeJson(
          Schema.encodeSync(RouteNotFound)(
            new RouteNotFound({
              message: "metrics are off on this daemon (TELEMUX_METRICS=off); unset it to serve them"
            })
          ),
          { status: 404 }
        ))
      )
    }
    const token = yield* AuthToken
    const scraperToken = Option.map(config.metricsToken, (t) => digest(Redacted.value(t)))
    const exposition = yield* makeExposition
    const authorized = (header: string | undefined) =>
      Effect.gen(function*() {
        if (!config.auth) return undefined
        const bearer = parseBearer(header)
        if (bearer._tag === "Missing") return unauthorized(MISSING_TOKEN_MESSAGE)
        if (bearer._tag === "NotBearer") return unauthorized(NOT_BEARER_MESSAGE)
        if (Option.isSome(scraperToken) && crypto.timingSafeEqual(digest(bearer.token), scraperToken.value)) {
          return undefined
        }
        return (yield* token.verify(bearer.token)) ? undefined : unauthorized(INVALID_TOKEN_MESSAGE)
      })
    yield* router.get(
      METRICS_PATH,
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const refused = yield* authorized(request.headers.authorization)
        if (refused !== undefined) return refused
        return HttpServerResponse.text(yield* exposition, { contentType: PROMETHEUS_CONTENT_TYPE })
      })
    )
  })
)
