/**
 * What can go wrong in a CLI or TUI command, as the person at the terminal needs to hear it.
 * Each error carries the whole message; ExitCodes.ts maps each to its exit code.
 */
import { Data } from "effect"

/** Nothing listens at the daemon's address (connection refused, or no answer in time). */
export class DaemonUnreachable extends Data.TaggedError("DaemonUnreachable")<{
  readonly address: string
  readonly detail: string
}> {
  override get message() {
    return `daemon not reachable at ${this.address} (${this.detail}) — start it with \`telemux daemon\``
  }
}

/** The daemon refused the token (401), or there is no token to send. */
export class TokenRejected extends Data.TaggedError("TokenRejected")<{
  readonly tokenPath: string
  readonly detail: string
}> {
  override get message() {
    return `the daemon refused the API token (${this.detail}); the CLI reads it from ${this.tokenPath} — ` +
      "check TELEMUX_HOME / --config point at the daemon's state dir, and restart the daemon after `telemux token --rotate`"
  }
}

export class SessionUnknown extends Data.TaggedError("SessionUnknown")<{ readonly id: string }> {
  override get message() {
    return `no session matches "${this.id}" (see \`telemux ls --status all\`)`
  }
}

export interface Candidate {
  readonly sessionId: string
  readonly status: string
  readonly title: string
  readonly computer: string
}

export class SessionAmbiguous extends Data.TaggedError("SessionAmbiguous")<{
  readonly prefix: string
  readonly candidates: ReadonlyArray<Candidate>
}> {
  override get message() {
    const lines = this.candidates.map((c) => `  ${c.sessionId}  ${c.status.padEnd(13)} ${c.computer}  ${c.title}`)
    return `"${this.prefix}" matches ${this.candidates.length} sessions; give more of the id:\n${lines.join("\n")}`
  }
}

/**
 * The daemon refused the request and did nothing (400, 403, 409, 413, 415, 422): bad input, closed
 * session, foreign Host, a body too large or not JSON, a reused Idempotency-Key.
 */
export class RequestRefused extends Data.TaggedError("RequestRefused")<{ readonly detail: string }> {
  override get message() {
    return this.detail
  }
}

/**
 * The daemon answered 503 DaemonUnavailable: it is starting (still so after the CLI waited a few
 * seconds for it) or shutting down. Nothing was done.
 */
export class DaemonNotReady extends Data.TaggedError("DaemonNotReady")<{
  readonly address: string
  readonly state: "starting" | "shutting_down"
}> {
  override get message() {
    return this.state === "starting"
      ? `the daemon at ${this.address} is still starting (tmux, database, fleet); try again in a moment — ` +
        "if it stays so, its log says what it waits for"
      : `the daemon at ${this.address} is shutting down; start it again with \`telemux daemon\``
  }
}

/**
 * The daemon sent the change and got no answer (504 OutcomeUnknown): it may have happened, or may
 * still happen. Not a "not done": running the command again may do it twice.
 */
export class OutcomeUnconfirmed extends Data.TaggedError("OutcomeUnconfirmed")<{ readonly detail: string }> {
  override get message() {
    return `the daemon could not confirm it was done (${this.detail}); it may have happened — ` +
      "look at the session (`telemux tail`, `telemux ls`) before running the command again"
  }
}

/**
 * The daemon does not understand the request (404 RouteNotFound, 405 MethodNotAllowed, or a 400
 * HttpApiDecodeError for a payload this CLI's own schemas accept): another telemux version.
 */
export class VersionMismatch extends Data.TaggedError("VersionMismatch")<{
  readonly address: string
  readonly detail: string
}> {
  override get message() {
    return `the daemon at ${this.address} does not understand this request (${this.detail}); it runs another telemux ` +
      "version than this CLI — restart it (`telemux daemon`) after an upgrade; `telemux doctor` shows its version"
  }
}

/** The computer that owns the session (or was asked to start one) cannot be reached from the daemon. */
export class RemoteUnreachable extends Data.TaggedError("RemoteUnreachable")<{
  readonly computer: string
  readonly detail: string
}> {
  override get message() {
    return `${this.detail} — \`telemux computers\` shows which computers are online`
  }
}

/** The daemon failed to do it (500, 503, an answer the CLI cannot read). */
export class DaemonFailed extends Data.TaggedError("DaemonFailed")<{ readonly detail: string }> {
  override get message() {
    return `the daemon failed: ${this.detail}`
  }
}

/** The session started, but its agent's first prompt did not reach the agent (the daemon gave up on it). */
export class PromptNotDelivered extends Data.TaggedError("PromptNotDelivered")<{
  readonly sessionId: string
  readonly detail: string
}> {
  override get message() {
    return `session ${this.sessionId} started, but its first prompt was ${this.detail}`
  }
}

/** Bad arguments the parser could not catch (a key name, an empty text…). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly detail: string }> {
  override get message() {
    return this.detail
  }
}

/** Something on this machine failed: reading stdin, the token file, starting tmux or ssh. */
export class LocalFailure extends Data.TaggedError("LocalFailure")<{ readonly detail: string }> {
  override get message() {
    return this.detail
  }
}

/** `telemux doctor` found problems (each was already printed). */
export class ChecksFailed extends Data.TaggedError("ChecksFailed")<{ readonly failed: number }> {
  override get message() {
    return `${this.failed} check${this.failed === 1 ? "" : "s"} failed`
  }
}

/** A command's exit status to pass on (`attach` exits as tmux did). */
export class ChildExit extends Data.TaggedError("ChildExit")<{ readonly code: number }> {
  override get message() {
    return `exited with status ${this.code}`
  }
}

export type CliError =
  | DaemonUnreachable
  | TokenRejected
  | SessionUnknown
  | SessionAmbiguous
  | RequestRefused
  | DaemonFailed
  | DaemonNotReady
  | OutcomeUnconfirmed
  | VersionMismatch
  | RemoteUnreachable
  | PromptNotDelivered
  | UsageError
  | LocalFailure
  | ChecksFailed
  | ChildExit
