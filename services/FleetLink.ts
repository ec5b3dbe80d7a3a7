import { Context, type Duration, type Effect, type Option, type Scope } from "effect"
import type { ComputerName } from "../src/domain/Session.js"
import type { Envelope } from "../src/fleet/Envelope.js"
import type { FleetLinkStatus } from "./Fleet.js"
import type { StreamEntry, TransportError } from "./Transport.js"

/** A stream a FleetLink reader follows: resumed where it was left, and across restarts when `savedAs` names it. */
export interface FollowedStream {
  readonly stream: string
  readonly savedAs?: string
}

/**
 * The fleet's wire, shared by this computer as a caller (Fleet) and as a server
 * (layers/FleetServer.ts): signed envelopes over the transport, capped streams written and read
 * from saved positions, and the link's health as both sides see it.
 */
export class FleetLink extends Context.Tag("telemux/FleetLink")<FleetLink, {
  readonly me: ComputerName
  readonly heartbeatInterval: Duration.Duration
  /** The signed wire text of a message to `to` (or every computer), valid for `lifetime`. */
  readonly seal: (
    kind: string,
    to: ComputerName | "*",
    payload: unknown,
    lifetime: Duration.Duration
  ) => Effect.Effect<string>
  /** The authentic envelope in `raw`, or none (logged) for anything forged, stale, malformed or misaddressed. */
  readonly unseal: (
    raw: string,
    kind: string,
    where: string,
    replayWindow?: Duration.Duration
  ) => Effect.Effect<Option.Option<Envelope>>
  /** Appends to a capped, expiring stream; the outcome counts in the link's health. */
  readonly append: (
    operation: string,
    stream: string,
    raw: string,
    options: { readonly maxLen: number; readonly ttl: Duration.Duration }
  ) => Effect.Effect<string, TransportError>
  /**
   * Follows `streams` forever on a reader connection of its own: positions start where they were
   * left (a first start reads only new entries), are saved before the entries are handled, and
   * are reset when found beyond the stream's last generated id; failures show in the health.
   */
  readonly follow: (
    streams: ReadonlyArray<FollowedStream>,
    handle: (entries: ReadonlyArray<StreamEntry>) => Effect.Effect<void>
  ) => Effect.Effect<never, never, Scope.Scope>
  /** A write whose outcome counts in the link's health (for writes that are not stream appends). */
  readonly tracked: <A>(operation: string, write: Effect.Effect<A, TransportError>) => Effect.Effect<A, TransportError>
  readonly status: Effect.Effect<FleetLinkStatus>
  /** Since when this daemon could see the fleet and be seen (link up, writes working), if it can now. */
  readonly seeingSince: Effect.Effect<Option.Option<number>>
}>() {}
