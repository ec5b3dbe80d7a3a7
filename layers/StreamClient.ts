/**
 * One `/v1/stream` client after authentication (the route is in StreamRoute.ts).
 *
 * Two fibers per client, neither per frame. The handler is the only producer: it takes what
 * arrived since it last ran — output events (noted by an OutputLog listener that keeps only the
 * client's sessions), session-list events and the client's requests — handles them in a row, and
 * puts frames on a bounded outbound queue. The writer moves frames to the socket and waits for the
 * socket to drain whenever it holds more than STREAM_SOCKET_HIGH_WATER bytes. No fiber ever waits
 * on another client's socket.
 *
 * A screen update goes out as the update's own frame, encoded once and shared by every client:
 * `output` (the whole screen), or — to a client that asked for `patches` and was last sent the
 * screen the update's patch starts from — `patch` (the lines that changed).
 *
 * Overflow policy (resync, never block): when the outbound queue is full, the client is
 * "lagging": its pending screen frames are dropped (other frames are kept) and their sessions
 * marked stale; a stale session's updates are skipped. Once the writer has written everything
 * queued before the lag, each stale session gets one `resync` with its latest snapshot (and the
 * `sessions` list is re-sent if list events had to be dropped). Snapshots never overflow the
 * queue themselves: those that find it full wait for the next round the same way, so a burst of
 * them (a subscription to hundreds of sessions) goes out a queueful at a time. A client whose
 * socket does not drain for STREAM_CLIENT_STALL_TIMEOUT is disconnected (its socket destroyed).
 */
import type { Socket } from "@effect/platform"
import { Data, Duration, Effect, Either, Exit, Option, PubSub, Queue, Scope } from "effect"
import type * as net from "node:net"
import type { Cache, CacheEvent } from "../services/Cache.js"
import { OUTPUT_EVENTS_CAPACITY, type OutputChanged, type OutputEvent, type OutputLog } from "../services/OutputLog.js"
import { SESSIONS_LIST_LIMIT_MAX } from "../services/Sessions.js"
import type { SnapshotAt, TerminalChunk, TerminalEvent, TerminalStreams } from "../services/TerminalStreams.js"
import {
  encodeSession,
  errorFrame,
  eventFrame,
  inputFailedFrame,
  type OutputFrames,
  PONG,
  removedFrame,
  resyncFrame,
  sessionsFrame,
  sizeFrame,
  terminalLostFrame,
  upsertedFrame
} from "../src/api/StreamFrames.js"
import {
  type ClientMessage,
  decodeClientMessage,
  STREAM_CLIENT_MESSAGE_MAX,
  STREAM_SUBSCRIPTIONS_MAX,
  TERMINAL_SUBSCRIPTIONS_MAX,
  type TerminalSubscription
} from "../src/api/StreamProtocol.js"
import { encodeChunkFrame } from "../src/api/TerminalFrames.js"
import type { ComputerName, SessionId } from "../src/domain/Session.js"
import {
  streamFramesSent,
  streamLagResyncs,
  streamOverflows,
  streamQueueDepth,
  streamSocketBuffered
} from "./StreamMetrics.js"

/** Frames waiting for one client's socket; past this the client lags (see the module doc). */
export const STREAM_CLIENT_QUEUE_MAX = 256
/** Bytes the writer leaves in a client's socket before it waits for the socket to drain. */
export const STREAM_SOCKET_HIGH_WATER = 1024 * 1024
export const STREAM_CLIENT_STALL_TIMEOUT = Duration.seconds(60)
/**
 * Bytes of terminal frames (chunks, snapshots) queued for one client; past this it lags: its queued
 * terminal frames are dropped and each terminal gets one fresh snapshot once it has caught up.
 */
export const STREAM_TERMINAL_QUEUE_BYTES = 1024 * 1024
/** Keystroke messages of one client waiting for tmux; one more is refused (inputFailed), never dropped silently. */
export const STREAM_INPUTS_WAITING_MAX = 64

export class StreamClientStalled extends Data.TaggedError("StreamClientStalled")<{ readonly message: string }> {}

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
  readonly terminals: TerminalStreams["Type"]
  /** This computer: its sessions' terminals end when they are removed, others' are followed on. */
  readonly computer: ComputerName
  /** Brings a session owned elsewhere into the output log while the scope is open; nothing for a local one. */
  readonly watchRemote: (sessionId: SessionId) => Effect.Effect<void, never, Scope.Scope>
}

type Outbound =
  /**
   * `screenOf`: the session whose screen the frame carries; `terminalOf`: whose terminal (a chunk or
   * a snapshot). Either is dropped on lag and its session resynced.
   */
  | {
    readonly _tag: "Frame"
    readonly text: string | Uint8Array
    readonly screenOf?: SessionId
    readonly terminalOf?: SessionId
  }
  /** Written past by the writer once everything queued before the lag is out. */
  | { readonly _tag: "Recover" }

/** No screen sent yet: any seq is new. */
const NONE = -1
const RECOVER: Outbound = { _tag: "Recover" }

/** Takes what `queue` holds (waiting for at least one), hands it to `into` and wakes the handler, forever. */
/** How a keystroke message starts as clients write it (a message that does not still works, via the handler). */
const INPUT_PREFIX = `{"type":"input"`

const forward = <A>(queue: Queue.Dequeue<A>, into: Array<A>, wake: Queue.Queue<void>) =>
  Queue.takeBetween(queue, 1, Number.MAX_SAFE_INTEGER).pipe(
    Effect.tap((chunk) => {
      for (const item of chunk) into.push(item)
      return Queue.offer(wake, undefined)
    }),
    Effect.forever
  )

/** Chunk frames, built once per chunk whatever the number of clients watching. */
const chunkFrames = new WeakMap<TerminalChunk, Uint8Array>()
const chunkFrame = (sessionId: SessionId, chunk: TerminalChunk) => {
  let frame = chunkFrames.get(chunk)
  if (frame === undefined) {
    frame = encodeChunkFrame(sessionId, chunk.seq, chunk.bytes)
    chunkFrames.set(chunk, frame)
  }
  return frame
}

const terminalFrame = (sessionId: SessionId, at: SnapshotAt) =>
  JSON.stringify({ type: "terminal", sessionId, seq: at.seq, snapshot: at.snapshot })

const utf8 = new TextEncoder()

/** A `binary` input's bytes: each character one byte; undefined when one is not. */
const bytesOf = (data: string): Uint8Array | undefined => {
  const bytes = new Uint8Array(data.length)
  for (let i = 0; i < data.length; i++) {
    const code = data.charCodeAt(i)
    if (code > 0xff) return undefined
    bytes[i] = code
  }
  return bytes
}

export const serveClient = (
  deps: Deps,
  inbox: Queue.Dequeue<string | Uint8Array>,
  write: (frame: string | Uint8Array) => Effect.Effect<void, Socket.SocketError>,
  /** `write`, synchronously, for the pass-through of terminal chunks (see passThrough). */
  writeNow: (frame: Uint8Array) => void,
  socket: net.Socket,
  frames: OutputFrames
) =>
  Effect.gen(function*() {
    const { cache, outputLog } = deps
    const cacheEvents = yield* PubSub.subscribe(cache.events)
    /** Wakes the handler: something arrived, or the writer reached a Recover. */
    const wake = yield* Queue.sliding<void>(1)
    /** Wakes the writer: something was queued. */
    const queued = yield* Queue.sliding<void>(1)
    const outbound: Array<Outbound> = []

    let sessions = false
    let patches = false
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
    /** Terminal subscriptions → the last seq queued (NONE before the snapshot) and the scope of the watch. */
    const terminal = new Map<SessionId, { last: number; readonly scope: Scope.CloseableScope }>()
    const staleTerminal = new Set<SessionId>()
    /** Bytes of terminal frames in `outbound`: past STREAM_TERMINAL_QUEUE_BYTES the client lags. */
    let terminalBytes = 0
    const unwatchTerminal = (id: SessionId) =>
      Effect.suspend(() => {
        const watched = terminal.get(id)
        terminal.delete(id)
        staleTerminal.delete(id)
        return watched === undefined ? Effect.void : Scope.close(watched.scope, Exit.void)
      })
    yield* Effect.addFinalizer(() => Effect.forEach(Array.from(terminal.keys()), unwatchTerminal, { discard: true }))
    let lagging = false
    const stale = new Set<SessionId>()
    let resendList = false
    let recoverDue = false

    // What arrived for the handler, oldest first. Output events of the client's sessions only; at
    // most OUTPUT_EVENTS_CAPACITY of them (the oldest go, as a subscriber of the PubSub loses them:
    // a gap in a session's seqs is filled from the ring).
    const outputEvents: Array<OutputEvent> = []
    const cacheInbox: Array<CacheEvent> = []
    const terminalEvents: Array<TerminalEvent> = []
    /** Keystroke messages, sent one after another by their own fiber. */
    const inputs = yield* Queue.bounded<Extract<ClientMessage, { type: "input" }>>(STREAM_INPUTS_WAITING_MAX)
    /** Bytes of the chunks in terminalEvents: bounded as the queue's are (tmux is read as fast as it writes). */
    let terminalEventBytes = 0
    const onTerminal = (event: TerminalEvent) => {
      if (staleTerminal.has(event.sessionId)) return
      if (event._tag === "Chunk" && passThrough(event.sessionId, event.chunk)) return
      terminalEvents.push(event)
      if (event._tag === "Chunk") terminalEventBytes += event.chunk.bytes.length
      // more than a queueful before the handler came round: the client's terminals are drawn
      // afresh once it has caught up, as for a full queue
      if (terminalEventBytes > STREAM_TERMINAL_QUEUE_BYTES && !lagging) startLagging()
      Queue.unsafeOffer(wake, undefined)
    }
    /**
     * The common case, a chunk that follows the last one sent while nothing waits before it, goes
     * to the socket at once, as tmux's output is read: no fiber between the pane and the client.
     */
    const passThrough = (sessionId: SessionId, chunk: TerminalChunk): boolean => {
      const watched = terminal.get(sessionId)
      if (
        watched === undefined || watched.last === NONE || chunk.seq !== watched.last + 1 || lagging ||
        outbound.length > 0 || terminalEvents.length > 0 || socket.writableLength > STREAM_SOCKET_HIGH_WATER
      ) {
        return false
      }
      watched.last = chunk.seq
      writeNow(chunkFrame(sessionId, chunk))
      streamFramesSent.unsafeUpdate(1, [])
      return true
    }
    const messages: Array<string | Uint8Array> = []
    yield* outputLog.listen((event) => {
      if (!output.has(event.sessionId)) return
      if (outputEvents.length >= OUTPUT_EVENTS_CAPACITY) outputEvents.shift()
      outputEvents.push(event)
      Queue.unsafeOffer(wake, undefined)
    })

    // Frames take at most all but the queue's last slot: that one is for the Recover that ends a lag.
    const push = (item: Outbound): boolean => {
      if (outbound.length >= STREAM_CLIENT_QUEUE_MAX - 1) return false
      if (item._tag === "Frame" && item.terminalOf !== undefined) {
        const size = item.text.length
        if (terminalBytes + size > STREAM_TERMINAL_QUEUE_BYTES && terminalBytes > 0) return false
        terminalBytes += size
      }
      outbound.push(item)
      Queue.unsafeOffer(queued, undefined)
      return true
    }

    const startLagging = () => {
      lagging = true
      streamOverflows.unsafeUpdate(1, [])
      const kept: Array<Outbound> = []
      for (const item of outbound) {
        if (item._tag !== "Frame") continue
        if (item.screenOf !== undefined) stale.add(item.screenOf)
        else if (item.terminalOf !== undefined) staleTerminal.add(item.terminalOf)
        else kept.push(item)
      }
      terminalBytes = 0
      // what waits to be queued goes too: the session's snapshot at the Recover replaces it
      for (const event of terminalEvents) staleTerminal.add(event.sessionId)
      terminalEvents.length = 0
      terminalEventBytes = 0
      if (kept.length >= STREAM_CLIENT_QUEUE_MAX - 1) {
        kept.length = 0
        resendList = true
      }
      kept.push(RECOVER)
      outbound.length = 0
      outbound.push(...kept)
      Queue.unsafeOffer(queued, undefined)
    }

    const sendScreen = (sessionId: SessionId, seq: number, text: string) => {
      if (push({ _tag: "Frame", text, screenOf: sessionId })) {
        output.set(sessionId, seq)
        return
      }
      if (!lagging) startLagging()
      stale.add(sessionId)
    }

    const sendOther = (text: string) => {
      if (push({ _tag: "Frame", text })) return
      if (!lagging) {
        startLagging()
        if (push({ _tag: "Frame", text })) return
      }
      resendList = true
    }

    /** The update as this client should get it, given the last seq it was sent for the session. */
    const frameOf = (update: OutputChanged, last: number) =>
      patches && update.patch !== undefined && update.patch.base === last ? frames.patch(update) : frames.output(update)

    /** Enters the lag without dropping anything: the session is resynced at the next Recover. */
    const defer = (sessionId: SessionId) => {
      stale.add(sessionId)
      if (lagging) return
      lagging = true
      outbound.push(RECOVER)
      Queue.unsafeOffer(queued, undefined)
    }

    /**
     * Sends the session's latest screen as a `resync`; when the queue is full (but for the slot a
     * Recover needs) it is deferred to the next Recover instead: a burst of snapshots (a subscription
     * to hundreds of sessions, the end of a long lag) goes out a queueful at a time, never dropped.
     */
    const resync = (sessionId: SessionId): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        if (outbound.length >= STREAM_CLIENT_QUEUE_MAX - 1) {
          defer(sessionId)
          return Effect.succeed(false)
        }
        return Effect.map(outputLog.latest(sessionId), (snapshot) => {
          sendScreen(
            sessionId,
            Option.match(snapshot, { onNone: () => NONE, onSome: (u) => u.seq }),
            resyncFrame(sessionId, snapshot)
          )
          return true
        })
      })

    /** What the client missed after `since`, update by update; a resync when that is gone (or does not fit the queue). */
    const catchUp = (sessionId: SessionId, since: number) =>
      Effect.map(outputLog.since(sessionId, since), (result) => {
        const room = STREAM_CLIENT_QUEUE_MAX - 1 - outbound.length
        if (result._tag === "Resync" || result.updates.length > room) {
          if (room < 1 || result._tag === "Missed") return defer(sessionId)
          return sendScreen(
            sessionId,
            Option.match(result.snapshot, { onNone: () => NONE, onSome: (u) => u.seq }),
            resyncFrame(sessionId, result.snapshot)
          )
        }
        let last = since
        for (const update of result.updates) {
          sendScreen(sessionId, update.seq, frameOf(update, last))
          last = update.seq
        }
      })

    /** A terminal frame, or (no room) the session's terminal marked for a snapshot at the next Recover. */
    const sendTerminal = (sessionId: SessionId, seq: number, text: string | Uint8Array) => {
      const watched = terminal.get(sessionId)
      if (watched === undefined) return
      if (push({ _tag: "Frame", text, terminalOf: sessionId })) {
        watched.last = seq
        return
      }
      if (!lagging) startLagging()
      staleTerminal.add(sessionId)
    }

    /** The terminal's snapshot now; deferred to the next Recover when the queue is full. */
    const resyncTerminal = (sessionId: SessionId): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        if (outbound.length >= STREAM_CLIENT_QUEUE_MAX - 1) {
          staleTerminal.add(sessionId)
          if (!lagging) {
            lagging = true
            outbound.push(RECOVER)
            Queue.unsafeOffer(queued, undefined)
          }
          return Effect.succeed(false)
        }
        return deps.terminals.snapshot(sessionId).pipe(
          Effect.map((at) => {
            staleTerminal.delete(sessionId)
            sendTerminal(sessionId, at.seq, terminalFrame(sessionId, at))
            return true
          }),
          Effect.catchAll((error) =>
            Effect.sync(() => {
              sendOther(errorFrame(`terminal of session ${sessionId}: ${error.message}`))
              return false
            })
          )
        )
      })

    /** From `since` out of the ring when it still holds everything after it, else a snapshot. */
    const startTerminal = (sessionId: SessionId, since: number | undefined) =>
      Effect.gen(function*() {
        if (since !== undefined) {
          const missed = yield* deps.terminals.since(sessionId, since)
          if (Option.isSome(missed)) {
            const watched = terminal.get(sessionId)
            if (watched !== undefined) watched.last = since
            for (const chunk of missed.value) sendTerminal(sessionId, chunk.seq, chunkFrame(sessionId, chunk))
            return
          }
        }
        yield* resyncTerminal(sessionId)
      })

    const onTerminalEvent = (event: TerminalEvent): Effect.Effect<void> | undefined => {
      const watched = terminal.get(event.sessionId)
      if (watched === undefined || staleTerminal.has(event.sessionId)) return
      if (event._tag === "Redraw") {
        const sent = watched.last
        sendTerminal(event.sessionId, event.seq, terminalFrame(event.sessionId, event))
        // A redraw comes once its snapshot is taken, after the chunks the pane wrote meanwhile: those
        // already sent are drawn over by it, so they go again after it (from the ring, else a snapshot now).
        if (sent === NONE || sent <= event.seq || staleTerminal.has(event.sessionId)) return
        return Effect.flatMap(deps.terminals.since(event.sessionId, event.seq), (missed) => {
          if (Option.isNone(missed)) return Effect.asVoid(resyncTerminal(event.sessionId))
          for (const chunk of missed.value) {
            if (staleTerminal.has(event.sessionId)) break
            sendTerminal(event.sessionId, chunk.seq, chunkFrame(event.sessionId, chunk))
          }
          return Effect.void
        })
      }
      if (event._tag === "Lost") {
        return void sendOther(terminalLostFrame(event.sessionId, event.error, event.message))
      }
      const { chunk } = event
      // before its snapshot (or already sent), nothing to do
      if (watched.last === NONE || chunk.seq <= watched.last) return
      // a gap (not expected: chunks are never dropped without marking the terminal stale) is redrawn
      if (chunk.seq !== watched.last + 1) return Effect.asVoid(resyncTerminal(event.sessionId))
      sendTerminal(event.sessionId, chunk.seq, chunkFrame(event.sessionId, chunk))
    }

    const subscribeTerminals = (wanted: ReadonlyArray<TerminalSubscription>) =>
      Effect.gen(function*() {
        const added = new Set(wanted.map((s) => s.sessionId).filter((id) => !terminal.has(id)))
        if (terminal.size + added.size > TERMINAL_SUBSCRIPTIONS_MAX) {
          return sendOther(errorFrame(
            `at most ${TERMINAL_SUBSCRIPTIONS_MAX} terminal subscriptions per client (${terminal.size} held, ${added.size} new); no terminal was subscribed`
          ))
        }
        for (const { sessionId, since } of wanted) {
          if (!terminal.has(sessionId)) {
            const scope = yield* Scope.make()
            const watching = yield* Effect.either(Scope.extend(deps.terminals.watch(sessionId, onTerminal), scope))
            if (Either.isLeft(watching)) {
              yield* Scope.close(scope, Exit.void)
              sendOther(errorFrame(`terminal of session ${sessionId}: ${watching.left.message}`))
              continue
            }
            terminal.set(sessionId, { last: NONE, scope })
          }
          staleTerminal.delete(sessionId)
          yield* startTerminal(sessionId, since)
        }
      })

    const input = (message: Extract<ClientMessage, { type: "input" }>) =>
      Effect.gen(function*() {
        const bytes = message.binary === true ? bytesOf(message.data) : utf8.encode(message.data)
        const failed = (error: string, text: string) => sendOther(inputFailedFrame(message.sessionId, error, text))
        if (bytes === undefined) {
          return failed(
            "InvalidRequest",
            "a binary input holds byte values only (characters below 256); nothing was sent"
          )
        }
        const sent = yield* Effect.either(deps.terminals.sendBytes(message.sessionId, bytes))
        if (Either.isLeft(sent)) failed(sent.left._tag, sent.left.message)
      })

    const resize = (message: Extract<ClientMessage, { type: "resize" }>) =>
      Effect.gen(function*() {
        const fit = yield* Effect.either(deps.terminals.resize(message.sessionId, message.cols, message.rows))
        if (Either.isLeft(fit)) {
          return sendOther(errorFrame(`resize of session ${message.sessionId}: ${fit.left.message}`))
        }
        sendOther(sizeFrame(message.sessionId, fit.right.width, fit.right.height, fit.right.applied))
      })

    const sendList = Effect.map(cache.getSessionsJson({ limit: SESSIONS_LIST_LIMIT_MAX }), (json) =>
      sendOther(sessionsFrame(json)))

    /** Handled at once when it can be (the common case); an effect to run when it needs the log. */
    const onScreen = (update: OutputChanged, last: number): Effect.Effect<void> | undefined => {
      // a stale session's next frame is its resync
      if (update.seq <= last || stale.has(update.sessionId)) {
        return
      }
      // Missed events (the listener keeps a bounded backlog) or a mirrored gap: fill it from the ring.
      const follows = last === NONE || update.seq === last + 1 || update.patch?.base === last
      if (!follows) {
        return Effect.flatMap(catchUp(update.sessionId, last), () =>
          Effect.sync(() => {
            const now = output.get(update.sessionId) ?? NONE
            if (update.seq > now && !stale.has(update.sessionId)) {
              sendScreen(update.sessionId, update.seq, frameOf(update, now))
            }
          }))
      }
      sendScreen(update.sessionId, update.seq, frameOf(update, last))
    }

    const onOutputEvent = (event: OutputEvent): Effect.Effect<void> | undefined => {
      const last = output.get(event.sessionId)
      if (last === undefined) {
        return
      }
      if (event._tag === "OutputChanged") {
        return onScreen(event, last)
      }
      sendOther(eventFrame(event))
    }

    const onCacheEvent = (event: CacheEvent): Effect.Effect<void> | undefined => {
      switch (event._tag) {
        case "SessionUpserted":
          if (!sessions) {
            return
          }
          return Effect.map(cache.getSessionJson(event.session.sessionId), (json) =>
            sendOther(upsertedFrame(Option.getOrElse(json, () =>
              JSON.stringify(encodeSession(event.session))))))
        case "SessionRemoved":
          output.delete(event.sessionId)
          stale.delete(event.sessionId)
          if (sessions) {
            sendOther(removedFrame(event.sessionId, event.computer))
          }
          if (!terminal.has(event.sessionId)) {
            return unwatch(event.sessionId)
          }
          // A session of another computer goes from the cache when that computer leaves the fleet:
          // its terminal stays watched (told Lost, drawn again when it is back). One of this
          // computer's was closed: its terminal ends, and the client is told.
          if (event.computer !== deps.computer) {
            return unwatch(event.sessionId)
          }
          sendOther(terminalLostFrame(event.sessionId, "SessionClosed", `session ${event.sessionId} was closed`))
          return Effect.zipRight(unwatch(event.sessionId), unwatchTerminal(event.sessionId))
        default:
          return
      }
    }

    const subscribe = (request: Extract<ClientMessage, { type: "subscribe" }>) =>
      Effect.gen(function*() {
        const wanted = request.output ?? []
        const added = new Set(
          wanted.map((s) =>
            s.sessionId
          ).filter((id) => !output.has(id))
        )
        if (output.size + added.size > STREAM_SUBSCRIPTIONS_MAX) {
          return sendOther(errorFrame(
            `at most ${STREAM_SUBSCRIPTIONS_MAX} output subscriptions per client (${output.size} held, ${added.size} new); nothing was subscribed`
          ))
        }
        if (request.patches === true) patches = true
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
          if (stale.has(sessionId)) continue
          if (since === undefined) yield* resync(sessionId)
          else yield* catchUp(sessionId, since)
        }
        if (request.terminal !== undefined) yield* subscribeTerminals(request.terminal)
      })

    const unsubscribe = (request: Extract<ClientMessage, { type: "unsubscribe" }>) =>
      Effect.suspend(() => {
        if (request.sessions === true) sessions = false
        for (const id of request.output ?? []) {
          output.delete(id)
          stale.delete(id)
        }
        return Effect.zipRight(
          Effect.forEach(request.output ?? [], unwatch, { discard: true }),
          Effect.forEach(request.terminal ?? [], unwatchTerminal, { discard: true })
        )
      })

    /**
     * Keystrokes go on a fiber of their own, in order: the handler goes on routing output meanwhile
     * (the keystroke's echo can arrive before tmux has answered the keystroke's command).
     */
    const offerInput = (message: Extract<ClientMessage, { type: "input" }>) => {
      if (Queue.unsafeOffer(inputs, message)) return
      sendOther(inputFailedFrame(
        message.sessionId,
        "TerminalUnavailable",
        `${STREAM_INPUTS_WAITING_MAX} keystroke messages already wait for tmux; this one was not sent`
      ))
    }

    /**
     * Takes the client's messages off the inbox for the handler, but hands keystrokes to the typist
     * at once: a key waits for no other message's handling.
     */
    const takeMessages = Queue.takeBetween(inbox, 1, Number.MAX_SAFE_INTEGER).pipe(
      Effect.tap((chunk) => {
        let forHandler = false
        for (const item of chunk) {
          if (typeof item === "string" && item.startsWith(INPUT_PREFIX) && item.length <= STREAM_CLIENT_MESSAGE_MAX) {
            const decoded = decodeClientMessage(item)
            if (Either.isRight(decoded) && decoded.right.type === "input") {
              offerInput(decoded.right)
              continue
            }
          }
          messages.push(item)
          forHandler = true
        }
        return forHandler ? Queue.offer(wake, undefined) : Effect.void
      }),
      Effect.forever
    )

    const onMessage = (data: string | Uint8Array): Effect.Effect<void> | undefined => {
      if (typeof data !== "string") return void sendOther(errorFrame("binary frames are not accepted; send JSON text"))
      if (data.length > STREAM_CLIENT_MESSAGE_MAX) {
        return void sendOther(errorFrame(`message longer than ${STREAM_CLIENT_MESSAGE_MAX} characters; ignored`))
      }
      const decoded = decodeClientMessage(data)
      if (Either.isLeft(decoded)) return void sendOther(errorFrame(`invalid message, ignored: ${decoded.left}`))
      const message = decoded.right
      switch (message.type) {
        case "ping":
          return void sendOther(PONG)
        case "auth":
          return void sendOther(errorFrame("already authenticated"))
        case "subscribe":
          return subscribe(message)
        case "unsubscribe":
          return unsubscribe(message)
        case "input":
          return void offerInput(message)
        case "resize":
          return resize(message)
      }
    }

    /** The lag's end: every stale session is resynced (those the queue has no room for at the next Recover). */
    const recover = Effect.gen(function*() {
      lagging = false
      if (resendList) {
        resendList = false
        if (sessions) yield* sendList
      }
      const waiting = [...stale]
      stale.clear()
      let resynced = 0
      for (const id of waiting) {
        if (output.has(id) && (yield* resync(id))) resynced++
      }
      for (const id of [...staleTerminal]) {
        staleTerminal.delete(id)
        if (terminal.has(id) && (yield* resyncTerminal(id))) resynced++
      }
      streamLagResyncs.unsafeUpdate(resynced, [])
    })

    /** Handles everything that arrived, in arrival order per source, until nothing is left. */
    const turn = Effect.gen(function*() {
      while (
        messages.length > 0 || cacheInbox.length > 0 || outputEvents.length > 0 || terminalEvents.length > 0 ||
        recoverDue
      ) {
        for (const message of messages.splice(0)) {
          const effect = onMessage(message)
          if (effect !== undefined) yield* effect
        }
        for (const event of cacheInbox.splice(0)) {
          const effect = onCacheEvent(event)
          if (effect !== undefined) yield* effect
        }
        for (const event of outputEvents.splice(0)) {
          const effect = onOutputEvent(event)
          if (effect !== undefined) yield* effect
        }
        terminalEventBytes = 0
        for (const event of terminalEvents.splice(0)) {
          const effect = onTerminalEvent(event)
          if (effect !== undefined) yield* effect
        }
        if (recoverDue) {
          recoverDue = false
          yield* recover
        }
      }
      streamQueueDepth.unsafeUpdate(outbound.length, [])
    })

    const handler = Effect.forever(Effect.zipRight(Queue.take(wake), turn))

    /** Writes what is queued while the socket takes it, corked: the frames of one turn leave in one write. */
    const writeQueued = Effect.gen(function*() {
      let sent = 0
      while (outbound.length > 0 && socket.writableLength <= STREAM_SOCKET_HIGH_WATER) {
        const item = outbound.shift()!
        if (item._tag === "Recover") {
          recoverDue = true
          yield* Queue.offer(wake, undefined)
          continue
        }
        if (item.terminalOf !== undefined) terminalBytes -= item.text.length
        yield* write(item.text)
        sent++
      }
      if (sent > 0) streamFramesSent.unsafeUpdate(sent, [])
    })

    const writer = Effect.forever(Effect.gen(function*() {
      if (outbound.length === 0) yield* Queue.take(queued)
      socket.cork()
      yield* Effect.ensuring(writeQueued, Effect.sync(() => socket.uncork()))
      streamSocketBuffered.unsafeUpdate(socket.writableLength, [])
      if (socket.writableLength > STREAM_SOCKET_HIGH_WATER) {
        yield* awaitDrain(socket).pipe(Effect.timeoutFail({
          duration: STREAM_CLIENT_STALL_TIMEOUT,
          onTimeout: () => new StreamClientStalled({ message: "the client read nothing for too long" })
        }))
      }
    }))

    const typist = Effect.forever(Effect.flatMap(Queue.take(inputs), input))

    // Ends only by failing (a write failed, or the client stalled): the first failure stops the rest.
    return yield* Effect.all([
      typist,
      handler,
      writer,
      takeMessages,
      forward(cacheEvents, cacheInbox, wake)
    ], { concurrency: "unbounded", discard: true })
  })
