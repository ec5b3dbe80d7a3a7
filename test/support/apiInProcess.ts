/**
 * The HTTP API served in-process (HttpServerLayer.layerTest) over doubles that record every call:
 * for tests that look at the API from outside (its OpenAPI document, fuzzing) and need to know that
 * a request reached nothing that changes state.
 */
import type { FileSystem, HttpClient } from "@effect/platform"
import { DateTime, Effect, Layer, Logger, LogLevel, Redacted, Ref, Schema } from "effect"
import * as FleetLive from "../../layers/FleetLive.js"
import * as HttpServerLayer from "../../layers/HttpServer.js"
import * as IdempotencyLive from "../../layers/IdempotencyLive.js"
import * as MemoryOutputLog from "../../layers/MemoryOutputLog.js"
import { Agents } from "../../services/Agents.js"
import { AuthToken } from "../../services/AuthToken.js"
import { Cache } from "../../services/Cache.js"
import type { HttpListener } from "../../services/HttpListener.js"
import { Projects } from "../../services/Projects.js"
import { Sessions } from "../../services/Sessions.js"
import { SystemStats } from "../../services/SystemStats.js"
import { TelemuxConfig } from "../../services/TelemuxConfig.js"
import { MemoryStats, SystemStatsSnapshot } from "../../src/domain/Computer.js"
import { SessionNotFound, TerminalUnavailable } from "../../src/domain/Errors.js"
import { ComputerName, Session, type SessionId } from "../../src/domain/Session.js"
import { makeSession } from "./fixtures.js"
import { testSettings } from "./settings.js"
import { agentsUnused, sessionsOnDoubles, worktreesUnused } from "./unitLayers.js"

export const TOKEN = "a".repeat(64)

const encodeSession = Schema.encodeSync(Session)

/** The one session the doubles know, on this daemon's computer. */
export const existing = makeSession({ title: "existing", computer: ComputerName.make("local") }, 1)

/** Calls that change something: a request that was refused must have made none of them. */
export const MUTATING = new Set([
  "create",
  "sendText",
  "sendKeys",
  "close",
  "observe",
  "launch",
  "resume",
  "restart",
  "listen",
  "notify"
])

export interface Recorder {
  /** Every call the doubles received, by operation name, oldest first. */
  readonly calls: Effect.Effect<ReadonlyArray<string>>
}

export const makeDoubles = Effect.gen(function*() {
  const log = yield* Ref.make<ReadonlyArray<string>>([])
  const record = (op: string) => Ref.update(log, (all) => [...all, op])
  const find = (id: SessionId) =>
    id === existing.sessionId ? Effect.succeed(existing) : Effect.fail(SessionNotFound.of(id))
  const recorded = <A, E>(op: string, effect: Effect.Effect<A, E>) => Effect.zipRight(record(op), effect)
  const closed = new Session({ ...existing, status: "closed", closeReason: "user", closedAt: DateTime.unsafeMake(0) })
  const sessions = Sessions.of({
    create: () => recorded("create", Effect.succeed(existing)),
    list: () => recorded("list", Effect.succeed([existing])),
    listJson: () => recorded("list", Effect.sync(() => JSON.stringify([encodeSession(existing)]))),
    get: (id) => recorded("get", find(id)),
    getJson: (id) => recorded("get", Effect.map(find(id), (s) => JSON.stringify(encodeSession(s)))),
    sendText: (id) => recorded("sendText", Effect.asVoid(find(id))),
    sendKeys: (id) => recorded("sendKeys", Effect.asVoid(find(id))),
    capture: (id) => recorded("capture", Effect.as(find(id), "$ ")),
    terminalSnapshot: () => Effect.fail(new TerminalUnavailable({ message: "this double has no terminal" })),
    sendBytes: (id) => recorded("sendBytes", Effect.asVoid(find(id))),
    fitTerminal: () => Effect.fail(new TerminalUnavailable({ message: "this double has no terminal" })),
    close: (id) => recorded("close", Effect.as(find(id), closed)),
    terminalResponsive: Effect.succeed(true),
    reconcile: Effect.succeed({ adopted: 0, closed: [], spared: 0, orphansRemoved: 0 }),
    reapInactive: Effect.succeed([]),
    observe: () => record("observe"),
    recordOutput: () => record("recordOutput")
  })
  const agents = Agents.of({
    launch: () => recorded("launch", Effect.succeed(existing)),
    resume: (id) => recorded("resume", find(id)),
    restart: (id) => recorded("restart", find(id)),
    fork: (id) => recorded("fork", find(id)),
    exportConversation: () => Effect.dieMessage("Agents.exportConversation is not doubled here"),
    forkImported: () => recorded("forkImported", Effect.succeed(existing)),
    listen: () => record("listen"),
    notify: () => record("notify"),
    debounceSize: Effect.succeed(0)
  })
  return { sessions, agents, recorder: { calls: Ref.get(log) } satisfies Recorder }
})

export const fixedToken = Layer.succeed(
  AuthToken,
  AuthToken.of({
    current: Effect.succeed(Redacted.make(TOKEN)),
    verify: (candidate) => Effect.succeed(candidate === TOKEN)
  })
)

export const stats = new SystemStatsSnapshot({
  cpuPercent: 1,
  memory: new MemoryStats({ totalGb: 16, availableGb: 8, percentUsed: 50 }),
  disk: null
})

/** What the API's layers need, on the recording doubles. */
export const servicesOf = (doubles: Effect.Effect.Success<typeof makeDoubles>) =>
  Layer.mergeAll(
    Layer.succeed(Sessions, doubles.sessions),
    Layer.succeed(Agents, doubles.agents),
    // only getComputers is read by the HTTP layer
    Layer.succeed(Cache, { getComputers: Effect.succeed([]) } as unknown as Cache["Type"]),
    Layer.succeed(SystemStats, SystemStats.of({ snapshot: Effect.succeed(stats) })),
    Layer.succeed(Projects, Projects.of({ list: Effect.succeed([]) })),
    Layer.succeed(TelemuxConfig, testSettings({ computer: ComputerName.make("local") })),
    fixedToken,
    MemoryOutputLog.layer,
    FleetLive.layerAlone,
    IdempotencyLive.layerMemory,
    worktreesUnused
  )

/** Runs `body` against the API served on 127.0.0.1 (a random port), on fresh doubles. */
export const withApi = <A, E>(
  body: (recorder: Recorder) => Effect.Effect<A, E, HttpClient.HttpClient | HttpListener>
) =>
  Effect.gen(function*() {
    const doubles = yield* makeDoubles
    return yield* body(doubles.recorder).pipe(
      Effect.provide(HttpServerLayer.layerTest.pipe(Layer.provide(servicesOf(doubles))))
    )
  }).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Error)))

/**
 * What the server needs, with the real Sessions over doubles (cache, store, terminal; `env` as
 * configuration) instead of recording doubles: for tests of what the daemon itself answers.
 */
export const realSessionsServices = (
  env: Readonly<Record<string, string>> = {},
  token: Layer.Layer<AuthToken, unknown, TelemuxConfig | FileSystem.FileSystem> = fixedToken
) =>
  Layer.provideMerge(
    token,
    Layer.mergeAll(
      sessionsOnDoubles(env),
      Layer.succeed(SystemStats, SystemStats.of({ snapshot: Effect.succeed(stats) })),
      Layer.succeed(Projects, Projects.of({ list: Effect.succeed([]) })),
      MemoryOutputLog.layer,
      FleetLive.layerAlone,
      agentsUnused
    )
  )
