/**
 * One run of `telemux`: the command line prepared (src/cli/Argv.ts), then telemux's own help,
 * completion scripts and completion answers, or the command through @effect/cli; all of it
 * printed without colour codes (ANSI SGR) where colour is not wanted (not a terminal, NO_COLOR,
 * TERM=dumb). Only colour is taken out: `watch` moves the cursor on a terminal with NO_COLOR too.
 */
import { ValidationError } from "@effect/cli"
import { Console, Effect } from "effect"
import { VERSION } from "../Version.js"
import { prepare } from "./Argv.js"
import { CliEnvironment } from "./CliEnvironment.js"
import { UsageError } from "./CliError.js"
import { colorWanted, stripAnsi } from "./Color.js"
import { cli, telemux } from "./Commands.js"
import { bashScript, completeSessions, zshScript } from "./Completion.js"
import { commandHelp, HELP_WIDTH_MAX, type HelpStyle, rootHelp } from "./Help.js"

export { colorWanted, stripAnsi } from "./Color.js"

const plainArgs = (args: ReadonlyArray<unknown>) => args.map((arg) => (typeof arg === "string" ? stripAnsi(arg) : arg))

/** The console with colour codes taken out of what goes to a stream that wants no colour. */
const withPlainOutput = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(CliEnvironment, ({ env, stdout, stderr }) => {
    const plainOut = !colorWanted(env, stdout)
    const plainErr = !colorWanted(env, stderr)
    if (!plainOut && !plainErr) return effect
    return Effect.consoleWith((console) =>
      Effect.withConsole(effect, {
        ...console,
        log: (...args) => console.log(...(plainOut ? plainArgs(args) : args)),
        info: (...args) => console.info(...(plainOut ? plainArgs(args) : args)),
        error: (...args) => console.error(...(plainErr ? plainArgs(args) : args)),
        warn: (...args) => console.warn(...(plainErr ? plainArgs(args) : args))
      })
    )
  })

const helpStyle = Effect.map(CliEnvironment, ({ env, stdout }): HelpStyle => ({
  width: Math.min(HELP_WIDTH_MAX, stdout.isTTY && stdout.columns > 0 ? stdout.columns : HELP_WIDTH_MAX),
  color: colorWanted(env, stdout)
}))

/** `telemux …argv` (argv as process.argv: node, script, arguments). */
export const run = (argv: ReadonlyArray<string>) =>
  withPlainOutput(Effect.gen(function*() {
    const invocation = prepare(argv.slice(2))
    switch (invocation._tag) {
      case "Help": {
        const style = yield* helpStyle
        if (invocation.path.length === 0) return yield* Console.log(rootHelp(telemux, VERSION, style))
        const text = commandHelp(telemux, invocation.path, style)
        if (text === undefined) {
          return yield* new UsageError({
            detail: `no command "${invocation.path.join(" ")}": \`telemux --help\` lists the commands`
          })
        }
        return yield* Console.log(text)
      }
      case "Completions":
        return yield* Console.log(invocation.shell === "bash" ? bashScript(telemux) : zshScript(telemux))
      case "Complete": {
        if (invocation.kind !== "sessions") return
        const lines = yield* completeSessions(invocation.prefix)
        if (lines !== "") yield* Console.log(lines)
        return
      }
      case "Run": {
        const named = invocation.path.join(" ")
        return yield* cli([argv[0] ?? "node", argv[1] ?? "telemux", ...invocation.args]).pipe(
          // @effect/cli printed what is wrong; say where the right form is
          Effect.tapError((error) =>
            ValidationError.isValidationError(error)
              ? Console.error(
                named !== "" && commandHelp(telemux, invocation.path, { width: 80, color: false }) !== undefined
                  ? `\`telemux ${named} --help\` shows its usage`
                  : "`telemux --help` lists the commands"
              )
              : Effect.void
          )
        )
      }
    }
  }))
