/**
 * The terminal stream of watched sessions (services/TerminalStreams.ts): one output listener on the
 * events client for every pane, which ignores the panes nobody watches; per watched session a
 * byte-bounded ring of its latest chunks. A snapshot is taken on the events client, at an exact
 * point of the output order (TerminalBridge.snapshot's `at`), so the snapshot and the chunks after
 * its seq meet without a gap or an overlap. A session on another computer is followed through its
 * owner (Fleet.watchTerminal) while someone here watches it, with the owner's seqs.
 */
import { Clock, Deferred, Duration, Effect, Exit, FiberMap, Layer, Option, Queue, Schedule } from "effect"
import { Fleet, unknownWhenTimedOut } from "../services/Fleet.js"
import { Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import {
  type SnapshotAt,
  TERMINAL_HISTORY_LINES,
  TERMINAL_LINGER,
  TERMINAL_RING_BYTES,
  type TerminalChunk,
  type TerminalError,
  type TerminalEvent,
  type TerminalListener,
  TerminalStreams
} from "../services/TerminalStreams.js"
import { TmuxControl } from "../services/TmuxControl.js"
import { SessionClosed, TerminalUnavailable } from "../src/domain/Errors.js"
import type { ComputerName, PaneId, SessionId } from "../src/domain/Session.js"
import type { TerminalItem } from "../src/fleet/Rpcs.js"

/** Most sessions whose terminal is fed at once (watched or lingering); a new one past it is refused. */
export const TERMINAL_FEEDS_MAX = 1024
/** After a remote terminal's watch failed, the wait before it is followed again. */
export const REMOTE_RETRY = Duration.seconds(1)
const SWEEP_EVERY = Duration.seconds(5)

type Source =
  | { readonly _tag: "Local"; readonly pane: PaneId; readonly windowId: string }
  | { readonly _tag: "Remote"; readonly computer: ComputerName }

interface Feed {
  readonly sessionId: SessionId
  /** Where the chunks come from: this computer's pane, or the session's owner in the fleet. */
  readonly source: Source
  /** The last chunk's seq (the next is seq + 1). */
  seq: number
  readonly ring: Array<TerminalChunk>
  ringBytes: number
  readonly listeners: Set<TerminalListener>
  /** Clock time the last listener left; undefined while watched. */
  idleSince: number | undefined
  /** A remote feed whose loss the listeners were told of, until its next snapshot. */
  lost: boolean
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
  const fleet = yield* Fleet
  const config = yield* TelemuxConfig
  const followers = yield* FiberMap.make<SessionId>()
  const byPane = new Map<PaneId, Feed>()
  const bySession = new Map<SessionId, Feed>()
  /**
   * Seqs are unique across feeds and daemon runs: a feed starts past every seq given before (and
   * past the clock in microseconds), so a `since` from an earlier feed never matches a later one.
   */
  let lastSeq = 0
  const firstSeq = (now: number) => (lastSeq = Math.max(lastSeq + 1_000_000, now * 1000))

  const tell = (feed: Feed, event: TerminalEvent) => {
    for (const listener of feed.listeners) listener(event)
  }

  /** A chunk that follows the feed's last: into the ring, then to every listener. */
  const append = (feed: Feed, chunk: TerminalChunk) => {
    feed.seq = chunk.seq
    feed.ring.push(chunk)
    feed.ringBytes += chunk.bytes.length
    while (feed.ringBytes > TERMINAL_RING_BYTES && feed.ring.length > 1) {
      feed.ringBytes -= feed.ring.shift()!.bytes.length
    }
    lastSeq = Math.max(lastSeq, feed.seq)
    tell(feed, { _tag: "Chunk", sessionId: feed.sessionId, chunk })
  }

  /** Feeds to draw again (they left the alternate screen after a snapshot taken on it). */
  const redrawDue = yield* Queue.sliding<Feed>(TERMINAL_FEEDS_MAX)

  yield* control.onOutput((paneId, output) => {
    const feed = byPane.get(paneId as PaneId)
    if (feed === undefined) return
    const data = output.data
    // empty when the write ended inside a character the next one completes
    if (data === "") return
    const seq = feed.seq + 1
    if (LEAVES_ALTERNATE.test(data)) {
      feed.leftAlternate = seq
      if (feed.alternateSnapshot) {
        feed.alternateSnapshot = false
        Queue.unsafeOffer(redrawDue, feed)
      }
    }
    append(feed, { seq, bytes: encoder.encode(data) })
  })

  /**
   * The owner's items, into the feed: a snapshot restarts it (a Redraw), chunks follow it. A chunk
   * past the next one (the one between lost on its way: a reply the owner could not write to Redis)
   * completes `gap` instead: no later chunk of this watch can follow the feed's either.
   */
  const onRemoteItem = (feed: Feed, gap: Deferred.Deferred<void>) => (item: TerminalItem) =>
    Effect.sync(() => {
      switch (item._tag) {
        case "TerminalSnapshot":
          feed.lost = false
          feed.seq = item.seq
          feed.ring.length = 0
          feed.ringBytes = 0
          return tell(feed, { _tag: "Redraw", sessionId: feed.sessionId, seq: item.seq, snapshot: item.snapshot })
        case "TerminalChunks":
          for (let i = 0; i < item.chunks.length; i++) {
            const seq = item.seq + i
            if (seq <= feed.seq) continue
            if (seq !== feed.seq + 1) return Deferred.unsafeDone(gap, Exit.void)
            append(feed, { seq, bytes: item.chunks[i]! })
          }
          return
        default:
          return
      }
    })

  /**
   * Follows the owner for as long as the feed lives. A watch that fails is told to the listeners
   * (Lost) and started again after REMOTE_RETRY; its first item, a snapshot, redraws them. A watch
   * that skipped a chunk is started again at once: its chunks no longer follow the feed's, and
   * taken as they were, every one after the gap was dropped (the terminal froze, its keepalives
   * still coming).
   */
  const follow = (feed: Feed, computer: ComputerName) =>
    Effect.flatMap(Deferred.make<void>(), (gap) =>
      Effect.raceFirst(
        fleet.watchTerminal(computer, feed.sessionId, onRemoteItem(feed, gap)).pipe(
          Effect.catchAll((error) => lose(feed, computer, error._tag, error.message)),
          Effect.zipRight(Effect.sleep(REMOTE_RETRY))
        ),
        Effect.zipRight(
          Deferred.await(gap),
          Effect.logInfo("a remote terminal skipped output; following it again from a snapshot").pipe(
            Effect.annotateLogs({ sessionId: feed.sessionId, computer })
          )
        )
      )).pipe(Effect.forever)

  /** Tells the listeners once per outage that the remote terminal cannot be followed now. */
  const lose = (feed: Feed, computer: ComputerName, error: string, message: string) =>
    Effect.suspend(() => {
      if (feed.lost) return Effect.void
      feed.lost = true
      tell(feed, { _tag: "Lost", sessionId: feed.sessionId, error, message })
      return Effect.logInfo("a remote terminal cannot be followed now; trying again").pipe(
        Effect.annotateLogs({ sessionId: feed.sessionId, computer, reason: message })
      )
    })

  /** Where the session's terminal is: its pane here, or its computer. */
  const sourceOf = (sessionId: SessionId) =>
    Effect.gen(function*() {
      const session = yield* sessions.get(sessionId)
      if (session.status === "closed") {
        return yield* new SessionClosed({ sessionId, message: `session ${sessionId} is closed` })
      }
      if (session.computer !== config.computer) {
        return { _tag: "Remote", computer: session.computer } satisfies Source
      }
      if (session.paneId === null) {
        return yield* new TerminalUnavailable({ message: `session ${sessionId} has no pane yet` })
      }
      const pane = session.paneId
      const windowId = yield* control.run(["display-message", "-p", "-t", pane, "#{window_id}"]).pipe(
        Effect.map((body) => (body[0] ?? "").trim()),
        Effect.mapError((error) => new TerminalUnavailable({ message: error.message }))
      )
      return { _tag: "Local", pane, windowId } satisfies Source
    })

  const feedOf = (sessionId: SessionId) =>
    Effect.gen(function*() {
      const existing = bySession.get(sessionId)
      if (existing !== undefined) return existing
      const source: Source = yield* sourceOf(sessionId)
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
        source,
        seq: source._tag === "Local" ? firstSeq(now) : 0,
        ring: [],
        ringBytes: 0,
        listeners: new Set(),
        idleSince: now,
        lost: false,
        alternateSnapshot: false,
        leftAlternate: 0
      }
      bySession.set(sessionId, feed)
      if (source._tag === "Local") byPane.set(source.pane, feed)
      else yield* FiberMap.run(followers, sessionId, follow(feed, source.computer))
      return feed
    })

  const drop = (feed: Feed) =>
    Effect.suspend(() => {
      if (bySession.get(feed.sessionId) === feed) bySession.delete(feed.sessionId)
      if (feed.source._tag === "Remote") return FiberMap.remove(followers, feed.sessionId)
      if (byPane.get(feed.source.pane) === feed) byPane.delete(feed.source.pane)
      return Effect.void
    })

  const snapshotOf = (feed: Feed): Effect.Effect<SnapshotAt, TerminalError> =>
    feed.source._tag === "Local"
      ? Effect.map(
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
      : fleet.call(feed.source.computer, (client) => client.TerminalSnapshot({ sessionId: feed.sessionId }))

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

  /** Draws the watched local terminals `which` picks again: their size changed, or output may have been missed. */
  const redraw = (which: (feed: Feed, source: Extract<Source, { _tag: "Local" }>) => boolean) =>
    Effect.forEach(
      [...bySession.values()].filter((feed) =>
        feed.listeners.size > 0 && feed.source._tag === "Local" && which(feed, feed.source)
      ),
      (feed) =>
        snapshotOf(feed).pipe(
          Effect.map(({ seq, snapshot }) => tell(feed, { _tag: "Redraw", sessionId: feed.sessionId, seq, snapshot })),
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
        return redraw((_, source) => source.windowId === event.windowId)
      case "Connected":
        return redraw(() => true)
      default:
        return Effect.void
    }
  })))

  yield* Effect.forkScoped(
    Effect.forever(Effect.flatMap(Queue.take(redrawDue), (due) => redraw((feed) => feed === due)))
  )

  // A computer that left the fleet sends nothing more: its terminals are told at once (not after a
  // keepalive timeout), and followed again from scratch (they wait until it is back).
  const departed = yield* fleet.departures
  yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(departed), (computer) =>
    Effect.forEach(
      [...bySession.values()].filter((feed) => feed.source._tag === "Remote" && feed.source.computer === computer),
      (feed) =>
        Effect.zipRight(
          lose(feed, computer, "ComputerUnreachable", `computer ${computer} left the fleet`),
          FiberMap.run(followers, feed.sessionId, follow(feed, computer))
        ),
      { discard: true }
    ))))

  // a feed nobody has watched for TERMINAL_LINGER goes, ring (and remote follower) and all
  yield* Effect.forkScoped(Effect.repeat(
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.forEach(
        [...bySession.values()].filter((feed) =>
          feed.idleSince !== undefined && now - feed.idleSince >= Duration.toMillis(TERMINAL_LINGER)
        ),
        drop,
        { discard: true }
      )),
    Schedule.spaced(SWEEP_EVERY)
  ))

  /** The session's computer when it is another than this one. */
  const remoteOf = (sessionId: SessionId) =>
    Effect.map(
      sessions.get(sessionId),
      (session) => session.computer === config.computer ? Option.none() : Option.some(session.computer)
    )

  const sendBytes = (sessionId: SessionId, bytes: Uint8Array) =>
    Effect.flatMap(remoteOf(sessionId), (remote) =>
      Option.match(remote, {
        onNone: () => sessions.sendBytes(sessionId, bytes),
        onSome: (computer) =>
          fleet.call(computer, (client) => client.TerminalInput({ sessionId, bytes })).pipe(
            // no key travels with keystrokes: the person is told to look, not to type them again
            unknownWhenTimedOut(
              "the keystrokes may have reached the session there: look at its screen before typing them again"
            )
          )
      }))

  const resize = (sessionId: SessionId, cols: number, rows: number) =>
    Effect.flatMap(remoteOf(sessionId), (remote) =>
      Option.match(remote, {
        onNone: () => sessions.fitTerminal(sessionId, cols, rows),
        onSome: (computer) => fleet.call(computer, (client) => client.TerminalResize({ sessionId, cols, rows }))
      }))

  return TerminalStreams.of({ watch, snapshot, since, sendBytes, resize })
})

export const layer: Layer.Layer<TerminalStreams, never, Sessions | TmuxControl | Fleet | TelemuxConfig> = Layer.scoped(
  TerminalStreams,
  make
)
