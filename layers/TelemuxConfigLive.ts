import { FileSystem } from "@effect/platform"
import {
  Config,
  ConfigError,
  ConfigProvider,
  Duration,
  Effect,
  Either,
  Layer,
  LogLevel,
  Option,
  Redacted,
  Schema,
  String as Str
} from "effect"
import * as os from "node:os"
import * as path from "node:path"
import { CLOSED_RETENTION_DEFAULT } from "../services/SessionStore.js"
import {
  AGENT_COMMAND_DEFAULTS,
  clampPollInterval,
  ConfigInvalid,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_TMUX_SOCKET,
  HEARTBEAT_INTERVAL_CEILING,
  HEARTBEAT_INTERVAL_DEFAULT,
  HEARTBEAT_INTERVAL_FLOOR,
  INACTIVITY_TIMEOUT_DEFAULT,
  LEASE_TTL_CEILING,
  LEASE_TTL_DEFAULT,
  LEASE_TTL_FLOOR,
  type NotifySettings,
  type OtlpSettings,
  POLL_INTERVAL_DEFAULT,
  POLL_INTERVAL_MAX_DEFAULT,
  POLL_INTERVAL_MIN_DEFAULT,
  type TelegramSettings,
  TelemuxConfig,
  type TelemuxSettings,
  type TlsSettings,
  WEB_SESSION_TTL_CEILING,
  WEB_SESSION_TTL_DEFAULT,
  WEB_SESSION_TTL_FLOOR
} from "../services/TelemuxConfig.js"
import {
  AGENT_MODE_FLAGS_DEFAULTS,
  AgentModeFlagsOverrideFromJson,
  mergeModeFlags
} from "../src/agents/AgentCommands.js"
import { ComputerName } from "../src/domain/Session.js"
import { isLoopbackHost } from "../src/http/Hosts.js"
import { parseTargets } from "../src/notify/NotifyTarget.js"

/** Environment names are the contract (PRODUCT.md §4); the JSON file uses them in camelCase. */
const PREFIX = "TELEMUX_"

/** `TELEMUX_TMUX_SOCKET` → `tmuxSocket`, the key the JSON config file uses for it. */
export const fileKeyFor = (envName: string): string =>
  envName.startsWith(PREFIX) ? Str.snakeToCamel(envName.slice(PREFIX.length).toLowerCase()) : envName

const list = (name: string, separator: string) =>
  Config.array(Config.string(), name).pipe(
    Config.map((items) =>
      items.flatMap((item) => item.split(separator)).map((item) => item.trim()).filter((item) => item !== "")
    ),
    Config.withDefault<ReadonlyArray<string>>([])
  )

export const sanitiseComputerName = (hostname: string): string => {
  const cleaned = hostname.split(".")[0]!.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64)
  return cleaned === "" ? "localhost" : cleaned
}

const LOG_LEVEL_NAMES = "trace, debug, info, warning (warn), error, fatal, all, none (off)"

/** A log level by its name or label, in any case: `warning`, `Warning`, `WARN`, `off`… */
export const parseLogLevel = (name: string): LogLevel.LogLevel | undefined => {
  const wanted = name.trim().toLowerCase()
  return LogLevel.allLevels.find((level) => level._tag.toLowerCase() === wanted || level.label.toLowerCase() === wanted)
}

/** The settings, read from whatever ConfigProvider is current (env first, then the file). */
export const settings = Effect.gen(function*() {
  const xdgState = yield* Config.option(Config.string("XDG_STATE_HOME"))
  const defaultHome = Option.match(xdgState, {
    onNone: () => path.join(os.homedir(), ".local", "state", "telemux"),
    onSome: (dir) => path.join(dir, "telemux")
  })
  const home = path.resolve(yield* Config.string("TELEMUX_HOME").pipe(Config.withDefault(defaultHome)))
  const tmuxTmpdir = yield* Config.string("TMUX_TMPDIR").pipe(Config.withDefault(os.tmpdir()))
  const lockDir = path.join(path.resolve(tmuxTmpdir), `telemux-${process.getuid?.() ?? "user"}`)
  const host = yield* Config.string("TELEMUX_HOST").pipe(Config.withDefault(DEFAULT_HOST))
  const port = yield* Config.port("TELEMUX_PORT").pipe(Config.withDefault(DEFAULT_PORT))
  const tmuxSocket = yield* Config.string("TELEMUX_TMUX_SOCKET").pipe(
    Config.validate({
      message: "TELEMUX_TMUX_SOCKET is a socket name of letters, digits, _ . and -",
      validation: (name) => /^[A-Za-z0-9_.-]{1,100}$/.test(name)
    }),
    Config.withDefault(DEFAULT_TMUX_SOCKET)
  )
  const computerRaw = yield* Config.string("TELEMUX_COMPUTER").pipe(
    Config.withDefault(sanitiseComputerName(os.hostname()))
  )
  const computer = yield* Schema.decodeUnknown(ComputerName)(computerRaw).pipe(
    Effect.mapError(() =>
      new ConfigInvalid({ message: `TELEMUX_COMPUTER "${computerRaw}" is not 1-64 characters of A-Za-z0-9_-` })
    )
  )
  const trustedDirs = (yield* list("TELEMUX_TRUSTED_DIRS", ":")).map((dir) => path.resolve(dir))
  const relative = trustedDirs.find((dir) => !path.isAbsolute(dir))
  if (relative !== undefined) {
    return yield* new ConfigInvalid({ message: `trusted dir ${relative} is not absolute` })
  }
  const logLevel = yield* Config.string("TELEMUX_LOG_LEVEL").pipe(
    Config.mapOrFail((name) => {
      const level = parseLogLevel(name)
      return level === undefined
        ? Either.left(ConfigError.InvalidData([], `TELEMUX_LOG_LEVEL "${name}" is not one of ${LOG_LEVEL_NAMES}`))
        : Either.right(level)
    }),
    Config.withDefault(LogLevel.Info)
  )
  const redisUrl = yield* Config.option(Config.redacted("TELEMUX_REDIS_URL"))
  const fleetSecret = yield* Config.option(Config.redacted("TELEMUX_FLEET_SECRET"))
  const auth = yield* Config.boolean("TELEMUX_AUTH").pipe(Config.withDefault(true))
  const metrics = yield* Config.boolean("TELEMUX_METRICS").pipe(Config.withDefault(true))
  const metricsToken = yield* Config.option(Config.redacted("TELEMUX_METRICS_TOKEN"))
  const otlp = yield* otlpSettings
  const notify = yield* notifySettings
  const tls = yield* tlsSettings
  const webSessionTtl = Duration.clamp(
    yield* Config.duration("TELEMUX_WEB_SESSION_TTL").pipe(Config.withDefault(WEB_SESSION_TTL_DEFAULT)),
    { minimum: WEB_SESSION_TTL_FLOOR, maximum: WEB_SESSION_TTL_CEILING }
  )
  const webRoot = Option.map(yield* Config.option(Config.string("TELEMUX_WEB_ROOT")), (dir) => path.resolve(dir))
  const telegram = yield* telegramSettings
  if (!auth && !isLoopbackHost(host)) {
    return yield* new ConfigInvalid({
      message: `refusing to serve ${host} without a token: TELEMUX_AUTH=false is only allowed on loopback`
    })
  }
  const allowedHosts = yield* list("TELEMUX_ALLOWED_HOSTS", ",")
  const agentCommands = {
    claude: yield* Config.string("TELEMUX_AGENT_CLAUDE").pipe(Config.withDefault(AGENT_COMMAND_DEFAULTS.claude)),
    codex: yield* Config.string("TELEMUX_AGENT_CODEX").pipe(Config.withDefault(AGENT_COMMAND_DEFAULTS.codex)),
    gemini: yield* Config.string("TELEMUX_AGENT_GEMINI").pipe(Config.withDefault(AGENT_COMMAND_DEFAULTS.gemini))
  }
  const modeFlagsJson = yield* Config.option(Config.string("TELEMUX_AGENT_MODE_FLAGS"))
  const agentModeFlags = Option.isNone(modeFlagsJson)
    ? AGENT_MODE_FLAGS_DEFAULTS
    : mergeModeFlags(
      AGENT_MODE_FLAGS_DEFAULTS,
      yield* Schema.decodeUnknown(AgentModeFlagsOverrideFromJson)(modeFlagsJson.value).pipe(
        Effect.mapError((error) =>
          new ConfigInvalid({ message: `TELEMUX_AGENT_MODE_FLAGS: ${error.message}`, cause: error })
        )
      )
    )
  const inactivityTimeout = yield* Config.duration("TELEMUX_INACTIVITY_TIMEOUT").pipe(
    Config.withDefault(INACTIVITY_TIMEOUT_DEFAULT)
  )
  const closedRetention = yield* Config.duration("TELEMUX_CLOSED_RETENTION").pipe(
    Config.withDefault(CLOSED_RETENTION_DEFAULT)
  )
  const pollMin = clampPollInterval(
    yield* Config.duration("TELEMUX_POLL_INTERVAL_MIN").pipe(Config.withDefault(POLL_INTERVAL_MIN_DEFAULT))
  )
  const pollMax = clampPollInterval(
    yield* Config.duration("TELEMUX_POLL_INTERVAL_MAX").pipe(Config.withDefault(POLL_INTERVAL_MAX_DEFAULT))
  )
  if (Duration.greaterThan(pollMin, pollMax)) {
    return yield* new ConfigInvalid({ message: "TELEMUX_POLL_INTERVAL_MIN is above TELEMUX_POLL_INTERVAL_MAX" })
  }
  const pollDefault = yield* Config.duration("TELEMUX_POLL_INTERVAL").pipe(Config.withDefault(POLL_INTERVAL_DEFAULT))
  const heartbeatInterval = Duration.clamp(
    yield* Config.duration("TELEMUX_HEARTBEAT_INTERVAL").pipe(Config.withDefault(HEARTBEAT_INTERVAL_DEFAULT)),
    { minimum: HEARTBEAT_INTERVAL_FLOOR, maximum: HEARTBEAT_INTERVAL_CEILING }
  )
  const leaseTtl = Duration.clamp(
    yield* Config.duration("TELEMUX_LEASE_TTL").pipe(Config.withDefault(LEASE_TTL_DEFAULT)),
    { minimum: LEASE_TTL_FLOOR, maximum: LEASE_TTL_CEILING }
  )
  const result: TelemuxSettings = {
    home,
    dbPath: path.join(home, "telemux.db"),
    tokenPath: path.join(home, "token"),
    lockDir,
    host,
    port,
    tmuxSocket,
    computer,
    trustedDirs,
    logLevel,
    redisUrl,
    fleetSecret,
    auth,
    allowedHosts,
    agentCommands,
    agentModeFlags,
    inactivityTimeout,
    closedRetention,
    heartbeatInterval,
    leaseTtl,
    metrics,
    metricsToken,
    otlp,
    notify,
    tls,
    webSessionTtl,
    webRoot,
    telegram,
    pollIntervals: {
      min: pollMin,
      max: pollMax,
      default: Duration.clamp(pollDefault, { minimum: pollMin, maximum: pollMax })
    }
  }
  return result
}).pipe(
  Effect.catchTag(
    "ConfigError",
    (error) => Effect.fail(new ConfigInvalid({ message: `configuration: ${error.toString()}`, cause: error }))
  )
)

/**
 * The standard OpenTelemetry exporter variables, for traces over OTLP/HTTP. Unset endpoints: no
 * tracing. An endpoint that is not a URL or an unknown protocol is a configuration error.
 */
const otlpSettings = Effect.gen(function*() {
  const base = yield* Config.option(Config.url("OTEL_EXPORTER_OTLP_ENDPOINT"))
  const traces = yield* Config.option(Config.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
  const tracesUrl = Option.orElse(
    Option.map(traces, (url) => url.href),
    () => Option.map(base, (url) => `${url.href.replace(/\/+$/, "")}/v1/traces`)
  )
  if (Option.isNone(tracesUrl)) return Option.none<OtlpSettings>()
  const protocol = yield* Config.literal("http/protobuf", "http/json")("OTEL_EXPORTER_OTLP_PROTOCOL").pipe(
    Config.withDefault("http/protobuf" as const)
  )
  const delayMillis = yield* Config.integer("OTEL_BSP_SCHEDULE_DELAY").pipe(
    Config.validate({ message: "OTEL_BSP_SCHEDULE_DELAY is a number of milliseconds ≥ 1", validation: (n) => n >= 1 }),
    Config.withDefault(5000)
  )
  const serviceName = yield* Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("telemux"))
  return Option.some<OtlpSettings>({
    tracesUrl: tracesUrl.value,
    protocol,
    exportInterval: Duration.millis(delayMillis),
    serviceName
  })
})

/**
 * TELEMUX_NOTIFY (targets separated by commas or spaces; an array in the file) and
 * TELEMUX_NOTIFY_SECRET. A bad target is a configuration error naming it; a webhook without a
 * secret is refused, so that every webhook request can be verified by its receiver.
 */
const notifySettings = Effect.gen(function*() {
  const entries = yield* list("TELEMUX_NOTIFY", ",")
  const targets = yield* Effect.mapError(
    parseTargets(entries.join(",")),
    (error) => new ConfigInvalid({ message: error.message, cause: error })
  )
  const secret = yield* Config.option(Config.redacted("TELEMUX_NOTIFY_SECRET"))
  if (Option.isNone(secret) && targets.some((target) => target._tag === "Webhook")) {
    return yield* new ConfigInvalid({
      message: "a TELEMUX_NOTIFY webhook needs TELEMUX_NOTIFY_SECRET: every request is signed with it (HMAC-SHA256)"
    })
  }
  const result: NotifySettings = { targets, secret }
  return result
})

/**
 * TELEMUX_TLS_CERT and TELEMUX_TLS_KEY: both (HTTPS and WSS) or neither (HTTP and WS). The files
 * are read when the daemon binds its port (layers/HttpListener.ts), where an unreadable or invalid
 * one stops it with a message naming the file.
 */
const tlsSettings = Effect.gen(function*() {
  const cert = yield* Config.option(Config.nonEmptyString("TELEMUX_TLS_CERT"))
  const key = yield* Config.option(Config.nonEmptyString("TELEMUX_TLS_KEY"))
  if (Option.isNone(cert) && Option.isNone(key)) return Option.none<TlsSettings>()
  if (Option.isNone(cert) || Option.isNone(key)) {
    const [given, missing] = Option.isSome(cert)
      ? ["TELEMUX_TLS_CERT", "TELEMUX_TLS_KEY"]
      : ["TELEMUX_TLS_KEY", "TELEMUX_TLS_CERT"]
    return yield* new ConfigInvalid({
      message: `${given} is set but ${missing} is not: set both (the PEM certificate chain and its private key) ` +
        "to serve HTTPS, or neither to serve HTTP"
    })
  }
  return Option.some<TlsSettings>({ certPath: path.resolve(cert.value), keyPath: path.resolve(key.value) })
})

const TELEGRAM_ID = /^-?\d{1,20}$/

/** Ids separated by commas or spaces (an array in the file); a bad one is named in the error. */
const telegramIds = (name: string, what: string) =>
  Effect.flatMap(list(name, ","), (items) => {
    const words = items.flatMap((item) => item.split(/\s+/)).filter((word) => word !== "")
    const bad = words.find((word) => !TELEGRAM_ID.test(word))
    return bad === undefined
      ? Effect.succeed(words.map(Number))
      : Effect.fail(
        new ConfigInvalid({
          message: `${name} holds ${JSON.stringify(bad)}, which is not a Telegram ${what} id: ` +
            `list numeric ids separated by commas (e.g. ${name}=123456789,987654321)`
        })
      )
  })

/**
 * TELEMUX_TELEGRAM_*: nothing set, no bot. A token needs the chat; users (and chats) are the
 * allowlist — with none listed the bot serves nobody, which is said at start (not an error).
 */
const telegramSettings = Effect.gen(function*() {
  const token = yield* Config.option(Config.redacted("TELEMUX_TELEGRAM_TOKEN"))
  const chatText = yield* Config.option(Config.string("TELEMUX_TELEGRAM_CHAT"))
  const users = yield* telegramIds("TELEMUX_TELEGRAM_USERS", "user")
  const chats = yield* telegramIds("TELEMUX_TELEGRAM_CHATS", "chat")
  const apiRoot = yield* Config.option(Config.url("TELEMUX_TELEGRAM_API_ROOT"))
  if (Option.isNone(token)) {
    if (Option.isSome(chatText) || users.length > 0) {
      return yield* new ConfigInvalid({
        message: "TELEMUX_TELEGRAM_CHAT/USERS are set but TELEMUX_TELEGRAM_TOKEN is not: " +
          "set the bot's token from @BotFather, or unset the others"
      })
    }
    return Option.none<TelegramSettings>()
  }
  if (!/^\d{1,20}:[A-Za-z0-9_-]{20,}$/.test(Redacted.value(token.value))) {
    return yield* new ConfigInvalid({
      message: "TELEMUX_TELEGRAM_TOKEN is not a bot token (digits, a colon, then letters): copy it from @BotFather"
    })
  }
  if (Option.isNone(chatText) || !TELEGRAM_ID.test(chatText.value.trim())) {
    return yield* new ConfigInvalid({
      message:
        `TELEMUX_TELEGRAM_CHAT ${
          Option.isNone(chatText) ? "is needed with TELEMUX_TELEGRAM_TOKEN" : `is ${JSON.stringify(chatText.value)}`
        }: set it to the numeric id of the forum supergroup (e.g. -1001234567890) or of the private chat with topics ` +
        "the bot should use"
    })
  }
  const result: TelegramSettings = {
    token: token.value,
    chat: Number(chatText.value.trim()),
    users,
    chats,
    apiRoot: Option.map(apiRoot, (url) => url.href.replace(/\/+$/, ""))
  }
  return Option.some(result)
})

/** Reads the JSON config file into a provider answering the env names. */
export const fileProvider = (file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((cause) => new ConfigInvalid({ message: `cannot read config file ${file}`, cause }))
    )
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (cause) => new ConfigInvalid({ message: `config file ${file} is not valid JSON`, cause })
    })
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      return yield* new ConfigInvalid({ message: `config file ${file} must hold a JSON object` })
    }
    return ConfigProvider.fromJson(json).pipe(ConfigProvider.mapInputPath(fileKeyFor))
  })

/**
 * The live settings: the current provider (the environment, in the daemon) overrides the
 * optional JSON file named by `configFile` or `TELEMUX_CONFIG`.
 */
export const layer = (options: { readonly configFile?: string | undefined } = {}) =>
  Layer.effect(
    TelemuxConfig,
    Effect.gen(function*() {
      const envFile = yield* Config.option(Config.string("TELEMUX_CONFIG")).pipe(
        Effect.mapError((cause) => new ConfigInvalid({ message: "TELEMUX_CONFIG", cause }))
      )
      const file = options.configFile ?? Option.getOrUndefined(envFile)
      if (file === undefined) return yield* settings
      const fromFile = yield* fileProvider(file)
      const current = yield* Effect.configProviderWith(Effect.succeed)
      return yield* settings.pipe(
        Effect.withConfigProvider(ConfigProvider.orElse(current, () => fromFile))
      )
    })
  )

/** Settings for tests and tools: defaults, overridden by `overrides` (env names → values). */
export const layerFromRecord = (overrides: Readonly<Record<string, string>>) =>
  Layer.effect(
    TelemuxConfig,
    settings.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(overrides)))))
  )
