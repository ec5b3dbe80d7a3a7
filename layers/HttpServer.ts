/**
 * Serving the API: the handlers (ApiHandlers.ts) behind the request guard (RequestGuard.ts), the
 * stream (StreamRoute.ts), `/docs` and `/openapi.json`, on the listener (HttpListener.ts) that was
 * bound before the daemon started and answered 503 until now.
 */
import { HttpApiBuilder, HttpApiSwagger, type HttpClient, HttpServer } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import type { HookOutbox } from "../services/AgentHooks.js"
import type { Agents } from "../services/Agents.js"
import type { AuthToken } from "../services/AuthToken.js"
import type { Cache } from "../services/Cache.js"
import type { Fleet } from "../services/Fleet.js"
import { HttpListener, type ListenFailed, type PortInUse } from "../services/HttpListener.js"
import type { TlsInvalid } from "../services/HttpListener.js"
import type { Idempotency } from "../services/Idempotency.js"
import type { OutputLog } from "../services/OutputLog.js"
import type { Projects } from "../services/Projects.js"
import type { Sessions } from "../services/Sessions.js"
import type { SystemStats } from "../services/SystemStats.js"
import { TelemuxConfig, type TlsSettings } from "../services/TelemuxConfig.js"
import type { WebAuth } from "../services/WebAuth.js"
import type { Worktrees } from "../services/Worktrees.js"
import { EXTRA_ROUTES } from "../src/http/RouteTemplate.js"
import { makeApiLive, makeHealthJson } from "./ApiHandlers.js"
import * as HotRoutes from "./HotRoutes.js"
import * as HttpListenerLive from "./HttpListener.js"
import * as MemoryHookOutbox from "./MemoryHookOutbox.js"
import { MetricsRouteLive } from "./MetricsRoute.js"
import * as RequestGuard from "./RequestGuard.js"
import { StreamRouteLive } from "./StreamRoute.js"
import * as WebAuthLive from "./WebAuthLive.js"
import { WebRouteLive } from "./WebRoute.js"

export { hostnameOf, isLoopbackHost, makeHostPredicate } from "../src/http/Hosts.js"
export { AuthorizationLive } from "./ApiHandlers.js"

type Services =
  | HookOutbox
  | Sessions
  | Cache
  | SystemStats
  | Projects
  | TelemuxConfig
  | AuthToken
  | OutputLog
  | Fleet
  | Agents
  | Idempotency
  | WebAuth
  | Worktrees

/**
 * HttpApiBuilder's app behind the request guard. Not `HttpApiBuilder.serve(middleware)`: a server
 * middleware only sees an error after it has been answered (an empty 400/404/500); the guard wraps
 * the app itself so that it answers those in JSON. The guard needs the port the listener bound.
 * In front of it, on the listener, the hot reads (HotRoutes.ts) answer `GET /health` and
 * `GET /v1/sessions` from cached bytes when the app would answer them 200, and hand everything
 * else on; both answer health from the one report made here.
 */
const AppLive = Layer.unwrapScoped(
  Effect.gen(function*() {
    const config = yield* TelemuxConfig
    const listener = yield* HttpListener
    const settings: RequestGuard.GuardSettings = {
      host: config.host,
      allowedHosts: config.allowedHosts,
      port: listener.port,
      scheme: listener.scheme
    }
    const healthJson = yield* makeHealthJson
    yield* listener.shortcut(yield* HotRoutes.make(settings, healthJson, listener.track))
    const guard = RequestGuard.make(settings, EXTRA_ROUTES)
    return Layer.unwrapEffect(Effect.map(HttpApiBuilder.httpApp, (app) => HttpServer.serve(guard(app)))).pipe(
      Layer.provide(StreamRouteLive),
      // the dashboard's files, on `GET /*`: the API's routes are matched first
      Layer.provide(WebRouteLive),
      Layer.provide(MetricsRouteLive),
      Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
      Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
      Layer.provide(makeApiLive(healthJson)),
      Layer.provide([HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer]),
      Layer.provide(NodeHttpServer.layerContext)
    )
  })
)

/**
 * The API served on the listener the daemon bound at start; until this layer is built, the
 * listener answers 503. (Auth off beyond loopback is refused where the settings are read.)
 */
export const layer: Layer.Layer<never, never, Services | HttpListener | HttpServer.HttpServer> = AppLive

/**
 * The same app on 127.0.0.1 and a random port (HTTPS with `tls`), with an `HttpClient` whose
 * relative URLs go to it; the hook outbox /metrics reads is an empty one in memory, and web
 * sign-ins are kept in memory unless `webAuth` says otherwise.
 */
export const layerTestWith = (options: {
  readonly tls?: TlsSettings
  readonly webAuth?: Layer.Layer<WebAuth, never, AuthToken | TelemuxConfig>
} = {}): Layer.Layer<
  HttpServer.HttpServer | HttpClient.HttpClient | HttpListener | WebAuth,
  PortInUse | ListenFailed | TlsInvalid,
  Exclude<Services, HookOutbox | WebAuth>
> =>
  HttpServer.layerTestClient.pipe(
    Layer.provide(NodeHttpClient.layerWithoutAgent),
    Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: false, rejectUnauthorized: false })),
    Layer.provideMerge(AppLive),
    Layer.provideMerge(HttpListenerLive.layer({ host: "127.0.0.1", port: 0, tls: options.tls })),
    Layer.provideMerge(options.webAuth ?? WebAuthLive.layerMemory),
    Layer.provide(MemoryHookOutbox.layer)
  )

export const layerTest: Layer.Layer<
  HttpServer.HttpServer | HttpClient.HttpClient | HttpListener,
  PortInUse | ListenFailed | TlsInvalid,
  Exclude<Services, HookOutbox | WebAuth>
> = layerTestWith()
