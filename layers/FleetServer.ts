/**
 * This computer serving the others (src/fleet/Rpcs.ts): the same operations the HTTP API runs,
 * on this computer's own sessions only, a remote create confined to the trusted dirs. Requests
 * to one session run in arrival order (a lane per session), different sessions concurrently
 * (REQUEST_CONCURRENCY); a computer that leaves has its requests and watches ended.
 */
import { FileSystem } from "@effect/platform"
import { RpcServer } from "@effect/rpc"
import { Chunk, Effect, Layer, Option, PubSub, Queue, Stream } from "effect"
import * as path from "node:path"
import { Agents } from "../services/Agents.js"
import { Cache } from "../services/Cache.js"
import { Fleet } from "../services/Fleet.js"
import type { FleetCallError } from "../services/Fleet.js"
import { FleetLink } from "../services/FleetLink.js"
import type { Idempotency } from "../services/Idempotency.js"
import { Listeners } from "../services/Listeners.js"
import { type OutputChanged, OutputLog } from "../services/OutputLog.js"
import { Projects } from "../services/Projects.js"
import { Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import {
  type SnapshotAt,
  type TerminalEvent,
  type TerminalListener,
  terminalsOrNone
} from "../services/TerminalStreams.js"
import type { Worktrees } from "../services/Worktrees.js"
import { KeyedMutex, LockTableFull } from "../src/concurrency/KeyedMutex.js"
import { consume } from "../src/concurrency/Workers.js"
import {
  ComputerUnreachable,
  InvalidRequest,
  RemoteTimeout,
  SessionNotFound,
  StorageFailure,
  TerminalUnavailable
} from "../src/domain/Errors.js"
import { sanitiseNotice } from "../src/domain/InputText.js"
import { ComputerName, type SessionId } from "../src/domain/Session.js"
import { FleetKeys, REQUEST_CONCURRENCY, WATCH_KEEPALIVE, WATCHES_MAX } from "../src/fleet/Protocol.js"
import {
  type CreateSessionPayload,
  FleetCaller,
  FleetCallerMiddleware,
  FleetRpcs,
  type OutputUpdate,
  type TerminalItem,
  type WatchItem
} from "../src/fleet/Rpcs.js"
import { isTrusted, realpath } from "../src/fs/TrustedDirs.js"
import { FROM_HEADER, makeServerProtocol } from "./FleetRpcTransport.js"
import * as LocalOperations from "./LocalOperations.js"
import * as Tracing from "./Tracing.js"
import * as WorktreeOperations from "./WorktreeOperations.js"

/** Sessions with requests in flight from other computers at once; each lane lives only while busy. */
const LANES_MAX = 4096
/** Terminal bytes a remote watcher may fall behind by before it is sent a fresh snapshot instead. */
export const REMOTE_TERMINAL_BACKLOG_BYTES = 1024 * 1024

export const toOutputUpdate = (update: OutputChanged): OutputUpdate => ({
  sessionId: update.sessionId,
  seq: update.seq,
  screen: update.screen,
  changedAt: update.changedAt.epochMillis
})

/** Who called, from the header the server protocol set from the envelope's signature. */
const CallerLive = Layer.succeed(
  FleetCallerMiddleware,
  FleetCallerMiddleware.of(({ headers }) => {
    const from = headers[FROM_HEADER]
    return from === undefined
      ? Effect.fail(
        new ComputerUnreachable({ computer: "unknown", message: "a fleet request without a verified sender" })
      )
      : Effect.succeed(ComputerName.make(from))
  })
)

const HandlersLive = FleetRpcs.toLayer(Effect.gen(function*() {
  const sessions = yield* Sessions
  const cache = yield* Cache
  const outputLog = yield* OutputLog
  const config = yield* TelemuxConfig
  const listeners = yield* Listeners
  const agents = yield* Agents
  const served = yield* terminalsOrNone
  // this computer's own sessions only (`own` first): the fleet's errors cannot happen here
  const local = <A, E, R>(effect: Effect.Effect<A, E | FleetCallError, R>) =>
    Effect.catchIf(
      effect,
      (error): error is FleetCallError => error instanceof ComputerUnreachable || error instanceof RemoteTimeout,
      (error) => Effect.fail(new TerminalUnavailable({ message: error.message }))
    )
  const terminals = {
    watch: (id: SessionId, listener: TerminalListener) => local(served.watch(id, listener)),
    snapshot: (id: SessionId) => local(served.snapshot(id))
  }
  const operations = yield* LocalOperations.make
  const worktreeOps = yield* WorktreeOperations.make
  const projects = yield* Projects
  const resolve = realpath(yield* FileSystem.FileSystem)
  const trusted = yield* Effect.forEach(config.trustedDirs, resolve)
  const lanes = new KeyedMutex<SessionId>(LANES_MAX)
  let watching = 0

  /** The session, if it is one of this computer's; another's is as unknown here as a missing one. */
  const own = (id: SessionId) =>
    Effect.filterOrFail(sessions.get(id), (s) => s.computer === config.computer, () => SessionNotFound.of(id))

  /** Requests to one session in arrival order: the lane is taken as the request's first step. */
  const inLane = (id: SessionId) => <A, E>(effect: Effect.Effect<A, E>) =>
    lanes.withLock(id)(Effect.zipRight(own(id), effect)).pipe(
      Effect.catchIf(
        (e): e is LockTableFull => e instanceof LockTableFull,
        () =>
          Effect.fail(
            new TerminalUnavailable({ message: `${LANES_MAX} sessions already have requests in flight; try again` })
          )
      )
    )

  /** Another computer's project dir, resolved, when it lies inside a trusted dir here. */
  const trustedProject = (projectDir: string) =>
    Effect.gen(function*() {
      if (!path.isAbsolute(projectDir)) {
        return yield* new InvalidRequest({
          message: `projectDir must be an absolute path, got "${projectDir}"`
        })
      }
      const dir = yield* resolve(projectDir)
      if (!isTrusted(dir, trusted)) {
        return yield* new InvalidRequest({
          message: trusted.length === 0
            ? `${config.computer} has no trusted dirs, so it starts no session for another computer`
            : `${dir} is not inside a trusted dir of ${config.computer}`
        })
      }
      return dir
    })

  const create = (request: CreateSessionPayload, from: ComputerName) =>
    Effect.gen(function*() {
      const dir = yield* trustedProject(request.projectDir)
      const session = yield* operations.create({
        projectDir: dir,
        ...(request.title === undefined ? {} : { title: request.title }),
        ...(request.initiatorSessionId === undefined
          ? {}
          : { initiatorSessionId: request.initiatorSessionId, initiatorComputer: from }),
        ...(request.agent === undefined ? {} : { agent: request.agent }),
        ...(request.mode === undefined ? {} : { mode: request.mode }),
        ...(request.prompt === undefined ? {} : { prompt: request.prompt }),
        ...(request.worktree === undefined ? {} : { worktree: request.worktree })
      }, request.idempotencyKey)
      // the agent that asked is told when this one stops or asks for input
      if (request.initiatorSessionId !== undefined) {
        yield* listeners.add({
          target: session.sessionId,
          listener: request.initiatorSessionId,
          listenerComputer: from
        }).pipe(Effect.ignore)
      }
      return session
    })

  /**
   * The session's terminal: a snapshot, then its chunks in batches as they come (grouped as the
   * RPC stream takes them), a snapshot again after a redraw or when the caller fell more than
   * REMOTE_TERMINAL_BACKLOG_BYTES behind (what it missed is dropped, never queued without bound).
   */
  const watchTerminal = (id: SessionId) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      yield* own(id)
      if (watching >= WATCHES_MAX) {
        return yield* new InvalidRequest({ message: `more than ${WATCHES_MAX} sessions are watched from elsewhere` })
      }
      yield* Effect.acquireRelease(Effect.sync(() => watching++), () => Effect.sync(() => watching--))
      const pending: Array<TerminalEvent> = []
      let pendingBytes = 0
      let behind = false
      const arrived = yield* Queue.sliding<void>(1)
      yield* terminals.watch(id, (event) => {
        if (behind) return
        if (event._tag === "Chunk") pendingBytes += event.chunk.bytes.length
        if (pendingBytes > REMOTE_TERMINAL_BACKLOG_BYTES) {
          behind = true
          pending.length = 0
          pendingBytes = 0
        } else {
          pending.push(event)
        }
        Queue.unsafeOffer(arrived, undefined)
      })
      const first = yield* terminals.snapshot(id)
      let last = first.seq
      const snapshotItem = (seq: number, snapshot: SnapshotAt["snapshot"]) => {
        last = seq
        return { _tag: "TerminalSnapshot", seq, snapshot } as const
      }
      /** What arrived since the last pull, as items; a fresh snapshot first when the caller fell behind. */
      const pull = Effect.gen(function*() {
        const woke = yield* Queue.take(arrived).pipe(Effect.timeoutOption(WATCH_KEEPALIVE))
        if (Option.isNone(woke)) return [{ _tag: "WatchAlive" } as const]
        const items: Array<TerminalItem> = []
        if (behind) {
          behind = false
          const fresh = yield* terminals.snapshot(id)
          items.push(snapshotItem(fresh.seq, fresh.snapshot))
        }
        let run: { seq: number; chunks: Array<Uint8Array> } | undefined
        const flush = () => {
          if (run !== undefined) items.push({ _tag: "TerminalChunks", seq: run.seq, chunks: run.chunks })
          run = undefined
        }
        for (const event of pending.splice(0)) {
          if (event._tag === "Redraw") {
            flush()
            items.push(snapshotItem(event.seq, event.snapshot))
          } else if (event._tag === "Chunk" && event.chunk.seq === last + 1) {
            last = event.chunk.seq
            if (run === undefined) run = { seq: event.chunk.seq, chunks: [] }
            run.chunks.push(event.chunk.bytes)
          }
        }
        pendingBytes = 0
        flush()
        return items
      })
      return Stream.concat(
        Stream.make(snapshotItem(first.seq, first.snapshot)),
        Stream.repeatEffectChunk(Effect.map(pull, Chunk.fromIterable))
      )
    }))

  /** The session's screens: the latest first, then each change, and WatchAlive when nothing else was sent for a while. */
  const watch = (id: SessionId) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      yield* own(id)
      if (watching >= WATCHES_MAX) {
        return yield* new InvalidRequest({ message: `more than ${WATCHES_MAX} sessions are watched from elsewhere` })
      }
      yield* Effect.acquireRelease(Effect.sync(() => watching++), () => Effect.sync(() => watching--))
      const events = yield* PubSub.subscribe(outputLog.events)
      const latest = Option.map(yield* outputLog.latest(id), toOutputUpdate)
      const updates = Stream.fromQueue(events).pipe(
        Stream.filterMap((event): Option.Option<WatchItem> => {
          if (event.sessionId !== id) return Option.none()
          if (event._tag === "OutputChanged") return Option.some(toOutputUpdate(event))
          return event._tag === "AgentActivity" && event.event === "turn" && event.text !== undefined
            ? Option.some({ _tag: "TurnText", sessionId: id, text: event.text } as const)
            : Option.none()
        })
      )
      const alive = Stream.tick(WATCH_KEEPALIVE).pipe(Stream.drop(1), Stream.as({ _tag: "WatchAlive" } as const))
      return Stream.concat(
        Stream.fromIterable(Option.toArray(latest)),
        Stream.merge(updates, alive, { haltStrategy: "either" })
      )
    }))

  return FleetRpcs.of({
    ListSessions: () => cache.getSessionsForComputer(config.computer),
    CreateSession: (request) => Effect.flatMap(FleetCaller, (from) => create(request, from)),
    SendText: (request) =>
      inLane(request.sessionId)(
        operations.sendText(request.sessionId, request.text, request.enter, request.idempotencyKey)
      ),
    SendKeys: (request) =>
      inLane(request.sessionId)(operations.sendKeys(request.sessionId, request.keys, request.idempotencyKey)),
    Capture: (request) => inLane(request.sessionId)(sessions.capture(request.sessionId, request.lines)),
    CloseSession: (request) => inLane(request.sessionId)(sessions.close(request.sessionId, "user")),
    WatchOutput: (request) => watch(request.sessionId),
    WatchTerminal: (request) => watchTerminal(request.sessionId),
    TerminalSnapshot: (request) =>
      Effect.zipRight(
        own(request.sessionId),
        Effect.map(
          terminals.snapshot(request.sessionId),
          ({ seq, snapshot }) => ({ _tag: "TerminalSnapshot", seq, snapshot }) as const
        )
      ),
    TerminalInput: (request) => inLane(request.sessionId)(sessions.sendBytes(request.sessionId, request.bytes)),
    TerminalResize: (request) =>
      Effect.zipRight(own(request.sessionId), sessions.fitTerminal(request.sessionId, request.cols, request.rows)),
    Listen: (request) =>
      inLane(request.target)(
        Effect.gen(function*() {
          const target = yield* own(request.target)
          if (target.status === "closed") {
            return yield* new InvalidRequest({ message: `session ${request.target} is closed` })
          }
          const added = yield* listeners.add({
            target: request.target,
            listener: request.listener.sessionId,
            listenerComputer: request.listener.computer
          }).pipe(Effect.mapError((e) => new StorageFailure({ message: `listeners: ${String(e.cause)}` })))
          if (!added) {
            return yield* new InvalidRequest({
              message: `session ${request.target} already has the most listeners it may have`
            })
          }
        })
      ),
    // sanitised here too: the notice comes from another computer, whatever it ran
    Notify: (request) =>
      inLane(request.sessionId)(Effect.suspend(() => {
        const notice = sanitiseNotice(request.notice)
        return notice === "" ? Effect.void : sessions.sendText(request.sessionId, notice, true)
      })),
    WorktreeDiff: (request) =>
      Effect.zipRight(own(request.sessionId), worktreeOps.diff(request.sessionId, request.statOnly)),
    // not in the session's lane: a push may take minutes, and the session's input must not wait for it
    FinishWorktree: (request) =>
      Effect.zipRight(
        own(request.sessionId),
        worktreeOps.finish(request.sessionId, request.finish, request.idempotencyKey)
      ),
    ListWorktrees: () => worktreeOps.list,
    CleanupWorktrees: (request) => worktreeOps.cleanup(request),
    ListProjects: () => projects.list,
    ResumeAgent: (request) =>
      inLane(request.sessionId)(request.restart ? agents.restart(request.sessionId) : agents.resume(request.sessionId)),
    // not in the session's lane: a fork onto a third computer may take a while, the session's input must not wait
    ForkSession: ({ idempotencyKey, sessionId, ...fork }) =>
      Effect.zipRight(own(sessionId), operations.fork(sessionId, fork, idempotencyKey)),
    ForkAgent: ({ conversation, idempotencyKey, projectDir, ...options }) =>
      Effect.gen(function*() {
        const dir = yield* trustedProject(projectDir)
        return yield* operations.forkImported(conversation, { projectDir: dir, ...options }, idempotencyKey)
      })
  })
}))

/**
 * Serves the fleet's procedures to the other computers while the daemon runs: reads this
 * computer's inbox (positions saved before handling), answers on each caller's reply stream.
 */
export const layer: Layer.Layer<
  never,
  never,
  | FleetLink
  | Fleet
  | Sessions
  | Cache
  | OutputLog
  | TelemuxConfig
  | Listeners
  | Agents
  | Idempotency
  | FileSystem.FileSystem
  | Projects
  | Worktrees
> = Layer.scopedDiscard(Effect.gen(function*() {
  const link = yield* FleetLink
  const fleet = yield* Fleet
  const { disconnect, onRequests, protocol } = yield* makeServerProtocol
  yield* RpcServer.make(FleetRpcs, {
    concurrency: REQUEST_CONCURRENCY,
    disableFatalDefects: true,
    // spans only when exported (see FleetLive): then a served request continues its caller's trace
    disableTracing: !Tracing.isTracing(yield* TelemuxConfig)
  }).pipe(
    Effect.provideService(RpcServer.Protocol, protocol),
    Effect.forkScoped
  )
  yield* Effect.forkScoped(link.follow([{ stream: FleetKeys.inbox(link.me), savedAs: "fleet.inbox" }], onRequests))
  const departures = yield* fleet.departures
  yield* Effect.forkScoped(consume("fleet-departures", departures, disconnect))
})).pipe(Layer.provide([HandlersLive, CallerLive]))
