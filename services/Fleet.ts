import type { RpcClient, RpcClientError } from "@effect/rpc"
import { Context, type DateTime, type Duration, Effect, type Option, type Queue, type Scope } from "effect"
import {
  type ComputerUnreachable,
  type IdempotencyKeyReused,
  OutcomeUnknown,
  type RemoteTimeout
} from "../src/domain/Errors.js"
import type { ComputerName, Session, SessionId } from "../src/domain/Session.js"
import type { FleetRpc, TerminalItem } from "../src/fleet/Rpcs.js"
import type { TerminalError } from "./TerminalStreams.js"
import type { LinkStatus } from "./Transport.js"

/** A stream reader's position that was found beyond the stream's last generated id, and reset. */
export interface PositionReset {
  readonly stream: string
  /** The position that would never have read another entry. */
  readonly from: string
  /** The stream's last generated id at the time (`0-0`: the stream was gone). */
  readonly lastGenerated: string
  readonly to: string
  readonly at: DateTime.Utc
}

/**
 * This daemon's link to the fleet: the transport's connection state, and `degraded` while
 * connected but not working — writes refused (Redis out of memory, read-only) or a stream
 * reader unable to read; `lastError` then says what and what to check. Back to `up` after the
 * next success.
 */
export interface FleetLinkStatus {
  readonly state: LinkStatus["state"] | "degraded"
  readonly since: DateTime.Utc
  readonly attempt: number
  readonly lastError: string | null
  /** The last reader position reset since this daemon started, if any. */
  readonly lastReset: PositionReset | null
}

/** The fleet's procedures as one computer calls them on another (src/fleet/Rpcs.ts). */
export type FleetClient = RpcClient.RpcClient<FleetRpc, RpcClientError.RpcClientError>

/** What any call to another computer may end with besides its procedure's own errors. */
export type FleetCallError = ComputerUnreachable | RemoteTimeout

/**
 * A change sent to another computer that did not answer in time may have run there: that is an
 * unknown outcome, never "not done" (told "not done", a person does it again, and it runs twice).
 * `next` tells them what to do instead of repeating it blindly.
 */
export const unknownWhenTimedOut = (next: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.catchIf(
    (error): error is E & RemoteTimeout => (error as { _tag?: string })._tag === "RemoteTimeout",
    (error) => Effect.fail(new OutcomeUnknown({ message: `${error.message}; ${next}` }))
  ))

/**
 * This computer as a caller in the fleet. Without a Redis URL the fleet is this computer alone:
 * `link` is none and every call to another computer fails with `ComputerUnreachable`.
 */
export class Fleet extends Context.Tag("telemux/Fleet")<Fleet, {
  readonly link: Effect.Effect<Option.Option<FleetLinkStatus>>
  /**
   * Runs a procedure on `computer` (another than this one): its typed result or typed error, or
   * RemoteTimeout when no answer came within `timeout`, ComputerUnreachable when it cannot be asked.
   */
  readonly call: <A, E>(
    computer: ComputerName,
    call: (client: FleetClient) => Effect.Effect<A, E>,
    options?: { readonly timeout?: Duration.Duration }
  ) => Effect.Effect<A, Exclude<E, RpcClientError.RpcClientError> | FleetCallError>
  /**
   * Mirrors a remote session's screen updates into the local OutputLog, with its owner's
   * sequence numbers, for as long as the scope is open (shared by every watcher of the session).
   */
  readonly watchOutput: (session: Session) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Follows `computer`'s WatchTerminal of a session, handing each item to `onItem`; fails with
   * RemoteTimeout when it says nothing for three keepalive periods, and with the owner's or the
   * link's error otherwise. Not retried: the caller decides.
   */
  readonly watchTerminal: (
    computer: ComputerName,
    sessionId: SessionId,
    onItem: (item: TerminalItem) => Effect.Effect<void>
  ) => Effect.Effect<void, TerminalError | IdempotencyKeyReused>
  /** Succeeds when `computer` (another than this one) is online in the fleet; else says why not. */
  readonly requireOnline: (computer: ComputerName) => Effect.Effect<void, ComputerUnreachable>
  /**
   * Why a session this daemon does not list may still exist: its computer left the fleet while
   * the session was open (remembered, bounded), or is back and its sessions are not loaded yet.
   */
  readonly whereabouts: (sessionId: SessionId) => Effect.Effect<Option.Option<ComputerUnreachable>>
  /** Computers as they are forgotten (they left, or their heartbeat expired), from now on. */
  readonly departures: Effect.Effect<Queue.Dequeue<ComputerName>, never, Scope.Scope>
}>() {}
