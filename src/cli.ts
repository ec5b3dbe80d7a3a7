/**
 * `telemux` (dist/cli.js): the command line and terminal UI. The commands are in src/cli/, the
 * terminal UI in src/tui/; this entry point hands them the process (argv, env, stdio) and turns
 * the outcome into an exit code (src/cli/ExitCodes.ts).
 */
import { ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Option } from "effect"
import { CliEnvironment } from "./cli/CliEnvironment.js"
import { run } from "./cli/Entry.js"
import { exitCodeOfExit } from "./cli/ExitCodes.js"

const messageOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)

/** Errors print as one line (the parser prints its own); defects with their stack. */
const report = (cause: Cause.Cause<unknown>) => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  return Option.match(Cause.failureOption(cause), {
    onNone: () => Console.error(Cause.pretty(cause)),
    onSome: (error) =>
      ValidationError.isValidationError(error) ? Effect.void : Console.error(`telemux: ${messageOf(error)}`)
  })
}

const program = run(process.argv).pipe(
  Effect.tapErrorCause(report),
  Effect.provide(NodeContext.layer),
  Effect.provideService(CliEnvironment, {
    env: process.env,
    cwd: process.cwd(),
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr
  })
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    const code = exitCodeOfExit(exit)
    process.exitCode = code
    onExit(code)
  }
})
