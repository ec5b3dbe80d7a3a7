import { Context, Data, Duration, type LogLevel, type Option, type Redacted } from "effect"
import type { AgentModeFlags } from "../src/agents/AgentCommands.js"
import type { Agent, ComputerName } from "../src/domain/Session.js"
import type { NotifyTarget } from "../src/notify/NotifyTarget.js"

export const DEFAULT_HOST = "127.0.0.1"
export const DEFAULT_PORT = 4780
export const DEFAULT_TMUX_SOCKET = "telemux"
export const INACTIVITY_TIMEOUT_DEFAULT = Duration.hours(72)

/** Output-poll interval bounds: configured values are clamped into [FLOOR, CEILING]. */
export const POLL_INTERVAL_FLOOR = Duration.millis(50)
export const POLL_INTERVAL_CEILING = Duration.seconds(30)
export const POLL_INTERVAL_MIN_DEFAULT = Duration.millis(50)
export const POLL_INTERVAL_DEFAULT = Duration.seconds(1)
export const POLL_INTERVAL_MAX_DEFAULT = Duration.seconds(30)

/** How often a fleet member rewrites its heartbeat (its record expires after three of these). */
export const HEARTBEAT_INTERVAL_DEFAULT = Duration.seconds(5)
export const HEARTBEAT_INTERVAL_FLOOR = Duration.millis(500)
export const HEARTBEAT_INTERVAL_CEILING = Duration.seconds(60)

/**
 * How long a fleet-wide lease (services/Lease.ts) lives unless renewed: a killed holder's job is
 * taken over about this long after it died. Shorter means faster take-over and more renewals.
 */
export const LEASE_TTL_DEFAULT = Duration.seconds(15)
export const LEASE_TTL_FLOOR = Duration.seconds(3)
export const LEASE_TTL_CEILING = Duration.minutes(5)

export const clampPollInterval = (d: Duration.Duration): Duration.Duration =>
  Duration.clamp(d, { minimum: POLL_INTERVAL_FLOOR, maximum: POLL_INTERVAL_CEILING })

export const AGENT_COMMAND_DEFAULTS: Readonly<Record<Agent, string>> = {
  claude: "claude",
  codex: "codex",
  gemini: "gemini"
}

export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** How long a web dashboard sign-in lasts (a fixed lifetime from sign-in, not sliding). */
export const WEB_SESSION_TTL_DEFAULT = Duration.days(30)
/** Bounds of TELEMUX_WEB_SESSION_TTL: browsers keep a cookie at most 400 days. */
export const WEB_SESSION_TTL_FLOOR = Duration.minutes(1)
export const WEB_SESSION_TTL_CEILING = Duration.days(400)

/** HTTPS and WSS on the daemon's port: a PEM certificate chain and its private key. */
export interface TlsSettings {
  readonly certPath: string
  readonly keyPath: string
}

export interface PollIntervals {
  readonly min: Duration.Duration
  readonly default: Duration.Duration
  readonly max: Duration.Duration
}

export interface TelemuxSettings {
  /** State dir: holds `telemux.db`, `token`, logs. */
  readonly home: string
  readonly dbPath: string
  readonly tokenPath: string
  /**
   * Private dir (0700) for the per-socket lock that keeps two daemons off one tmux server:
   * `$TMUX_TMPDIR` (else the OS temp dir) + `/telemux-<uid>`, beside where tmux keeps its sockets.
   */
  readonly lockDir: string
  readonly host: string
  readonly port: number
  readonly tmuxSocket: string
  readonly computer: ComputerName
  readonly trustedDirs: ReadonlyArray<string>
  readonly logLevel: LogLevel.LogLevel
  readonly redisUrl: Option.Option<Redacted.Redacted<string>>
  readonly fleetSecret: Option.Option<Redacted.Redacted<string>>
  /** Bearer-token auth on the HTTP API (on unless explicitly turned off, and never off off-loopback). */
  readonly auth: boolean
  /** Extra Host header values accepted besides loopback names and the bind host. */
  readonly allowedHosts: ReadonlyArray<string>
  readonly agentCommands: Readonly<Record<Agent, string>>
  /** Flags per agent and mode (defaults merged with TELEMUX_AGENT_MODE_FLAGS, a JSON object). */
  readonly agentModeFlags: AgentModeFlags
  readonly inactivityTimeout: Duration.Duration
  readonly closedRetention: Duration.Duration
  /** Fleet heartbeat period (TELEMUX_HEARTBEAT_INTERVAL); discovery runs as often. */
  readonly heartbeatInterval: Duration.Duration
  /** Life of a fleet-wide lease between renewals (TELEMUX_LEASE_TTL, clamped). */
  readonly leaseTtl: Duration.Duration
  readonly pollIntervals: PollIntervals
  /** Record metrics and serve them at `/metrics` (TELEMUX_METRICS; on unless turned off). */
  readonly metrics: boolean
  /** A token that opens `/metrics` and nothing else, for scrapers (TELEMUX_METRICS_TOKEN). */
  readonly metricsToken: Option.Option<Redacted.Redacted<string>>
  /** Where spans are exported (OTEL_EXPORTER_OTLP_*); none: nothing is loaded or exported. */
  readonly otlp: Option.Option<OtlpSettings>
  /** Where people are told of a session waiting for input, a turn finished, a session dying. */
  readonly notify: NotifySettings
  /** TELEMUX_TLS_CERT and TELEMUX_TLS_KEY (both or neither): serve HTTPS and WSS instead of HTTP and WS. */
  readonly tls: Option.Option<TlsSettings>
  /** How long a web dashboard sign-in (its cookie) lasts (TELEMUX_WEB_SESSION_TTL). */
  readonly webSessionTtl: Duration.Duration
  /** The built dashboard's directory (TELEMUX_WEB_ROOT); none: `web/` beside the daemon's own script. */
  readonly webRoot: Option.Option<string>
  /** The Telegram front-end (TELEMUX_TELEGRAM_*); none: no bot runs. */
  readonly telegram: Option.Option<TelegramSettings>
}

/**
 * The bot (TELEMUX_TELEGRAM_TOKEN), the chat it uses (TELEMUX_TELEGRAM_CHAT: a forum supergroup or a
 * private chat with topics), and who is served: only updates from a listed user
 * (TELEMUX_TELEGRAM_USERS) in the chat or a listed one (TELEMUX_TELEGRAM_CHATS). Closed by default.
 */
export interface TelegramSettings {
  readonly token: Redacted.Redacted<string>
  readonly chat: number
  readonly users: ReadonlyArray<number>
  readonly chats: ReadonlyArray<number>
  /** TELEMUX_TELEGRAM_API_ROOT: a self-hosted Bot API server (or a test's fake); default Telegram's. */
  readonly apiRoot: Option.Option<string>
}

/** TELEMUX_NOTIFY's targets (none: nothing is sent) and TELEMUX_NOTIFY_SECRET, which signs webhooks. */
export interface NotifySettings {
  readonly targets: ReadonlyArray<NotifyTarget>
  readonly secret: Option.Option<Redacted.Redacted<string>>
}

/** An OTLP/HTTP trace exporter, configured by the standard OpenTelemetry variables. */
export interface OtlpSettings {
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. */
  readonly tracesUrl: string
  /** OTEL_EXPORTER_OTLP_PROTOCOL (`http/protobuf`, the standard's default, or `http/json`). */
  readonly protocol: "http/protobuf" | "http/json"
  /** OTEL_BSP_SCHEDULE_DELAY: how often finished spans are sent (default 5 s). */
  readonly exportInterval: Duration.Duration
  /** OTEL_SERVICE_NAME (default `telemux`); every span also carries the computer's name. */
  readonly serviceName: string
}

export class TelemuxConfig extends Context.Tag("telemux/TelemuxConfig")<TelemuxConfig, TelemuxSettings>() {}
