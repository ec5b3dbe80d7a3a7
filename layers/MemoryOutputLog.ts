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
import { applySplices, detachedLine, diffLines, type LineSplice, screenLines } from "../src/domain/ScreenPatch.js"
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

/** The lines as the log keeps them: copies when they were split from a screen's text (see `next`). */
const kept = (lines: ReadonlyArray<string>, detach: boolean) => (detach ? lines.map(detachedLine) : lines)

const detachSplices = (splices: ReadonlyArray<LineSplice>): ReadonlyArray<LineSplice> =>
  splices.map((s) => ({ at: s.at, remove: s.remove, insert: s.insert.map(detachedLine) }))

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

    /**
     * The update for `fresh` after the history's latest, with the lines they share kept once.
     * `detach` copies the lines kept (see detachedLine): lines split from a screen's text would
     * each hold the whole text alive.
     */
    const next = (
      history: History,
      sessionId: SessionId,
      seq: number,
      fresh: ReadonlyArray<string>,
      changedAt: DateTime.Utc,
      detach: boolean
    ) => {
      const previous = history.ring[history.ring.length - 1]
      if (previous === undefined) return new Update(sessionId, seq, kept(fresh, detach), changedAt, undefined)
      const diff = diffLines(previous.lines, fresh)
      const splices = detach ? detachSplices(diff) : diff
      const lines = applySplices(previous.lines, splices) ?? kept(fresh, detach)
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

    const appended = (sessionId: SessionId, lines: ReadonlyArray<string>, changedAt: DateTime.Utc, detach: boolean) => {
      let history = histories.get(sessionId)
      if (history === undefined) {
        history = { nextSeq: firstSeq + 1, base: firstSeq, ring: [] }
        histories.set(sessionId, history)
      }
      return keep(history, next(history, sessionId, history.nextSeq, lines, changedAt, detach))
    }

    const append = (sessionId: SessionId, screen: string, changedAt: DateTime.Utc) =>
      Effect.suspend(() => {
        const update = appended(sessionId, screenLines(screen), changedAt, true)
        return Effect.as(PubSub.publish(events, update), update)
      })

    const appendAll = (screens: ReadonlyArray<NewScreen>) =>
      Effect.suspend(() => {
        const updates = screens.map((s) => appended(s.sessionId, s.lines, s.changedAt, false))
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
          record(
            history,
            next(history, update.sessionId, update.seq, screenLines(update.screen), update.changedAt, true)
          ),
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
