/**
 * The daemon as one program, shared by `node dist/main.js` and `telemux daemon`: settings from
 * the environment and the optional config file, JSON logs, the composed layers of layers/Main.ts
 * launched until the process is interrupted (SIGINT/SIGTERM through NodeRuntime.runMain).
 */
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Logger } from "effect"
import * as Main from "../../layers/Main.js"
import { makeSlicedScheduler } from "../concurrency/SlicedScheduler.js"
import * as ConfigLive from "../../layers/TelemuxConfigLive.js"
import { TelemuxConfig } from "../../services/TelemuxConfig.js"

/** `--config FILE` / `--config=FILE` in a raw argv; everything else comes from TELEMUX_* variables. */
export const configFileArg = (argv: ReadonlyArray<string>): string | undefined => {
  const i = argv.findIndex((arg) => arg === "--config" || arg.startsWith("--config="))
  if (i < 0) return undefined
  return argv[i]!.includes("=") ? argv[i]!.slice("--config=".length) : argv[i + 1]
}

/**
 * Fibers run in macrotasks of at most a few milliseconds each (setImmediate): between them Node
 * reads sockets and fires timers. The default scheduler chains up to 2048 tasks as microtasks,
 * so a burst of output from many sessions held the event loop for 100+ ms.
 */
const scheduler = makeSlicedScheduler()

/** Runs the daemon until interrupted; fails only when it cannot start (or crashes). */
export const daemonProgram = (configFile: string | undefined) =>
  Effect.gen(function*() {
    const settings = yield* TelemuxConfig
    yield* Effect.logInfo("telemux starting").pipe(
      Effect.annotateLogs({ computer: settings.computer, home: settings.home, socket: settings.tmuxSocket })
    )
    return yield* Layer.launch(Main.daemon(settings)).pipe(Effect.provide(Logger.minimumLogLevel(settings.logLevel)))
  }).pipe(
    Effect.provide(ConfigLive.layer({ configFile })),
    Effect.provide(NodeContext.layer),
    Effect.provide(Logger.json),
    Effect.withScheduler(scheduler)
  )
