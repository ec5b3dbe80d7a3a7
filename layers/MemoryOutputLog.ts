import { Clock, Effect, Layer, Option, PubSub } from "effect"
import {
  OUTPUT_EVENTS_CAPACITY,
  OUTPUT_RING_SIZE,
  type OutputChanged,
  type OutputEvent,
  OutputLog,
  type Since
} from "../services/OutputLog.js"
import type { SessionId } from "../src/domain/Session.js"

interface History {
  nextSeq: number
  /** Seqs at or below this were never in this log (issued before it started, or before mirroring began). */
  readonly base: number
  /** Oldest first; at most `ringSize` entries. */
  readonly ring: Array<OutputChanged>
}

/**
 * Screen history in memory. Seqs of a session start at the daemon's start time in microseconds,
 * so they keep rising across restarts: a client's seq from before a restart is simply not in
 * the ring, and it is resynced.
 */
export const make = (options: { readonly ringSize?: number } = {}) =>
  Effect.gen(function*() {
    const ringSize = options.ringSize ?? OUTPUT_RING_SIZE
    const firstSeq = (yield* Clock.currentTimeMillis) * 1000
    const histories = new Map<SessionId, History>()
    const events = yield* Effect.acquireRelease(
      PubSub.sliding<OutputEvent>(OUTPUT_EVENTS_CAPACITY),
      PubSub.shutdown
    )

    const append = (sessionId: SessionId, screen: string, changedAt: OutputChanged["changedAt"]) =>
      Effect.suspend(() => {
        let history = histories.get(sessionId)
        if (history === undefined) {
          history = { nextSeq: firstSeq + 1, base: firstSeq, ring: [] }
          histories.set(sessionId, history)
        }
        return record(history, { _tag: "OutputChanged", sessionId, seq: history.nextSeq, screen, changedAt })
      })

    const record = (history: History, update: OutputChanged) => {
      history.nextSeq = update.seq + 1
      history.ring.push(update)
      if (history.ring.length > ringSize) history.ring.shift()
      return PubSub.publish(events, update).pipe(Effect.as(update))
    }

    const mirror = (update: OutputChanged) =>
      Effect.suspend(() => {
        let history = histories.get(update.sessionId)
        if (history === undefined) {
          history = { nextSeq: update.seq, base: update.seq - 1, ring: [] }
          histories.set(update.sessionId, history)
        }
        // a repeat or an older update (a watch renewed, a stream re-read) changes nothing
        if (update.seq < history.nextSeq) return Effect.succeed(false)
        return Effect.as(record(history, update), true)
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
      mirror,
      publish: (event) => PubSub.publish(events, event).pipe(Effect.asVoid),
      latest: (sessionId) =>
        Effect.sync(() => {
          const ring = histories.get(sessionId)?.ring
          return Option.fromNullable(ring?.[ring.length - 1])
        }),
      since,
      remove: (sessionId) => Effect.sync(() => void histories.delete(sessionId)),
      size: Effect.sync(() => histories.size),
      events
    })
  })

export const layer: Layer.Layer<OutputLog> = Layer.scoped(OutputLog, make())
