/**
 * The terminal stream of watched sessions (services/TerminalStreams.ts): one output listener on the
 * events client for every pane, which ignores the panes nobody watches; per watched session a
 * byte-bounded ring of its latest chunks. A snapshot is taken on the events client, at an exact
 * point of the output order (TerminalBridge.snapshot's `at`), so the snapshot and the chunks after
 * its seq meet without a gap or an overlap.
 */
import { Clock, Duration, Effect, Layer, Option, Queue, Schedule } from "effect"
import { type OperationError, Sessions } from "../services/Sessions.js"
import {
  type SnapshotAt,
  TERMINAL_HISTORY_LINES,
  TERMINAL_LINGER,
  TERMINAL_RING_BYTES,
  type TerminalChunk,
  type TerminalListener,
  TerminalStreams
} from "../services/TerminalStreams.js"
import { TmuxControl } from "../services/TmuxControl.js"
import { SessionClosed, TerminalUnavailable } from "../src/domain/Errors.js"
import type { PaneId, SessionId } from "../src/domain/Session.js"

/** Most sessions whose terminal is fed at once (watched or lingering); a new one past it is refused. */
export const TERMINAL_FEEDS_MAX = 1024
const SWEEP_EVERY = Duration.seconds(5)

interface Feed {
  readonly sessionId: SessionId
  readonly pane: PaneId
  readonly windowId: string
  /** The last chunk's seq (the next is seq + 1). */
  seq: number
  readonly ring: Array<TerminalChunk>
  ringBytes: number
  readonly listeners: Set<TerminalListener>
  /** Clock time the last listener left; undefined while watched. */
  idleSince: number | undefined
  /**
   * A snapshot went out while the alternate screen was on. Its normal screen is tmux's saved grid
   * as `capture-pane -a` gives it: cut to the pane's width, at the size it had when the alternate
   * screen was entered, which tmux reflows to the new size only when the application leaves it.
   * So leaving the alternate screen after such a snapshot calls for a redraw.
   */
  alternateSnapshot: boolean
  /** The seq of the last chunk that left the alternate screen. */
  leftAlternate: number
}

// eslint-disable-next-line no-control-regex
const LEAVES_ALTERNATE = /\x1b\[\?(?:1049|1047|47)l/

const encoder = new TextEncoder()

export const make = Effect.gen(function*() {
  const sessions = yield* Sessions
  const control = yield* TmuxControl
  const byPane = new Map<PaneId, Feed>()
  const bySession = new Map<SessionId, Feed>()
  /**
   * Seqs are unique across feeds and daemon runs: a feed starts past every seq given before (and
   * past the clock in microseconds), so a `since` from an earlier feed never matches a later one.
   */
  let lastSeq = 0
  const firstSeq = (now: number) => (lastSeq = Math.max(lastSeq + 1_000_000, now * 1000))

  /** Feeds to draw again (they left the alternate screen after a snapshot taken on it). */
  const redrawDue = yield* Queue.sliding<Feed>(TERMINAL_FEEDS_MAX)

  yield* control.onOutput((paneId, data) => {
    const feed = byPane.get(paneId as PaneId)
    if (feed === undefined) return
    const chunk: TerminalChunk = { seq: ++feed.seq, bytes: encoder.encode(data) }
    if (LEAVES_ALTERNATE.test(data)) {
      feed.leftAlternate = chunk.seq
      if (feed.alternateSnapshot) {
        feed.alternateSnapshot = false
        Queue.unsafeOffer(redrawDue, feed)
      }
    }
    feed.ring.push(chunk)
    feed.ringBytes += chunk.bytes.length
    while (feed.ringBytes > TERMINAL_RING_BYTES && feed.ring.length > 1) {
      feed.ringBytes -= feed.ring.shift()!.bytes.length
    }
    lastSeq = Math.max(lastSeq, feed.seq)
    for (const listener of feed.listeners) listener({ _tag: "Chunk", sessionId: feed.sessionId, chunk })
  })

  const paneOf = (sessionId: SessionId) =>
    Effect.flatMap(sessions.get(sessionId), (session): Effect.Effect<PaneId, SessionClosed | TerminalUnavailable> => {
      if (session.status === "closed") {
        return Effect.fail(new SessionClosed({ sessionId, message: `session ${sessionId} is closed` }))
      }
      if (session.paneId === null) {
        return Effect.fail(new TerminalUnavailable({ message: `session ${sessionId} has no pane yet` }))
      }
      return Effect.succeed(session.paneId)
    })

  const feedOf = (sessionId: SessionId) =>
    Effect.gen(function*() {
      const existing = bySession.get(sessionId)
      if (existing !== undefined) return existing
      const pane = yield* paneOf(sessionId)
      const windowId = yield* control.run(["display-message", "-p", "-t", pane, "#{window_id}"]).pipe(
        Effect.map((body) => (body[0] ?? "").trim()),
        Effect.mapError((error) => new TerminalUnavailable({ message: error.message }))
      )
      // another fiber may have made it while this one waited on tmux
      const raced = bySession.get(sessionId)
      if (raced !== undefined) return raced
      if (bySession.size >= TERMINAL_FEEDS_MAX) {
        return yield* new TerminalUnavailable({
          message: `${TERMINAL_FEEDS_MAX} terminals are streamed already; close some viewers and try again`
        })
      }
      const now = yield* Clock.currentTimeMillis
      const feed: Feed = {
        sessionId,
        pane,
        windowId,
        seq: firstSeq(now),
        ring: [],
        ringBytes: 0,
        listeners: new Set(),
        idleSince: now,
        alternateSnapshot: false,
        leftAlternate: 0
      }
      byPane.set(pane, feed)
      bySession.set(sessionId, feed)
      return feed
    })

  const drop = (feed: Feed) => {
    if (bySession.get(feed.sessionId) === feed) bySession.delete(feed.sessionId)
    if (byPane.get(feed.pane) === feed) byPane.delete(feed.pane)
  }

  const snapshotOf = (feed: Feed): Effect.Effect<SnapshotAt, OperationError> =>
    Effect.map(
      sessions.terminalSnapshot(feed.sessionId, TERMINAL_HISTORY_LINES, () => feed.seq),
      ([snapshot, seq]) => {
        if (snapshot.alternate !== undefined) {
          // the application may have left the alternate screen already, in a chunk after the snapshot
          if (feed.leftAlternate > seq) Queue.unsafeOffer(redrawDue, feed)
          else feed.alternateSnapshot = true
        }
        return { snapshot, seq }
      }
    )

  const snapshot = (sessionId: SessionId) => Effect.flatMap(feedOf(sessionId), snapshotOf)

  const watch = (sessionId: SessionId, listener: TerminalListener) =>
    Effect.acquireRelease(
      Effect.map(feedOf(sessionId), (feed) => {
        feed.listeners.add(listener)
        feed.idleSince = undefined
        return feed
      }),
      (feed) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          feed.listeners.delete(listener)
          if (feed.listeners.size === 0) feed.idleSince = now
        })
    ).pipe(Effect.asVoid)

  const since = (sessionId: SessionId, after: number) =>
    Effect.sync(() => {
      const feed = bySession.get(sessionId)
      if (feed === undefined || after > feed.seq) return Option.none()
      if (after === feed.seq) return Option.some([])
      const first = feed.ring[0]
      if (first === undefined || first.seq > after + 1) return Option.none()
      return Option.some(feed.ring.slice(after + 1 - first.seq))
    })

  /** Draws every watched terminal of the window again (or every one): its size changed, or output was missed. */
  const redraw = (which: (feed: Feed) => boolean) =>
    Effect.forEach(
      [...bySession.values()].filter((feed) => feed.listeners.size > 0 && which(feed)),
      (feed) =>
        snapshotOf(feed).pipe(
          Effect.map(({ seq, snapshot }) => {
            for (const listener of feed.listeners) {
              listener({ _tag: "Redraw", sessionId: feed.sessionId, seq, snapshot })
            }
          }),
          Effect.catchAll((error) =>
            Effect.logDebug("could not redraw a terminal").pipe(
              Effect.annotateLogs({ sessionId: feed.sessionId, reason: error.message })
            )
          )
        ),
      { discard: true }
    )

  const events = yield* control.subscribe
  yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(events), (event) => {
    switch (event._tag) {
      case "LayoutChanged":
        return redraw((feed) => feed.windowId === event.windowId)
      case "Connected":
        return redraw(() => true)
      default:
        return Effect.void
    }
  })))

  yield* Effect.forkScoped(
    Effect.forever(Effect.flatMap(Queue.take(redrawDue), (due) => redraw((feed) => feed === due)))
  )

  // a feed nobody has watched for TERMINAL_LINGER goes, ring and all
  yield* Effect.forkScoped(Effect.repeat(
    Effect.map(Clock.currentTimeMillis, (now) => {
      for (const feed of [...bySession.values()]) {
        if (feed.idleSince !== undefined && now - feed.idleSince >= Duration.toMillis(TERMINAL_LINGER)) drop(feed)
      }
    }),
    Schedule.spaced(SWEEP_EVERY)
  ))

  return TerminalStreams.of({ watch, snapshot, since })
})

export const layer: Layer.Layer<TerminalStreams, never, Sessions | TmuxControl> = Layer.scoped(TerminalStreams, make)
