import { Context, Data, Duration, type Effect, type Option, Schema } from "effect"
import type { IdempotencyKeyReused, OutcomeUnknown, StorageFailure } from "../src/domain/Errors.js"
import { describeCause } from "./SessionStore.js"

/**
 * `Idempotency-Key`: a client that retries create, input or keys with the same key gets the first
 * attempt's outcome instead of a second run — across client reconnects, daemon restarts (the
 * claim is in SQLite before the operation starts) and the fleet (the key travels to the owner).
 * Only outcomes that happened are kept: a success, or "unknown". A "not done" failure forgets the
 * key, so the retry runs.
 */

/** Keys are remembered this long. */
export const IDEMPOTENCY_TTL = Duration.hours(24)
/** At most this many keys are remembered; the oldest go first. */
export const IDEMPOTENCY_KEYS_MAX = 10_000
/** Requests with a key running at once in this daemon; more are refused rather than tracked without bound. */
export const IDEMPOTENCY_IN_FLIGHT_MAX = 4096

/** What a client may send as a key: 1-255 visible ASCII characters (a UUID fits). */
export const IdempotencyKey = Schema.String.pipe(
  Schema.pattern(/^[\x21-\x7e]{1,255}$/, {
    message: () => "Idempotency-Key must be 1-255 visible ASCII characters (a UUID is a good key)"
  }),
  Schema.brand("IdempotencyKey")
).annotations({
  identifier: "IdempotencyKey",
  description: "Retry-safe: a request repeated with the same key returns the first one's outcome without running again"
})
export type IdempotencyKey = typeof IdempotencyKey.Type

/** A remembered attempt: the request it was for, and its outcome once known (JSON, see IdempotencyLive). */
export interface IdempotencyRecord {
  readonly fingerprint: string
  readonly outcome: Option.Option<string>
}

export class IdempotencyStoreError extends Data.TaggedError("IdempotencyStoreError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message() {
    return `idempotency store ${this.operation} failed: ${describeCause(this.cause)}`
  }
}

/** Where keys are remembered: durable in the daemon (SQLite), in memory for tests. */
export class IdempotencyStore extends Context.Tag("telemux/IdempotencyStore")<IdempotencyStore, {
  /** Takes `key` for a new attempt (none), or returns what is remembered of an earlier one (some). */
  readonly claim: (
    key: IdempotencyKey,
    fingerprint: string,
    nowMillis: number
  ) => Effect.Effect<Option.Option<IdempotencyRecord>, IdempotencyStoreError>
  readonly complete: (key: IdempotencyKey, outcome: string) => Effect.Effect<void, IdempotencyStoreError>
  /** Forgets a key (its attempt did not happen). */
  readonly release: (key: IdempotencyKey) => Effect.Effect<void, IdempotencyStoreError>
  /** Drops keys older than `beforeMillis` and beyond IDEMPOTENCY_KEYS_MAX. */
  readonly prune: (beforeMillis: number) => Effect.Effect<void, IdempotencyStoreError>
}>() {}

export interface IdempotentRequest<A, I> {
  readonly key: IdempotencyKey | undefined
  /** Identifies the request (operation, target, payload): a key reused for another request is refused. */
  readonly fingerprint: string
  /** How a success is kept and replayed. */
  readonly success: Schema.Schema<A, I>
}

export class Idempotency extends Context.Tag("telemux/Idempotency")<Idempotency, {
  /**
   * Runs `effect` at most once per key. Without a key it just runs. The run is not cut short by
   * the caller going away: its outcome is recorded for the retry.
   */
  readonly run: <A, I, E>(
    request: IdempotentRequest<A, I>,
    effect: Effect.Effect<A, E>
  ) => Effect.Effect<A, E | OutcomeUnknown | IdempotencyKeyReused | StorageFailure>
}>() {}
