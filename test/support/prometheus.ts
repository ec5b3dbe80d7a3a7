/**
 * A real Prometheus server (Debian's `prometheus` package) for one test: it scrapes one target with
 * a bearer token and answers PromQL over its HTTP API. Also `checkMetrics`, promtool's verdict on
 * an exposition text.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { freePort } from "./daemonProcess.js"

export const PROMETHEUS_INSTALL_HINT = "install it with `apt-get install -y prometheus` (or run `bash .ci/run`)"

export interface PromtoolVerdict {
  /** promtool exited 0: the text parses and has no lint problems. */
  readonly ok: boolean
  /** The text parses (promtool exits 3 for lint problems alone, 1 for a parse error). */
  readonly parses: boolean
  /** promtool's lint problems, one a line ("foo no help text", …). */
  readonly warnings: ReadonlyArray<string>
  readonly exitCode: number | null
  /** Everything promtool printed. */
  readonly output: string
}

/** `promtool check metrics` with `text` on stdin. */
export const checkMetrics = (text: string): PromtoolVerdict => {
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8", timeout: 15_000 })
  if (run.error !== undefined) {
    throw new Error(`promtool could not run (${run.error.message}): ${PROMETHEUS_INSTALL_HINT}`)
  }
  const output = `${run.stdout}${run.stderr}`
  const parses = run.status === 0 || run.status === 3
  const warnings = parses ? output.split("\n").map((line) => line.trim()).filter((line) => line !== "") : []
  return { ok: run.status === 0, parses, warnings, exitCode: run.status, output }
}

export interface PrometheusOptions {
  /** `host:port` of the exporter. */
  readonly target: string
  /** Sent as `Authorization: Bearer …` on every scrape (read by Prometheus from a 0600 file). */
  readonly bearerToken: string
  /** Prometheus duration, e.g. "1s". */
  readonly scrapeInterval?: string
  readonly metricsPath?: string
}

/** One series of an instant query's vector result. */
export interface Sample {
  readonly metric: Readonly<Record<string, string>>
  readonly value: number
}

/** An entry of `/api/v1/targets`' `activeTargets`. */
export interface ScrapeTarget {
  readonly scrapeUrl: string
  readonly health: "up" | "down" | "unknown"
  readonly lastError: string
  readonly lastScrape: string
  readonly labels: Readonly<Record<string, string>>
}

export interface RunningPrometheus {
  readonly url: string
  /** What Prometheus printed so far, for failure messages. */
  readonly logs: () => string
  /** An instant query; fails unless Prometheus answers `success` with a vector. */
  readonly query: (promql: string) => Promise<ReadonlyArray<Sample>>
  /** Polls `query(promql)` until `predicate` holds (bounded); fails with the last answer and the logs. */
  readonly waitFor: (
    promql: string,
    predicate: (samples: ReadonlyArray<Sample>) => boolean,
    timeoutMs?: number
  ) => Promise<ReadonlyArray<Sample>>
  readonly targets: () => Promise<ReadonlyArray<ScrapeTarget>>
  /** Waits (bounded) until every active target's last scrape succeeded; returns them. */
  readonly waitForTargetsUp: (timeoutMs?: number) => Promise<ReadonlyArray<ScrapeTarget>>
  /** SIGTERM, SIGKILL after 5 s, then removes its config and storage; safe to call twice. */
  readonly stop: () => Promise<void>
}

/**
 * `setpriv` where util-linux has it: the kernel sends Prometheus SIGTERM when the test process
 * dies, so a crashed test worker leaves no server behind.
 */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((candidate) => fs.existsSync(candidate))

const POLL_MS = 200
const STOP_GRACE_MS = 5_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const hasExited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (hasExited(child)) resolve()
    else child.once("exit", () => resolve())
  })

const configText = (options: PrometheusOptions, tokenFile: string) => {
  const interval = options.scrapeInterval ?? "1s"
  // JSON strings are valid YAML scalars: paths and targets need no escaping rules of their own.
  return [
    "global:",
    `  scrape_interval: ${JSON.stringify(interval)}`,
    `  scrape_timeout: ${JSON.stringify(interval)}`,
    "scrape_configs:",
    "  - job_name: \"telemux\"",
    `    metrics_path: ${JSON.stringify(options.metricsPath ?? "/metrics")}`,
    "    authorization:",
    "      type: \"Bearer\"",
    `      credentials_file: ${JSON.stringify(tokenFile)}`,
    "    static_configs:",
    `      - targets: [${JSON.stringify(options.target)}]`,
    ""
  ].join("\n")
}

/** Starts `prometheus` on a free loopback port and resolves once `/-/ready` answers 200. */
export const startPrometheus = async (options: PrometheusOptions): Promise<RunningPrometheus> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-prometheus-"))
  const tokenFile = path.join(dir, "token")
  fs.writeFileSync(tokenFile, options.bearerToken, { mode: 0o600 })
  const configFile = path.join(dir, "prometheus.yml")
  fs.writeFileSync(configFile, configText(options, tokenFile))

  let output = ""
  let child: ChildProcess | undefined
  let url = ""
  // The free port can be taken between the probe and Prometheus binding it: try a fresh one then.
  for (let attempt = 1; child === undefined; attempt++) {
    const port = await freePort()
    const argv = [
      "prometheus",
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`
    ]
    const [command, ...args] = SETPRIV === undefined ? argv : [SETPRIV, "--pdeathsig", "TERM", "--", ...argv]
    const started = spawn(command!, args, { stdio: ["ignore", "pipe", "pipe"] })
    output += `--- ${argv.join(" ")}\n`
    started.stdout!.on("data", (chunk) => (output += chunk))
    started.stderr!.on("data", (chunk) => (output += chunk))
    let spawnError: Error | undefined
    started.once("error", (error) => (spawnError = error))
    url = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 30_000
    for (;;) {
      if (spawnError !== undefined) {
        fs.rmSync(dir, { recursive: true, force: true })
        throw new Error(`prometheus could not start (${spawnError.message}): ${PROMETHEUS_INSTALL_HINT}`)
      }
      if (hasExited(started)) {
        if (attempt < 3 && output.includes("address already in use")) break
        fs.rmSync(dir, { recursive: true, force: true })
        throw new Error(`prometheus exited before it was ready:\n${output}`)
      }
      try {
        const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })
        if (res.status === 200) {
          child = started
          break
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        started.kill("SIGKILL")
        await exited(started)
        fs.rmSync(dir, { recursive: true, force: true })
        throw new Error(`prometheus was not ready within 30 s:\n${output}`)
      }
      await sleep(100)
    }
  }
  const server = child

  const api = async (route: string): Promise<any> => {
    const res = await fetch(`${url}${route}`, { signal: AbortSignal.timeout(5000) })
    const text = await res.text()
    let body: any
    try {
      body = JSON.parse(text)
    } catch {
      throw new Error(`prometheus answered ${route} with ${res.status} and no JSON: ${text}`)
    }
    if (res.status !== 200 || body.status !== "success") {
      throw new Error(`prometheus answered ${route} with ${res.status}: ${text}`)
    }
    return body.data
  }

  const query = async (promql: string): Promise<ReadonlyArray<Sample>> => {
    const data = await api(`/api/v1/query?query=${encodeURIComponent(promql)}`)
    if (data.resultType !== "vector") throw new Error(`${promql} gave a ${data.resultType}, not a vector`)
    return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((series) => ({
      metric: series.metric,
      value: Number(series.value[1])
    }))
  }

  const targets = async (): Promise<
    ReadonlyArray<ScrapeTarget>
  > => ((await api("/api/v1/targets?state=active")).activeTargets as Array<ScrapeTarget>)

  /** Polls `probe` until it returns a value; on timeout fails with `describe(last)` and Prometheus' output. */
  const poll = async <A, L>(
    probe: () => Promise<{ done: A } | { last: L }>,
    what: string,
    describe: (last: L | undefined) => string,
    timeoutMs: number
  ): Promise<A> => {
    const deadline = Date.now() + timeoutMs
    let last: L | undefined
    let lastError = ""
    for (;;) {
      try {
        const result = await probe()
        if ("done" in result) return result.done
        last = result.last
        lastError = ""
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error)
      }
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${describe(last)}` +
            `${lastError === "" ? "" : `; last error: ${lastError}`}\nprometheus output:\n${output}`
        )
      }
      await sleep(POLL_MS)
    }
  }

  let stopping: Promise<void> | undefined
  const stop = () => (stopping ??= (async () => {
    if (!hasExited(server)) {
      server.kill("SIGTERM")
      const gone = await Promise.race([exited(server).then(() => true), sleep(STOP_GRACE_MS).then(() => false)])
      if (!gone) {
        server.kill("SIGKILL")
        await exited(server)
      }
    }
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 })
  })())

  return {
    url,
    logs: () => output,
    query,
    waitFor: (promql, predicate, timeoutMs = 30_000) =>
      poll(
        async () => {
          const samples = await query(promql)
          return predicate(samples) ? { done: samples } : { last: samples }
        },
        `PromQL ${promql} to satisfy the test`,
        (last) => (last === undefined ? "no answer" : JSON.stringify(last)),
        timeoutMs
      ),
    targets,
    waitForTargetsUp: (timeoutMs = 30_000) =>
      poll(
        async () => {
          const active = await targets()
          return active.length > 0 && active.every((target) => target.health === "up")
            ? { done: active }
            : { last: active }
        },
        "every scrape target to be up",
        (last) => (last === undefined ? "no answer" : JSON.stringify(last)),
        timeoutMs
      ),
    stop
  }
}
