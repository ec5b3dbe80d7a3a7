import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/** Errors that cross the wire (HTTP now, Redis envelopes later), each with its HTTP status. */

export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()(
  "SessionNotFound",
  { sessionId: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {
  static of(sessionId: string) {
    return new SessionNotFound({ sessionId, message: `no open or closed session ${sessionId}` })
  }
}

export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()(
  "InvalidRequest",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

export class SessionClosed extends Schema.TaggedError<SessionClosed>()(
  "SessionClosed",
  { sessionId: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** tmux did not answer in time or failed; the operation did not happen (or its outcome is unknown). */
export class TerminalUnavailable extends Schema.TaggedError<TerminalUnavailable>()(
  "TerminalUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

export class StorageFailure extends Schema.TaggedError<StorageFailure>()(
  "StorageFailure",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** The computer that owns the session (or was asked to create one) cannot be reached: no fleet, link down, offline. */
export class ComputerUnreachable extends Schema.TaggedError<ComputerUnreachable>()(
  "ComputerUnreachable",
  { computer: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** A remote computer did not answer within the request's deadline; the outcome there is unknown. */
export class RemoteTimeout extends Schema.TaggedError<RemoteTimeout>()(
  "RemoteTimeout",
  { computer: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 504 })
) {}
