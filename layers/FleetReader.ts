import { Clock, DateTime, Duration, Effect, Option, Queue } from "effect"
import type { StreamPositions } from "../services/StreamPositions.js"
import {
  STREAM_START,
  type StreamEntry,
  type StreamPosition,
  type StreamReader,
  type Transport,
  type TransportError
} from "../services/Transport.js"
import { READ_BATCH } from "../src/fleet/Protocol.js"
import { isBeyond } from "../src/fleet/StreamId.js"
import type { FleetLinkHealth } from "./FleetLinkHealth.js"

/** Longest one blocking read waits before the loop looks around again (and never longer than a heartbeat interval). */
export const READ_BLOCK = Duration.seconds(5)
/** Pause after a failed read (the link is down or Redis is restarting). */
export const READ_RETRY = Duration.millis(500)

/** A stream read from a position that is resumed across reconnects; `savedAs` keeps it across restarts too. */
export interface ResumedStream {
  readonly stream: string
  readonly savedAs?: string
}

export interface FleetReaderOptions {
  readonly transport: Transport["Type"]
  readonly positions: StreamPositions["Type"]
  readonly health: FleetLinkHealth
  readonly interval: Duration.Duration
  readonly resumed: ReadonlyArray<ResumedStream>
  /** Further streams to read this round (output watches), their positions kept by the caller. */
  readonly watched: () => ReadonlyArray<StreamPosition>
  /** Taken when `watched` changed: a blocked read is dropped and the round starts over. */
  readonly rewire: Queue.Dequeue<void>
  /** One round's entries, oldest first per stream; the resumed positions have already moved past them. */
  readonly handle: (entries: ReadonlyArray<StreamEntry>) => Effect.Effect<void>
}

/**
 * The fleet's one stream reader. Positions in the resumed streams start where they were saved (or,
 * on a first start, at the stream's end, so history is never replayed) and are saved before the
 * entries are handled: a crash loses at most the entries in hand, and never handles one twice.
 *
 * A position beyond its stream's last generated id is reset to the start: after a far-future id
 * (`XADD … 99999999999999-0`) and the stream's loss (DEL, a Redis restart without persistence) no
 * new entry would ever come after it — the reader would wait forever, and a saved position would
 * survive restarts. Positions are checked when the reader starts, after a failed round (the link
 * may be back on a Redis that lost its streams), when the link reconnected since the last check,
 * and once per heartbeat interval (one pipelined `XINFO STREAM` per stream). Output watches are
 * not checked: their streams live 60 s idle, and each lease renewal re-syncs the mirror anyway.
 * A reader that cannot read shows in the link's health until its next good round.
 */
export const make = (options: FleetReaderOptions) => {
  const { health, interval, positions, transport } = options
  const savedAs = new Map(
    options.resumed.flatMap((r) => (r.savedAs === undefined ? [] : [[r.stream, r.savedAs] as const]))
  )
  /** Resolved on the first round that finds the link up (the daemon starts whether Redis is there or not). */
  const cursor = new Map<string, string>()

  const startOf = (stream: string) => {
    const saved = savedAs.get(stream)
    return (saved === undefined
      ? Effect.succeedNone
      : positions.get(saved).pipe(Effect.orElseSucceed(() => Option.none<string>()))).pipe(
        Effect.flatMap(Option.match({ onSome: Effect.succeed, onNone: () => transport.lastId(stream) }))
      )
  }

  const resolve = Effect.forEach(
    options.resumed,
    ({ stream }) => cursor.has(stream) ? Effect.void : Effect.map(startOf(stream), (at) => void cursor.set(stream, at)),
    { discard: true }
  )

  const moveTo = (stream: string, id: string) =>
    Effect.suspend(() => {
      cursor.set(stream, id)
      const saved = savedAs.get(stream)
      return saved === undefined ? Effect.void : positions.set(saved, id).pipe(
        Effect.catchAll((e) =>
          Effect.logError("could not save a stream position", e).pipe(Effect.annotateLogs({ stream }))
        )
      )
    })

  const check = Effect.gen(function*() {
    yield* resolve
    const resumed = Array.from(cursor)
    const lastGenerated = yield* transport.lastGeneratedIds(resumed.map(([stream]) => stream))
    for (const [i, [stream, position]] of resumed.entries()) {
      const last = lastGenerated[i]!
      if (!isBeyond(position, last)) continue
      yield* moveTo(stream, STREAM_START)
      yield* health.reset({ stream, from: position, lastGenerated: last, to: STREAM_START, at: yield* DateTime.now })
      yield* Effect.logWarning("a fleet read position was beyond its stream's last generated id; reset to the start")
        .pipe(
          Effect.annotateLogs({ stream, position, lastGeneratedId: last, resetTo: STREAM_START })
        )
    }
  })

  const round = (reader: StreamReader) =>
    Effect.gen(function*() {
      yield* resolve
      const wanted = [...Array.from(cursor, ([stream, after]) => ({ stream, after })), ...options.watched()]
      const result = yield* Effect.raceFirst(
        Effect.map(reader.read(wanted, { count: READ_BATCH, block: Duration.min(READ_BLOCK, interval) }), Option.some),
        Effect.as(Queue.take(options.rewire), Option.none())
      )
      if (Option.isNone(result)) return
      for (const { stream } of options.resumed) {
        const mine = result.value.filter((e) => e.stream === stream)
        if (mine.length > 0) yield* moveTo(stream, mine[mine.length - 1]!.id)
      }
      yield* options.handle(result.value)
    })

  /** Reads forever; every failure is retried, shown in the link's health, and logged (a warning once per up period). */
  const loop = (reader: StreamReader) => {
    const state = {
      checkedAt: Number.NEGATIVE_INFINITY,
      checkedLink: Number.NaN,
      failing: false,
      warnedLink: Number.NaN
    }
    const succeeded = Effect.gen(function*() {
      state.failing = false
      if (yield* health.succeeded("reader")) yield* Effect.logInfo("fleet reader reads again")
    })
    const failed = (error: TransportError) =>
      Effect.gen(function*() {
        state.failing = true
        yield* health.failed("reader", error)
        const link = yield* transport.link
        const linkSince = DateTime.toEpochMillis(link.since)
        // a link that is down says so itself; a reader failing on a live link is news once per up period
        if (link.state === "up" && state.warnedLink !== linkSince) {
          state.warnedLink = linkSince
          yield* Effect.logWarning(`fleet reader cannot read: ${error.advice}`, error)
        } else yield* Effect.logDebug("fleet read failed; retrying", error)
        yield* Effect.sleep(READ_RETRY)
      })
    const step = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const linkSince = DateTime.toEpochMillis((yield* transport.link).since)
      if (state.failing || linkSince !== state.checkedLink || now - state.checkedAt >= Duration.toMillis(interval)) {
        yield* check
        state.checkedAt = now
        state.checkedLink = linkSince
        // every stream answered: good news now, not only when the blocking read below returns
        yield* succeeded
      }
      yield* round(reader)
    })
    return step.pipe(
      Effect.matchEffect({ onFailure: failed, onSuccess: () => succeeded }),
      Effect.catchAllCause((cause) => Effect.logError("fleet reader failed", cause)),
      Effect.forever,
      Effect.annotateLogs({ worker: "fleet-reader" })
    )
  }

  return { loop } as const
}
