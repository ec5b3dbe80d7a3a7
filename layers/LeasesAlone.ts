/**
 * Leases for a fleet of one (no Redis): this daemon is the only candidate, so it always holds
 * every lease. The fenced values live in memory, bounded, and end with the daemon.
 */
import { Cause, Clock, Duration, Effect, Layer, Option, Ref } from "effect"
import { type LeaseHolding, Leases } from "../services/Lease.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"

/** How many fenced values are kept; the oldest write goes first beyond it. */
export const ALONE_VALUES_MAX = 1024
/** A piece of work that ended or failed on its own is started again after this. */
export const WORK_RESTART_DELAY = Duration.seconds(1)

interface Stored {
  readonly value: string
  readonly expiresAt: number
}

export const make = (computer: string) =>
  Effect.gen(function*() {
    const values = yield* Ref.make(new Map<string, Stored>())
    let held = 0

    const holding = (name: string): LeaseHolding => ({
      name,
      token: `${computer}:${++held}`,
      put: (key, value, ttl) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Ref.update(values, (map) => {
            const next = new Map(map)
            next.delete(key)
            next.set(key, { value, expiresAt: now + Duration.toMillis(ttl) })
            while (next.size > ALONE_VALUES_MAX) next.delete(next.keys().next().value!)
            return next
          })),
      get: (key) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.map(Ref.get(values), (map) => {
            const stored = map.get(key)
            return stored !== undefined && stored.expiresAt > now ? Option.some(stored.value) : Option.none()
          }))
    })

    return Leases.of({
      runWhileHeld: <E, R>(name: string, work: (holding: LeaseHolding) => Effect.Effect<void, E, R>) =>
        Effect.suspend(() => work(holding(name))).pipe(
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause)
              ? Effect.interrupt
              : Effect.logWarning("work under a lease failed; starting it again").pipe(
                Effect.annotateLogs({ lease: name, cause: Cause.pretty(cause) })
              )
          ),
          Effect.zipRight(Effect.sleep(WORK_RESTART_DELAY)),
          Effect.forever
        ),
      holder: () => Effect.succeed(Option.some(computer))
    })
  })

export const layer = Layer.effect(Leases, Effect.flatMap(TelemuxConfig, (settings) => make(settings.computer)))
