import { Context, type DateTime, type Deferred, type Duration, type Effect, type Option, type Scope } from "effect"
import type { RemoteError, Request, ResultOf } from "../src/fleet/Protocol.js"
import type { ComputerUnreachable } from "../src/domain/Errors.js"
import type { ComputerName, Session, SessionId } from "../src/domain/Session.js"
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
 * connected but not working — writes refused (Redis out of memory, read-only) or the stream
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

/**
 * This computer's part in the fleet: it announces itself, learns the others and their sessions,
 * answers their requests and sends its own. Without a Redis URL the fleet is this computer alone:
 * `link` is none and every request to another computer fails with `ComputerUnreachable`.
 */
export class Fleet extends Context.Tag("telemux/Fleet")<Fleet, {
  readonly link: Effect.Effect<Option.Option<FleetLinkStatus>>
  /** Runs `request` on `computer` and returns its typed result or typed error within `timeout`. */
  readonly request: <R extends Request>(
    computer: ComputerName,
    request: R,
    timeout?: Duration.Duration
  ) => Effect.Effect<ResultOf<R>, RemoteError>
  /**
   * Mirrors a remote session's screen updates into the local OutputLog, with its owner's
   * sequence numbers, for as long as the scope is open (shared by every watcher of the session).
   */
  readonly watchOutput: (session: Session) => Effect.Effect<void, never, Scope.Scope>
  /** Succeeds when `computer` (another than this one) is online in the fleet; else says why not. */
  readonly requireOnline: (computer: ComputerName) => Effect.Effect<void, ComputerUnreachable>
  /**
   * Why a session this daemon does not list may still exist: its computer left the fleet while
   * the session was open (remembered, bounded), or is back and its sessions are not loaded yet.
   */
  readonly whereabouts: (sessionId: SessionId) => Effect.Effect<Option.Option<ComputerUnreachable>>
}>() {}

/**
 * The fleet, for a part that is built before it and calls it later: agents tell listeners on other
 * computers, while the fleet starts agents for other computers. The composition fills the slot
 * once the fleet is up; a call before that waits for it.
 */
export class FleetSlot extends Context.Tag("telemux/FleetSlot")<FleetSlot, Deferred.Deferred<Fleet["Type"]>>() {}
