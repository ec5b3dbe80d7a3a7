import { Clock, type DateTime, Effect, Layer, Option, PubSub } from "effect"
import {
  type NewScreen,
  OUTPUT_EVENTS_CAPACITY,
  OUTPUT_RING_SIZE,
  type OutputChanged,
  type OutputEvent,
  type OutputListener,
  OutputLog,
  type ScreenPatch,
  type ScreenRecord,
  type Since
} from "../services/OutputLog.js"
import { applySplices, diffLines, type LineSplice, screenLines } from "../src/domain/ScreenPatch.js"
import type { SessionId } from "../src/domain/Session.js"

/** One recorded screen. `screen` is joined from the lines when asked for: the lines are what is kept. */
class Update implements OutputChanged {
  readonly _tag = "OutputChanged"
  constructor(
    readonly sessionId: SessionId,
    readonly seq: number,
    readonly lines: ReadonlyArray<string>,
    readonly changedAt: DateTime.Utc,
    readonly patch: ScreenPatch | undefined
  ) {}
  get screen(): string {
    return this.lines.join("\n")
  }
}

/**
 * A copy of `line` that does not hold on to the text it was cut from: V8 makes a substring of 13
 * characters or more (what `split` returns) a view of its parent, so a kept line would keep the
 * whole capture it came from alive.
 */
const detached = (line: string): string => (line.length < 13 ? line : (line + "\n").slice(0, -1))

const detachSplices = (splices: ReadonlyArray<LineSplice>): ReadonlyArray<LineSplice> =>
  splices.map((s) => ({ at: s.at, remove: s.remove, insert: s.insert.map(detached) }))

interface History {
  nextSeq: number
  /** Seqs at or below this were never in this log (issued before it started, or before mirroring began). */
  readonly base: number
  /** Oldest first; at most `ringSize` entries. */
  readonly ring: Array<Update>
}

/**
 * Screen history in memory. Seqs of a session start at the daemon's start time in microseconds,
 * so they keep rising across restarts: a client's seq from before a restart is simply not in
 * the ring, and it is resynced.
 *
 * Per session it holds at most `ringSize` updates; they share their unchanged lines, so a busy
 * session costs about one screen plus, per update, its line pointers and the lines it changed.
 */
export const make = (options: { readonly ringSize?: number } = {}) =>
  Effect.gen(function*() {
    const ringSize = options.ringSize ?? OUTPUT_RING_SIZE
    const firstSeq = (yield* Clock.currentTimeMillis) * 1000
    const histories = new Map<SessionId, History>()
    const listeners = new Set<OutputListener>()
    const events = yield* Effect.acquireRelease(
      PubSub.sliding<OutputEvent>(OUTPUT_EVENTS_CAPACITY),
      PubSub.shutdown
    )

    const emit = (event: OutputEvent) => {
      for (const listener of listeners) listener(event)
      return PubSub.publish(events, event)
    }

    /** The update for `screen` after the history's latest, with the lines they share kept once. */
    const next = (history: History, sessionId: SessionId, seq: number, screen: string, changedAt: DateTime.Utc) => {
      const previous = history.ring[history.ring.length - 1]
      const fresh = screenLines(screen)
      if (previous === undefined) return new Update(sessionId, seq, fresh.map(detached), changedAt, undefined)
      const splices = detachSplices(diffLines(previous.lines, fresh))
      const lines = applySplices(previous.lines, splices) ?? fresh.map(detached)
      return new Update(sessionId, seq, lines, changedAt, { base: previous.seq, splices })
    }

    /** Into the ring and to the listeners; the PubSub is the caller's (one publish for a batch). */
    const keep = (history: History, update: Update) => {
      history.nextSeq = update.seq + 1
      history.ring.push(update)
      if (history.ring.length > ringSize) history.ring.shift()
      for (const listener of listeners) listener(update)
      return update
    }

    const record = (history: History, update: Update) =>
      PubSub.publish(events, keep(history, update)).pipe(Effect.as(update))

    const appended = (sessionId: SessionId, screen: string, changedAt: DateTime.Utc) => {
      let history = histories.get(sessionId)
      if (history === undefined) {
        history = { nextSeq: firstSeq + 1, base: firstSeq, ring: [] }
        histories.set(sessionId, history)
      }
      return keep(history, next(history, sessionId, history.nextSeq, screen, changedAt))
    }

    const append = (sessionId: SessionId, screen: string, changedAt: DateTime.Utc) =>
      Effect.suspend(() => {
        const update = appended(sessionId, screen, changedAt)
        return Effect.as(PubSub.publish(events, update), update)
      })

    const appendAll = (screens: ReadonlyArray<NewScreen>) =>
      Effect.suspend(() => {
        const updates = screens.map((s) => appended(s.sessionId, s.screen, s.changedAt))
        return Effect.as(PubSub.publishAll(events, updates), updates)
      })

    const mirror = (update: ScreenRecord) =>
      Effect.suspend(() => {
        let history = histories.get(update.sessionId)
        if (history === undefined) {
          history = { nextSeq: update.seq, base: update.seq - 1, ring: [] }
          histories.set(update.sessionId, history)
        }
        // a repeat or an older update (a watch renewed, a stream re-read) changes nothing
        if (update.seq < history.nextSeq) return Effect.succeed(false)
        return Effect.as(
          record(history, next(history, update.sessionId, update.seq, update.screen, update.changedAt)),
          true
        )
      })

    const since = (sessionId: SessionId, seq: number): Effect.Effect<Since> =>
      Effect.sync(() => {
        const history = histories.get(sessionId)
        const ring = history?.ring ?? []
        const latest = Option.fromNullable(ring[ring.length - 1])
        if (history === undefined) return { _tag: "Resync", snapshot: latest }
        // Up to date, or exactly one behind the oldest kept: the client misses nothing we dropped.
        const oldest = ring[0]
        const newest = history.nextSeq - 1
        if (seq === newest) return { _tag: "Missed", updates: [] }
        // a seq this log never issued (from the future, or garbage): start over
        if (seq > newest) return { _tag: "Resync", snapshot: latest }
        if (oldest !== undefined && seq >= oldest.seq - 1 && seq >= history.base) {
          return { _tag: "Missed", updates: ring.filter((u) => u.seq > seq) }
        }
        return { _tag: "Resync", snapshot: latest }
      })

    return OutputLog.of({
      append,
      appendAll,
      mirror,
      publish: (event) => Effect.suspend(() => emit(event)).pipe(Effect.asVoid),
      latest: (sessionId) =>
        Effect.sync(() => {
          const ring = histories.get(sessionId)?.ring
          return Option.fromNullable(ring?.[ring.length - 1])
        }),
      since,
      remove: (sessionId) => Effect.sync(() => void histories.delete(sessionId)),
      size: Effect.sync(() => histories.size),
      events,
      listen: (listener) =>
        Effect.acquireRelease(
          Effect.sync(() => void listeners.add(listener)),
          () => Effect.sync(() => void listeners.delete(listener))
        )
    })
  })

export const layer: Layer.Layer<OutputLog> = Layer.scoped(OutputLog, make())
