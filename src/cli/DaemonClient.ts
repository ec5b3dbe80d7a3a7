/**
 * The daemon's HTTP API as the CLI and TUI use it: the shared HttpApi definition through
 * `HttpApiClient`, the bearer token in the `Authorization` header (never in a URL), a deadline on
 * every request, and every failure turned into a CliError that says what to do about it.
 *
 * Errors stay typed end to end: each request fails with the errors its endpoint declares in
 * src/api/Api.ts (through HttpApiClient), plus the client's own (HttpClientError, ParseError, and a
 * route the daemon does not have); `refine` maps each by its tag to a CliError, and a new error
 * declared in the API does not compile until it is mapped.
 */
import * as Undici from "@effect/platform-node/Undici"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Context, Duration, Effect, Either, Layer, Option, ParseResult, Redacted, Schedule, Schema } from "effect"
import * as tls from "node:tls"
import { RETRY_AFTER_SECONDS } from "../../services/HttpListener.js"
import { SESSIONS_LIST_LIMIT_MAX } from "../../services/Sessions.js"
import { CAPTURE_HISTORY_DEFAULT } from "../../services/TerminalBridge.js"
import {
  CALLER_HEADER,
  CreateSessionPayload,
  ForkPayload,
  SendInputPayload,
  SendKeysPayload,
  type SessionOutput,
  type SignInCode,
  TelemuxApi,
  WorktreeCleanupPayload
} from "../api/Api.js"
import type { Computer } from "../domain/Computer.js"
import { DaemonUnavailable, MethodNotAllowed, RouteNotFound } from "../domain/Errors.js"
import type { KeyInput } from "../domain/Keys.js"
import type { Project } from "../domain/Project.js"
import type { Agent, AgentMode, ComputerName, Session, SessionId, SessionStatus } from "../domain/Session.js"
import {
  type CleanupReport,
  FinishPayload,
  type FinishResult,
  type WorktreeDiff,
  type WorktreeEntry,
  type WorktreeRequest
} from "../domain/Worktree.js"
import {
  type CliError,
  DaemonFailed,
  DaemonNotReady,
  DaemonUnreachable,
  OutcomeUnconfirmed,
  RemoteUnreachable,
  RequestRefused,
  SessionUnknown,
  TokenRejected,
  UsageError,
  VersionMismatch
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
  }))),
  /** The Telegram front-end; absent when the daemon has no bot (or is older). */
  telegram: Schema.optional(Schema.Struct({ poller: Schema.NullOr(Schema.String), users: Schema.Number }))
})
export type HealthInfo = typeof HealthInfo.Type

export interface CreateOptions {
  readonly computer?: ComputerName | undefined
  readonly agent?: Agent | undefined
  readonly mode?: AgentMode | undefined
  readonly prompt?: string | undefined
  /** Run it in a new git worktree of the project's repository (or on an existing branch). */
  readonly worktree?: WorktreeRequest | undefined
}

export interface ListFilter {
  readonly computer?: ComputerName | undefined
  readonly status?: SessionStatus | "all" | undefined
}

export class DaemonClient extends Context.Tag("telemux/cli/DaemonClient")<DaemonClient, {
  readonly address: DaemonAddress
  /** `/health`, read loosely (see HealthInfo). */
  readonly health: Effect.Effect<HealthInfo, CliError>
  /** `/metrics` as text; none when the daemon records none (TELEMUX_METRICS=off, or an older daemon). */
  readonly metrics: Effect.Effect<Option.Option<string>, CliError>
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
  /** A single-use web dashboard sign-in code, and the page that takes it (`/sign-in#code=…`). */
  readonly signInCode: Effect.Effect<SignInCode, CliError>
  /** What the session's worktree changed; `statOnly`: the per-file stats without the patch. */
  readonly diff: (id: SessionId, statOnly: boolean) => Effect.Effect<WorktreeDiff, CliError>
  /** Commit, push, merge or discard the session's worktree. */
  readonly finish: (id: SessionId, payload: FinishPayload) => Effect.Effect<FinishResult, CliError>
  /** A new session continuing the agent's conversation under a new id. */
  readonly fork: (id: SessionId, payload: typeof ForkPayload.Type) => Effect.Effect<Session, CliError>
  /** The sessions' worktrees (of one computer, or the whole fleet). */
  readonly worktrees: (computer?: ComputerName) => Effect.Effect<ReadonlyArray<WorktreeEntry>, CliError>
  readonly cleanup: (payload: typeof WorktreeCleanupPayload.Type) => Effect.Effect<CleanupReport, CliError>
}>() {}

/**
 * How long a request waits for a daemon that answers "starting" (503 DaemonUnavailable), asking
 * again every Retry-After: long enough for a daemon started a moment ago to finish reconciling.
 */
export const DAEMON_STARTING_WAIT = Duration.seconds(10)

const whileStarting = Schedule.spaced(Duration.seconds(RETRY_AFTER_SECONDS)).pipe(Schedule.upTo(DAEMON_STARTING_WAIT))

/** The daemon's own answer for a path or method it does not serve (see layers/RequestGuard.ts). */
const decodeRouteRefusal = Schema.decodeUnknownOption(Schema.parseJson(Schema.Union(RouteNotFound, MethodNotAllowed)))
const utf8 = new TextDecoder()

/**
 * HttpApiClient reads a 404 as the endpoint's own 404 (SessionNotFound) and a 405 as nothing it
 * knows; a daemon of another version answers RouteNotFound / MethodNotAllowed there. The body is
 * read once (the response caches it) and the response goes on to HttpApiClient when it is neither.
 */
const failOnUnknownRoute = (
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<
  HttpClientResponse.HttpClientResponse,
  HttpClientError.ResponseError | RouteNotFound | MethodNotAllowed
> =>
  response.status !== 404 && response.status !== 405
    ? Effect.succeed(response)
    : Effect.flatMap(response.arrayBuffer, (body) =>
      Option.match(decodeRouteRefusal(utf8.decode(body)), {
        onNone: () => Effect.succeed(response),
        onSome: Effect.fail
      }))

const makeApi = (
  httpClient: HttpClient.HttpClient.With<HttpClientError.HttpClientError | RouteNotFound | MethodNotAllowed>,
  baseUrl: string
) => HttpApiClient.makeWith(TelemuxApi, { baseUrl, httpClient })

type Api = Effect.Effect.Success<ReturnType<typeof makeApi>>
type FailureOf<F> = F extends (...args: ReadonlyArray<any>) => Effect.Effect<any, infer E, any> ? E : never

/**
 * Every error a request of the API can fail with: what its endpoint, its group and the API declare
 * (src/api/Api.ts), the middleware's Unauthorized, HttpApiClient's HttpClientError and ParseError,
 * and an unknown route.
 */
export type ApiFailure = {
  readonly [Group in keyof Api]: {
    readonly [Method in keyof Api[Group]]: FailureOf<Api[Group][Method]>
  }[keyof Api[Group]]
}[keyof Api]

/** The innermost cause's code or message: fetch reports "fetch failed" and hides ECONNREFUSED in `cause`. */
const rootCause = (error: HttpClientError.RequestError): string => {
  let current: unknown = error.cause
  for (let depth = 0; depth < 8; depth++) {
    if (typeof current !== "object" || current === null || !("cause" in current) || current.cause === undefined) break
    current = current.cause
  }
  if (typeof current === "object" && current !== null) {
    if ("code" in current) return String(current.code)
    if ("message" in current && typeof current.message === "string") return current.message
  }
  return current === undefined ? error.message : String(current)
}

/** Node's codes for a certificate it does not trust, or that names another host. */
const TLS_TRUST = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|TLS/

/** What to do when the daemon's certificate is not trusted (README: Web dashboard, TLS). */
export const withTlsHint = (detail: string): string =>
  TLS_TRUST.test(detail)
    ? `${detail} (the daemon's certificate is not trusted: set TELEMUX_TLS_CA to the PEM file of the CA that ` +
      "signed it, or to the certificate itself when self-signed, and TELEMUX_URL to https://<a name the certificate " +
      "holds>:<port>)"
    : detail

/**
 * Every way a request can fail, as the CliError the person needs; the exit code of each is in
 * ExitCodes.ts. "Not done" answers (4xx) are refusals; an unconfirmed change (504) is its own case.
 */
export const refine =
  (address: DaemonAddress, hasToken: boolean) =>
  <A>(effect: Effect.Effect<A, ApiFailure | DaemonUnreachable>): Effect.Effect<A, CliError> =>
    effect.pipe(
      Effect.catchTags({
        Unauthorized: (error) =>
          Effect.fail(
            new TokenRejected({
              tokenPath: address.tokenPath,
              detail: hasToken
                ? error.message
                : `${address.tokenPath} does not exist; has the daemon ever started here?`
            })
          ),
        SessionNotFound: (error) => Effect.fail(new SessionUnknown({ id: error.sessionId })),
        InvalidRequest: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        SessionClosed: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        HostNotAllowed: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        AgentModeUnsupported: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        NativeSessionIdInvalid: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        // the daemon's configuration names a command that cannot run: fixed in its settings, not by retrying
        AgentCommandNotFound: (error) => Effect.fail(new UsageError({ detail: error.message })),
        AgentBusy: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        SignInThrottled: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        // worktree refusals: nothing was done, and each message says what to do instead
        NotAGitRepository: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        RepositoryHasNoCommits: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        BranchNameInvalid: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        BranchConflict: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        BranchCheckedOut: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        WorktreeHasWork: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        DefaultBranchProtected: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        MergeConflict: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        NoWorktree: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        WorktreeSetupFailed: (error) => Effect.fail(new RequestRefused({ detail: error.message })),
        GitFailed: (error) => Effect.fail(new DaemonFailed({ detail: error.message })),
        // the payload passed the same schemas here (`checked`): the daemon's differ, it is another version
        HttpApiDecodeError: (error) =>
          Effect.fail(new VersionMismatch({ address: address.display, detail: error.message })),
        PayloadTooLarge: (error) =>
          Effect.fail(
            new RequestRefused({ detail: `nothing was done: ${error.message}; send the text in smaller pieces` })
          ),
        UnsupportedMediaType: (error) =>
          Effect.fail(
            new RequestRefused({
              detail:
                `nothing was done: ${error.message}; the CLI sends JSON, so something between it and the daemon ` +
                `at ${address.display} (a proxy?) changed the request`
            })
          ),
        // declared on every session request, though the CLI sends no Idempotency-Key (yet)
        IdempotencyKeyReused: (error) =>
          Effect.fail(new RequestRefused({ detail: `nothing was done: ${error.message}` })),
        DaemonUnavailable: (error) => Effect.fail(new DaemonNotReady({ address: address.display, state: error.state })),
        OutcomeUnknown: (error) => Effect.fail(new OutcomeUnconfirmed({ detail: error.message })),
        ComputerUnreachable: (error) =>
          Effect.fail(new RemoteUnreachable({ computer: error.computer, detail: error.message })),
        TerminalUnavailable: (error) => Effect.fail(new DaemonFailed({ detail: error.message })),
        StorageFailure: (error) => Effect.fail(new DaemonFailed({ detail: error.message })),
        RemoteTimeout: (error) => Effect.fail(new DaemonFailed({ detail: error.message })),
        RouteNotFound: (error) => Effect.fail(new VersionMismatch({ address: address.display, detail: error.message })),
        MethodNotAllowed: (error) =>
          Effect.fail(new VersionMismatch({ address: address.display, detail: error.message })),
        RequestError: (error) =>
          Effect.fail(new DaemonUnreachable({ address: address.display, detail: withTlsHint(rootCause(error)) })),
        ResponseError: (error) =>
          Effect.fail(
            error.response.status === 401
              ? new TokenRejected({ tokenPath: address.tokenPath, detail: "HTTP 401" })
              : new DaemonFailed({ detail: `HTTP ${error.response.status}: ${error.message}` })
          ),
        ParseError: (error) =>
          Effect.fail(
            new DaemonFailed({ detail: `unexpected answer (is the daemon the same version?): ${error.message}` })
          )
      })
    )

/**
 * A payload checked against the API's own schema before it is sent: HttpApiClient would refuse it
 * with a ParseError indistinguishable from an unreadable answer; this says what is wrong with it.
 */
const checked = <A, I>(schema: Schema.Schema<A, I>, payload: A): Effect.Effect<A, UsageError> =>
  Schema.validate(schema)(payload).pipe(
    Effect.mapError((error) =>
      new UsageError({
        detail: ParseResult.ArrayFormatter.formatErrorSync(error)
          .map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`))
          .join("; ")
      })
    )
  )

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
    const routed = HttpClient.transformResponse(authed, Effect.flatMap(failOnUnknownRoute))
    const api = yield* makeApi(routed, address.baseUrl)

    /** One request: bounded, asked again while the daemon says it is starting, its failure refined. */
    const call = <A>(effect: Effect.Effect<A, ApiFailure>): Effect.Effect<A, CliError> =>
      effect.pipe(
        Effect.timeoutFail({
          duration: REQUEST_TIMEOUT,
          onTimeout: () =>
            new DaemonUnreachable({
              address: address.display,
              detail: `no answer within ${Duration.format(REQUEST_TIMEOUT)}`
            })
        }),
        // a 503 while starting means "not run": asking again is safe for every request
        Effect.retry({
          schedule: whileStarting,
          while: (error) => error._tag === "DaemonUnavailable" && error.state === "starting"
        }),
        refine(address, Option.isSome(token))
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

    // /health is read loosely (see HealthInfo); a daemon that is starting answers it 503 like the rest
    const health = http.get(`${address.baseUrl}/health`).pipe(
      Effect.flatMap(HttpClientResponse.matchStatus({
        503: (response) => Effect.flatMap(HttpClientResponse.schemaBodyJson(DaemonUnavailable)(response), Effect.fail),
        orElse: (response) =>
          Effect.flatMap(HttpClientResponse.filterStatusOk(response), HttpClientResponse.schemaBodyJson(HealthInfo))
      }))
    )

    const metrics = routed.get(`${address.baseUrl}/metrics`).pipe(
      Effect.flatMap(HttpClientResponse.matchStatus({
        404: () => Effect.succeed(Option.none<string>()),
        orElse: (response) =>
          Effect.flatMap(HttpClientResponse.filterStatusOk(response), (ok) => Effect.map(ok.text, Option.some))
      }))
    )

    return DaemonClient.of({
      address,
      health: call(health),
      metrics: call(metrics),
      sessions,
      session,
      resolve: (input) =>
        isFullId(input)
          ? session(input.trim().toLowerCase() as SessionId)
          : Effect.flatMap(
            sessions({ status: "all" }),
            (all) => Either.match(resolvePrefix(input, all), { onLeft: Effect.fail, onRight: Effect.succeed })
          ),
      create: (projectDir, title, options = {}) =>
        checked(CreateSessionPayload, {
          projectDir,
          ...(title === undefined ? {} : { title }),
          ...(options.computer === undefined ? {} : { computer: options.computer }),
          ...(options.agent === undefined ? {} : { agent: options.agent }),
          ...(options.mode === undefined ? {} : { mode: options.mode }),
          ...(options.prompt === undefined ? {} : { prompt: options.prompt }),
          ...(options.worktree === undefined ? {} : { worktree: options.worktree })
        }).pipe(Effect.flatMap((payload) => call(api.sessions.create({ headers: {}, payload })))),
      resume: (id, restart) =>
        call(restart ? api.sessions.restart({ path: { id } }) : api.sessions.resume({ path: { id } })),
      listen: (target, listener) => call(api.sessions.listen({ path: { id: target }, payload: { listener } })),
      sendText: (id, text, enter) =>
        checked(SendInputPayload, { text, enter }).pipe(
          Effect.flatMap((payload) => call(api.sessions.input({ path: { id }, headers: {}, payload })))
        ),
      sendKeys: (id, keys) =>
        checked(SendKeysPayload, { keys }).pipe(
          Effect.flatMap((payload) => call(api.sessions.keys({ path: { id }, headers: {}, payload })))
        ),
      output: (id, lines = CAPTURE_HISTORY_DEFAULT) =>
        call(api.sessions.output({ path: { id }, urlParams: { lines } })),
      close: (id) => call(api.sessions.close({ path: { id } })),
      computers: call(api.computers.list()),
      projects: call(api.projects.list()),
      signInCode: call(api.web.createSignInCode()),
      diff: (id, statOnly) => call(api.sessions.diff({ path: { id }, urlParams: statOnly ? { stat: "1" } : {} })),
      finish: (id, payload) =>
        checked(FinishPayload, payload).pipe(
          Effect.flatMap((checkedPayload) =>
            call(api.sessions.finish({ path: { id }, headers: {}, payload: checkedPayload }))
          )
        ),
      fork: (id, payload) =>
        checked(ForkPayload, payload).pipe(
          Effect.flatMap((checkedPayload) =>
            call(api.sessions.fork({ path: { id }, headers: {}, payload: checkedPayload }))
          )
        ),
      worktrees: (computer) => call(api.worktrees.list({ urlParams: computer === undefined ? {} : { computer } })),
      cleanup: (payload) =>
        checked(WorktreeCleanupPayload, payload).pipe(
          Effect.flatMap((checkedPayload) => call(api.worktrees.cleanup({ payload: checkedPayload })))
        )
    })
  })

/**
 * `fetch` trusting `address.ca` besides the system's CAs (an undici dispatcher of its own, closed
 * with the layer); plain `fetch` otherwise.
 */
const transport = (address: DaemonAddress): Layer.Layer<HttpClient.HttpClient> => {
  const ca = address.ca
  if (ca === undefined) return FetchHttpClient.layer
  return Layer.scoped(
    HttpClient.HttpClient,
    Effect.gen(function*() {
      const dispatcher = yield* Effect.acquireRelease(
        Effect.sync(() => new Undici.Agent({ connect: { ca: [...tls.rootCertificates, ca] } })),
        (agent) => Effect.promise(() => agent.close())
      )
      const init = { dispatcher } as unknown as globalThis.RequestInit
      return HttpClient.transform(
        yield* HttpClient.HttpClient,
        (effect) => Effect.provideService(effect, FetchHttpClient.RequestInit, init)
      )
    })
  ).pipe(Layer.provide(FetchHttpClient.layer))
}

/** The client over `fetch`, for the daemon at `address`. */
export const layer = (
  address: DaemonAddress,
  token: Option.Option<Redacted.Redacted<string>>,
  caller: Option.Option<string> = Option.none()
): Layer.Layer<DaemonClient> =>
  Layer.effect(DaemonClient, make(address, token, caller)).pipe(Layer.provide(transport(address)))
