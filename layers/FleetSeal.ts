import { Clock, Duration, Effect, Option, type Redacted } from "effect"
import { randomUUID } from "node:crypto"
import type { ComputerName } from "../src/domain/Session.js"
import { encode, type Envelope, open, REPLAY_WINDOW, sign } from "../src/fleet/Envelope.js"

export interface SealOptions {
  readonly secret: Redacted.Redacted<string>
  readonly me: ComputerName
  readonly replayWindow?: Duration.Duration
}

/**
 * Every fleet message leaves in a signed envelope and is opened only when authentic, fresh,
 * well-formed and addressed to this computer (or to all); anything else is logged and dropped.
 */
export const make = (options: SealOptions) => {
  const { me, secret } = options
  const replayWindow = options.replayWindow ?? REPLAY_WINDOW

  /** The signed wire text of a message. */
  const seal = (
    kind: string,
    to: ComputerName | "*",
    payload: unknown,
    lifetime: Duration.Duration,
    id: string = randomUUID()
  ) =>
    Effect.map(Clock.currentTimeMillis, (now) =>
      encode(sign(secret, {
        v: 1,
        id,
        kind,
        from: me,
        to,
        sentAt: now,
        deadline: now + Duration.toMillis(lifetime),
        payload
      })))

  /** The authentic envelope in `raw`, or none (logged) for anything forged, stale, malformed or misaddressed. */
  const unseal = (raw: string, kind: string, where: string, window: Duration.Duration = replayWindow) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => open(secret, raw, now, { replayWindow: window })).pipe(
      Effect.flatMap((envelope) =>
        envelope.kind === kind && (envelope.to === me || envelope.to === "*")
          ? Effect.succeed(Option.some(envelope))
          : Effect.as(
            Effect.logWarning("dropped a fleet message not meant for this reader").pipe(
              Effect.annotateLogs({ stream: where, kind: envelope.kind, to: envelope.to, from: envelope.from })
            ),
            Option.none<Envelope>()
          )
      ),
      Effect.catchTag("EnvelopeRejected", (rejected) =>
        Effect.as(
          Effect.logWarning("dropped a fleet message", rejected).pipe(
            Effect.annotateLogs({ stream: where, reason: rejected.reason })
          ),
          Option.none<Envelope>()
        ))
    )

  return { me, replayWindow, seal, unseal } as const
}

export type FleetSeal = ReturnType<typeof make>

/** A bounded set that forgets its oldest member first. */
export const boundedSet = <A>(capacity: number) => {
  const members = new Set<A>()
  return {
    /** Adds `a`; false when it was already there. */
    add: (a: A) => {
      if (members.has(a)) return false
      members.add(a)
      if (members.size > capacity) members.delete(members.values().next().value as A)
      return true
    },
    size: () => members.size
  }
}
