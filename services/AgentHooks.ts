import { Context, Data, type DateTime, Duration, type Effect, Option, Schema } from "effect"
import type { HookEvent } from "../src/agents/HookEvent.js"
import type { OutboxInsert } from "../src/agents/OutboxSchema.js"
import { PaneId, SessionId } from "../src/domain/Session.js"

export { OUTBOX_ROWS_MAX } from "../src/agents/OutboxSchema.js"

/**
 * Agent hooks reach the daemon through a durable outbox: the hook command (src/hook.ts) appends
 * a row to `outbox.db` in the state dir and exits, whether or not the daemon runs; the daemon's
 * worker delivers rows to the HookEventHandler, deletes them once handled, retries failures
 * with capped exponential backoff and dead-letters a row after OUTBOX_MAX_ATTEMPTS.
 *
 * Ordering: rows of one session are handled in the order the hooks ran. A failing row holds
 * back the later rows of its session (they would otherwise overtake it) until it is delivered
 * or dead-lettered; other sessions go on. One consumer: the daemon's worker.
 */

/**
 * How often the worker looks for due rows when idle (one indexed query): the safety net, and the
 * clock for retries. A hook rings the outbox's bell after writing, which wakes the worker at once.
 */
export const OUTBOX_POLL_INTERVAL = Duration.seconds(5)
/** A row that failed this many times is moved to the dead letters. */
export const OUTBOX_MAX_ATTEMPTS = 8
export const OUTBOX_BACKOFF_INITIAL = Duration.seconds(1)
export const OUTBOX_BACKOFF_MAX = Duration.minutes(1)
/** Dead letters kept (newest); older ones are deleted. */
export const OUTBOX_DEAD_LETTERS_MAX = 1000
/** Rows (one per session at most) taken per round. */
export const OUTBOX_CLAIM_BATCH = 64
/** Sessions whose rows are handled at the same time. */
export const OUTBOX_DELIVERY_CONCURRENCY = 4
/** A handler call that takes longer fails (and is retried). */
export const OUTBOX_DELIVERY_TIMEOUT = Duration.seconds(30)

/** Delay before attempt `attempt + 1`, after `attempt` failures (1 → 1 s, 2 → 2 s, …, capped). */
export const outboxRetryDelay = (failures: number): Duration.Duration =>
  Duration.min(
    Duration.times(OUTBOX_BACKOFF_INITIAL, 2 ** Math.max(0, Math.min(failures - 1, 30))),
    OUTBOX_BACKOFF_MAX
  )

/** Whom a hook event is about: the telemux session, or only the tmux pane the agent ran in. */
export type SessionRef =
  | { readonly _tag: "Session"; readonly sessionId: SessionId }
  | { readonly _tag: "Pane"; readonly paneId: PaneId; readonly tmuxSocket: string | null }

const decodeSessionId = Schema.decodeUnknownOption(SessionId)
const decodePaneId = Schema.decodeUnknownOption(PaneId)

/** The reference a stored row names; none when the writer stored something else. */
export const sessionRefOf = (row: {
  readonly sessionId: string | null
  readonly paneId: string | null
  readonly tmuxSocket: string | null
}): Option.Option<SessionRef> =>
  row.sessionId !== null
    ? Option.map(decodeSessionId(row.sessionId), (sessionId): SessionRef => ({ _tag: "Session", sessionId }))
    : Option.map(
      decodePaneId(row.paneId),
      (paneId): SessionRef => ({ _tag: "Pane", paneId, tmuxSocket: row.tmuxSocket })
    )

export interface OutboxEntry {
  readonly id: number
  readonly ref: SessionRef
  readonly agent: string
  /** The event the hook was installed for (`Stop`, `AfterAgent`, `notify`…). */
  readonly event: string
  /** The normalised event, JSON (decode with `HookEventFromJson`). */
  readonly payload: string
  readonly createdAt: DateTime.Utc
  /** Failed deliveries so far. */
  readonly attempts: number
}

export interface DeadLetter extends Omit<OutboxEntry, "ref"> {
  /** The row's outbox id. */
  readonly outboxId: number
  /** Undefined when the stored reference itself was unreadable. */
  readonly ref: SessionRef | undefined
  readonly failedAt: DateTime.Utc
  readonly error: string
}

export interface OutboxStats {
  readonly pending: number
  readonly deadLetters: number
}

export class HookOutboxError extends Data.TaggedError("HookOutboxError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message() {
    return `hook outbox ${this.operation} failed: ${String(this.cause)}`
  }
}

/** The handler could not apply an event. `permanent` ones are dead-lettered at once (no retry). */
export class HookDeliveryFailed extends Data.TaggedError("HookDeliveryFailed")<{
  readonly message: string
  readonly permanent?: boolean
  readonly cause?: unknown
}> {}

export class HookOutbox extends Context.Tag("telemux/HookOutbox")<HookOutbox, {
  /** Appends a row as the hook command does (for in-process producers and tests); its id. */
  readonly enqueue: (row: OutboxInsert) => Effect.Effect<number, HookOutboxError>
  /**
   * The due rows to deliver now, oldest first: per session only its oldest row, and only when
   * its retry time has come (so a failing row holds back its session's later rows).
   */
  readonly claimDue: (limit: number) => Effect.Effect<ReadonlyArray<OutboxEntry>, HookOutboxError>
  /** Handled: the row is deleted. */
  readonly markDelivered: (id: number) => Effect.Effect<void, HookOutboxError>
  /** Counts a failure and makes the row due again at `retryAt`. */
  readonly markFailed: (
    id: number,
    failure: { readonly error: string; readonly retryAt: DateTime.Utc }
  ) => Effect.Effect<void, HookOutboxError>
  /** Moves the row to the dead letters (bounded by OUTBOX_DEAD_LETTERS_MAX) with its last error. */
  readonly deadLetter: (id: number, error: string) => Effect.Effect<void, HookOutboxError>
  readonly stats: Effect.Effect<OutboxStats, HookOutboxError>
  /** Returns once rows may have been added since the last return (a hook rang the bell). */
  readonly rung: Effect.Effect<void>
  /** The newest dead letters first. */
  readonly deadLetters: (limit: number) => Effect.Effect<ReadonlyArray<DeadLetter>, HookOutboxError>
}>() {}

/**
 * What the daemon does with a hook event (implemented by the daemon, called by the worker).
 * It must be idempotent per event (a crash between handling and deleting the row delivers it
 * again) and fail with HookDeliveryFailed, `permanent: true` when a retry cannot help.
 */
export class HookEventHandler extends Context.Tag("telemux/HookEventHandler")<HookEventHandler, {
  readonly handle: (ref: SessionRef, event: HookEvent) => Effect.Effect<void, HookDeliveryFailed>
}>() {}
