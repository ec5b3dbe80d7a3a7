import { Context, Data, type Duration, type Effect, type Option } from "effect"

/**
 * A fleet-wide lease: at most one daemon of the fleet holds a named lease at a time, for a
 * bounded time it keeps renewing. It is how exactly one daemon does a fleet-wide job (e.g. the
 * one Telegram poller). Without Redis the fleet is this daemon alone, and it always holds it.
 *
 * Safety comes first: a holder that cannot renew (Redis unreachable, restarting, read-only)
 * stops its work before its lease could have expired anywhere — so two holders never run at
 * once — and another daemon takes the lease over once it has expired (its holder killed).
 */
export class LeaseLost extends Data.TaggedError("LeaseLost")<{
  readonly name: string
  readonly message: string
}> {}

/** The holding a piece of work runs under. */
export interface LeaseHolding {
  readonly name: string
  /** Unique to this holding (a new one each time the lease is taken). */
  readonly token: string
  /**
   * Writes `key` = `value` (with `ttl`) only while this holding is still the lease's holder,
   * checked atomically with the write (a fenced write): a holder that lost the lease can never
   * overwrite what its successor wrote. Fails with `LeaseLost` when no longer held.
   */
  readonly put: (key: string, value: string, ttl: Duration.Duration) => Effect.Effect<void, LeaseLost>
  /** Reads a key written with `put` (by any holding of this lease). */
  readonly get: (key: string) => Effect.Effect<Option.Option<string>, LeaseLost>
}

export class Leases extends Context.Tag("telemux/Leases")<Leases, {
  /**
   * Runs forever: waits until this daemon takes lease `name`, runs `work` while it holds it,
   * interrupts `work` (and waits for it to end) as soon as the lease is lost or cannot be renewed
   * in time, then waits to take it again. Released on interruption (daemon shutdown), so a
   * successor need not wait for it to expire.
   */
  readonly runWhileHeld: <E, R>(
    name: string,
    work: (holding: LeaseHolding) => Effect.Effect<void, E, R>
  ) => Effect.Effect<never, never, R>
  /** The computer holding lease `name` now, if any (for status and `doctor`). */
  readonly holder: (name: string) => Effect.Effect<Option.Option<string>>
}>() {}
