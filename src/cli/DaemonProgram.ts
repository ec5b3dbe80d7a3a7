/**
 * The daemon as one program, shared by `node dist/main.js` and `telemux daemon`: settings from
 * the environment and the optional config file, logs (JSON, or pretty on a terminal: see
 * layers/DaemonLogger.ts), then in this order — the state dir's
 * and tmux socket's locks (a second daemon stops here), the listening socket (a port in use stops
 * here; from now on every request is answered, 503 until ready), and only then the composed
 * layers of layers/Main.ts, built (then a person at a terminal is told where it serves and what to
 * run next: layers/DaemonBanner.ts) and kept until the process is interrupted (SIGINT/SIGTERM
 * through NodeRuntime.runMain). Nothing touches tmux, SQLite or Redis before the first two succeed.
 */
import { HttpServer } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Cause, Effect, Layer, Logger, Option } from "effect"
import * as DaemonBanner from "../../layers/DaemonBanner.js"
import * as DaemonLock from "../../layers/DaemonLock.js"
import * as DaemonLogger from "../../layers/DaemonLogger.js"
import { HEAP_GROWING_QUIET, setHeapGrowingPercent } from "../../layers/HeapPolicy.js"
import * as HttpListenerLive from "../../layers/HttpListener.js"
import * as Main from "../../layers/Main.js"
import * as ConfigLive from "../../layers/TelemuxConfigLive.js"
import * as Tracing from "../../layers/Tracing.js"
import { HttpListener } from "../../services/HttpListener.js"
import { TelemuxConfig } from "../../services/TelemuxConfig.js"
import { makeSlicedScheduler } from "../concurrency/SlicedScheduler.js"

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

const messageOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)

/** What a person reads when the daemon stops on its own: the typed error's message, or the defect. */
export const failureMessage = (cause: Cause.Cause<unknown>): string =>
  Option.match(Cause.failureOption(cause), { onNone: () => Cause.pretty(cause), onSome: messageOf })

/** Runs the daemon until interrupted; fails only when it cannot start (or crashes). */
/**
 * A daemon that runs for weeks should give back what a burst took. V8 grows its heap limit by up to
 * 4× what survives a collection, and a busy spell left it there: after 2,000 session create/close
 * cycles whose live heap grew by ~1 MB, ~200 MB stayed committed (`npm run bench -- memory`: +207
 * MB RSS). Growth capped at 1.2× as the program starts (`--optimize-for-size` gave less but cost
 * ~40 % more CPU per update); HeapPolicy raises it while screen updates flood in, and lowers it again.
 */
const favourMemory = Effect.sync(() => setHeapGrowingPercent(HEAP_GROWING_QUIET))

export const daemonProgram = (configFile: string | undefined) =>
  Effect.gen(function*() {
    yield* favourMemory
    const settings = yield* TelemuxConfig
    yield* DaemonBanner.announceStarting(settings)
    yield* Effect.logInfo("telemux starting").pipe(
      Effect.annotateLogs({ computer: settings.computer, home: settings.home, socket: settings.tmuxSocket })
    )
    return yield* Effect.gen(function*() {
      const lock = yield* DaemonLock.acquire(settings)
      const listener = yield* HttpListenerLive.make({
        host: settings.host,
        port: settings.port,
        recordMetrics: settings.metrics,
        tls: Option.getOrUndefined(settings.tls)
      })
      yield* lock.publish(listener.port)
      const Listener = Layer.merge(
        Layer.succeed(HttpListener, listener),
        Layer.succeed(HttpServer.HttpServer, listener.server)
      )
      yield* Layer.build(Main.daemon(settings, Listener).pipe(Layer.provide(Tracing.layer(settings))))
      yield* DaemonBanner.announceReady(settings, listener.port)
      return yield* Effect.never
    }).pipe(Effect.scoped, Effect.provide(Logger.minimumLogLevel(settings.logLevel)))
  }).pipe(
    Effect.provide(ConfigLive.layer({ configFile })),
    // after the settings are read, so that a configuration error is logged like any other
    Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.void
        // the cause gives the line its `error` (the typed error's _tag and fields) or `defect`
        : Effect.logError(`telemux stopped: ${failureMessage(cause)}`, cause)
    ),
    Effect.provide(NodeContext.layer),
    Effect.provide(DaemonLogger.layer),
    Effect.withScheduler(scheduler)
  )
