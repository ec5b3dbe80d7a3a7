/**
 * The daemon's HTTP API as the CLI and TUI use it: the shared HttpApi definition through
 * `HttpApiClient`, the bearer token in the `Authorization` header (never in a URL), a deadline on
 * every request, and every failure turned into a CliError that says what to do about it.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Context, Duration, Effect, Either, Layer, Option, Redacted, Schema } from "effect"
import { SESSIONS_LIST_LIMIT_MAX } from "../../services/Sessions.js"
import { CAPTURE_HISTORY_DEFAULT } from "../../services/TerminalBridge.js"
import { CALLER_HEADER, type SessionOutput, TelemuxApi } from "../api/Api.js"
import type { Computer } from "../domain/Computer.js"
import type { KeyInput } from "../domain/Keys.js"
import type { Project } from "../domain/Project.js"
import type { Agent, AgentMode, ComputerName, Session, SessionId, SessionStatus } from "../domain/Session.js"
import {
  type CliError,
  DaemonFailed,
  DaemonUnreachable,
  RequestRefused,
  SessionUnknown,
  TokenRejected
} from "./CliError.js"
import type { DaemonAddress } from "./Connection.js"
import { isFullId, resolvePrefix } from "./SessionPrefix.js"

/** Longest wait for one answer; the daemon bounds its own tmux work well below this. */
export const REQUEST_TIMEOUT = Duration.seconds(15)

/**
 * What the CLI reads of `/health`: the fields it needs, tolerant of others. A daemon keeps
 * running across an upgrade of the CLI, and `doctor`, `attach` and the TUI must still work with
 * it (the rest of the API is decoded with the shared definition).
 */
export const HealthInfo = Schema.Struct({
  computer: Schema.String,
  version: Schema.String,
  uptimeSeconds: Schema.Number,
  /** The fleet's Redis link; null or absent when the daemon is in no fleet. */
  fleet: Schema.optional(Schema.NullOr(Schema.Struct({
    state: Schema.String,
    attempt: Schema.optional(Schema.Number),
    lastError: Schema.optional(Schema.NullOr(Schema.String))
  })))
})
export type HealthInfo = typeof HealthInfo.Type

export interface CreateOptions {
  readonly computer?: ComputerName | undefined
  readonly agent?: Agent | undefined
  readonly mode?: AgentMode | undefined
  readonly prompt?: string | undefined
}

export interface ListFilter {
  readonly computer?: ComputerName | undefined
  readonly status?: SessionStatus | "all" | undefined
}

export class DaemonClient extends Context.Tag("telemux/cli/DaemonClient")<DaemonClient, {
  readonly address: DaemonAddress
  /** `/health`, read loosely (see HealthInfo). */
  readonly health: Effect.Effect<HealthInfo, CliError>
  readonly sessions: (filter?: ListFilter) => Effect.Effect<ReadonlyArray<Session>, CliError>
  readonly session: (id: SessionId) => Effect.Effect<Session, CliError>
  /** A full id, a unique prefix of one, or a tmux name; resolved against every session, closed ones too. */
  readonly resolve: (idOrPrefix: string) => Effect.Effect<Session, CliError>
  readonly create: (projectDir: string, title?: string, options?: CreateOptions) => Effect.Effect<Session, CliError>
  /** Starts the session's agent again on its conversation; `restart` interrupts it first. */
  readonly resume: (id: SessionId, restart: boolean) => Effect.Effect<Session, CliError>
  /** `listener` is told (a line in its pane) each time `target` stops or asks for input. */
  readonly listen: (target: SessionId, listener: SessionId) => Effect.Effect<void, CliError>
  readonly sendText: (id: SessionId, text: string, enter: boolean) => Effect.Effect<void, CliError>
  readonly sendKeys: (
    id: SessionId,
    keys: readonly [KeyInput, ...Array<KeyInput>]
  ) => Effect.Effect<void, CliError>
  readonly output: (id: SessionId, lines?: number) => Effect.Effect<SessionOutput, CliError>
  readonly close: (id: SessionId) => Effect.Effect<Session, CliError>
  readonly computers: Effect.Effect<ReadonlyArray<Computer>, CliError>
  readonly projects: Effect.Effect<ReadonlyArray<Project>, CliError>
}>() {}

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : undefined

const messageOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : String(error)

/** Innermost cause's message: fetch reports "fetch failed" and hides ECONNREFUSED in `cause`. */
const rootCause = (error: unknown): string => {
  let current: unknown = error
  for (let depth = 0; depth < 8; depth++) {
    if (typeof current !== "object" || current === null || !("cause" in current) || current.cause === undefined) break
    current = current.cause
  }
  const code = typeof current === "object" && current !== null && "code" in current ? String(current.code) : undefined
  return code ?? messageOf(current)
}

/** Every way a request can fail, as the CliError the person needs. */
export const toCliError = (address: DaemonAddress, hasToken: boolean) => (error: unknown): CliError => {
  switch (tagOf(error)) {
    case "Unauthorized":
      return new TokenRejected({
        tokenPath: address.tokenPath,
        detail: hasToken ? messageOf(error) : `${address.tokenPath} does not exist; has the daemon ever started here?`
      })
    case "SessionNotFound":
      return new SessionUnknown({ id: (error as { sessionId: string }).sessionId })
    case "InvalidRequest":
    case "SessionClosed":
    case "HostNotAllowed":
      return new RequestRefused({ detail: messageOf(error) })
    case "AgentModeUnsupported":
    case "NativeSessionIdInvalid":
      return new RequestRefused({ detail: messageOf(error) })
    case "TerminalUnavailable":
    case "StorageFailure":
    case "ComputerUnreachable":
    case "RemoteTimeout":
      return new DaemonFailed({ detail: messageOf(error) })
    case "RequestError":
      return new DaemonUnreachable({ address: address.display, detail: rootCause(error) })
    case "ResponseError": {
      const status = (error as { response: { status: number } }).response.status
      if (status === 401) return new TokenRejected({ tokenPath: address.tokenPath, detail: "HTTP 401" })
      return new DaemonFailed({ detail: `HTTP ${status}: ${messageOf(error)}` })
    }
    case "ParseError":
      return new DaemonFailed({ detail: `unexpected answer (is the daemon the same version?): ${messageOf(error)}` })
    default:
      return new DaemonFailed({ detail: messageOf(error) })
  }
}

/**
 * `caller`: the session this command runs in (TELEMUX_SESSION_ID, set in every telemux pane). An
 * agent that starts or types into another session through the CLI is then told when it stops.
 */
export const make = (
  address: DaemonAddress,
  token: Option.Option<Redacted.Redacted<string>>,
  caller: Option.Option<string> = Option.none()
) =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const withToken = Option.match(token, {
      onNone: () => http,
      onSome: (value) => HttpClient.mapRequest(http, HttpClientRequest.bearerToken(Redacted.value(value)))
    })
    const authed = Option.match(caller, {
      onNone: () => withToken,
      onSome: (id) => HttpClient.mapRequest(withToken, HttpClientRequest.setHeader(CALLER_HEADER, id))
    })
    const api = yield* HttpApiClient.makeWith(TelemuxApi, { baseUrl: address.baseUrl, httpClient: authed })
    const call = <A>(effect: Effect.Effect<A, unknown>): Effect.Effect<A, CliError> =>
      effect.pipe(
        Effect.timeoutFail({
          duration: REQUEST_TIMEOUT,
          onTimeout: () =>
            new DaemonUnreachable({ address: address.display, detail: `no answer within ${Duration.format(REQUEST_TIMEOUT)}` })
        }),
        Effect.mapError(toCliError(address, Option.isSome(token)))
      )

    const sessions = (filter: ListFilter = {}) =>
      call(api.sessions.list({
        urlParams: {
          ...(filter.computer === undefined ? {} : { computer: filter.computer }),
          ...(filter.status === undefined ? {} : { status: filter.status }),
          limit: SESSIONS_LIST_LIMIT_MAX
        }
      }))
    const session = (id: SessionId) => call(api.sessions.get({ path: { id } }))

    return DaemonClient.of({
      address,
      health: call(
        http.get(`${address.baseUrl}/health`).pipe(
          Effect.flatMap(HttpClientResponse.filterStatusOk),
          Effect.flatMap(HttpClientResponse.schemaBodyJson(HealthInfo))
        )
      ),
      sessions,
      session,
      resolve: (input) =>
        isFullId(input)
          ? session(input.trim().toLowerCase() as SessionId)
          : Effect.flatMap(sessions({ status: "all" }), (all) =>
            Either.match(resolvePrefix(input, all), { onLeft: Effect.fail, onRight: Effect.succeed })),
      create: (projectDir, title, options = {}) =>
        call(api.sessions.create({
          headers: {},
          payload: {
            projectDir,
            ...(title === undefined ? {} : { title }),
            ...(options.computer === undefined ? {} : { computer: options.computer }),
            ...(options.agent === undefined ? {} : { agent: options.agent }),
            ...(options.mode === undefined ? {} : { mode: options.mode }),
            ...(options.prompt === undefined ? {} : { prompt: options.prompt })
          }
        })),
      resume: (id, restart) => call(restart ? api.sessions.restart({ path: { id } }) : api.sessions.resume({ path: { id } })),
      listen: (target, listener) => call(api.sessions.listen({ path: { id: target }, payload: { listener } })),
      sendText: (id, text, enter) => call(api.sessions.input({ path: { id }, headers: {}, payload: { text, enter } })),
      sendKeys: (id, keys) => call(api.sessions.keys({ path: { id }, headers: {}, payload: { keys } })),
      output: (id, lines = CAPTURE_HISTORY_DEFAULT) => call(api.sessions.output({ path: { id }, urlParams: { lines } })),
      close: (id) => call(api.sessions.close({ path: { id } })),
      computers: call(api.computers.list()),
      projects: call(api.projects.list())
    })
  })

/** The client over `fetch`, for the daemon at `address`. */
export const layer = (
  address: DaemonAddress,
  token: Option.Option<Redacted.Redacted<string>>,
  caller: Option.Option<string> = Option.none()
): Layer.Layer<DaemonClient> =>
  Layer.effect(DaemonClient, make(address, token, caller)).pipe(Layer.provide(FetchHttpClient.layer))


