import { NodeRuntime } from "@effect/platform-node"
import { configFileArg, daemonProgram } from "./cli/DaemonProgram.js"

/** The daemon (`node dist/main.js [--config FILE]`); `telemux daemon` runs the same program. */
NodeRuntime.runMain(daemonProgram(configFileArg(process.argv.slice(2))), { disablePrettyLogger: true })
