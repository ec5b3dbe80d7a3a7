import { Context, Data, Duration, type Effect, type Redacted } from "effect"

/** Random bytes in a generated token (hex-encoded: twice as many characters). */
export const TOKEN_BYTES = 32

/**
 * How stale the daemon's copy of the token file may be when it accepts the token it holds: the file
 * is looked at again (one `stat`) at most this often, not on every request. A token that does not
 * match makes the daemon look at the file before refusing it, so a rotated token is accepted from
 * its first request; the token it replaced is refused from then on, and at the latest this long
 * after the rotation.
 */
export const TOKEN_RECHECK_INTERVAL = Duration.seconds(1)

export class TokenError extends Data.TaggedError("TokenError")<{
  readonly path: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** The API bearer token: read from `$TELEMUX_HOME/token` (0600), generated on first start. */
export class AuthToken extends Context.Tag("telemux/AuthToken")<AuthToken, {
  readonly current: Effect.Effect<Redacted.Redacted<string>>
  /**
   * Constant-time comparison against the current token (kept fresh as TOKEN_RECHECK_INTERVAL
   * says). No I/O when the candidate is the token held and it was checked recently.
   */
  readonly verify: (candidate: string) => Effect.Effect<boolean>
}>() {}
