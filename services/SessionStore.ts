import { Context, Data, type DateTime, Duration, type Effect, type Option } from "effect"
import type { CloseReason, ComputerName, Session, SessionId, SessionStatus } from "../src/domain/Session.js"

/** Closed rows are kept as history for this long, then pruned. */
export const CLOSED_RETENTION_DEFAULT = Duration.days(30)
/** How long a writer waits on a locked database before failing. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000

/**
 * A storage failure's cause as a person can act on it: a library error's own text ("Failed to
 * execute statement") with, when it wraps one, the reason underneath ("database or disk is full").
 */
export const describeCause = (cause: unknown): string => {
  const inner = typeof cause === "object" && cause !== null && "cause" in cause ? cause.cause : undefined
  return inner instanceof Error && !String(cause).includes(inner.message)
    ? `${String(cause)} (${inner.message})`
    : String(cause)
}

export class StoreError extends Data.TaggedError("StoreError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message() {
    return `session store ${this.operation} failed: ${describeCause(this.cause)}`
  }
}

export interface SessionQuery {
  /** A status, or `"all"`. Without it closed sessions are left out. */
  readonly status?: SessionStatus | "all"
  readonly computer?: ComputerName
  readonly limit?: number
}

/**
 * Fields that change after creation; `sessionId` and `createdAt` never do. Closing goes only
 * through `markClosed`, and a closed row stays closed: a patch never reopens it.
 */
export type SessionPatch = Partial<
  & { readonly status: Exclude<SessionStatus, "closed"> }
  & Pick<
    Session,
    | "paneId"
    | "title"
    | "workingDirectory"
    | "lastActivityAt"
    | "lastOutputAt"
    | "lastInput"
    | "lastOutput"
    | "agent"
    | "agentMode"
    | "nativeSessionId"
    | "nativeLogFile"
  >
>

/** A session's latest output, as the activity flush writes it (see `recordOutput`). */
export interface OutputMark {
  readonly id: SessionId
  readonly lastOutput: string
  readonly lastOutputAt: DateTime.Utc
}

export interface ClosedMark {
  readonly reason: CloseReason
  readonly at: DateTime.Utc
}

export class SessionStore extends Context.Tag("telemux/SessionStore")<SessionStore, {
  /** The one session query: newest first, closed left out unless `status` asks for them. */
  readonly getSessions: (query: SessionQuery) => Effect.Effect<ReadonlyArray<Session>, StoreError>
  readonly getSession: (id: SessionId) => Effect.Effect<Option.Option<Session>, StoreError>
  readonly insert: (session: Session) => Effect.Effect<void, StoreError>
  /** Applies `patch`; returns the updated row, or none when there is no such session. */
  readonly update: (id: SessionId, patch: SessionPatch) => Effect.Effect<Option.Option<Session>, StoreError>
  /**
   * Writes the latest output of several open sessions in one transaction, reading nothing back
   * (the caller has the rows); closed and unknown sessions are left as they are.
   */
  readonly recordOutput: (marks: ReadonlyArray<OutputMark>) => Effect.Effect<void, StoreError>
  /** Marks a session closed (once: a closed row keeps its first reason). */
  readonly markClosed: (id: SessionId, mark: ClosedMark) => Effect.Effect<Option.Option<Session>, StoreError>
  /** Deletes closed rows whose `closedAt` is before `before`; returns how many. */
  readonly pruneClosed: (before: DateTime.Utc) => Effect.Effect<number, StoreError>
}>() {}
