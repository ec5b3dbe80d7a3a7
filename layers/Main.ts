import type { HttpServer as PlatformHttpServer } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import type { HttpListener } from "../services/HttpListener.js"
import { TelemuxConfig, type TelemuxSettings } from "../services/TelemuxConfig.js"
import { TerminalBridge } from "../services/TerminalBridge.js"
import * as AgentsLive from "./AgentsLive.js"
import * as ControlBridge from "./ControlBridge.js"
import * as FileProjects from "./FileProjects.js"
import * as FleetLive from "./FleetLive.js"
import * as FleetServer from "./FleetServer.js"
import * as GitWorktrees from "./GitWorktrees.js"
import * as HeapPolicy from "./HeapPolicy.js"
import * as HookOutbox from "./HookOutbox.js"
import * as HttpServer from "./HttpServer.js"
import * as IdempotencyLive from "./IdempotencyLive.js"
import * as IndexedCache from "./IndexedCache.js"
import * as LeasesAlone from "./LeasesAlone.js"
import * as LiveOutputWorkers from "./LiveOutputWorkers.js"
import * as MemoryOutputLog from "./MemoryOutputLog.js"
import * as NodeSystemStats from "./NodeSystemStats.js"
import * as Notifier from "./Notifier.js"
import * as OutputPollerLive from "./OutputPollerLive.js"
import * as PaneProcessesLive from "./PaneProcessesLive.js"
import * as RedisLeases from "./RedisLeases.js"
import * as RedisTransport from "./RedisTransport.js"
import * as SessionsLive from "./SessionsLive.js"
import * as SessionWorkers from "./SessionWorkers.js"
import * as SqliteListeners from "./SqliteListeners.js"
import * as SqliteSessionStore from "./SqliteSessionStore.js"
import * as SqliteStreamPositions from "./SqliteStreamPositions.js"
import * as TelegramLive from "./TelegramLive.js"
import * as TerminalStreamsLive from "./TerminalStreamsLive.js"
import * as TokenFile from "./TokenFile.js"
import * as WebAuthLive from "./WebAuthLive.js"

/** Refuses to start on a tmux older than the daemon needs; logs the one it found. */
const TmuxCheck = Layer.effectDiscard(
  Effect.flatMap(TerminalBridge, (bridge) => bridge.version).pipe(
    Effect.tap((version) => Effect.logInfo("tmux found").pipe(Effect.annotateLogs({ version })))
  )
)

/**
 * The whole daemon on one screen: settings → infrastructure (SQLite, the tmux control channel
 * and the bridge over it, cache, output log, stats, token) → session orchestration → output
 * watching → the fleet (Redis, when configured) → agents and their hooks' outbox → background
 * workers → the HTTP API and its stream, served on `Listener` — the socket bound (and answering
 * 503) before any of this was built, see src/cli/DaemonProgram.ts.
 */
export const daemon = (
  settings: TelemuxSettings,
  Listener: Layer.Layer<HttpListener | PlatformHttpServer.HttpServer>
) => {
  const Settings = Layer.succeed(TelemuxConfig, settings)
  const Tmux = ControlBridge.layer({ socket: settings.tmuxSocket, metrics: settings.metrics })
  const Infrastructure = Layer.mergeAll(
    SqliteSessionStore.layerFile(settings.dbPath),
    Tmux,
    IndexedCache.layer,
    MemoryOutputLog.layer,
    NodeSystemStats.layer,
    FileProjects.layer,
    // git worktrees for sessions, under TELEMUX_HOME/worktrees
    GitWorktrees.layer,
    TokenFile.layer,
    PaneProcessesLive.layer
  ).pipe(Layer.provideMerge(TmuxCheck.pipe(Layer.provide(Tmux))))
  const Orchestration = Layer.mergeAll(
    SessionsLive.layer,
    OutputPollerLive.layer,
    SqliteListeners.layer,
    IdempotencyLive.layerSqlite,
    // the web dashboard's sign-ins, kept in the database across restarts
    WebAuthLive.layerSqlite
  ).pipe(
    Layer.provideMerge(Infrastructure)
  )
  // With a Redis URL this computer joins the fleet: as a caller (which agents use to tell
  // listeners elsewhere), then as a server (which starts agents for the others); without one it
  // is a fleet of one.
  const AgentsInFleet = Option.match(settings.redisUrl, {
    onNone: () =>
      Layer.mergeAll(AgentsLive.layer, TerminalStreamsLive.layer, LeasesAlone.layer).pipe(
        Layer.provideMerge(FleetLive.layerAlone)
      ),
    onSome: (url) =>
      FleetServer.layer.pipe(
        // terminals are followed through the fleet, and served to it
        Layer.provideMerge(Layer.mergeAll(AgentsLive.layer, TerminalStreamsLive.layer, RedisLeases.layer)),
        Layer.provideMerge(FleetLive.layer()),
        Layer.provide(Layer.mergeAll(RedisTransport.layer({ url }), SqliteStreamPositions.layer))
      )
  })
  // Agents' hooks arrive through the durable outbox the hook command writes.
  // The outbox is also read by /metrics (its depth).
  const AgentWork = HookOutbox.workerLayer.pipe(Layer.provideMerge(HookOutbox.layer))
  // The API serves only once the startup reconciliation has settled what is open.
  return HttpServer.layer.pipe(
    Layer.provide(Layer.mergeAll(SessionWorkers.layer, LiveOutputWorkers.layer, AgentWork, HeapPolicy.layer)),
    // people told of sessions waiting, turns finished, sessions dying (TELEMUX_NOTIFY); the
    // Telegram front-end (TELEMUX_TELEGRAM_TOKEN), polled by the one holder of its fleet lease
    Layer.provide(Layer.mergeAll(Notifier.layer, TelegramLive.layer)),
    Layer.provideMerge(AgentsInFleet),
    Layer.provide(Orchestration),
    Layer.provide(Settings),
    Layer.provide(NodeContext.layer),
    Layer.provide(Listener)
  )
}
