/**
 * What each error answer means to a client, written into the OpenAPI document. HttpApi names an
 * error response after the first error declared with its status ("DaemonUnavailable" for every 503,
 * though a 503 may also be tmux or an unreachable computer); here each response is described by all
 * the errors it may carry.
 */
import type { OpenApi } from "@effect/platform"
import { Record } from "effect"

/** Keyed by `_tag` (the component's name); test/OpenApi.test.ts checks that every declared error has one. */
export const ERROR_MEANINGS: Readonly<Record<string, string>> = {
  HttpApiDecodeError: "the path, query, headers or body do not match this document (`issues` says where)",
  InvalidRequest:
    "the request cannot be done as asked (a directory outside the trusted ones, a body that is not JSON or nests too deep…)",
  AgentModeUnsupported: "the agent has no such mode",
  NativeSessionIdInvalid: "the agent's conversation id is malformed",
  AgentCommandNotFound:
    "the agent's configured command is not on the PATH a new session's shell uses, or its path cannot be run (`command` and `path` say which)",
  SignInThrottled:
    "too many failed web sign-ins in the last minute: wait `retryAfterSeconds` (also in Retry-After), then try again",
  AgentBusy: "the session's agent (or another program) is running in its pane: wait for its turn to end, or restart it",
  Unauthorized: "no bearer token, or a wrong one (the daemon keeps it in `$TELEMUX_HOME/token`)",
  HostNotAllowed:
    "the `Host`, `Origin` or `Sec-Fetch-Site` header does not name this daemon (DNS rebinding, cross-site requests)",
  SessionNotFound: "no session, open or closed, has this id",
  SessionClosed: "the session is closed",
  PayloadTooLarge: "the request body is over the size limit",
  UnsupportedMediaType: "the request body is not `application/json`",
  IdempotencyKeyReused: "this `Idempotency-Key` came before with a different request",
  StorageFailure: "the daemon's database failed",
  DaemonUnavailable: "the daemon is starting or stopping: retry after `Retry-After` seconds",
  TerminalUnavailable: "tmux did not answer in time, or failed",
  ComputerUnreachable: "the computer that owns the session (or was asked to start it) cannot be reached",
  OutcomeUnknown:
    "the change was sent and no answer came: it may have happened, or may still happen; retry only with the same `Idempotency-Key`",
  RemoteTimeout: "the computer that owns the session did not answer in time; the outcome there is unknown",
  NotAGitRepository: "a worktree was asked for in a directory that is not inside a git repository",
  RepositoryHasNoCommits: "the repository has no commit yet, so no branch can be made from it: commit once first",
  BranchNameInvalid: "the branch name is not one git accepts (`git check-ref-format --branch`)",
  BranchConflict:
    "the new branch exists already, or the branch (or base) asked for does not exist (`reason` says which)",
  BranchCheckedOut:
    "the branch is checked out in another worktree (`path` says where): git allows it in one place only",
  WorktreeHasWork:
    "removing the worktree would lose uncommitted changes or commits on no remote: commit and push, or force (a salvage ref keeps them)",
  DefaultBranchProtected: "the repository's default branch is never deleted",
  MergeConflict: "the branch does not merge cleanly into its base (`files` lists the conflicts); nothing was changed",
  NoWorktree: "the session does not run in a git worktree",
  GitFailed: "git failed in a way not foreseen here (`stderr` says how)",
  WorktreeSetupFailed:
    "the project's worktree setup commands failed (`output` has their last lines); the worktree was removed again"
}

const RETRY_AFTER = {
  description: "seconds to wait before retrying (sent with DaemonUnavailable)",
  schema: { type: "integer", minimum: 0 }
}

/** The component names a response schema refers to: one `$ref`, or an `anyOf` of them. */
export const errorNamesOf = (schema: unknown): ReadonlyArray<string> => {
  if (typeof schema !== "object" || schema === null) return []
  const { $ref, anyOf } = schema as { readonly $ref?: unknown; readonly anyOf?: unknown }
  if (typeof $ref === "string") return [$ref.slice($ref.lastIndexOf("/") + 1)]
  return Array.isArray(anyOf) ? anyOf.flatMap(errorNamesOf) : []
}

type Response = OpenApi.OpenApiSpecResponse & { headers?: Record<string, unknown> }

const describe = (response: Response, status: number): Response => {
  const names = errorNamesOf(response.content?.["application/json"]?.schema)
  const meanings = names.map((name) => ERROR_MEANINGS[name])
  if (names.length === 0 || meanings.some((meaning) => meaning === undefined)) return response
  const text = meanings.join("; or ")
  return {
    ...response,
    // an error answer means "not done", except where it says the outcome is unknown (5xx only)
    description: text.charAt(0).toUpperCase() + text.slice(1) + (status < 500 ? ". Nothing was done." : "."),
    ...(names.includes("DaemonUnavailable") ? { headers: { ...response.headers, "Retry-After": RETRY_AFTER } } : {})
  }
}

/** For `OpenApi.Transform` on the API: every 4xx/5xx response described from the errors it carries. */
export const describeErrorResponses = (spec: Record<string, any>): Record<string, any> => ({
  ...spec,
  paths: Record.map(
    (spec as OpenApi.OpenAPISpec).paths,
    (item) =>
      Record.map(item as Record<string, OpenApi.OpenAPISpecOperation>, (operation) => ({
        ...operation,
        responses: Record.map(
          operation.responses,
          (response, status) => (Number(status) >= 400 ? describe(response, Number(status)) : response)
        )
      }))
  )
})
