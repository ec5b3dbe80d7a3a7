/**
 * Exit codes of `telemux`, one per kind of failure, so scripts can tell "start the daemon" from
 * "fix the token" from "no such session" without reading stderr.
 */
import { ValidationError } from "@effect/cli"
import { Cause, Exit, Option } from "effect"
import type { CliError } from "./CliError.js"

export const EXIT = {
  ok: 0,
  /** An unexpected failure (a bug, or an error not classified below). */
  failure: 1,
  /** Bad command line: unknown command or option, missing argument, bad key name. */
  usage: 2,
  /** The daemon is not running (connection refused), does not answer in time, or is starting or stopping (503). */
  unreachable: 3,
  /** The daemon refused the token (401), or the token file is missing. */
  unauthorized: 4,
  /** No session matches the id or prefix. */
  notFound: 5,
  /** The prefix matches more than one session. */
  ambiguous: 6,
  /** The daemon refused the request and did nothing (400 bad input, 409 session closed, 403 Host, 413, 415, 422). */
  refused: 7,
  /**
   * The daemon failed (500 storage, 503 tmux or the owning computer unavailable, an unreadable
   * answer, a request it does not understand: another version).
   */
  daemonFailed: 8,
  /** `telemux doctor` found a failing check. */
  checksFailed: 9,
  /** Something local failed (stdin, token file, starting tmux/ssh). */
  local: 10,
  /** The change was sent and not confirmed (504): it may have happened; look before running it again. */
  outcomeUnknown: 11
} as const

export const exitCodeOf = (error: CliError): number => {
  switch (error._tag) {
    case "DaemonUnreachable":
      return EXIT.unreachable
    case "TokenRejected":
      return EXIT.unauthorized
    case "SessionUnknown":
      return EXIT.notFound
    case "SessionAmbiguous":
      return EXIT.ambiguous
    case "RequestRefused":
      return EXIT.refused
    case "DaemonFailed":
    case "PromptNotDelivered":
    case "VersionMismatch":
    case "RemoteUnreachable":
      return EXIT.daemonFailed
    case "DaemonNotReady":
      return EXIT.unreachable
    case "OutcomeUnconfirmed":
      return EXIT.outcomeUnknown
    case "UsageError":
      return EXIT.usage
    case "LocalFailure":
      return EXIT.local
    case "ChecksFailed":
      return EXIT.checksFailed
    case "ChildExit":
      return error.code
  }
}

/** Every CliError's tag: a variant added to CliError and missing here does not compile. */
const CLI_ERROR_TAGS: { readonly [Tag in CliError["_tag"]]: true } = {
  DaemonUnreachable: true,
  TokenRejected: true,
  SessionUnknown: true,
  SessionAmbiguous: true,
  RequestRefused: true,
  DaemonFailed: true,
  DaemonNotReady: true,
  OutcomeUnconfirmed: true,
  PromptNotDelivered: true,
  VersionMismatch: true,
  RemoteUnreachable: true,
  UsageError: true,
  LocalFailure: true,
  ChecksFailed: true,
  ChildExit: true
}

/** The runtime hands the process's outcome over untyped (NodeRuntime's teardown): recognise ours. */
const isCliError = (u: unknown): u is CliError =>
  typeof u === "object" && u !== null && "_tag" in u && Object.hasOwn(CLI_ERROR_TAGS, String(u._tag))

/**
 * The process's exit code for a finished CLI run: a number the program succeeded with, the code
 * of a CliError it failed with, 2 for a command-line the parser refused. Ctrl+C (SIGINT) and
 * SIGTERM end `watch`, `daemon` and `tui` the normal way: an interruption is a success.
 */
export const exitCodeOfExit = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return typeof exit.value === "number" ? exit.value : EXIT.ok
  if (Cause.isInterruptedOnly(exit.cause)) return EXIT.ok
  return Option.match(Cause.failureOption(exit.cause), {
    onNone: () => EXIT.failure,
    onSome: (error) =>
      isCliError(error) ? exitCodeOf(error) : ValidationError.isValidationError(error) ? EXIT.usage : EXIT.failure
  })
}
