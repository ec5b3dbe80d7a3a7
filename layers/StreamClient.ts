/**
 * One `/v1/stream` client after authentication (the route is in StreamRoute.ts).
 *
 * One fan-out fiber, the only producer, reads the client's own subscriptions to OutputLog.events
 * and Cache.events and its requests, filters them by what the client subscribed to, and offers
 * frames to a bounded outbound queue; one writer fiber moves frames to the socket and waits for
 * the socket to drain whenever it holds more than STREAM_SOCKET_HIGH_WATER bytes. No fiber ever
 * waits on another client's socket.
 *
 * Overflow policy (resync, never block): when the outbound queue is full, the client is
 * "lagging": its pending screen frames are dropped (other frames are kept), and while it lags
 * screen updates only mark their session stale. Once the writer has written everything queued
 * before the lag, each stale session gets one `resync` with its latest snapshot (and the
 * `sessions` list is re-sent if list events had to be dropped). A client whose socket does not
 * drain for STREAM_CLIENT_STALL_TIMEOUT is disconnected (its socket destroyed).
 */
import type { Socket } from "@effect/platform"
import {
  Data,
  Duration,
  Effect,
  Either,
  Exit,
  Metric,
  MetricBoundaries,
  Option,
  PubSub,
  Queue,
  Schema,
  Scope,
  Stream
} from "effect"
import type * as net from "node:net"
import type { Cache, CacheEvent } from "../services/Cache.js"
import type { OutputChanged, OutputEvent, OutputLog } from "../services/OutputLog.js"
import { SESSIONS_LIST_LIMIT_MAX } from "../services/Sessions.js"
import {
  type ClientMessage,
  AgentMessage,
  CommandMessage,
  decodeClientMessage,
  DirectoryMessage,
  ErrorMessage,
  ExitedMessage,
  OutputMessage,
  ResyncMessage,
  SessionRemovedMessage,
  STREAM_CLIENT_MESSAGE_MAX,
  STREAM_SUBSCRIPTIONS_MAX
} from "../src/api/StreamProtocol.js"
import { Session, type SessionId } from "../src/domain/Session.js"

/** Frames waiting for one client's socket; past this the client lags (see the module doc). */
export const STREAM_CLIENT_QUEUE_MAX = 256
/** Bytes the writer leaves in a client's socket before it waits for the socket to drain. */
export const STREAM_SOCKET_HIGH_WATER = 1024 * 1024
export const STREAM_CLIENT_STALL_TIMEOUT = Duration.seconds(60)

export const streamOverflows = Metric.counter("telemux_stream_overflows_total", {
  description: "times a stream client's outbound queue was full",
  incremental: true
})
export const streamLagResyncs = Metric.counter("telemux_stream_lag_resyncs_total", {
  description: "resyncs sent to stream clients after they lagged",
  incremental: true
})
export const streamQueueDepth = Metric.histogram(
  "telemux_stream_queue_depth",
  MetricBoundaries.linear({ start: 0, width: 32, count: 10 }),
  "frames in a client's outbound queue after each offer"
)
export const streamSocketBuffered = Metric.histogram(
  "telemux_stream_socket_buffered_bytes",
  MetricBoundaries.exponential({ start: 1024, factor: 4, count: 8 }),
  "bytes buffered in a client's socket after each write"
)

export class StreamClientStalled extends Data.TaggedError("StreamClientStalled")<{ readonly message: string }> {}

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

export const READY = JSON.stringify({ type: "ready" })
const PONG = JSON.stringify({ type: "pong" })
const encodeOutput = Schema.encodeSync(OutputMessage)
const encodeResync = Schema.encodeSync(ResyncMessage)
const encodeSession = Schema.encodeSync(Session)
const encodeError = Schema.encodeSync(ErrorMessage)

const errorFrame = (message: string) => JSON.stringify(encodeError({ type: "error", message }))
const sessionsFrame = (json: string) => `{"type":"sessions","sessions":${json}}`
const upsertedFrame = (json: string) => `{"type":"session","event":"upserted","session":${json}}`

const resyncFrame = (sessionId: SessionId, snapshot: Option.Option<OutputChanged>) =>
  JSON.stringify(encodeResync(Option.match(snapshot, {
    onNone: () => ({ type: "resync" as const, sessionId }),
    onSome: (u) => ({ type: "resync" as const, sessionId, seq: u.seq, screen: u.screen, changedAt: u.changedAt })
  })))

const eventFrame = (event: Exclude<OutputEvent, OutputChanged>): string => {
  switch (event._tag) {
    case "ProcessExited":
      return JSON.stringify(Schema.encodeSync(ExitedMessage)({ type: "exited", sessionId: event.sessionId }))
    case "DirectoryChanged":
      return JSON.stringify(
        Schema.encodeSync(DirectoryMessage)({ type: "directory", sessionId: event.sessionId, path: event.path })
      )
    case "CommandChanged":
      return JSON.stringify(
        Schema.encodeSync(CommandMessage)({ type: "command", sessionId: event.sessionId, command: event.command })
      )
    case "AgentActivity":
      return JSON.stringify(Schema.encodeSync(AgentMessage)({
        type: "agent",
        sessionId: event.sessionId,
        event: event.event,
        ok: event.ok,
        detail: event.detail
      }))
  }
}

/** Every client sends the same frame for an update: encoded once, for as long as the update lives. */
export const makeOutputFrames = () => {
  const frames = new WeakMap<OutputChanged, string>()
  return (update: OutputChanged): string => {
    let frame = frames.get(update)
    if (frame === undefined) {
      const { sessionId, seq, screen, changedAt } = update
      frame = JSON.stringify(encodeOutput({ type: "output", sessionId, seq, screen, changedAt }))
      frames.set(update, frame)
    }
    return frame
  }
}

const awaitDrain = (socket: net.Socket) =>
  Effect.async<void>((resume) => {
    if (socket.writableLength <= STREAM_SOCKET_HIGH_WATER || socket.destroyed) {
      resume(Effect.void)
      return
    }
    const done = () => {
      socket.off("drain", done)
      socket.off("close", done)
      resume(Effect.void)
    }
    socket.on("drain", done)
    socket.on("close", done)
    return Effect.sync(() => {
      socket.off("drain", done)
      socket.off("close", done)
    })
  })

// ---------------------------------------------------------------------------
// One client
// ---------------------------------------------------------------------------

export interface Deps {
  readonly outputLog: OutputLog["Type"]
  readonly cache: Cache["Type"]
  /** Brings a session owned elsewhere into the output log while the scope is open; nothing for a local one. */
  readonly watchRemote: (sessionId: SessionId) => Effect.Effect<void, never, Scope.Scope>
}

type Outbound =
  /** `screenOf`: the session whose screen the frame carries (dropped and resynced on lag). */
  | { readonly _tag: "Frame"; readonly text: string; readonly screenOf?: SessionId }
  /** Written past by the writer once everything queued before the lag is out. */
  | { readonly _tag: "Recover" }

type Input =
  | { readonly _tag: "Output"; readonly event: OutputEvent }
  | { readonly _tag: "Cache"; readonly event: CacheEvent }
  | { readonly _tag: "Message"; readonly data: string | Uint8Array }
  | { readonly _tag: "Drained" }

/** No screen sent yet: any seq is new. */
const NONE = -1
const RECOVER: Outbound = { _tag: "Recover" }

export const serveClient = (
  deps: Deps,
  inbox: Queue.Dequeue<string | Uint8Array>,
  write: (frame: string) => Effect.Effect<void, Socket.SocketError>,
  socket: net.Socket,
  outputFrame: (update: OutputChanged) => string
) =>
  Effect.gen(function*() {
    const { cache, outputLog } = deps
    const outputEvents = yield* PubSub.subscribe(outputLog.events)
    const cacheEvents = yield* PubSub.subscribe(cache.events)
    const outbound = yield* Queue.dropping<Outbound>(STREAM_CLIENT_QUEUE_MAX)
    const drained = yield* Queue.sliding<void>(1)

    let sessions = false
    /** Subscribed sessions → the last seq queued for the client (NONE before the first). */
    const output = new Map<SessionId, number>()
    /** Subscribed sessions → the scope holding their remote watch; as bounded as `output`. */
    const remote = new Map<SessionId, Scope.CloseableScope>()
    const unwatch = (id: SessionId) =>
      Effect.suspend(() => {
        const scope = remote.get(id)
        remote.delete(id)
        return scope === undefined ? Effect.void : Scope.close(scope, Exit.void)
      })
    yield* Effect.addFinalizer(() => Effect.forEach(Array.from(remote.keys()), unwatch, { discard: true }))
    let lagging = false
    const stale = new Set<SessionId>()
    let resendList = false

    const push = (item: Outbound) =>
      Effect.tap(Queue.offer(outbound, item), () => Effect.flatMap(Queue.size(outbound), (n) => Metric.update(streamQueueDepth, n)))

    const startLagging = Effect.gen(function*() {
      lagging = true
      yield* Metric.increment(streamOverflows)
      const kept: Array<Outbound> = []
      for (const item of yield* Queue.takeAll(outbound)) {
        if (item._tag !== "Frame") continue
        if (item.screenOf === undefined) kept.push(item)
        else stale.add(item.screenOf)
      }
      if (kept.length >= STREAM_CLIENT_QUEUE_MAX) {
        kept.length = 0
        resendList = true
      }
      yield* Queue.offerAll(outbound, [...kept, RECOVER])
    })

    const sendScreen = (sessionId: SessionId, seq: number, text: string) =>
      Effect.gen(function*() {
        if (!lagging && (yield* push({ _tag: "Frame", text, screenOf: sessionId }))) {
          output.set(sessionId, seq)
          return
        }
        if (!lagging) yield* startLagging
        stale.add(sessionId)
      })

    const sendOther = (text: string) =>
      Effect.gen(function*() {
        if (yield* push({ _tag: "Frame", text })) return
        if (!lagging) {
          yield* startLagging
          if (yield* push({ _tag: "Frame", text })) return
        }
        resendList = true
      })

    const resync = (sessionId: SessionId) =>
      Effect.flatMap(outputLog.latest(sessionId), (snapshot) =>
        sendScreen(sessionId, Option.match(snapshot, { onNone: () => NONE, onSome: (u) => u.seq }), resyncFrame(sessionId, snapshot)))

    const catchUp = (sessionId: SessionId, since: number) =>
      Effect.flatMap(outputLog.since(sessionId, since), (result) =>
        result._tag === "Missed"
          ? Effect.forEach(result.updates, (u) => sendScreen(sessionId, u.seq, outputFrame(u)), { discard: true })
          : sendScreen(
            sessionId,
            Option.match(result.snapshot, { onNone: () => NONE, onSome: (u) => u.seq }),
            resyncFrame(sessionId, result.snapshot)
          ))

    const sendList = Effect.flatMap(cache.getSessionsJson({ limit: SESSIONS_LIST_LIMIT_MAX }), (json) => sendOther(sessionsFrame(json)))

    const onScreen = (update: OutputChanged, last: number) =>
      Effect.gen(function*() {
        if (update.seq <= last) return
        if (lagging) return void stale.add(update.sessionId)
        // The PubSub slides when this client's subscription falls far behind: fill the gap from the ring.
        if (last !== NONE && update.seq > last + 1) {
          yield* catchUp(update.sessionId, last)
          if (update.seq <= (output.get(update.sessionId) ?? NONE) || lagging) return
        }
        yield* sendScreen(update.sessionId, update.seq, outputFrame(update))
      })

    const onOutputEvent = (event: OutputEvent) => {
      const last = output.get(event.sessionId)
      if (last === undefined) return Effect.void
      return event._tag === "OutputChanged" ? onScreen(event, last) : sendOther(eventFrame(event))
    }

    const onCacheEvent = (event: CacheEvent) => {
      switch (event._tag) {
        case "SessionUpserted":
          if (!sessions) return Effect.void
          return Effect.flatMap(cache.getSessionJson(event.session.sessionId), (json) =>
            sendOther(upsertedFrame(Option.getOrElse(json, () => JSON.stringify(encodeSession(event.session))))))
        case "SessionRemoved":
          output.delete(event.sessionId)
          stale.delete(event.sessionId)
          if (!sessions) return unwatch(event.sessionId)
          return Effect.zipRight(unwatch(event.sessionId), sendOther(JSON.stringify(Schema.encodeSync(SessionRemovedMessage)({
            type: "session",
            event: "removed",
            sessionId: event.sessionId,
            computer: event.computer
          }))))
        default:
          return Effect.void
      }
    }

    const subscribe = (request: Extract<ClientMessage, { type: "subscribe" }>) =>
      Effect.gen(function*() {
        const wanted = request.output ?? []
        const added = new Set(wanted.map((s) => s.sessionId).filter((id) => !output.has(id)))
        if (output.size + added.size > STREAM_SUBSCRIPTIONS_MAX) {
          return yield* sendOther(errorFrame(
            `at most ${STREAM_SUBSCRIPTIONS_MAX} output subscriptions per client (${output.size} held, ${added.size} new); nothing was subscribed`
          ))
        }
        if (request.sessions === true) {
          sessions = true
          yield* sendList
        }
        for (const { sessionId, since } of wanted) {
          if (!remote.has(sessionId)) {
            const scope = yield* Scope.make()
            remote.set(sessionId, scope)
            yield* Scope.extend(deps.watchRemote(sessionId), scope)
          }
          output.set(sessionId, since ?? NONE)
          if (lagging) stale.add(sessionId)
          else if (since === undefined) yield* resync(sessionId)
          else yield* catchUp(sessionId, since)
        }
      })

    const unsubscribe = (request: Extract<ClientMessage, { type: "unsubscribe" }>) =>
      Effect.suspend(() => {
        if (request.sessions === true) sessions = false
        for (const id of request.output ?? []) {
          output.delete(id)
          stale.delete(id)
        }
        return Effect.forEach(request.output ?? [], unwatch, { discard: true })
      })

    const onMessage = (data: string | Uint8Array) => {
      if (typeof data !== "string") return sendOther(errorFrame("binary frames are not accepted; send JSON text"))
      if (data.length > STREAM_CLIENT_MESSAGE_MAX) {
        return sendOther(errorFrame(`message longer than ${STREAM_CLIENT_MESSAGE_MAX} characters; ignored`))
      }
      const decoded = decodeClientMessage(data)
      if (Either.isLeft(decoded)) return sendOther(errorFrame(`invalid message, ignored: ${decoded.left}`))
      const message = decoded.right
      switch (message.type) {
        case "ping":
          return sendOther(PONG)
        case "auth":
          return sendOther(errorFrame("already authenticated"))
        case "subscribe":
          return subscribe(message)
        case "unsubscribe":
          return unsubscribe(message)
      }
    }

    const recover = Effect.gen(function*() {
      lagging = false
      const sessionsToResync = [...stale]
      stale.clear()
      if (resendList) {
        resendList = false
        if (sessions) yield* sendList
      }
      for (const id of sessionsToResync) {
        if (!output.has(id)) continue
        if (lagging) stale.add(id)
        else yield* resync(id)
      }
      yield* Metric.incrementBy(streamLagResyncs, sessionsToResync.length)
    })

    const handle = (input: Input): Effect.Effect<void> => {
      switch (input._tag) {
        case "Output":
          return onOutputEvent(input.event)
        case "Cache":
          return onCacheEvent(input.event)
        case "Message":
          return onMessage(input.data)
        case "Drained":
          return recover
      }
    }

    const fanOut = Stream.mergeAll([
      Stream.map(Stream.fromQueue(outputEvents), (event): Input => ({ _tag: "Output", event })),
      Stream.map(Stream.fromQueue(cacheEvents), (event): Input => ({ _tag: "Cache", event })),
      Stream.map(Stream.fromQueue(inbox), (data): Input => ({ _tag: "Message", data })),
      Stream.map(Stream.fromQueue(drained), (): Input => ({ _tag: "Drained" }))
    ], { concurrency: "unbounded" }).pipe(Stream.runForEach(handle))

    const writer = Effect.forever(Effect.gen(function*() {
      const item = yield* Queue.take(outbound)
      if (item._tag === "Recover") return yield* Queue.offer(drained, undefined)
      yield* write(item.text)
      yield* Metric.update(streamSocketBuffered, socket.writableLength)
      if (socket.writableLength > STREAM_SOCKET_HIGH_WATER) {
        yield* awaitDrain(socket).pipe(Effect.timeoutFail({
          duration: STREAM_CLIENT_STALL_TIMEOUT,
          onTimeout: () => new StreamClientStalled({ message: "the client read nothing for too long" })
        }))
      }
    }))

    return yield* Effect.raceFirst(fanOut, writer)
  })
