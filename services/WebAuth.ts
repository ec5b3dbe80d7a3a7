import { Context, Data, Duration, type Effect, type Option } from "effect"

/**
 * Signing in to the web dashboard without a token in a URL: `telemux web` asks for a single-use
 * sign-in code (an API call with the bearer token) and opens `/sign-in#code=…`; the page posts the
 * code, or the token a person pasted, and gets a cookie session. A session is kept in SQLite by
 * the hash of its cookie value (never the value), lasts a fixed time from sign-in (not sliding),
 * and ends at sign-out, at expiry, or when the API token is rotated.
 */

/** A sign-in code is good for this long, once. */
export const SIGN_IN_CODE_TTL = Duration.seconds(60)
/** Codes waiting to be used; making one more drops the oldest. */
export const SIGN_IN_CODES_MAX = 16
/** Random bytes in a sign-in code and in a cookie value (base64url: 43 characters). */
export const SECRET_BYTES = 32
/** Cookie sessions kept; a sign-in beyond this ends the one least recently signed in. */
export const WEB_SESSIONS_MAX = 64
/** Failed sign-ins (wrong code or token) accepted per window; more are refused until it passes. */
export const SIGN_IN_FAILURES_MAX = 10
export const SIGN_IN_FAILURE_WINDOW = Duration.minutes(1)

export class SignInError extends Data.TaggedError("SignInError")<{
  readonly reason: "invalid" | "throttled"
  readonly message: string
  /** For `throttled`: seconds until an attempt is accepted again. */
  readonly retryAfterSeconds?: number
}> {}

/** A cookie session just opened: the value to set in the cookie, and when it ends (epoch ms). */
export interface IssuedSession {
  readonly value: string
  readonly expiresAt: number
}

export interface SignInCode {
  readonly code: string
  /** Epoch ms. */
  readonly expiresAt: number
}

export class WebAuth extends Context.Tag("telemux/WebAuth")<WebAuth, {
  /** A fresh single-use code, good for SIGN_IN_CODE_TTL. */
  readonly createCode: Effect.Effect<SignInCode>
  /** Uses a code (once: a second use is refused) for a cookie session. */
  readonly signInWithCode: (code: string) => Effect.Effect<IssuedSession, SignInError>
  /** Checks the API token (constant time) for a cookie session. */
  readonly signInWithToken: (token: string) => Effect.Effect<IssuedSession, SignInError>
  /** The session a cookie value names, if it is open (not ended, not expired, same API token). */
  readonly authenticate: (value: string) => Effect.Effect<Option.Option<{ readonly expiresAt: number }>>
  /** Ends the session a cookie value names; nothing when there is none. */
  readonly signOut: (value: string) => Effect.Effect<void>
  /** Open cookie sessions (for tests and metrics). */
  readonly openSessions: Effect.Effect<number>
}>() {}

/** A cookie session as stored: the SHA-256 of its cookie value, never the value. */
export interface WebSessionRow {
  readonly idHash: string
  /** Which API token it was opened under (a hash of it): another token ends it. */
  readonly tokenTag: string
  readonly createdAt: number
  readonly expiresAt: number
}

export class WebSessionStoreError extends Data.TaggedError("WebSessionStoreError")<{
  readonly operation: string
  readonly cause: unknown
}> {}

/** Where cookie sessions outlive the daemon (SQLite in the daemon, memory in unit tests). */
export class WebSessionStore extends Context.Tag("telemux/WebSessionStore")<WebSessionStore, {
  readonly all: Effect.Effect<ReadonlyArray<WebSessionRow>, WebSessionStoreError>
  readonly insert: (row: WebSessionRow) => Effect.Effect<void, WebSessionStoreError>
  readonly remove: (idHashes: ReadonlyArray<string>) => Effect.Effect<void, WebSessionStoreError>
}>() {}
