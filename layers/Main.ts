import { NodeContext } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { TelemuxConfig, type TelemuxSettings } from "../services/TelemuxConfig.js"
import { TerminalBridge } from "../services/TerminalBridge.js"
import * as FileProjects from "./FileProjects.js"
import * as HttpServer from "./HttpServer.js"
import * as IndexedCache from "./IndexedCache.js"
import * as NodeSystemStats from "./NodeSystemStats.js"
import * as SessionsLive from "./SessionsLive.js"
import * as SessionWorkers from "./SessionWorkers.js"
import * as SqliteSessionStore from "./SqliteSessionStore.js"
import * as TmuxBridge from "./TmuxBridge.js"
import * as TokenFile from "./TokenFile.js"

/** Refuses to start on a tmux older than the daemon needs; logs the one it found. */
const TmuxCheck = Layer.effectDiscard(
  Effect.flatMap(TerminalBridge, (bridge) => bridge.version).pipe(
    Effect.tap((version) => Effect.logInfo("tmux found").pipe(Effect.annotateLogs({ version })))
  )
)

/**
 * The whole daemon on one screen: settings → infrastructure (SQLite, tmux, cache, stats,
 * token) → session orchestration → its background workers and the HTTP API.
 */
export const daemon = (settings: TelemuxSettings) => {
  const Settings = Layer.succeed(TelemuxConfig, settings)
  const Bridge = TmuxBridge.layer({ socket: settings.tmuxSocket })
  const Infrastructure = Layer.mergeAll(
    SqliteSessionStore.layerFile(settings.dbPath),
    Bridge,
    IndexedCache.layer,
    NodeSystemStats.layer,
    FileProjects.layer,
    TokenFile.layer
  ).pipe(Layer.provideMerge(TmuxCheck.pipe(Layer.provide(Bridge))))
  const Orchestration = SessionsLive.layer.pipe(Layer.provideMerge(Infrastructure))
  // The API serves only once the startup reconciliation has settled what is open.
  return HttpServer.layer.pipe(
    Layer.provide(SessionWorkers.layer),
    Layer.provide(Orchestration),
    Layer.provide(Settings),
    Layer.provide(NodeContext.layer)
  )
}
