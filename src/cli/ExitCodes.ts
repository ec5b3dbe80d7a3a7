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
  /** The daemon is not running (connection refused) or does not answer in time. */
  unreachable: 3,
  /** The daemon refused the token (401), or the token file is missing. */
  unauthorized: 4,
  /** No session matches the id or prefix. */
  notFound: 5,
  /** The prefix matches more than one session. */
  ambiguous: 6,
  /** The daemon refused the request (400 bad input, 409 session closed, 403 Host). */
  refused: 7,
  /** The daemon failed (500 storage, 503 tmux unavailable, an unreadable answer). */
  daemonFailed: 8,
  /** `telemux doctor` found a failing check. */
  checksFailed: 9,
  /** Something local failed (stdin, token file, starting tmux/ssh). */
  local: 10
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
      return EXIT.daemonFailed
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

const isCliError = (u: unknown): u is CliError =>
  typeof u === "object" && u !== null && "_tag" in u &&
  ["DaemonUnreachable", "TokenRejected", "SessionUnknown", "SessionAmbiguous", "RequestRefused", "DaemonFailed",
    "UsageError", "LocalFailure", "ChecksFailed", "ChildExit"].includes(String(u._tag))

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
