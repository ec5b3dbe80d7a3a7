import { SqlClient } from "@effect/sql"
import { Cause, Clock, Deferred, Duration, Effect, Exit, Layer, Option, Ref, Schema } from "effect"
import * as crypto from "node:crypto"
import {
  Idempotency,
  IDEMPOTENCY_IN_FLIGHT_MAX,
  IDEMPOTENCY_KEYS_MAX,
  IDEMPOTENCY_TTL,
  type IdempotencyKey,
  type IdempotencyRecord,
  IdempotencyStore,
  IdempotencyStoreError,
  type IdempotentRequest
} from "../services/Idempotency.js"
import { IdempotencyKeyReused, OutcomeUnknown, StorageFailure } from "../src/domain/Errors.js"
import { inTransaction } from "./SqlTransaction.js"

/** A stable fingerprint of a request: its operation, target and payload. */
export const fingerprintOf = (operation: string, target: string, payload: unknown): string =>
  crypto.createHash("sha256").update(JSON.stringify([operation, target, payload]), "utf8").digest("base64url")

/** How an outcome is kept: the encoded success, or the message of an unknown outcome. */
const Outcome = Schema.Union(
  Schema.TaggedStruct("Done", { value: Schema.optional(Schema.Unknown) }),
  Schema.TaggedStruct("Unknown", { message: Schema.String })
)
const OutcomeJson = Schema.parseJson(Outcome)
const encodeOutcome = Schema.encodeSync(OutcomeJson)
const decodeOutcome = Schema.decodeUnknownOption(OutcomeJson)

const CUT_SHORT =
  "an earlier request with this Idempotency-Key was cut short (the daemon stopped while it ran); what it did is unknown: " +
  "look at the session before sending it again with a new key"

const storageFailure = (error: IdempotencyStoreError) =>
  new StorageFailure({
    message: `could not remember the Idempotency-Key, so the request was not run: ${error.message}`
  })

/** Prune at most once per this many claims (each prune is one indexed DELETE). */
const PRUNE_EVERY = 100

export const make = Effect.gen(function*() {
  const store = yield* IdempotencyStore
  /** Keys whose first attempt runs in this daemon now; a second request with the key waits for it. */
  const inFlight = new Map<IdempotencyKey, Deferred.Deferred<void>>()
  const claims = yield* Ref.make(0)

  const maybePrune = (now: number) =>
    Effect.flatMap(Ref.getAndUpdate(claims, (n) => n + 1), (n) =>
      n % PRUNE_EVERY === 0
        ? store.prune(now - Duration.toMillis(IDEMPOTENCY_TTL)).pipe(
          Effect.catchAll((error) => Effect.logWarning("could not prune idempotency keys", error))
        )
        : Effect.void)

  const replay = <A, I>(request: IdempotentRequest<A, I>, record: IdempotencyRecord) =>
    Effect.gen(function*() {
      if (record.fingerprint !== request.fingerprint) {
        return yield* new IdempotencyKeyReused({
          message: "this Idempotency-Key was already used for a different request; use a new key for each request"
        })
      }
      if (Option.isNone(record.outcome)) return yield* new OutcomeUnknown({ message: CUT_SHORT })
      const outcome = decodeOutcome(record.outcome.value)
      if (Option.isNone(outcome)) return yield* new OutcomeUnknown({ message: CUT_SHORT })
      if (outcome.value._tag === "Unknown") return yield* new OutcomeUnknown({ message: outcome.value.message })
      return yield* Schema.decodeUnknown(request.success)(outcome.value.value).pipe(
        Effect.orElse(() => new OutcomeUnknown({ message: CUT_SHORT }))
      )
    })

  /** The first attempt, already claimed: its outcome is kept, or the key released when it did not happen. */
  const first = <A, I, E>(key: IdempotencyKey, request: IdempotentRequest<A, I>, effect: Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(effect)
      if (Exit.isSuccess(exit)) {
        yield* Effect.try(() => encodeOutcome({ _tag: "Done", value: Schema.encodeSync(request.success)(exit.value) }))
          .pipe(
            Effect.flatMap((outcome) => store.complete(key, outcome)),
            Effect.catchAll((e) => Effect.logWarning("could not record the outcome for its Idempotency-Key", e))
          )
        return exit.value
      }
      const error = Cause.failureOption(exit.cause)
      if (Option.isSome(error) && error.value instanceof OutcomeUnknown) {
        yield* store.complete(key, encodeOutcome({ _tag: "Unknown", message: error.value.message })).pipe(
          Effect.catchAll((e) => Effect.logWarning("could not record an unknown outcome for its Idempotency-Key", e))
        )
      } else if (Option.isSome(error)) {
        // not done: a retry with this key must run
        yield* store.release(key).pipe(
          Effect.catchAll((e) =>
            Effect.logWarning("could not forget the Idempotency-Key of a request that was not done", e)
          )
        )
      }
      // a defect or an interruption leaves the claim as it is: what happened is unknown
      return yield* exit
    })

  const run = <A, I, E>(request: IdempotentRequest<A, I>, effect: Effect.Effect<A, E>) => {
    const key = request.key
    if (key === undefined) return effect
    const attempt: Effect.Effect<A, E | OutcomeUnknown | IdempotencyKeyReused | StorageFailure> = Effect.gen(
      function*() {
        const running = inFlight.get(key)
        if (running !== undefined) {
          // the first attempt runs here now: wait for it, then read its outcome
          yield* Deferred.await(running)
          return yield* attempt
        }
        if (inFlight.size >= IDEMPOTENCY_IN_FLIGHT_MAX) {
          return yield* new StorageFailure({
            message: `${IDEMPOTENCY_IN_FLIGHT_MAX} requests with an Idempotency-Key already run; retry shortly`
          })
        }
        const done = yield* Deferred.make<void>()
        inFlight.set(key, done)
        return yield* Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const existing = yield* store.claim(key, request.fingerprint, now).pipe(Effect.mapError(storageFailure))
          if (Option.isSome(existing)) return yield* replay(request, existing.value)
          yield* maybePrune(now)
          return yield* first(key, request, effect)
        }).pipe(
          // the operation runs to its end even if the caller goes away: the retry will want its outcome
          Effect.uninterruptible,
          Effect.ensuring(Effect.suspend(() => {
            inFlight.delete(key)
            return Deferred.succeed(done, undefined)
          }))
        )
      }
    )
    return attempt
  }

  return Idempotency.of({ run })
})

export const layer: Layer.Layer<Idempotency, never, IdempotencyStore> = Layer.effect(Idempotency, make)

// ---------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------

const fail = (operation: string) => (cause: unknown) => new IdempotencyStoreError({ operation, cause })

/** Keys in the daemon's database (table `idempotency`, migration 0003), on the store's connection. */
export const layerSqliteStore: Layer.Layer<IdempotencyStore, never, SqlClient.SqlClient> = Layer.effect(
  IdempotencyStore,
  Effect.map(SqlClient.SqlClient, (sql) => {
    const transaction = inTransaction(sql)
    return IdempotencyStore.of({
      claim: (key, fingerprint, now) =>
        transaction(Effect.gen(function*() {
          const rows = yield* sql<{ fingerprint: string; outcome: string | null }>`
            SELECT fingerprint, outcome FROM idempotency WHERE key = ${key}`
          const row = rows[0]
          if (row !== undefined) {
            return Option.some({ fingerprint: row.fingerprint, outcome: Option.fromNullable(row.outcome) })
          }
          yield* sql`INSERT INTO idempotency (key, fingerprint, outcome, created_at) VALUES (${key}, ${fingerprint}, NULL, ${now})`
          return Option.none<IdempotencyRecord>()
        })).pipe(Effect.mapError(fail("claim"))),
      complete: (key, outcome) =>
        sql`UPDATE idempotency SET outcome = ${outcome} WHERE key = ${key}`.pipe(
          Effect.asVoid,
          Effect.mapError(fail("complete"))
        ),
      release: (key) =>
        sql`DELETE FROM idempotency WHERE key = ${key}`.pipe(Effect.asVoid, Effect.mapError(fail("release"))),
      prune: (before) =>
        Effect.all([
          sql`DELETE FROM idempotency WHERE created_at < ${before}`,
          sql`DELETE FROM idempotency WHERE key IN (
                SELECT key FROM idempotency ORDER BY created_at DESC LIMIT -1 OFFSET ${IDEMPOTENCY_KEYS_MAX})`
        ], { discard: true }).pipe(Effect.mapError(fail("prune")))
    })
  })
)

/** Keys in memory (insertion order = age), for unit tests. */
export const layerMemoryStore: Layer.Layer<IdempotencyStore> = Layer.sync(IdempotencyStore, () => {
  const rows = new Map<string, { fingerprint: string; outcome: Option.Option<string>; at: number }>()
  return IdempotencyStore.of({
    claim: (key, fingerprint, now) =>
      Effect.sync(() => {
        const row = rows.get(key)
        if (row !== undefined) return Option.some({ fingerprint: row.fingerprint, outcome: row.outcome })
        rows.set(key, { fingerprint, outcome: Option.none(), at: now })
        return Option.none()
      }),
    complete: (key, outcome) =>
      Effect.sync(() => {
        const row = rows.get(key)
        if (row !== undefined) row.outcome = Option.some(outcome)
      }),
    release: (key) => Effect.sync(() => void rows.delete(key)),
    prune: (before) =>
      Effect.sync(() => {
        for (const [key, row] of rows) if (row.at < before) rows.delete(key)
        while (rows.size > IDEMPOTENCY_KEYS_MAX) rows.delete(rows.keys().next().value!)
      })
  })
})

/** The service over the in-memory store: for unit tests. */
export const layerMemory: Layer.Layer<Idempotency> = layer.pipe(Layer.provide(layerMemoryStore))

/** The service over the daemon's database. */
export const layerSqlite: Layer.Layer<Idempotency, never, SqlClient.SqlClient> = layer.pipe(
  Layer.provide(layerSqliteStore)
)
