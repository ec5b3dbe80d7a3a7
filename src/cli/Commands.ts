/**
 * `telemux`: the command line (@effect/cli). Every command but `daemon`, `token` and `completions`
 * talks to the daemon through DaemonClient (HTTP API) or StreamConnection (`/v1/stream`), found
 * through the daemon's own configuration names.
 *
 * `daemon` and `tui` load their code on demand (the build splits it into dist/cli-chunks/): the
 * daemon's SQLite and tmux layers and Ink/React cost a third of a second that `telemux ls` does
 * not need to pay.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, DateTime, Effect, Option, Redacted } from "effect"
import * as path from "node:path"
import { Agent, AgentMode, ComputerName, SessionStatus } from "../domain/Session.js"
import { VERSION } from "../Version.js"
import { awaitPromptDelivery, hooks, listen, restart, resume } from "./AgentCommands.js"
import { CliEnvironment, DaemonTarget } from "./CliEnvironment.js"
import { DaemonFailed, UsageError } from "./CliError.js"
import { DaemonClient } from "./DaemonClient.js"
import { doctor } from "./Doctor.js"
import { checkNewOptions, requireFleet, worktreeRequestOf } from "./NewChecks.js"
import {
  computersJson,
  computersTable,
  projectsJson,
  projectsText,
  sessionJson,
  sessionsJson,
  sessionsTable
} from "./Render.js"
import { argument, configOption, json, rootCommand, terminalWidth, textOption, withDaemon } from "./Root.js"
import { service } from "./Service.js"
import { attach, close, keys, send, tail, watchCommand } from "./SessionCommands.js"
import { rotateToken } from "./TokenRotation.js"
import { web } from "./WebCommand.js"
import { diff, fork, worktree, worktreeOptions } from "./WorktreeCommands.js"

/** `ServeError` and friends carry an empty message and the reason in `cause`. */

// ---------------------------------------------------------------------------

const daemon = Command.make(
  "daemon",
  { config: configOption },
  ({ config }) =>
    Effect.gen(function*() {
      const root = yield* rootCommand
      const file = Option.orElse(config, () => root.config)
      const { daemonProgram } = yield* Effect.promise(() => import("./DaemonProgram.js"))
      return yield* daemonProgram(Option.getOrUndefined(file)).pipe(
        Effect.mapError((error) => new DaemonFailed({ detail: `it stopped: ${error.message}` }))
      )
    })
).pipe(Command.withDescription("run the daemon in the foreground (as `node dist/main.js`); Ctrl+C stops it"))

const ls = Command.make(
  "ls",
  {
    json,
    computer: Options.text("computer").pipe(
      Options.withSchema(ComputerName),
      Options.withDescription("only sessions on this computer"),
      Options.optional
    ),
    status: Options.choice("status", [...SessionStatus.literals, "all"]).pipe(
      Options.withDescription("only sessions with this status (default: open ones; `all` includes closed)"),
      Options.optional
    )
  },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const client = yield* DaemonClient
      const sessions = yield* client.sessions({
        computer: Option.getOrUndefined(options.computer),
        status: Option.getOrUndefined(options.status)
      })
      if (options.json) return yield* Console.log(sessionsJson(sessions))
      const now = DateTime.toEpochMillis(yield* DateTime.now)
      yield* Console.log(sessionsTable(sessions, now, yield* terminalWidth))
    }))
).pipe(Command.withDescription("list sessions"))

const newSession = Command.make(
  "new",
  {
    json,
    title: textOption("title").pipe(Options.withDescription("the session's title"), Options.optional),
    computer: Options.text("computer").pipe(
      Options.withSchema(ComputerName),
      Options.withDescription("start it on this computer of the fleet (the dir must be inside its trusted dirs)"),
      Options.optional
    ),
    agent: Options.choice("agent", Agent.literals).pipe(
      Options.withDescription("start this agent in the session"),
      Options.optional
    ),
    mode: Options.choice("mode", AgentMode.literals).pipe(
      Options.withDescription("the agent's mode (model and effort; default med; needs --agent)"),
      Options.optional
    ),
    prompt: textOption("prompt").pipe(
      Options.withDescription("the agent's first prompt, pasted once it is ready (needs --agent)"),
      Options.optional
    ),
    ...worktreeOptions,
    dir: argument("dir").pipe(Args.withDescription("the directory to start it in (`.` for this one)"))
  },
  (options) =>
    Effect.zipRight(
      checkNewOptions(options),
      Effect.flatMap(worktreeRequestOf(options), (worktreeRequest) =>
        withDaemon(Effect.gen(function*() {
          const { cwd } = yield* CliEnvironment
          const client = yield* DaemonClient
          if (Option.isSome(options.computer)) yield* requireFleet(client, options.computer.value)
          const session = yield* client.create(path.resolve(cwd, options.dir), Option.getOrUndefined(options.title), {
            computer: Option.getOrUndefined(options.computer),
            agent: Option.getOrUndefined(options.agent),
            mode: Option.getOrUndefined(options.mode),
            prompt: Option.getOrUndefined(options.prompt),
            worktree: worktreeRequest
          })
          // the id first, so the session can be found whatever becomes of its prompt
          if (!options.json) yield* Console.log(session.sessionId)
          const settled = yield* awaitPromptDelivery(session)
          if (options.json) yield* Console.log(sessionJson(settled))
        })))
    )
).pipe(
  Command.withDescription(
    "start a session in a directory (a shell, or an agent with --agent; in a git worktree with --worktree); prints its id"
  )
)

const computers = Command.make(
  "computers",
  { json },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const list = yield* Effect.flatMap(DaemonClient, (client) => client.computers)
      yield* Console.log(options.json ? computersJson(list) : computersTable(list, yield* terminalWidth))
    }))
).pipe(Command.withDescription("list computers with their load"))

const projects = Command.make(
  "projects",
  { json },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const list = yield* Effect.flatMap(DaemonClient, (client) => client.projects)
      yield* Console.log(options.json ? projectsJson(list) : projectsText(list))
    }))
).pipe(Command.withDescription("list projects (trusted dirs) and their todos"))

const tui = Command.make(
  "tui",
  {},
  () => withDaemon(Effect.flatMap(Effect.promise(() => import("../tui/RunTui.js")), (module) => module.runTui))
).pipe(
  Command.withDescription("the terminal UI: sessions, live preview, projects")
)

const token = Command.make(
  "token",
  {
    rotate: Options.boolean("rotate").pipe(
      Options.withDescription(
        "write a new token (the daemon accepts it from its next request; web dashboard sign-ins end)"
      )
    )
  },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const target = yield* DaemonTarget
      if (!options.rotate) {
        return yield* Option.match(target.token, {
          onNone: () =>
            Effect.fail(
              new UsageError({
                detail: `no token at ${target.address.tokenPath}: the daemon writes it on its first start`
              })
            ),
          onSome: (value) => Console.log(Redacted.value(value))
        })
      }
      const fresh = yield* rotateToken(target.address.tokenPath)
      yield* Console.log(fresh)
      yield* Console.error(
        `wrote a new token to ${target.address.tokenPath}; the daemon accepts it from its next request and refuses the old one within a second; web dashboard sign-ins made with the old one end`
      )
    }))
).pipe(Command.withDescription("print the API token (or rotate it with --rotate)"))

const doctorCommand = Command.make("doctor", {}, () => withDaemon(doctor)).pipe(
  Command.withDescription(
    "check tmux, the daemon, the token, the state dir and its lock, Redis, the agents' commands and hooks"
  )
)

const COMMAND_NAMES = [
  "daemon",
  "ls",
  "new",
  "send",
  "keys",
  "tail",
  "watch",
  "attach",
  "close",
  "computers",
  "projects",
  "tui",
  "token",
  "doctor",
  "resume",
  "restart",
  "listen",
  "hooks",
  "service",
  "web",
  "diff",
  "worktree",
  "fork"
]

export const telemux = rootCommand.pipe(
  Command.withHandler(() =>
    Effect.fail(
      new UsageError({ detail: `name a command: ${COMMAND_NAMES.join(", ")} (\`telemux --help\` describes them)` })
    )
  ),
  Command.withDescription("run and drive terminal sessions in tmux"),
  Command.withSubcommands([
    daemon,
    ls,
    newSession,
    send,
    keys,
    tail,
    watchCommand,
    attach,
    close,
    computers,
    projects,
    tui,
    token,
    doctorCommand,
    resume,
    restart,
    listen,
    hooks,
    service,
    web,
    diff,
    worktree,
    fork
  ])
)

/** `telemux …argv` (argv as process.argv: node, script, arguments). */
export const cli = Command.run(telemux, { name: "telemux", version: VERSION })
