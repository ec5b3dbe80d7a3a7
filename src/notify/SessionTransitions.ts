/**
 * Which session changes a person is told about, from the successive versions of each session the
 * cache publishes. A notification marks a transition *into* a state, so it is not repeated while
 * the session stays in it (an agent asking twice, a new summary of the same question): the same
 * session and event come again only after the session has been in another state.
 */
import type { CloseReason, Session, SessionId, SessionStatus } from "../domain/Session.js"
import type { NotificationKind } from "./Notification.js"

/** Sessions whose last status is kept; past it the least recently changed one is forgotten. */
export const TRACKED_SESSIONS_MAX = 10_000

/** Closed by someone or by telemux's own rules: not news to a person. */
const EXPECTED_CLOSE: ReadonlyArray<CloseReason> = ["user", "inactive"]

export const diedUnexpectedly = (reason: CloseReason | null): boolean =>
  reason !== null && !EXPECTED_CLOSE.includes(reason)

export class SessionTransitions {
  private readonly last = new Map<SessionId, SessionStatus>()

  constructor(private readonly max: number = TRACKED_SESSIONS_MAX) {}

  /**
   * Records this version of an open session; answers what it starts: waiting for input (from any
   * other state), or an agent's finished turn (running or waiting → idle). The first version seen
   * of a session starts nothing: at the daemon's start every session is seen for the first time.
   */
  upserted(session: Session): NotificationKind | undefined {
    const id = session.sessionId
    const before = this.last.get(id)
    this.last.delete(id)
    if (session.status === "closed") return undefined
    this.last.set(id, session.status)
    if (this.last.size > this.max) this.last.delete(this.last.keys().next().value as SessionId)
    if (before === undefined || before === session.status) return undefined
    if (session.status === "waiting_input") return "waiting_input"
    if (session.status === "idle" && session.agent !== null && (before === "running" || before === "waiting_input")) {
      return "turn_finished"
    }
    return undefined
  }

  /** Forgets the session; answers whether it was known open (so its end may be news). */
  removed(id: SessionId): boolean {
    return this.last.delete(id)
  }

  get size(): number {
    return this.last.size
  }
}
