/**
 * Fleet-wide leases on the fleet's Redis (services/Lease.ts): the lease is one key holding the
 * holder's token, `<computer>:<random>`, new each time it is taken; it is claimed with `SET NX PX`
 * and renewed, released and written through only by compare-and-act steps on that token.
 *
 * Timing, for a lease of life T (TELEMUX_LEASE_TTL, 15 s by default):
 * - the holder renews every T/3; a renewal that fails (no answer, link down) is tried again every
 *   T/12 while there is time;
 * - each successful renewal (or the claim) keeps the key until at least its *start* + T on the
 *   server's clock. The holder's own deadline is that start + T − T/4: when it passes with no
 *   renewal succeeded since, the holder interrupts its work and waits for it to end. The last
 *   quarter of T is the work's time to stop (and room for the two clocks' drift), so its
 *   successor, who can take the key only once it expired, never runs beside it — even when the
 *   holder cannot reach Redis at all;
 * - a renewal (or a fenced write) that finds the key gone or someone else's: lost at once;
 * - contenders try to claim every T/3 (±25 % jitter): a killed holder's job is taken over within
 *   about T + T/3 of its last renewal; a holder that stops (daemon shutdown) releases the key if
 *   it is still its own, so the next takes over at its next try.
 * Fenced values live beside the lease key, under the same hash tag (one Redis Cluster slot).
 */
import { Cause, Clock, Deferred, Duration, Effect, Layer, Option, Random, Schedule } from "effect"
import { randomBytes } from "node:crypto"
import { type LeaseHolding, LeaseLost, Leases } from "../services/Lease.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { KEY_PREFIX, Transport, type TransportError } from "../services/Transport.js"
import { WORK_RESTART_DELAY } from "./LeasesAlone.js"

/** The key holding lease `name`'s token. */
export const leaseKey = (name: string) => `${KEY_PREFIX}lease:{${name}}`
/** Where a holding of lease `name` keeps its fenced value `key`. */
export const fencedKey = (name: string, key: string) => `${KEY_PREFIX}lease:{${name}}:value:${key}`

/** A stopping holder gives its release this long (shutdown must not wait on a dead link). */
export const RELEASE_TIMEOUT = Duration.millis(500)

export interface LeaseTiming {
  readonly ttl: Duration.Duration
  readonly renewEvery: Duration.Duration
  readonly retryEvery: Duration.Duration
  /** How long before its lease could expire a holder that cannot renew stops its work. */
  readonly margin: Duration.Duration
  readonly claimEvery: Duration.Duration
}

export const timingFor = (ttl: Duration.Duration): LeaseTiming => ({
  ttl,
  renewEvery: Duration.unsafeDivide(ttl, 3),
  retryEvery: Duration.unsafeDivide(ttl, 12),
  margin: Duration.unsafeDivide(ttl, 4),
  claimEvery: Duration.unsafeDivide(ttl, 3)
})

/** The computer in a holder's token (`<computer>:<random>`; computer names have no `:`). */
export const computerOf = (token: string) => token.slice(0, Math.max(0, token.indexOf(":")))

const newToken = (computer: string) => `${computer}:${randomBytes(12).toString("base64url")}`

export interface RedisLeasesOptions {
  readonly computer: string
  readonly ttl: Duration.Duration
}

export const make = (options: RedisLeasesOptions) =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const timing = timingFor(options.ttl)
    const ttlMs = Duration.toMillis(timing.ttl)

    const holder = (name: string) =>
      transport.get(leaseKey(name)).pipe(
        Effect.map(Option.map(computerOf)),
        Effect.catchAll((e) =>
          Effect.as(
            Effect.logDebug("cannot read a lease's holder", e).pipe(Effect.annotateLogs({ lease: name })),
            Option.none()
          )
        )
      )

    /** Lets the key go if it still holds `token`; bounded, and never failing (else it expires). */
    const release = (name: string, token: string) =>
      transport.releaseIfHeld(leaseKey(name), token).pipe(
        Effect.timeout(RELEASE_TIMEOUT),
        Effect.tap((released) => (released ? Effect.logInfo("lease released") : Effect.void)),
        Effect.catchAll((e) => Effect.logDebug("cannot release a lease; it will expire", e))
      )

    /** Waits, trying every ~T/3, until this daemon claims `name`; returns the token and when the claim was sent. */
    const claim = (name: string) =>
      Effect.gen(function*() {
        const token = newToken(options.computer)
        const sentAt = yield* Clock.currentTimeMillis
        const claimed = yield* transport.claim(leaseKey(name), token, timing.ttl).pipe(
          Effect.catchAll((e) => Effect.as(Effect.logDebug("cannot claim a lease", e), false)),
          // a claim interrupted in flight (shutdown) may still have landed: let it go rather than expire
          Effect.onInterrupt(() => release(name, token))
        )
        if (claimed) return Option.some({ token, sentAt })
        const jitter = yield* Random.nextRange(0.75, 1.25)
        yield* Effect.sleep(Duration.times(timing.claimEvery, jitter))
        return Option.none()
      }).pipe(
        Effect.repeat({ until: Option.isSome }),
        Effect.map(Option.getOrThrow)
      )

    /**
     * Renews until the lease is lost; returns why. Never waits past its deadline: each renewal is
     * bounded by the time left to it.
     */
    const keepRenewed = (name: string, token: string, claimedAt: number) =>
      Effect.gen(function*() {
        let renewedAt = claimedAt
        let nextAt = claimedAt + Duration.toMillis(timing.renewEvery)
        while (true) {
          const deadline = renewedAt + ttlMs - Duration.toMillis(timing.margin)
          const now = yield* Clock.currentTimeMillis
          if (now >= deadline) {
            return new LeaseLost({
              name,
              message: `not renewed within ${
                Duration.format(Duration.millis(deadline - renewedAt))
              }: stopped before it could expire`
            })
          }
          if (now < nextAt) {
            yield* Effect.sleep(Duration.millis(Math.min(nextAt, deadline) - now))
            continue
          }
          const renewed = yield* transport.renewIfHeld(leaseKey(name), token, timing.ttl).pipe(
            Effect.timeoutOption(Duration.millis(deadline - now)),
            Effect.either
          )
          if (renewed._tag === "Right" && Option.isSome(renewed.right)) {
            if (!renewed.right.value) {
              const next = yield* holder(name)
              return new LeaseLost({
                name,
                message: Option.match(next, {
                  onNone: () => "expired before it was renewed",
                  onSome: (computer) => `taken over by ${computer}`
                })
              })
            }
            renewedAt = now
            nextAt = now + Duration.toMillis(timing.renewEvery)
          } else {
            yield* Effect.logWarning("cannot renew a lease; trying again").pipe(
              Effect.annotateLogs({
                error: renewed._tag === "Left" ? renewed.left.message : "no answer in time",
                stopsIn: Duration.format(Duration.millis(Math.max(0, deadline - now)))
              })
            )
            nextAt = now + Duration.toMillis(timing.retryEvery)
          }
        }
      })

    /** Work that ends or fails on its own is started again (while the lease is held). */
    const restarting = <E, R>(work: Effect.Effect<void, E, R>) =>
      work.pipe(
        Effect.matchCauseEffect({
          onSuccess: () => Effect.logInfo("work under a lease ended; starting it again"),
          onFailure: (cause) =>
            Effect.logWarning("work under a lease failed; starting it again").pipe(
              Effect.annotateLogs({ cause: Cause.pretty(cause) })
            )
        }),
        Effect.zipRight(Effect.sleep(WORK_RESTART_DELAY)),
        Effect.forever
      )

    /** One holding: work runs until the lease is lost (or this fiber is interrupted), then the key is let go if still ours. */
    const hold = <E, R>(
      name: string,
      token: string,
      claimedAt: number,
      work: (holding: LeaseHolding) => Effect.Effect<void, E, R>
    ) =>
      Effect.gen(function*() {
        const lost = yield* Deferred.make<LeaseLost>()
        const lostHere = (message: string) => new LeaseLost({ name, message })

        /** Retries a step that could not reach Redis until it answers or the holding is lost. */
        const fenced = <A>(step: Effect.Effect<A, TransportError | LeaseLost>) =>
          Effect.flatMap(Deferred.isDone(lost), (done) =>
            done
              ? Effect.flatMap(Deferred.await(lost), Effect.fail)
              : Effect.raceFirst(
                step.pipe(
                  Effect.retry({
                    while: (e) => e._tag === "TransportError",
                    schedule: Schedule.spaced(timing.retryEvery)
                  }),
                  Effect.catchTag("TransportError", (e) => Effect.fail(lostHere(e.message)))
                ),
                Effect.flatMap(Deferred.await(lost), Effect.fail)
              ))

        const holding: LeaseHolding = {
          name,
          token,
          put: (key, value, ttl) =>
            fenced(
              transport.putIfHeld({ key: leaseKey(name), value: token }, fencedKey(name, key), value, ttl).pipe(
                Effect.flatMap((written) => {
                  if (written) return Effect.void
                  const reason = lostHere("no longer the holder: a fenced write was refused")
                  return Effect.zipRight(Deferred.succeed(lost, reason), Effect.fail(reason))
                })
              )
            ),
          get: (key) => fenced(transport.get(fencedKey(name, key)))
        }

        yield* Effect.logInfo("lease taken").pipe(Effect.annotateLogs({ token }))
        const reason = yield* Effect.raceFirst(
          Effect.raceFirst(
            Effect.tap(keepRenewed(name, token, claimedAt), (reason) => Deferred.succeed(lost, reason)),
            Deferred.await(lost)
          ),
          restarting(Effect.suspend(() => work(holding)))
        )
        yield* Effect.logWarning("lease lost; its work has stopped").pipe(
          Effect.annotateLogs({ reason: reason.message })
        )
      }).pipe(Effect.ensuring(release(name, token)))

    return Leases.of({
      runWhileHeld: (name, work) =>
        // no interruption between a claim that landed and the holding that releases it
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(restore(claim(name)), ({ sentAt, token }) => restore(hold(name, token, sentAt, work)))
        ).pipe(
          Effect.forever,
          Effect.annotateLogs({ lease: name })
        ),
      holder
    })
  })

export const layer = Layer.effect(
  Leases,
  Effect.flatMap(TelemuxConfig, (settings) => make({ computer: settings.computer, ttl: settings.leaseTtl }))
)
