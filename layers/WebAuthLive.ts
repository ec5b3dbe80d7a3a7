/**
 * The web dashboard's sign-in (services/WebAuth.ts). Pending codes live in memory only (they last
 * a minute; a restart voids them); cookie sessions are held in a bounded in-memory index, written
 * through to the store so that a restart keeps people signed in. No request reads the database:
 * the index is loaded once, at start.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Duration, Effect, Layer, Option, Redacted, Ref, SynchronizedRef } from "effect"
import * as crypto from "node:crypto"
import { AuthToken } from "../services/AuthToken.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import {
  SECRET_BYTES,
  SIGN_IN_CODE_TTL,
  SIGN_IN_CODES_MAX,
  SIGN_IN_FAILURE_WINDOW,
  SIGN_IN_FAILURES_MAX,
  SignInError,
  WEB_SESSIONS_MAX,
  WebAuth,
  type WebSessionRow,
  WebSessionStore,
  WebSessionStoreError
} from "../services/WebAuth.js"

const sha256 = (value: string) => crypto.createHash("sha256").update(value, "utf8").digest()
const hashOf = (value: string) => sha256(value).toString("hex")
/** Which token a session was opened under, without keeping the token: a domain-separated hash of it. */
const tokenTagOf = (token: string) => hashOf(`telemux web session token:${token}`).slice(0, 32)
const secret = () => crypto.randomBytes(SECRET_BYTES).toString("base64url")

const INVALID_CODE =
  "this sign-in link was already used, has expired or is wrong; run `telemux web` for a new one (links last a minute)"
const INVALID_TOKEN = "that is not the API token; `telemux token` prints it"

interface PendingCode {
  readonly digest: Buffer
  readonly expiresAt: number
}

export const make = Effect.gen(function*() {
  const token = yield* AuthToken
  const store = yield* WebSessionStore
  const ttl = Duration.toMillis((yield* TelemuxConfig).webSessionTtl)
  const codes = yield* Ref.make<ReadonlyArray<PendingCode>>([])
  const failures = yield* Ref.make<ReadonlyArray<number>>([])
  /** Open sessions by the hash of their cookie value, in sign-in order (the oldest first). */
  const sessions = yield* SynchronizedRef.make(
    new Map((yield* Effect.orElseSucceed(store.all, () => [])).map((row) => [row.idHash, row]))
  )

  const persisted = <A>(what: string, effect: Effect.Effect<A, WebSessionStoreError>) =>
    Effect.catchAll(
      effect,
      (error) => Effect.logWarning(`could not ${what}: it holds until the daemon restarts`, error)
    )

  const currentTag = Effect.map(token.current, (value) => tokenTagOf(Redacted.value(value)))

  /** Drops expired sessions, and those of another token (a rotation ends every sign-in). */
  const prune = (now: number, tag: string) =>
    SynchronizedRef.updateEffect(sessions, (map) => {
      const gone = [...map.values()].filter((row) => row.expiresAt <= now || row.tokenTag !== tag)
      if (gone.length === 0) return Effect.succeed(map)
      const rotated = gone.filter((row) => row.tokenTag !== tag).length
      const next = new Map(map)
      for (const row of gone) next.delete(row.idHash)
      return Effect.as(
        Effect.zipRight(
          persisted("remove ended web sessions", store.remove(gone.map((row) => row.idHash))),
          rotated > 0
            ? Effect.logInfo("the API token changed: web sign-ins made with the old one are ended").pipe(
              Effect.annotateLogs({ ended: rotated })
            )
            : Effect.void
        ),
        next
      )
    })

  const open = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const tag = yield* currentTag
    yield* prune(now, tag)
    const value = secret()
    const row: WebSessionRow = { idHash: hashOf(value), tokenTag: tag, createdAt: now, expiresAt: now + ttl }
    yield* SynchronizedRef.updateEffect(sessions, (map) => {
      const next = new Map(map)
      next.set(row.idHash, row)
      const dropped: Array<string> = []
      for (const idHash of next.keys()) {
        if (next.size <= WEB_SESSIONS_MAX) break
        next.delete(idHash)
        dropped.push(idHash)
      }
      return Effect.as(
        Effect.zipRight(
          persisted("store the web sign-in", store.insert(row)),
          dropped.length === 0 ? Effect.void : persisted("remove the oldest web sign-ins", store.remove(dropped))
        ),
        next
      )
    })
    return { value, expiresAt: row.expiresAt }
  })

  /** Refuses while SIGN_IN_FAILURES_MAX failures happened within the window; otherwise runs `attempt`, counting its failure. */
  const throttled = <A>(attempt: Effect.Effect<A, SignInError>) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const window = Duration.toMillis(SIGN_IN_FAILURE_WINDOW)
      const recent = (yield* Ref.get(failures)).filter((at) => at > now - window)
      if (recent.length >= SIGN_IN_FAILURES_MAX) {
        const retryAfterSeconds = Math.max(1, Math.ceil((recent[0]! + window - now) / 1000))
        return yield* new SignInError({
          reason: "throttled",
          message: `too many failed sign-ins; try again in ${retryAfterSeconds} s`,
          retryAfterSeconds
        })
      }
      return yield* Effect.tapError(
        attempt,
        () => Ref.set(failures, [...recent, now].slice(-SIGN_IN_FAILURES_MAX))
      )
    })

  /** Takes the code out of the pending ones if it is there and unexpired; every pending code is compared, in constant time. */
  const takeCode = (candidate: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.modify(codes, (pending) => {
        const digest = sha256(candidate)
        let found = false
        const kept: Array<PendingCode> = []
        for (const code of pending) {
          const same = crypto.timingSafeEqual(digest, code.digest)
          if (same && code.expiresAt > now) found = true
          else if (!same && code.expiresAt > now) kept.push(code)
        }
        return [found, kept] as const
      }))

  // what expired, or was opened under another token, while the daemon was down goes at once
  yield* prune(yield* Clock.currentTimeMillis, yield* currentTag)

  return WebAuth.of({
    createCode: Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const code = secret()
      const expiresAt = now + Duration.toMillis(SIGN_IN_CODE_TTL)
      yield* Ref.update(
        codes,
        (pending) =>
          [...pending.filter((c) => c.expiresAt > now), { digest: sha256(code), expiresAt }].slice(-SIGN_IN_CODES_MAX)
      )
      return { code, expiresAt }
    }),
    signInWithCode: (code) =>
      throttled(
        Effect.flatMap(
          takeCode(code.trim()),
          (ok) => (ok ? open : Effect.fail(new SignInError({ reason: "invalid", message: INVALID_CODE })))
        )
      ),
    signInWithToken: (candidate) =>
      throttled(
        Effect.flatMap(
          token.verify(candidate.trim()),
          (ok) => (ok ? open : Effect.fail(new SignInError({ reason: "invalid", message: INVALID_TOKEN })))
        )
      ),
    authenticate: (value) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const tag = yield* currentTag
        const row = (yield* SynchronizedRef.get(sessions)).get(hashOf(value))
        if (row !== undefined && row.expiresAt > now && row.tokenTag === tag) {
          return Option.some({ expiresAt: row.expiresAt })
        }
        if (row !== undefined) yield* prune(now, tag)
        return Option.none()
      }),
    signOut: (value) =>
      SynchronizedRef.updateEffect(sessions, (map) => {
        const idHash = hashOf(value)
        if (!map.has(idHash)) return Effect.succeed(map)
        const next = new Map(map)
        next.delete(idHash)
        return Effect.as(persisted("remove the web sign-in", store.remove([idHash])), next)
      }),
    openSessions: Effect.map(SynchronizedRef.get(sessions), (map) => map.size)
  })
})

export const layer: Layer.Layer<WebAuth, never, AuthToken | WebSessionStore | TelemuxConfig> = Layer.effect(
  WebAuth,
  make
)

const fail = (operation: string) => (cause: unknown) => new WebSessionStoreError({ operation, cause })

/** Cookie sessions in the daemon's database (table `web_sessions`, migration 0004), on the store's connection. */
export const layerSqliteStore: Layer.Layer<WebSessionStore, never, SqlClient.SqlClient> = Layer.effect(
  WebSessionStore,
  Effect.map(SqlClient.SqlClient, (sql) =>
    WebSessionStore.of({
      all: sql<{ id_hash: string; token_tag: string; created_at: number; expires_at: number }>`
        SELECT id_hash, token_tag, created_at, expires_at FROM web_sessions ORDER BY created_at`.pipe(
        Effect.map((rows) =>
          rows.map((row) => ({
            idHash: row.id_hash,
            tokenTag: row.token_tag,
            createdAt: row.created_at,
            expiresAt: row.expires_at
          }))
        ),
        Effect.mapError(fail("all"))
      ),
      insert: (row) =>
        sql`INSERT INTO web_sessions (id_hash, token_tag, created_at, expires_at)
            VALUES (${row.idHash}, ${row.tokenTag}, ${row.createdAt}, ${row.expiresAt})`.pipe(
          Effect.asVoid,
          Effect.mapError(fail("insert"))
        ),
      remove: (idHashes) =>
        idHashes.length === 0
          ? Effect.void
          : sql`DELETE FROM web_sessions WHERE ${sql.in("id_hash", idHashes)}`.pipe(
            Effect.asVoid,
            Effect.mapError(fail("remove"))
          )
    }))
)

/** Cookie sessions in memory, for unit tests (a "restart" keeps the same layer). */
export const layerMemoryStore: Layer.Layer<WebSessionStore> = Layer.sync(WebSessionStore, () => {
  const rows = new Map<string, WebSessionRow>()
  return WebSessionStore.of({
    all: Effect.sync(() => [...rows.values()]),
    insert: (row) => Effect.sync(() => void rows.set(row.idHash, row)),
    remove: (idHashes) => Effect.sync(() => idHashes.forEach((idHash) => rows.delete(idHash)))
  })
})

export const layerMemory: Layer.Layer<WebAuth, never, AuthToken | TelemuxConfig> = layer.pipe(
  Layer.provide(layerMemoryStore)
)

export const layerSqlite: Layer.Layer<WebAuth, never, AuthToken | TelemuxConfig | SqlClient.SqlClient> = layer.pipe(
  Layer.provide(layerSqliteStore)
)
