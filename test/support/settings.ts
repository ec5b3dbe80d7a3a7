import { Duration, LogLevel, Option } from "effect"
import {
  AGENT_COMMAND_DEFAULTS,
  HEARTBEAT_INTERVAL_DEFAULT,
  LEASE_TTL_DEFAULT,
  POLL_INTERVAL_DEFAULT,
  POLL_INTERVAL_MAX_DEFAULT,
  POLL_INTERVAL_MIN_DEFAULT,
  type TelemuxSettings,
  WEB_SESSION_TTL_DEFAULT
} from "../../services/TelemuxConfig.js"
import { AGENT_MODE_FLAGS_DEFAULTS } from "../../src/agents/AgentCommands.js"
import { ComputerName } from "../../src/domain/Session.js"

/** Settings for in-process tests: loopback, auth on, nothing on disk; override what a test needs. */
export const testSettings = (overrides: Partial<TelemuxSettings> = {}): TelemuxSettings => ({
  home: "/nonexistent/telemux",
  dbPath: "/nonexistent/telemux/telemux.db",
  tokenPath: "/nonexistent/telemux/token",
  lockDir: "/nonexistent/telemux-locks",
  host: "127.0.0.1",
  port: 0,
  tmuxSocket: "telemux-test",
  computer: ComputerName.make("testbox"),
  trustedDirs: [],
  logLevel: LogLevel.Info,
  redisUrl: Option.none(),
  fleetSecret: Option.none(),
  auth: true,
  allowedHosts: [],
  agentCommands: AGENT_COMMAND_DEFAULTS,
  agentModeFlags: AGENT_MODE_FLAGS_DEFAULTS,
  inactivityTimeout: Duration.hours(72),
  closedRetention: Duration.days(7),
  heartbeatInterval: HEARTBEAT_INTERVAL_DEFAULT,
  leaseTtl: LEASE_TTL_DEFAULT,
  metrics: true,
  metricsToken: Option.none(),
  otlp: Option.none(),
  notify: { targets: [], secret: Option.none() },
  tls: Option.none(),
  webSessionTtl: WEB_SESSION_TTL_DEFAULT,
  webRoot: Option.none(),
  telegram: Option.none(),
  pollIntervals: { min: POLL_INTERVAL_MIN_DEFAULT, default: POLL_INTERVAL_DEFAULT, max: POLL_INTERVAL_MAX_DEFAULT },
  ...overrides
})
