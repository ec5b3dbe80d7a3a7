/**
 * `telemux doctor`'s checks of this machine's setup, beside its checks of the daemon (Doctor.ts):
 * each configured agent command, the agents' hooks, the state dir's modes and lock, and Redis.
 * Each failure says what to do. Redis and the lock are loaded on demand (ioredis, SQLite): `ls`
 * does not pay for them.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Cause, Data, Duration, Effect, Either, Exit, Option, Redacted } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { TelemuxSettings } from "../../services/TelemuxConfig.js"
import { AGENT_COMMAND_DEFAULTS } from "../../services/TelemuxConfig.js"
import { hasCodexNotify } from "../agents/CodexNotifyToml.js"
import {
  CLAUDE_FLAVOUR,
  codexNotifyArgv,
  GEMINI_FLAVOUR,
  installJsonHooks,
  settingsFileOf
} from "../agents/HookInstall.js"
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "../agents/StateDir.js"
import type { Agent } from "../domain/Session.js"
import type { CheckResult } from "./Doctor.js"

const ok = (text: string): CheckResult => ({ status: "ok", text })
const failed = (text: string): CheckResult => ({ status: "failed", text })
const skipped = (text: string): CheckResult => ({ status: "skipped", text })

/** Longest doctor waits for Redis to answer PING (connect included). */
export const REDIS_PING_TIMEOUT = Duration.seconds(2)

/** Redis did not answer doctor's PING within REDIS_PING_TIMEOUT. */
class RedisPingTimeout extends Data.TaggedError("RedisPingTimeout")<{}> {
  override get message() {
    return `no answer within ${Duration.format(REDIS_PING_TIMEOUT)}`
  }
}

const AGENT_ENV: Readonly<Record<Agent, string>> = {
  claude: "TELEMUX_AGENT_CLAUDE",
  codex: "TELEMUX_AGENT_CODEX",
  gemini: "TELEMUX_AGENT_GEMINI"
}

/** The program a command line starts: its first word, without the quotes a shell would take off. */
export const programOf = (commandLine: string): string => {
  const match = /^\s*(?:'([^']*)'|"([^"]*)"|(\S+))/.exec(commandLine)
  return match === null ? "" : (match[1] ?? match[2] ?? match[3] ?? "")
}

const isExecutableFile = (file: string) =>
  Effect.promise(async () => {
    try {
      const stat = await fs.stat(file)
      if (!stat.isFile()) return false
      await fs.access(file, fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })

/** Where `program` resolves as a shell would find it: a path (with a /) as it is, else the first on PATH. */
export const resolveProgram = (program: string, pathVar: string, cwd: string) =>
  Effect.gen(function*() {
    if (program === "") return Option.none<string>()
    if (program.includes("/")) {
      const file = path.resolve(cwd, program)
      return (yield* isExecutableFile(file)) ? Option.some(file) : Option.none<string>()
    }
    for (const dir of pathVar.split(":").filter((d) => d !== "")) {
      const file = path.join(dir, program)
      if (yield* isExecutableFile(file)) return Option.some(file)
    }
    return Option.none<string>()
  })

export interface AgentCheck {
  readonly agent: Agent
  readonly result: CheckResult
  /** Whether the agent's command is there (its hooks are checked only then). */
  readonly present: boolean
}

/**
 * Each agent's command, resolved on this PATH. A default command that is missing is not a failure
 * (most people use one agent of the three); a command someone configured and that is not there is.
 */
export const checkAgents = (
  commands: Readonly<Record<Agent, string>>,
  env: NodeJS.ProcessEnv,
  cwd: string
): Effect.Effect<ReadonlyArray<AgentCheck>> =>
  Effect.forEach(Object.keys(commands) as Array<Agent>, (agent) =>
    Effect.gen(function*() {
      const command = commands[agent]
      const program = programOf(command)
      const configured = command.trim() !== AGENT_COMMAND_DEFAULTS[agent]
      const found = yield* resolveProgram(program, env.PATH ?? "", cwd)
      if (Option.isSome(found)) {
        return { agent, present: true, result: ok(`agent ${agent}: ${program} is ${found.value}`) }
      }
      const fix = `install it, or set ${AGENT_ENV[agent]} to its command (on the daemon's PATH too)`
      return {
        agent,
        present: false,
        result: configured
          ? failed(
            `agent ${agent}: ${
              program.includes("/")
                ? `${program} is not an executable file`
                : `${program} is not on PATH (${env.PATH ?? ""})`
            } — ${fix}`
          )
          : skipped(`agent ${agent}: ${program} is not on PATH; to use it, ${fix}`)
      }
    }))

/** Whether telemux's hooks for `agent` (run as `hookCommand`) are in its settings file. */
export const checkHooks = (agent: Agent, home: string, hookCommand: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const file = settingsFileOf(home, agent)
    const install = `run \`telemux hooks install --agent ${agent}\``
    const text = yield* Effect.promise(() => fs.readFile(file, "utf8").catch(() => undefined))
    if (text === undefined) {
      return failed(`hooks for ${agent}: ${file} does not exist, so ${agent}'s turns are not reported — ${install}`)
    }
    const installed = agent === "codex"
      ? hasCodexNotify(text, codexNotifyArgv(hookCommand))
      : Either.match(installJsonHooks(agent === "claude" ? CLAUDE_FLAVOUR : GEMINI_FLAVOUR, file, text, hookCommand), {
        onLeft: () => false,
        onRight: (after) => after === text
      })
    return installed
      ? ok(`hooks for ${agent} are installed in ${file}`)
      : failed(`hooks for ${agent} are missing (or run another telemux) in ${file} — ${install}`)
  })

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, "0")

/** The state dir is 0700 and every file in it 0600: it holds the token and what was typed into sessions. */
export const checkStateModes = (home: string): Effect.Effect<CheckResult> =>
  Effect.promise(async () => {
    let dirMode: number
    try {
      dirMode = (await fs.stat(home)).mode
    } catch {
      return failed(`state dir ${home} does not exist: the daemon creates it on its first start (\`telemux daemon\`)`)
    }
    const problems: Array<string> = []
    if ((dirMode & 0o777) !== PRIVATE_DIR_MODE) problems.push(`chmod 700 ${home} (it is ${octal(dirMode)})`)
    const loose: Array<string> = []
    for (const entry of await fs.readdir(home, { withFileTypes: true })) {
      if (!entry.isFile()) continue
      const file = path.join(home, entry.name)
      const mode = (await fs.stat(file).catch(() => undefined))?.mode
      if (mode !== undefined && (mode & 0o077) !== 0) loose.push(`${entry.name} (${octal(mode)})`)
    }
    if (loose.length > 0) {
      problems.push(`chmod ${octal(PRIVATE_FILE_MODE).slice(1)} the files others may read: ${loose.join(", ")}`)
    }
    return problems.length === 0
      ? ok(`state dir ${home} is private (0700, its files 0600)`)
      : failed(`state dir ${home} is readable by others: ${problems.join("; ")}`)
  })

/**
 * Who holds the state dir's lock, and whether it is the daemon this CLI talks to: a daemon
 * running on this state dir but listening on another port is the usual reason for "not reachable".
 */
export const checkLock = (settings: TelemuxSettings, daemonReachable: boolean) =>
  Effect.gen(function*() {
    const { inspect } = yield* Effect.promise(() => import("../../layers/DaemonLock.js"))
    const holder = yield* inspect(settings).pipe(Effect.provide(NodeContext.layer), Effect.exit)
    if (Exit.isFailure(holder)) {
      return failed(`the state dir's lock could not be read: ${Cause.pretty(holder.cause).split("\n")[0]}`)
    }
    return Option.match(holder.value, {
      onNone: () =>
        daemonReachable
          ? failed(
            `no daemon holds the lock of ${settings.home}, yet one answers on port ${settings.port}: it runs on ` +
              "another state dir — point TELEMUX_HOME (or --config) at the one it uses"
          )
          : failed(`no daemon runs on ${settings.home}: start one with \`telemux daemon\``),
      onSome: (owner) => {
        if (owner === undefined) return ok(`state dir lock is held by a telemux daemon (it has not said which yet)`)
        return owner.port === settings.port
          ? ok(`state dir lock is held by the daemon (pid ${owner.pid}, port ${owner.port}, version ${owner.version})`)
          : failed(
            `the daemon on ${settings.home} (pid ${owner.pid}) listens on port ${owner.port}, this CLI looks on ` +
              `${settings.port}: set TELEMUX_PORT=${owner.port} (or the same config file as the daemon)`
          )
      }
    })
  })

/** The URL without its password, for a message. */
export const redactedUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(an unparsable URL)"
  }
}

/** PING the Redis this machine is configured with, connect included, within REDIS_PING_TIMEOUT. */
export const checkRedisPing = (redisUrl: Option.Option<Redacted.Redacted<string>>) =>
  Option.match(redisUrl, {
    onNone: () => Effect.succeed(skipped("Redis: TELEMUX_REDIS_URL is not set here (no fleet)")),
    onSome: (secret) =>
      Effect.gen(function*() {
        const url = Redacted.value(secret)
        const shown = redactedUrl(url)
        const { Redis } = yield* Effect.promise(() => import("ioredis"))
        const ping = Effect.acquireRelease(
          Effect.sync(() =>
            new Redis(url, {
              lazyConnect: true,
              connectTimeout: Duration.toMillis(REDIS_PING_TIMEOUT),
              maxRetriesPerRequest: 0,
              enableOfflineQueue: false,
              retryStrategy: () => null
            })
          ),
          (client) => Effect.sync(() => client.disconnect())
        ).pipe(
          Effect.flatMap((client) =>
            Effect.tryPromise(async () => {
              client.on("error", () => undefined)
              await client.connect()
              return await client.ping()
            })
          ),
          Effect.scoped,
          Effect.timeoutFail({
            duration: REDIS_PING_TIMEOUT,
            onTimeout: () => new RedisPingTimeout()
          }),
          Effect.either
        )
        const answer = yield* ping
        return Either.match(answer, {
          onLeft: (error) =>
            failed(
              `Redis at ${shown} did not answer PING (${error.message}) — check TELEMUX_REDIS_URL and that ` +
                "Redis runs and is reachable from here"
            ),
          onRight: (reply) => ok(`Redis at ${shown} answers PING (${reply})`)
        })
      })
  })
