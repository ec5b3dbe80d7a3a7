import {
  type HttpApi,
  HttpApiBuilder,
  HttpApiSwagger,
  type HttpApp,
  type HttpClient,
  HttpServer,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { Cause, Clock, DateTime, Effect, Layer, Option, Redacted, Schema } from "effect"
import { createServer } from "node:http"
import * as os from "node:os"
import { AuthToken } from "../services/AuthToken.js"
import { Agents } from "../services/Agents.js"
import { Cache } from "../services/Cache.js"
import { Fleet } from "../services/Fleet.js"
import { OutputLog } from "../services/OutputLog.js"
import { WATCH_HISTORY_LINES } from "../services/OutputPoller.js"
import { Projects } from "../services/Projects.js"
import { type ListSessionsRequest, Sessions } from "../services/Sessions.js"
import { SystemStats } from "../services/SystemStats.js"
import { ConfigInvalid, TelemuxConfig, type TelemuxSettings } from "../services/TelemuxConfig.js"
import { Authorization, CALLER_HEADER, Health, HostNotAllowed, SessionOutput, TelemuxApi } from "../src/api/Api.js"
import { Computer, FleetLink } from "../src/domain/Computer.js"
import { InvalidRequest, Unauthorized } from "../src/domain/Errors.js"
import { toKeyPress } from "../src/domain/Keys.js"
import { type ComputerName, SessionId } from "../src/domain/Session.js"
import { VERSION } from "../src/Version.js"
import * as SessionRouting from "./SessionRouting.js"
import { StreamRouteLive } from "./StreamRoute.js"

// ---------------------------------------------------------------------------
// Host / Origin check (DNS rebinding)
// ---------------------------------------------------------------------------

const IPV4_LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** `localhost`, `127.x.x.x` or `::1` (bracketed or not); any case. */
export const isLoopbackHost = (host: string): boolean => {
  const name = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1")
  if (name === "localhost" || name === "::1") return true
  const v4 = IPV4_LOOPBACK.exec(name)
  return v4 !== null && v4.slice(1).every((octet) => Number(octet) <= 255)
}

/** The host part of a `Host` header (`name`, `name:port`, `[v6]`, `[v6]:port`), lower-cased; undefined when malformed. */
export const hostnameOf = (hostHeader: string): string | undefined => {
  const value = hostHeader.trim().toLowerCase()
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]\s/]+)(?::\d{1,5})?$/.exec(value)
  return match?.[1]
}

const normaliseHost = (host: string): string => {
  const value = host.trim().toLowerCase()
  return value.includes(":") && !value.startsWith("[") ? `[${value}]` : hostnameOf(value) ?? value
}

const UNSPECIFIED = new Set(["0.0.0.0", "[::]"])

/** Accepts loopback names always; the bind host and `allowedHosts` as configured. */
export const makeHostPredicate = (settings: Pick<TelemuxSettings, "host" | "allowedHosts">) => {
  const allowed = new Set(
    [settings.host, ...settings.allowedHosts].map(normaliseHost).filter((host) => !UNSPECIFIED.has(host))
  )
  return (hostname: string): boolean => isLoopbackHost(hostname) || allowed.has(hostname)
}

const forbidden = (message: string) =>
  HttpServerResponse.unsafeJson(Schema.encodeSync(HostNotAllowed)(new HostNotAllowed({ message })), { status: 403 })

const isBodyDecodeError = (u: unknown): u is HttpServerError.RequestError =>
  HttpServerError.isServerError(u) && u._tag === "RequestError" && u.reason === "Decode"

/**
 * Runs before routing, so it covers the API, `/docs` and `/openapi.json` alike. Also turns an
 * unreadable JSON body (which HttpApiBuilder treats as a defect) into a 400 InvalidRequest.
 */
export const requestGuard = (settings: Pick<TelemuxSettings, "host" | "allowedHosts">) => {
  const isAllowed = makeHostPredicate(settings)
  return (app: HttpApp.Default): HttpApp.Default =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const hostHeader = request.headers.host
      const hostname = hostHeader === undefined ? undefined : hostnameOf(hostHeader)
      if (hostname === undefined || !isAllowed(hostname)) {
        return Effect.as(
          Effect.logWarning("refused a request for a foreign Host").pipe(
            Effect.annotateLogs({ host: hostHeader ?? "(none)", url: request.url })
          ),
          forbidden(`Host ${JSON.stringify(hostHeader ?? "")} is not allowed; add it to allowedHosts to accept it`)
        )
      }
      const origin = request.headers.origin
      if (origin !== undefined) {
        const originHost = URL.canParse(origin) ? new URL(origin).hostname.toLowerCase() : undefined
        if (originHost === undefined || originHost === "" || !isAllowed(originHost)) {
          return Effect.as(
            Effect.logWarning("refused a request from a foreign Origin").pipe(
              Effect.annotateLogs({ origin, url: request.url })
            ),
            forbidden(`Origin ${JSON.stringify(origin)} is not allowed`)
          )
        }
      }
      return Effect.catchAllCause(app, (cause) => {
        const failure = Cause.squash(cause)
        return isBodyDecodeError(failure)
          ? Effect.succeed(
            HttpServerResponse.unsafeJson(
              Schema.encodeSync(InvalidRequest)(
                new InvalidRequest({ message: `the request body could not be read as JSON: ${String(failure.cause ?? failure.message)}` })
              ),
              { status: 400 }
            )
          )
          : Effect.failCause(cause)
      })
    })
}

const decodeSessionId = Schema.decodeUnknownOption(SessionId)

const RequestGuardLive = HttpApiBuilder.middleware(Effect.map(TelemuxConfig, requestGuard))

// ---------------------------------------------------------------------------
// Authorization
// ---------------------------------------------------------------------------

const BEARER = /^bearer\s+/i

export const AuthorizationLive: Layer.Layer<Authorization, never, AuthToken | TelemuxConfig> = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    const config = yield* TelemuxConfig
    const token = yield* AuthToken
    if (!config.auth) return Authorization.of({ bearer: () => Effect.void })
    return Authorization.of({
      bearer: (candidate) =>
        Effect.gen(function*() {
          const header = (yield* HttpServerRequest.HttpServerRequest).headers.authorization ?? ""
          if (header.trim() === "") {
            return yield* new Unauthorized({
              message: "missing API token: send the header `Authorization: Bearer <token>` (see `telemux token`)"
            })
          }
          if (!BEARER.test(header)) {
            return yield* new Unauthorized({ message: "the Authorization header must use the Bearer scheme" })
          }
          if (!(yield* token.verify(Redacted.value(candidate).trim()))) {
            return yield* new Unauthorized({ message: "invalid API token" })
          }
        })
    })
  })
)

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/** The cached JSON text goes out as is; HttpApiBuilder does not re-encode a ready response. */
const jsonText = (json: string) => HttpServerResponse.text(json, { contentType: "application/json" })

/** The fleet link as the API shows it; null when this daemon is in no fleet. */
const fleetLink = Effect.flatMap(Fleet, (fleet) => fleet.link).pipe(
  Effect.map(Option.match({ onNone: () => null, onSome: (link) => new FleetLink(link) }))
)

const HealthLive = HttpApiBuilder.group(TelemuxApi, "health", (handlers) =>
  Effect.gen(function*() {
    const config = yield* TelemuxConfig
    const fleet = yield* Fleet
    const startedAt = yield* Clock.currentTimeMillis
    return handlers.handle("health", () =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        return new Health({
          ok: true,
          version: VERSION,
          computer: config.computer,
          uptimeSeconds: Math.max(0, Math.floor((now - startedAt) / 1000)),
          fleet: yield* Effect.provideService(fleetLink, Fleet, fleet)
        })
      }))
  }))

const SessionsLive = HttpApiBuilder.group(TelemuxApi, "sessions", (handlers) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const outputLog = yield* OutputLog
    const routing = yield* SessionRouting.make
    const agents = yield* Agents
    /** The session an agent calls from, when the request names one this daemon knows. */
    const caller = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Option.match(Option.flatMap(Option.fromNullable(request.headers[CALLER_HEADER]), decodeSessionId), {
        onNone: () => Effect.succeedNone,
        onSome: (id) =>
          sessions.get(id).pipe(
            Effect.map((s) => Option.some({ sessionId: id, computer: s.computer })),
            Effect.orElseSucceed(() => Option.none())
          )
      }))
    /** An agent that starts or messages a session is told when that session stops or asks. */
    const listenAsCaller = (target: SessionId, from: Option.Option<{ readonly sessionId: SessionId; readonly computer: ComputerName }>) =>
      Option.isNone(from) || from.value.sessionId === target
        ? Effect.void
        : agents.listen(target, from.value).pipe(
          Effect.catchAll((error) => Effect.logWarning("could not make the caller a listener", error))
        )
    return handlers
      .handle("list", ({ urlParams }) => {
        const request: ListSessionsRequest = urlParams
        return Effect.map(sessions.listJson(request), jsonText)
      })
      .handle("get", ({ path }) => Effect.map(sessions.getJson(path.id), jsonText))
      .handle("create", ({ payload }) =>
        Effect.gen(function*() {
          const from = yield* caller
          const session = yield* routing.create({
            ...payload,
            ...Option.match(from, {
              onNone: () => ({}),
              onSome: (c) => ({ initiatorSessionId: c.sessionId, initiatorComputer: c.computer })
            })
          })
          yield* listenAsCaller(session.sessionId, from)
          return session
        }))
      .handle("input", ({ path, payload }) =>
        Effect.gen(function*() {
          yield* routing.sendText(path.id, payload.text, payload.enter)
          yield* listenAsCaller(path.id, yield* caller)
        }))
      .handle("keys", ({ path, payload }) => routing.sendKeys(path.id, payload.keys.map(toKeyPress)))
      .handle("output", ({ path, urlParams }) =>
        Effect.gen(function*() {
          // A watched session's snapshot is re-captured on every change signal, so it is the
          // current screen; other history depths (or an unwatched session) are captured now.
          const session = yield* sessions.get(path.id)
          const snapshot = urlParams.lines === WATCH_HISTORY_LINES && session.status !== "closed"
            ? yield* outputLog.latest(path.id)
            : Option.none()
          const screen = Option.isSome(snapshot)
            ? snapshot.value.screen
            : yield* routing.capture(path.id, urlParams.lines)
          const capturedAt = yield* DateTime.now
          return new SessionOutput({ sessionId: path.id, screen, capturedAt })
        }))
      .handle("close", ({ path }) => routing.close(path.id))
      .handle("resume", ({ path }) => routing.resume(path.id, false))
      .handle("restart", ({ path }) => routing.resume(path.id, true))
      .handle("listen", ({ path, payload }) =>
        Effect.gen(function*() {
          const listener = yield* sessions.get(payload.listener)
          yield* agents.listen(path.id, { sessionId: listener.sessionId, computer: payload.computer ?? listener.computer })
        }))
  }))

const ComputersLive = HttpApiBuilder.group(TelemuxApi, "computers", (handlers) =>
  Effect.gen(function*() {
    const config = yield* TelemuxConfig
    const cache = yield* Cache
    const systemStats = yield* SystemStats
    const fleet = yield* Fleet
    const host = os.hostname()
    // userInfo throws when the uid has no passwd entry (common in containers).
    const user = yield* Effect.try(() => os.userInfo().username).pipe(Effect.orElseSucceed(() => "unknown"))
    return handlers.handle("list", () =>
      Effect.gen(function*() {
        const local = new Computer({
          name: config.computer,
          host,
          user,
          role: "local",
          online: true,
          lastSeenAt: yield* DateTime.now,
          stats: yield* systemStats.snapshot,
          version: VERSION,
          link: yield* Effect.provideService(fleetLink, Fleet, fleet)
        })
        const known = yield* cache.getComputers
        return [local, ...known.filter((computer) => computer.name !== local.name)]
      }))
  }))

const ProjectsLive = HttpApiBuilder.group(TelemuxApi, "projects", (handlers) =>
  Effect.map(Projects, (projects) => handlers.handle("list", () => projects.list)))

/** The API with its handlers and auth; what the server layers below serve. */
export const ApiLive: Layer.Layer<
  HttpApi.Api,
  never,
  Sessions | Cache | SystemStats | Projects | TelemuxConfig | AuthToken | OutputLog | Fleet | Agents
> = HttpApiBuilder.api(TelemuxApi).pipe(
  Layer.provide([HealthLive, SessionsLive, ComputersLive, ProjectsLive]),
  Layer.provide(AuthorizationLive)
)

// ---------------------------------------------------------------------------
// Serving
// ---------------------------------------------------------------------------

/** Refuses a bind that would expose an unauthenticated API beyond this machine. */
export const checkBind = (settings: Pick<TelemuxSettings, "host" | "auth">): Effect.Effect<void, ConfigInvalid> =>
  !settings.auth && !isLoopbackHost(settings.host)
    ? Effect.fail(
      new ConfigInvalid({
        message: `refusing to serve on ${settings.host} with auth off: turn auth on, or bind to 127.0.0.1`
      })
    )
    : Effect.void

const AppLive = HttpApiBuilder.serve().pipe(
  Layer.provide(StreamRouteLive),
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(RequestGuardLive),
  Layer.provide(ApiLive)
)

/** The daemon's HTTP server on TelemuxConfig's host and port. */
export const layer: Layer.Layer<
  never,
  ConfigInvalid | HttpServerError.ServeError,
  Sessions | Cache | SystemStats | Projects | TelemuxConfig | AuthToken | OutputLog | Fleet | Agents
> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const config = yield* TelemuxConfig
    yield* checkBind(config)
    return AppLive.pipe(
      HttpServer.withLogAddress,
      Layer.provide(NodeHttpServer.layer(() => createServer({ noDelay: true }), { host: config.host, port: config.port }))
    )
  })
)

/**
 * The same app on 127.0.0.1 and a random port, with an `HttpClient` whose relative URLs go to it.
 * The bind check still applies to TelemuxConfig's host, so tests can exercise it.
 */
export const layerTest: Layer.Layer<
  HttpServer.HttpServer | HttpClient.HttpClient,
  ConfigInvalid | HttpServerError.ServeError,
  Sessions | Cache | SystemStats | Projects | TelemuxConfig | AuthToken | OutputLog | Fleet | Agents
> = Layer.unwrapEffect(
  Effect.map(Effect.flatMap(TelemuxConfig, checkBind), () =>
    HttpServer.layerTestClient.pipe(
      Layer.provide(NodeHttpClient.layerWithoutAgent),
      Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: false })),
      Layer.provideMerge(AppLive),
      Layer.provideMerge(NodeHttpServer.layer(() => createServer({ noDelay: true }), { host: "127.0.0.1", port: 0 }))
    ))
)
