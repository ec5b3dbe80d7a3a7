import { Context, type Deferred, type Duration, type Effect, type Option, type Scope } from "effect"
import type { RemoteError, Request, ResultOf } from "../src/fleet/Protocol.js"
import type { ComputerName, Session } from "../src/domain/Session.js"
import type { LinkStatus } from "./Transport.js"

/**
 * This computer's part in the fleet: it announces itself, learns the others and their sessions,
 * answers their requests and sends its own. Without a Redis URL the fleet is this computer alone:
 * `link` is none and every request to another computer fails with `ComputerUnreachable`.
 */
export class Fleet extends Context.Tag("telemux/Fleet")<Fleet, {
  readonly link: Effect.Effect<Option.Option<LinkStatus>>
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
}>() {}

/**
 * The fleet, for a part that is built before it and calls it later: agents tell listeners on other
 * computers, while the fleet starts agents for other computers. The composition fills the slot
 * once the fleet is up; a call before that waits for it.
 */
export class FleetSlot extends Context.Tag("telemux/FleetSlot")<FleetSlot, Deferred.Deferred<Fleet["Type"]>>() {}
