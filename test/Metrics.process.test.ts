/**
 * `GET /metrics` on the daemon as a process (dist/main.js): who may read it, that promtool accepts
 * what it prints, and that a real Prometheus scraping it with the metrics-only token sees the
 * request counter move as the test drives it.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { parse } from "../src/metrics/PrometheusText.js"
import {
  type DaemonEnv,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon
} from "./support/daemonProcess.js"
import { checkMetrics, type RunningPrometheus, type Sample, startPrometheus } from "./support/prometheus.js"

const HEALTH_REQUESTS = 7
const MORE_HEALTH_REQUESTS = 5
const WAIT_MS = 30_000
const HEALTH_SERIES = "telemux_http_requests_total{route=\"/health\",status=\"200\"}"

/** The samples of a text-format exposition, read as `telemux doctor` reads them. */
const parseExposition = parse

const healthCount = (text: string): number | undefined =>
  parseExposition(text).find((series) =>
    series.name === "telemux_http_requests_total" && series.labels.method === "GET" &&
    series.labels.route === "/health" && series.labels.status === "200"
  )?.value

const total = (samples: ReadonlyArray<Sample>) => samples.reduce((sum, sample) => sum + sample.value, 0)

describe("GET /metrics on the daemon as a process, checked by promtool and scraped by a real Prometheus", () => {
  const metricsToken = randomBytes(24).toString("hex")
  let env: DaemonEnv | undefined
  let daemon: RunningDaemon | undefined
  let prometheus: RunningPrometheus | undefined

  const url = (route: string) => `http://127.0.0.1:${env!.port}${route}`
  const get = (route: string, token?: string) =>
    fetch(url(route), {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5000)
    })
  const apiToken = () => fs.readFileSync(path.join(env!.home, "token"), "utf8").trim()
  const driveHealth = async (times: number) => {
    for (let i = 0; i < times; i++) {
      const res = await get("/health")
      assert.strictEqual(res.status, 200, "GET /health")
      await res.arrayBuffer()
    }
  }
  const logs = () => `\ndaemon output:\n${daemon?.logs() ?? ""}`

  beforeAll(async () => {
    env = await makeDaemonEnv()
    daemon = await startDaemon(env, { TELEMUX_METRICS_TOKEN: metricsToken })
  }, 60_000)

  afterAll(async () => {
    try {
      await prometheus?.stop()
      if (daemon !== undefined) {
        const stopped = await daemon.stop("SIGTERM")
        assert.strictEqual(stopped.code, 0, `the daemon's exit on SIGTERM${logs()}`)
      }
    } finally {
      if (env !== undefined) removeDaemonEnv(env)
    }
  }, 60_000)

  it("opens /metrics to the API token and the metrics token only, and the metrics token opens nothing else", async () => {
    assert.strictEqual((await get("/metrics")).status, 401, "/metrics without a token")
    assert.strictEqual((await get("/metrics", "not-the-token")).status, 401, "/metrics with a wrong token")

    const byMetricsToken = await get("/metrics", metricsToken)
    assert.strictEqual(byMetricsToken.status, 200, `/metrics with the metrics token${logs()}`)
    assert.strictEqual(byMetricsToken.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8")
    assert.include(await byMetricsToken.text(), "telemux_http_requests_total")

    const byApiToken = await get("/metrics", apiToken())
    assert.strictEqual(byApiToken.status, 200, "/metrics with the API token")
    await byApiToken.arrayBuffer()

    assert.strictEqual((await get("/v1/sessions", metricsToken)).status, 401, "/v1/sessions with the metrics token")
    assert.strictEqual((await get("/v1/sessions", apiToken())).status, 200, "/v1/sessions with the API token")
  })

  it("counts the /health requests the test makes, in text that promtool accepts without a lint warning", async () => {
    const before = healthCount(await (await get("/metrics", apiToken())).text()) ?? 0
    await driveHealth(HEALTH_REQUESTS)

    const text = await (await get("/metrics", apiToken())).text()
    const after = healthCount(text)
    console.log(
      `/metrics: GET /health 200 counted ${before} before and ${after} after ${HEALTH_REQUESTS} requests; ` +
        `${text.length} bytes, ${parseExposition(text).length} samples`
    )
    assert.isDefined(after, `no telemux_http_requests_total{method="GET",route="/health",status="200"} in:\n${text}`)
    assert.isAtLeast(after!, HEALTH_REQUESTS)
    assert.isAtLeast(after! - before, HEALTH_REQUESTS, "the counter moved by the requests made")
    assert.isTrue(
      parseExposition(text).some((series) => series.name === "telemux_http_request_duration_seconds_count"),
      `no telemux_http_request_duration_seconds histogram in:\n${text}`
    )

    const verdict = checkMetrics(text)
    console.log(`promtool check metrics: exit ${verdict.exitCode}${verdict.output === "" ? "" : `\n${verdict.output}`}`)
    assert.isTrue(verdict.parses, `promtool could not parse /metrics:\n${verdict.output}\n--- the text:\n${text}`)
    assert.deepStrictEqual(verdict.warnings, [], `promtool's lint warnings:\n${verdict.output}`)
    assert.isTrue(verdict.ok, `promtool exited ${verdict.exitCode}:\n${verdict.output}`)
  })

  it("is scraped by a real Prometheus with the metrics token, which sees the counter the test drives", async () => {
    prometheus = await startPrometheus({
      target: `127.0.0.1:${env!.port}`,
      bearerToken: metricsToken,
      scrapeInterval: "1s"
    })
    const [target] = await prometheus.waitForTargetsUp(WAIT_MS)
    console.log(`prometheus at ${prometheus.url} scrapes ${target!.scrapeUrl}: ${target!.health}`)

    const first = total(await prometheus.waitFor(HEALTH_SERIES, (samples) => samples.length > 0, WAIT_MS))
    await driveHealth(MORE_HEALTH_REQUESTS)
    const later = await prometheus.waitFor(
      HEALTH_SERIES,
      (samples) => total(samples) >= first + MORE_HEALTH_REQUESTS,
      WAIT_MS
    )
    console.log(
      `prometheus: ${HEALTH_SERIES} was ${first}, then ${total(later)} after ${MORE_HEALTH_REQUESTS} more requests ` +
        `(series: ${JSON.stringify(later.map((sample) => sample.metric))})`
    )
    assert.strictEqual(later[0]!.metric.job, "telemux")
    assert.strictEqual(later[0]!.metric.method, "GET")

    // the cached reads are counted, not timed (HotRoutes.ts); the scrapes themselves go through the app and are timed
    const durations = await prometheus.waitFor(
      "telemux_http_request_duration_seconds_count{route=\"/metrics\"}",
      (samples) => total(samples) >= 2,
      WAIT_MS
    )
    console.log(`prometheus: telemux_http_request_duration_seconds_count{route="/metrics"} = ${total(durations)}`)

    await prometheus.stop()
  }, 120_000)
})
