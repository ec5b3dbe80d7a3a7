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

/**
 * The operation was sent to tmux (or to the computer that owns the session) and no answer came:
 * it may have happened, or may still happen. Distinct from every "not done" error; retrying is
 * safe only with the same `Idempotency-Key`, which replays the first attempt's outcome.
 */
export class OutcomeUnknown extends Schema.TaggedError<OutcomeUnknown>()(
  "OutcomeUnknown",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 504 })
) {}

/** The daemon is starting (its layers are being built) or shutting down; retry after `Retry-After`. */
export class DaemonUnavailable extends Schema.TaggedError<DaemonUnavailable>()(
  "DaemonUnavailable",
  { state: Schema.Literal("starting", "shutting_down"), message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** A request body of another type than `application/json` (forms and multipart need no CORS preflight, so they are refused). */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()(
  "UnsupportedMediaType",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 415 })
) {}

export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 413 })
) {}

/** No route has this path. */
export class RouteNotFound extends Schema.TaggedError<RouteNotFound>()(
  "RouteNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

/** The path exists, with other methods (listed in `allowed` and in the `Allow` header). */
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()(
  "MethodNotAllowed",
  { message: Schema.String, allowed: Schema.Array(Schema.String) },
  HttpApiSchema.annotations({ status: 405 })
) {}

/** A fault of the daemon itself (a bug); the log has the details under the same message. */
export class InternalError extends Schema.TaggedError<InternalError>()(
  "InternalError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

/** The same `Idempotency-Key` came with a different request (another operation, session or payload). */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()(
  "IdempotencyKeyReused",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 422 })
) {}

/**
 * The agent's configured command cannot be run: its program is on no directory of the PATH a new
 * session's shell uses (`path`, empty when the command is a path), or that path is missing or not
 * executable. Nothing was started.
 */
export class AgentCommandNotFound extends Schema.TaggedError<AgentCommandNotFound>()(
  "AgentCommandNotFound",
  { agent: Schema.String, command: Schema.String, path: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** The session's agent (or another program) runs in its pane: starting it again would type into it. */
export class AgentBusy extends Schema.TaggedError<AgentBusy>()(
  "AgentBusy",
  { sessionId: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}
