/**
 * `telemux doctor`: is this machine ready, and is the daemon healthy? Each check prints one line,
 * ✓ or ✗ (– for what does not apply), a ✗ with what to do; any ✗ makes the command fail. The
 * machine's setup (agents, hooks, state dir, lock, Redis) is checked in DoctorSetup.ts.
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import { Console, Data, Duration, Effect, Either, Option } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import { runBounded } from "../../layers/Subprocess.js"
import { isSupportedTmuxVersion } from "../../layers/TmuxBridge.js"
import { TMUX_MIN_VERSION } from "../../services/TerminalBridge.js"
import * as PrometheusText from "../metrics/PrometheusText.js"
import { hookCommand } from "./AgentCommands.js"
import { CliEnvironment, DaemonTarget } from "./CliEnvironment.js"
import { ChecksFailed } from "./CliError.js"
import { DaemonClient, type HealthInfo } from "./DaemonClient.js"
import { checkAgents, checkHooks, checkLock, checkRedisPing, checkStateModes } from "./DoctorSetup.js"

export const TMUX_VERSION_TIMEOUT = Duration.seconds(5)

export interface CheckResult {
  readonly status: "ok" | "failed" | "skipped"
  readonly text: string
}

const ok = (text: string): CheckResult => ({ status: "ok", text })
const failed = (text: string): CheckResult => ({ status: "failed", text })
const skipped = (text: string): CheckResult => ({ status: "skipped", text })

const MARK = { ok: "✓", failed: "✗", skipped: "–" } as const

export const formatCheck = (result: CheckResult): string => `${MARK[result.status]} ${result.text}`

class TmuxVersionTimeout extends Data.TaggedError("TmuxVersionTimeout")<{}> {}

const minimum = `${TMUX_MIN_VERSION.major}.${TMUX_MIN_VERSION.minor}`

export const checkTmux: Effect.Effect<CheckResult, never, CommandExecutor.CommandExecutor> = runBounded(
  Command.make("tmux", "-V"),
  { timeout: TMUX_VERSION_TIMEOUT, killGrace: Duration.millis(200), onTimeout: () => new TmuxVersionTimeout() }
).pipe(
  Effect.map((result) => {
    const found = result.stdout.trim()
    if (result.exitCode !== 0) {
      return failed(`tmux -V failed: ${result.stderr.trim()} — reinstall tmux ${minimum} or newer`)
    }
    return isSupportedTmuxVersion(found)
      ? ok(`${found} (${minimum} or newer needed)`)
      : failed(`${found || "tmux"} is too old or unrecognised: install tmux ${minimum} or newer`)
  }),
  Effect.catchAll((error) =>
    Effect.succeed(
      failed(
        error._tag === "TmuxVersionTimeout"
          ? "tmux -V did not answer in time: is this machine overloaded?"
          : `tmux not found (${error.message}): install tmux ${minimum} or newer (e.g. apt install tmux, brew install tmux)`
      )
    )
  )
)

export const checkTokenFile = (tokenPath: string): Effect.Effect<CheckResult> =>
  Effect.tryPromise(() => fs.stat(tokenPath)).pipe(
    Effect.map((stat) => {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, "0")
      if (!stat.isFile()) return failed(`token file ${tokenPath} is not a regular file`)
      return (stat.mode & 0o077) === 0
        ? ok(`token file ${tokenPath} is private (${mode})`)
        : failed(`token file ${tokenPath} is readable by others (${mode}); run chmod 600 ${tokenPath}`)
    }),
    Effect.orElseSucceed(() => failed(`token file ${tokenPath} is missing (the daemon writes it on its first start)`))
  )

/** The Telegram bot as /health tells it: who polls it, and whether it serves anyone. */
export const checkTelegram = (health: Pick<HealthInfo, "telegram">): CheckResult => {
  const bot = health.telegram
  if (bot === undefined) return skipped("Telegram: no bot on this daemon (TELEMUX_TELEGRAM_TOKEN unset)")
  if (bot.users === 0) {
    return failed(
      "Telegram: the bot serves nobody — list your Telegram user id in TELEMUX_TELEGRAM_USERS, then restart the daemon"
    )
  }
  if (bot.poller === null) {
    return failed(
      "Telegram: no daemon polls the bot right now (its fleet lease is free): look for \"polling Telegram\" and " +
        "lease lines in the daemons' logs"
    )
  }
  return ok(`Telegram bot polled by ${bot.poller}, serving ${bot.users} user${bot.users === 1 ? "" : "s"}`)
}

export const checkRedis = (health: Pick<HealthInfo, "fleet">): CheckResult => {
  const link = health.fleet
  if (link == null) return skipped("Redis: the daemon is in no fleet (TELEMUX_REDIS_URL unset)")
  if (link.state === "up") return ok("Redis link is up")
  const detail = [link.attempt === undefined ? "" : `attempt ${link.attempt}`, link.lastError ?? ""]
    .filter((part) => part !== "").join(", ")
  return failed(`Redis link is ${link.state}${detail === "" ? "" : ` (${detail})`}`)
}

/**
 * The daemon samples its event loop's delay only while `/metrics` is read (see MetricsRoute's
 * LOOP_SAMPLER_IDLE): unread until now, its first answer has no delay yet, and the second, this
 * much later, has it.
 */
export const LOOP_SAMPLE_WAIT = Duration.seconds(1)
const LOOP_DELAY_P99 = "telemux_event_loop_delay_p99_seconds"

/** The exposition holds no event-loop figure yet (NaN: the daemon's sampler has just started). */
const loopUnsampled = (text: string) =>
  PrometheusText.parse(text).some((sample) => sample.name === LOOP_DELAY_P99 && Number.isNaN(sample.value))

const kilo = (n: number) => (n >= 10_000 ? `${Math.round(n / 1000)}k` : String(Math.round(n)))

/**
 * A few of the daemon's figures from `/metrics` (what an operator would graph): informational,
 * never a failure by itself.
 */
export const metricsSummary = (text: Option.Option<string>): CheckResult => {
  if (Option.isNone(text)) return skipped("metrics: the daemon records none (TELEMUX_METRICS=off)")
  const samples = PrometheusText.parse(text.value)
  const requests = PrometheusText.sum(samples, "telemux_http_requests_total")
  const serverErrors = PrometheusText.sum(
    samples,
    "telemux_http_requests_total",
    (l) => (l.status ?? "").startsWith("5")
  )
  const tmux = PrometheusText.sum(samples, "telemux_tmux_commands_total")
  const timeouts = PrometheusText.sum(samples, "telemux_tmux_commands_total", (l) => l.result === "timeout")
  const reconnects = PrometheusText.sum(samples, "telemux_tmux_control_reconnects_total")
  const resyncs = PrometheusText.sum(samples, "telemux_stream_lag_resyncs_total")
  const loopMs = PrometheusText.sum(samples, LOOP_DELAY_P99) * 1000
  const rssMb = PrometheusText.sum(samples, "process_resident_memory_bytes") / (1024 * 1024)
  return ok(
    `metrics: ${kilo(requests)} HTTP requests (${kilo(serverErrors)} answered 5xx), ${kilo(tmux)} tmux commands ` +
      `(${kilo(timeouts)} timed out, ${kilo(reconnects)} control reconnects), ${kilo(resyncs)} stream resyncs, ` +
      `event loop p99 ${Number.isNaN(loopMs) ? "not sampled yet" : `${loopMs.toFixed(1)} ms`}, RSS ${
        rssMb.toFixed(0)
      } MB — all of them at GET /metrics`
  )
}

/** All checks, printed as they complete; fails with ChecksFailed when any failed. */
export const doctor = Effect.gen(function*() {
  const client = yield* DaemonClient
  const target = yield* DaemonTarget
  const { cwd, env } = yield* CliEnvironment
  const results: Array<CheckResult> = []
  const report = (result: CheckResult) =>
    Effect.zipRight(Effect.sync(() => results.push(result)), Console.log(formatCheck(result)))

  yield* report(yield* checkTmux)
  const decoded = yield* Effect.either(client.health)
  yield* report(Either.match(decoded, {
    onLeft: (error) => failed(error.message),
    onRight: (h) =>
      ok(
        `daemon reachable at ${client.address.display} (computer ${h.computer}, version ${h.version}, up ${h.uptimeSeconds}s)`
      )
  }))
  yield* report(yield* checkTokenFile(client.address.tokenPath))
  if (Either.isRight(decoded)) {
    const accepted = yield* Effect.either(client.sessions({ status: "idle" }))
    yield* report(Either.match(accepted, {
      onLeft: (error) => failed(`the daemon refused a request: ${error.message}`),
      onRight: () => ok("the daemon accepts the token")
    }))
    yield* report(checkRedis(decoded.right))
    yield* report(checkTelegram(decoded.right))
    if (Option.isSome(target.settings.redisUrl)) yield* report(yield* checkRedisPing(target.settings.redisUrl))
    else if (decoded.right.fleet != null) {
      yield* report(skipped("Redis PING not checked: TELEMUX_REDIS_URL is not set for this command"))
    }
    const metrics = yield* Effect.either(
      Effect.flatMap(client.metrics, (first) =>
        Option.isSome(first) && loopUnsampled(first.value)
          ? Effect.zipRight(Effect.sleep(LOOP_SAMPLE_WAIT), client.metrics)
          : Effect.succeed(first))
    )
    yield* report(Either.match(metrics, {
      onLeft: (error) => failed(`the daemon's metrics could not be read: ${error.message}`),
      onRight: metricsSummary
    }))
  } else {
    yield* report(skipped("token and Redis link not checked: the daemon is not reachable"))
    if (Option.isSome(target.settings.redisUrl)) yield* report(yield* checkRedisPing(target.settings.redisUrl))
  }
  yield* report(yield* checkStateModes(target.settings.home))
  yield* report(yield* checkLock(target.settings, Either.isRight(decoded)))
  const agents = yield* checkAgents(target.settings.agentCommands, env, cwd)
  for (const agent of agents) {
    yield* report(agent.result)
    if (agent.present) yield* report(yield* checkHooks(agent.agent, env.HOME ?? os.homedir(), hookCommand()))
  }
  const failures = results.filter((r) => r.status === "failed").length
  if (failures > 0) return yield* new ChecksFailed({ failed: failures })
})
