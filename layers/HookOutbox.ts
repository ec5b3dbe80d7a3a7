import * as Reactivity from "@effect/experimental/Reactivity"
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import type { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Clock, Context, DateTime, Effect, Either, Layer, Metric, Option, ParseResult, Queue, Stream } from "effect"
import * as path from "node:path"
import {
  type DeadLetter,
  HookDeliveryFailed,
  HookEventHandler,
  HookOutbox,
  HookOutboxError,
  OUTBOX_CLAIM_BATCH,
  OUTBOX_DEAD_LETTERS_MAX,
  OUTBOX_DELIVERY_CONCURRENCY,
  OUTBOX_DELIVERY_TIMEOUT,
  OUTBOX_MAX_ATTEMPTS,
  OUTBOX_POLL_INTERVAL,
  type OutboxEntry,
  outboxRetryDelay,
  type SessionRef,
  sessionRefOf
} from "../services/AgentHooks.js"
import { SQLITE_BUSY_TIMEOUT_MS } from "../services/SessionStore.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { decodeHookEventJson } from "../src/agents/HookEvent.js"
import { INSERT_SQL, insertParams, OUTBOX_DDL, type OutboxInsert, trimBelow } from "../src/agents/OutboxSchema.js"
import {
  describeModeChange,
  HOOK_LOG_FILE,
  makeExistingFilePrivate,
  makePrivateDatabase,
  makePrivateDir,
  OUTBOX_BELL_FILE,
  outboxPath,
  PRIVATE_FILE_MODE
} from "../src/agents/StateDir.js"

// ---------------------------------------------------------------------------
// Rows

interface OutboxRow {
  readonly id: number
  readonly session_id: string | null
  readonly pane_id: string | null
  readonly tmux_socket: string | null
  readonly agent: string
  readonly event: string
  readonly payload: string
  readonly created_at: number
  readonly attempts: number
}

interface DeadLetterRow extends OutboxRow {
  readonly outbox_id: number
  readonly failed_at: number
  readonly error: string
}

const refOfRow = (row: Pick<OutboxRow, "session_id" | "pane_id" | "tmux_socket">) =>
  sessionRefOf({ sessionId: row.session_id, paneId: row.pane_id, tmuxSocket: row.tmux_socket })

const entryOf = (row: OutboxRow, ref: SessionRef): OutboxEntry => ({
  id: row.id,
  ref,
  agent: row.agent,
  event: row.event,
  payload: row.payload,
  createdAt: DateTime.unsafeMake(row.created_at),
  attempts: row.attempts
})

const deadLetterOf = (row: DeadLetterRow): DeadLetter => ({
  id: row.id,
  outboxId: row.outbox_id,
  ref: Option.getOrUndefined(refOfRow(row)),
  agent: row.agent,
  event: row.event,
  payload: row.payload,
  createdAt: DateTime.unsafeMake(row.created_at),
  attempts: row.attempts,
  failedAt: DateTime.unsafeMake(row.failed_at),
  error: row.error
})

// ---------------------------------------------------------------------------
// The outbox on outbox.db

/**
 * The state dir 0700, and outbox.db, its -wal/-shm, the bell and the hook log 0600: the outbox
 * holds what the agents said. The hook command creates them the same way; an existing install is
 * tightened here, at start, with a warning.
 */
const makeOutboxFilesPrivate = (filename: string) =>
  Effect.gen(function*() {
    const dir = path.dirname(filename)
    const changes = yield* Effect.try({
      try: () => [
        makePrivateDir(dir),
        ...makePrivateDatabase(filename),
        // the bell is created (0600) below, where failing to is not fatal
        makeExistingFilePrivate(path.join(dir, OUTBOX_BELL_FILE)),
        makeExistingFilePrivate(path.join(dir, HOOK_LOG_FILE))
      ],
      catch: (cause) => new HookOutboxError({ operation: "open", cause })
    })
    for (const change of changes) {
      if (change === undefined) continue
      const { annotations, message } = describeModeChange(change)
      yield* Effect.logWarning(message).pipe(Effect.annotateLogs(annotations))
    }
  })

const openClient = (filename: string) =>
  Effect.gen(function*() {
    if (filename !== ":memory:") yield* makeOutboxFilesPrivate(filename)
    // better-sqlite3 throws when the file cannot be opened; SqliteClient lets that through as a defect
    const sql = yield* SqliteClient.make({ filename }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.catchAllDefect((cause) => Effect.fail(new HookOutboxError({ operation: "open", cause })))
    )
    yield* Effect.gen(function*() {
      yield* sql.unsafe(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`)
      yield* sql`PRAGMA synchronous = NORMAL`
      // CREATE … IF NOT EXISTS, the same statements the hook runs: whichever side comes first creates them
      for (const statement of OUTBOX_DDL) yield* sql.unsafe(statement)
    }).pipe(Effect.mapError((cause) => new HookOutboxError({ operation: "open", cause })))
    return sql
  })

/** The outbox over `filename` (created with its tables when missing), on a connection of its own. */
export const make = (filename: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const sql: SqlClient.SqlClient = yield* openClient(filename)
    const fail = (operation: string) => (cause: unknown) => new HookOutboxError({ operation, cause })

    const deadLetter = (id: number, error: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* sql`INSERT INTO hook_dead_letters
          (outbox_id, session_key, session_id, pane_id, tmux_socket, agent, event, payload, created_at, attempts, failed_at, error)
          SELECT id, session_key, session_id, pane_id, tmux_socket, agent, event, payload, created_at, attempts + 1, ${now}, ${error}
          FROM hook_outbox WHERE id = ${id}`
        yield* sql`DELETE FROM hook_outbox WHERE id = ${id}`
        // ids only grow, so everything this far below the newest is older than the newest MAX
        yield* sql`DELETE FROM hook_dead_letters
          WHERE id <= (SELECT MAX(id) FROM hook_dead_letters) - ${OUTBOX_DEAD_LETTERS_MAX}`
      }).pipe(sql.withTransaction, Effect.mapError(fail("deadLetter")))

    const claimDue = (limit: number) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* sql<OutboxRow>`SELECT o.id, o.session_id, o.pane_id, o.tmux_socket, o.agent, o.event,
            o.payload, o.created_at, o.attempts
          FROM hook_outbox o
          JOIN (SELECT MIN(id) AS id FROM hook_outbox GROUP BY session_key) head ON head.id = o.id
          WHERE o.next_attempt_at <= ${now}
          ORDER BY o.id
          LIMIT ${limit}`.pipe(Effect.mapError(fail("claimDue")))
        const entries: Array<OutboxEntry> = []
        for (const row of rows) {
          const ref = refOfRow(row)
          if (Option.isSome(ref)) entries.push(entryOf(row, ref.value))
          // not written by our hook; it would block its key forever
          else yield* deadLetter(row.id, "the row names no valid session id or pane id")
        }
        return entries
      })

    // The hook command touches the bell after each row; a missing watch (no inotify) leaves the poll.
    // The watch starts in its own fiber: a row written before it is registered is found by the
    // worker's first round or the next poll.
    const rung = yield* Queue.sliding<void>(1)
    const bell = path.join(path.dirname(filename), OUTBOX_BELL_FILE)
    const cannotWatch = (error: PlatformError) =>
      Effect.logWarning("cannot watch the outbox bell; hooks arrive on the poll", error)
    yield* fs.writeFile(bell, new Uint8Array(0), { flag: "a", mode: PRIVATE_FILE_MODE }).pipe(
      Effect.zipRight(
        fs.watch(bell).pipe(
          Stream.runForEach(() => Queue.offer(rung, undefined)),
          Effect.catchAll(cannotWatch),
          Effect.forkScoped
        )
      ),
      Effect.catchAll(cannotWatch)
    )

    return HookOutbox.of({
      rung: Effect.asVoid(Queue.take(rung)),
      enqueue: (row: OutboxInsert) =>
        Effect.gen(function*() {
          const [inserted] = yield* sql.unsafe<{ readonly id: number }>(`${INSERT_SQL} RETURNING id`, insertParams(row))
          const id = inserted!.id
          const below = trimBelow(id)
          if (below > 0) yield* sql`DELETE FROM hook_outbox WHERE id <= ${below}`
          return id
        }).pipe(sql.withTransaction, Effect.mapError(fail("enqueue"))),
      claimDue,
      markDelivered: (id) =>
        sql`DELETE FROM hook_outbox WHERE id = ${id}`.pipe(Effect.asVoid, Effect.mapError(fail("markDelivered"))),
      markFailed: (id, failure) =>
        sql`UPDATE hook_outbox SET attempts = attempts + 1,
            next_attempt_at = ${DateTime.toEpochMillis(failure.retryAt)}, last_error = ${failure.error}
          WHERE id = ${id}`.pipe(Effect.asVoid, Effect.mapError(fail("markFailed"))),
      deadLetter,
      stats: sql<{ readonly pending: number; readonly dead: number }>`SELECT
          (SELECT COUNT(*) FROM hook_outbox) AS pending,
          (SELECT COUNT(*) FROM hook_dead_letters) AS dead`.pipe(
        Effect.map(([row]) => ({ pending: row?.pending ?? 0, deadLetters: row?.dead ?? 0 })),
        Effect.mapError(fail("stats"))
      ),
      deadLetters: (limit) =>
        sql<DeadLetterRow>`SELECT * FROM hook_dead_letters ORDER BY id DESC LIMIT ${limit}`.pipe(
          Effect.map((rows) => rows.map(deadLetterOf)),
          Effect.mapError(fail("deadLetters"))
        )
    })
  })

/** The outbox over its own SQLite file. */
export const layerFile = (filename: string): Layer.Layer<HookOutbox, HookOutboxError, FileSystem.FileSystem> =>
  Layer.scoped(HookOutbox, make(filename))

/** The outbox in the state dir (`<home>/outbox.db`), where the hook command writes. */
export const layer: Layer.Layer<HookOutbox, HookOutboxError, TelemuxConfig | FileSystem.FileSystem> = Layer.scoped(
  HookOutbox,
  Effect.flatMap(TelemuxConfig, (config) => make(outboxPath(config.home)))
)

// ---------------------------------------------------------------------------
// The worker

const delivered = Metric.counter("telemux_hook_events_delivered_total", {
  description: "agent hook events delivered from the outbox",
  incremental: true
})
const retried = Metric.counter("telemux_hook_events_retried_total", {
  description: "agent hook event deliveries that failed and will be retried",
  incremental: true
})
const deadLettered = Metric.counter("telemux_hook_events_dead_lettered_total", {
  description: "agent hook events given up on (kept as dead letters)",
  incremental: true
})

const deliver = (
  outbox: typeof HookOutbox.Service,
  handler: typeof HookEventHandler.Service,
  entry: OutboxEntry
) =>
  Effect.gen(function*() {
    const event = yield* Effect.either(decodeHookEventJson(entry.payload))
    if (Either.isLeft(event)) {
      yield* Effect.logWarning(
        "unreadable hook event dead-lettered"
      ).pipe(Effect.annotateLogs({ error: ParseResult.TreeFormatter.formatErrorSync(event.left) }))
      yield* Metric.increment(deadLettered)
      return yield* outbox.deadLetter(
        entry.id,
        `unreadable event: ${ParseResult.TreeFormatter.formatErrorSync(event.left)}`
      )
    }
    const outcome = yield* handler.handle(entry.ref, event.right).pipe(
      Effect.timeoutFail({
        duration: OUTBOX_DELIVERY_TIMEOUT,
        onTimeout: () => new HookDeliveryFailed({ message: "the handler did not finish in time" })
      }),
      Effect.catchAllDefect((defect) =>
        Effect.fail(new HookDeliveryFailed({ message: `the handler died: ${String(defect)}`, cause: defect }))
      ),
      Effect.either
    )
    if (Either.isRight(outcome)) {
      yield* Metric.increment(delivered)
      return yield* outbox.markDelivered(entry.id)
    }
    const failures = entry.attempts + 1
    const error = outcome.left.message
    if (outcome.left.permanent === true || failures >= OUTBOX_MAX_ATTEMPTS) {
      yield* Effect.logWarning("hook event dead-lettered").pipe(Effect.annotateLogs({ failures, error }))
      yield* Metric.increment(deadLettered)
      return yield* outbox.deadLetter(entry.id, error)
    }
    const retryAt = DateTime.addDuration(yield* DateTime.now, outboxRetryDelay(failures))
    yield* Effect.logInfo("hook event delivery failed; will retry").pipe(
      Effect.annotateLogs({ failures, error, retryAt: DateTime.formatIso(retryAt) })
    )
    yield* Metric.increment(retried)
    yield* outbox.markFailed(entry.id, { error, retryAt })
  }).pipe(Effect.annotateLogs({ outboxId: entry.id, agent: entry.agent, event: entry.event }))

/** One round: hands every due row (one per session) to the handler; how many rows it took. */
export const deliverDue: Effect.Effect<number, HookOutboxError, HookOutbox | HookEventHandler> = Effect.gen(
  function*() {
    const outbox = yield* HookOutbox
    const handler = yield* HookEventHandler
    const entries = yield* outbox.claimDue(OUTBOX_CLAIM_BATCH)
    yield* Effect.forEach(entries, (entry) => deliver(outbox, handler, entry), {
      concurrency: OUTBOX_DELIVERY_CONCURRENCY,
      discard: true
    })
    return entries.length
  }
)

/**
 * Delivers the outbox for as long as the layer's scope lives: rounds back to back while there
 * is work, a poll interval's sleep when there is none. A failing round is logged; the next runs.
 */
export const workerLayer: Layer.Layer<never, never, HookOutbox | HookEventHandler> = Layer.scopedDiscard(
  Effect.gen(function*() {
    const context = yield* Effect.context<HookOutbox | HookEventHandler>()
    const round = deliverDue.pipe(
      Effect.provide(context),
      Effect.catchAllCause((cause) => Effect.logError("hook outbox round failed", cause).pipe(Effect.as(0)))
    )
    const loop = round.pipe(
      Effect.flatMap((taken) =>
        taken === 0
          ? Effect.raceFirst(Effect.sleep(OUTBOX_POLL_INTERVAL), Context.get(context, HookOutbox).rung)
          : Effect.void
      ),
      Effect.forever,
      Effect.annotateLogs({ worker: "hook-outbox" })
    )
    yield* Effect.forkScoped(loop)
  })
)
