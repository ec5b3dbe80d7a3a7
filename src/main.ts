import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect } from "effect"
import { configFileArg, daemonProgram, failureMessage } from "./cli/DaemonProgram.js"

/**
 * The daemon (`node dist/main.js [--config FILE]`); `telemux daemon` runs the same program. Its
 * logs are JSON on stdout; why it could not start (or stopped) is also one plain line on stderr.
 */
const program = daemonProgram(configFileArg(process.argv.slice(2))).pipe(
  Effect.tapErrorCause((cause) =>
    Cause.isInterruptedOnly(cause)
      ? Effect.void
      : Effect.sync(() => process.stderr.write(`telemux: ${failureMessage(cause)}\n`))
  )
)

NodeRuntime.runMain(program, { disablePrettyLogger: true, disableErrorReporting: true })
