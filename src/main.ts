import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger, Scheduler } from "effect"
import * as Main from "../layers/Main.js"
import * as ConfigLive from "../layers/TelemuxConfigLive.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"

/** `--config FILE` / `--config=FILE`; everything else comes from TELEMUX_* variables. */
const configFile = (argv: ReadonlyArray<string>): string | undefined => {
  const i = argv.findIndex((arg) => arg === "--config" || arg.startsWith("--config="))
  if (i < 0) return undefined
  return argv[i]!.includes("=") ? argv[i]!.slice("--config=".length) : argv[i + 1]
}

const program = Effect.gen(function*() {
  const settings = yield* TelemuxConfig
  yield* Effect.logInfo("telemux starting").pipe(
    Effect.annotateLogs({ computer: settings.computer, home: settings.home, socket: settings.tmuxSocket })
  )
  return yield* Layer.launch(Main.daemon(settings)).pipe(Effect.provide(Logger.minimumLogLevel(settings.logLevel)))
}).pipe(
  Effect.provide(ConfigLive.layer({ configFile: configFile(process.argv.slice(2)) })),
  Effect.provide(NodeContext.layer),
  Effect.provide(Logger.json)
)

/**
 * Fibers run in batches, each batch its own macrotask (setImmediate): between batches Node
 * reads sockets and fires timers. The default scheduler chains up to 2048 tasks as microtasks,
 * so a burst of output from many sessions held the event loop for 100+ ms.
 */
const scheduler = Scheduler.makeBatched((runBatch) => setImmediate(runBatch))

NodeRuntime.runMain(program.pipe(Effect.withScheduler(scheduler)), { disablePrettyLogger: true })
