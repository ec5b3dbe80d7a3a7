import { DateTime } from "effect"
import * as crypto from "node:crypto"
import { ComputerName, newSession, Session, SessionId, type SessionStatus } from "../../src/domain/Session.js"

/** A session row with sensible defaults; `n` makes ids and times deterministic when given. */
export const makeSession = (overrides: Partial<ConstructorParameters<typeof Session>[0]> = {}, n?: number): Session => {
  const sessionId = overrides.sessionId ??
    SessionId.make(
      n === undefined ? crypto.randomUUID() : `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`
    )
  return new Session({
    ...newSession({
      sessionId,
      computer: ComputerName.make("local"),
      title: "t",
      workingDirectory: "/tmp",
      createdAt: DateTime.unsafeMake(1_700_000_000_000 + (n ?? 0) * 1000)
    }),
    status: "running" as SessionStatus,
    ...overrides
  })
}
