/** The root command (`--config`) and what every daemon-facing command shares. */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { unmark } from "./Argv.js"
import { CliEnvironment, DaemonTarget } from "./CliEnvironment.js"
import { loadSettings, readToken, resolveAddress } from "./Connection.js"
import { DaemonClient, layer as daemonClientLayer } from "./DaemonClient.js"

export const configOption = Options.file("config").pipe(
  Options.withDescription("JSON config file (as the daemon's --config; default: $TELEMUX_CONFIG)"),
  Options.optional
)

export const rootCommand = Command.make("telemux", { config: configOption })

/** Runs `effect` with the daemon this command talks to: settings, address, token, HTTP client. */
export const withDaemon = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const { config } = yield* rootCommand
    const settings = yield* loadSettings(config)
    const { env } = yield* CliEnvironment
    const address = yield* resolveAddress(settings, env)
    const token = yield* readToken(settings.tokenPath)
    // inside a telemux pane, the session this command runs in is the caller
    const caller = Option.fromNullable(env.TELEMUX_SESSION_ID).pipe(
      Option.filter((id) => id.trim() !== "")
    )
    return yield* effect.pipe(
      Effect.provide(daemonClientLayer(address, token, caller)),
      Effect.provideService(DaemonTarget, { settings, address, token })
    )
  })

/** A positional argument; a word after `--` arrives marked as one (src/cli/Argv.ts). */
export const argument = (name: string) => Args.text({ name }).pipe(Args.map(unmark))
/** A free-text option, whose value may start with `-` (src/cli/Argv.ts). */
export const textOption = (name: string) => Options.text(name).pipe(Options.map(unmark))

export const sessionId = argument("id").pipe(
  Args.withDescription("session id, a unique prefix of one, or its tmux name (tmx_…)")
)
export const json = Options.boolean("json").pipe(Options.withDescription("print JSON (as the API sends it)"))

/** A session id the command line gave, resolved against the daemon's sessions. */
export const resolve = (input: string) => Effect.flatMap(DaemonClient, (client) => client.resolve(input))

/**
 * The columns of the terminal the output goes to: stdout's when it is one, else `COLUMNS` when set
 * (as `COLUMNS=100 telemux ls | less`), else none: a pipe gets whole lines.
 */
export const terminalWidth = Effect.map(CliEnvironment, ({ env, stdout }): number | undefined => {
  if (stdout.isTTY && stdout.columns > 0) return stdout.columns
  const columns = Number(env.COLUMNS)
  return Number.isInteger(columns) && columns > 0 ? columns : undefined
})
