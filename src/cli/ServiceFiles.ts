/**
 * The files `telemux service install` writes, as text: a systemd user unit (Linux) and a launchd
 * agent (macOS). Pure, so that what is written can be tested without a service manager.
 *
 * Both keep the sessions alive when the daemon stops or restarts: systemd kills only the daemon's
 * own process (KillMode=process; the default would kill the tmux server in its cgroup), launchd
 * leaves its process group alone (AbandonProcessGroup).
 */
import * as path from "node:path"

/** First line of each file telemux writes: `uninstall` removes only a file that carries it. */
export const WRITTEN_BY = "Written by `telemux service install`; `telemux service uninstall` removes it."

export const SYSTEMD_UNIT = "telemux.service"
export const LAUNCHD_LABEL = "local.telemux.daemon"

export type ServicePlatform = "systemd" | "launchd"

export interface ServiceSpec {
  readonly node: string
  readonly main: string
  readonly configFile: string | undefined
  /** Set in the service's environment, in this order. */
  readonly environment: ReadonlyArray<readonly [string, string]>
}

/** The variables the daemon reads that are set now (PATH always: agents and tmux are found through it). */
const CARRIED = /^(TELEMUX_.+|OTEL_.+|XDG_STATE_HOME|TMUX_TMPDIR|LANG|LC_ALL|LC_CTYPE)$/
/** The CLI's own: the daemon does not read them, and a session id must not leak into it. */
const CLI_ONLY = new Set(["TELEMUX_SESSION_ID", "TELEMUX_CONFIG"])

export const serviceEnvironment = (env: NodeJS.ProcessEnv): ReadonlyArray<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = [["PATH", env.PATH ?? "/usr/local/bin:/usr/bin:/bin"]]
  for (const name of Object.keys(env).sort()) {
    const value = env[name]
    if (value === undefined || !CARRIED.test(name) || CLI_ONLY.has(name)) continue
    out.push([name, value])
  }
  return out
}

export const servicePath = (platform: ServicePlatform, home: string, env: NodeJS.ProcessEnv): string =>
  platform === "systemd"
    ? path.join(env.XDG_CONFIG_HOME ?? path.join(home, ".config"), "systemd", "user", SYSTEMD_UNIT)
    : path.join(home, "Library", "LaunchAgents", `${LAUNCHD_LABEL}.plist`)

/** A systemd string in double quotes: `\` and `"` escaped, `%` (specifiers) doubled. */
const systemdQuote = (word: string) => `"${word.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/%/g, "%%")}"`

/** An ExecStart word: `$` doubled too, since systemd expands variables there (not in Environment=). */
const execWord = (word: string) => systemdQuote(word).replace(/\$/g, "$$$$")

const hasLineBreak = (value: string) => /[\r\n]/.test(value)

/** Values with a line break cannot be written in either format; the caller refuses them first. */
export const unwritable = (spec: ServiceSpec): ReadonlyArray<string> =>
  [["node", spec.node], ["main", spec.main], ["config", spec.configFile ?? ""], ...spec.environment]
    .filter(([, value]) => hasLineBreak(value)).map(([name]) => name)

const argv = (
  spec: ServiceSpec
) => [spec.node, spec.main, ...(spec.configFile === undefined ? [] : ["--config", spec.configFile])]

export const systemdUnit = (spec: ServiceSpec): string =>
  [
    `# ${WRITTEN_BY}`,
    "[Unit]",
    "Description=telemux daemon: terminal sessions and AI coding agents in tmux",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${argv(spec).map(execWord).join(" ")}`,
    "Restart=on-failure",
    "RestartSec=5",
    // the tmux server the daemon started lives in this unit's cgroup: only the daemon is stopped
    "KillMode=process",
    "TimeoutStopSec=10",
    ...spec.environment.map(([name, value]) => `Environment=${systemdQuote(`${name}=${value}`)}`),
    "",
    "[Install]",
    "WantedBy=default.target",
    ""
  ].join("\n")

const xml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

export const launchdPlist = (spec: ServiceSpec, logFile: string): string =>
  [
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">",
    `<!-- ${WRITTEN_BY} -->`,
    "<plist version=\"1.0\">",
    "<dict>",
    "  <key>Label</key>",
    `  <string>${LAUNCHD_LABEL}</string>`,
    "  <key>ProgramArguments</key>",
    "  <array>",
    ...argv(spec).map((arg) => `    <string>${xml(arg)}</string>`),
    "  </array>",
    "  <key>EnvironmentVariables</key>",
    "  <dict>",
    ...spec.environment.flatMap((
      [name, value]
    ) => [`    <key>${xml(name)}</key>`, `    <string>${xml(value)}</string>`]),
    "  </dict>",
    "  <key>RunAtLoad</key>",
    "  <true/>",
    // started again when it fails, not after a clean stop
    "  <key>KeepAlive</key>",
    "  <dict>",
    "    <key>SuccessfulExit</key>",
    "    <false/>",
    "  </dict>",
    "  <key>ThrottleInterval</key>",
    "  <integer>5</integer>",
    // the tmux server the daemon started is in its process group: leave it running
    "  <key>AbandonProcessGroup</key>",
    "  <true/>",
    "  <key>StandardOutPath</key>",
    `  <string>${xml(logFile)}</string>`,
    "  <key>StandardErrorPath</key>",
    `  <string>${xml(logFile)}</string>`,
    "</dict>",
    "</plist>",
    ""
  ].join("\n")
