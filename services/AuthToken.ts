import { Context, Data, type Effect, type Redacted } from "effect"

/** Random bytes in a generated token (hex-encoded: twice as many characters). */
export const TOKEN_BYTES = 32

export class TokenError extends Data.TaggedError("TokenError")<{
  readonly path: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** The API bearer token: read from `$TELEMUX_HOME/token` (0600), generated on first start. */
export class AuthToken extends Context.Tag("telemux/AuthToken")<AuthToken, {
  readonly current: Effect.Effect<Redacted.Redacted<string>>
  /** Constant-time comparison against the current token. */
  readonly verify: (candidate: string) => Effect.Effect<boolean>
}>() {}
