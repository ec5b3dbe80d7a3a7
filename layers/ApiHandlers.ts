/**
 * The API's handlers, group by group: what each endpoint of src/api/Api.ts does, over the
 * services (the auth middleware and the web sign-in's handlers are in WebSignIn.ts). Serving them (the listener, the guard, the stream) is
 * HttpServer.ts's part.
 */
import { type HttpApi, HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, DateTime, Duration, Effect, Equal, Layer, Option, Ref, Schema } from "effect"
import * as os from "node:os"
import { Agents } from "../services/Agents.js"
import type { AuthToken } from "../services/AuthToken.js"
import { Cache } from "../services/Cache.js"
import { Fleet, type FleetLinkStatus } from "../services/Fleet.js"
import type { HttpListener } from "../services/HttpListener.js"
import type { Idempotency } from "../services/Idempotency.js"
import { Leases } from "../services/Lease.js"
import { OutputLog } from "../services/OutputLog.js"
import { WATCH_HISTORY_LINES } from "../services/OutputPoller.js"
import { Projects } from "../services/Projects.js"
import { type ListSessionsRequest, Sessions } from "../services/Sessions.js"
import { SystemStats } from "../services/SystemStats.js"
import { TELEGRAM_LEASE } from "../services/Telegram.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import type { WebAuth } from "../services/WebAuth.js"
import type { Worktrees } from "../services/Worktrees.js"
import { CALLER_HEADER, Health, SessionOutput, TelemuxApi } from "../src/api/Api.js"
import { Computer, FleetLink } from "../src/domain/Computer.js"
import { toKeyPress } from "../src/domain/Keys.js"
import { type ComputerName, SessionId } from "../src/domain/Session.js"
import { VERSION } from "../src/Version.js"
import * as SessionRouting from "./SessionRouting.js"
import { AuthorizationLive, WebSignInLive } from "./WebSignIn.js"

export { AuthorizationLive }

const decodeSessionId = Schema.decodeUnknownOption(SessionId)

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/** The cached JSON text goes out as is; HttpApiBuilder does not re-encode a ready response. */
const jsonText = (json: string) => HttpServerResponse.text(json, { contentType: "application/json" })

/** The fleet link as the API shows it; null when this daemon is in no fleet. */
const fleetLink = Effect.flatMap(Fleet, (fleet) => fleet.link).pipe(
  Effect.map(Option.match({ onNone: () => null, onSome: (link) => new FleetLink(link) }))
)

const encodeHealth = Schema.encodeSync(Health)

const sameLink = (a: Option.Option<FleetLinkStatus>, b: Option.Option<FleetLinkStatus>) =>
  Option.isNone(a) || Option.isNone(b)
    ? Option.isNone(a) && Option.isNone(b)
    : a.value.state === b.value.state && a.value.attempt === b.value.attempt &&
      a.value.lastError === b.value.lastError &&
      a.value.lastReset === b.value.lastReset && Equal.equals(a.value.since, b.value.since)

/** Longest `/health` waits on Redis for the Telegram poller's name. */
export const HEALTH_LOOKUP_TIMEOUT = Duration.millis(200)

/**
 * What `GET /health` answers, as JSON text: made again only when the uptime's second or the fleet
 * link changed, not per request. One is made per server and shared by the handler and the hot
 * route (HotRoutes.ts), so that both answer the same bytes.
 */
export const makeHealthJson: Effect.Effect<Effect.Effect<string>, never, TelemuxConfig | Fleet> = Effect.gen(
  function*() {
    const config = yield* TelemuxConfig
    const fleet = yield* Fleet
    const startedAt = yield* Clock.currentTimeMillis
    const last = yield* Ref.make<
      { readonly uptime: number; readonly link: Option.Option<FleetLinkStatus>; readonly json: string } | undefined
    >(
      undefined
    )
    // The Telegram poller: the holder of its fleet lease, looked up as the report is made (once a
    // second at most) and for HEALTH_LOOKUP_TIMEOUT at most: a frozen Redis must not slow the
    // liveness answer; meanwhile the last holder seen is reported.
    const leases = yield* Effect.serviceOption(Leases)
    let lastPoller: string | null = null
    const telegram = Effect.suspend(() => {
      if (Option.isNone(config.telegram) || Option.isNone(leases)) return Effect.succeed(undefined)
      const users = config.telegram.value.users.length
      return leases.value.holder(TELEGRAM_LEASE).pipe(
        Effect.timeoutOption(HEALTH_LOOKUP_TIMEOUT),
        Effect.map((looked) => {
          if (Option.isSome(looked)) lastPoller = Option.getOrNull(looked.value)
          return { poller: lastPoller, users }
        })
      )
    })
    return Effect.gen(function*() {
      const uptime = Math.max(0, Math.floor(((yield* Clock.currentTimeMillis) - startedAt) / 1000))
      const link = yield* fleet.link
      const previous = yield* Ref.get(last)
      if (previous !== undefined && previous.uptime === uptime && sameLink(previous.link, link)) return previous.json
      const bot = yield* telegram
      const json = JSON.stringify(encodeHealth(
        new Health({
          ok: true,
          version: VERSION,
          computer: config.computer,
          uptimeSeconds: uptime,
          fleet: Option.match(link, { onNone: () => null, onSome: (status) => new FleetLink(status) }),
          ...(bot === undefined ? {} : { telegram: bot })
        })
      ))
      yield* Ref.set(last, { uptime, link, json })
      return json
    })
  }
)

const healthLive = (healthJson: Effect.Effect<string>) =>
  HttpApiBuilder.group(
    TelemuxApi,
    "health",
    (handlers) => Effect.succeed(handlers.handle("health", () => Effect.map(healthJson, jsonText)))
  )

const SessionsLive = HttpApiBuilder.group(TelemuxApi, "sessions", (handlers) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const outputLog = yield* OutputLog
    const routing = yield* SessionRouting.make
    const agents = yield* Agents
    /** The session an agent calls from, when the request names one this daemon knows. */
    const caller = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Option.match(Option.flatMap(Option.fromNullable(request.headers[CALLER_HEADER]), decodeSessionId), {
        onNone: () =>
          Effect.succeedNone,
        onSome: (id) =>
          sessions.get(id).pipe(
            Effect.map((s) => Option.some({ sessionId: id, computer: s.computer })),
            Effect.orElseSucceed(() => Option.none())
          )
      }))
    /** An agent that starts or messages a session is told when that session stops or asks. */
    const listenAsCaller = (
      target: SessionId,
      from: Option.Option<{ readonly sessionId: SessionId; readonly computer: ComputerName }>
    ) =>
      Option.isNone(from) || from.value.sessionId === target
        ? Effect.void
        : agents.listen(target, from.value).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning("could not make the caller a listener", error)
          )
        )
    return handlers
      .handle("list", ({ urlParams }) => {
        const request: ListSessionsRequest = urlParams
        return Effect.map(routing.listJson(request), jsonText)
      })
      .handle("get", ({ path }) => Effect.map(routing.getJson(path.id), jsonText))
      .handle("create", ({ headers, payload }) =>
        Effect.gen(function*() {
          const from = yield* caller
          const session = yield* routing.create({
            ...payload,
            ...Option.match(from, {
              onNone: () => ({}),
              onSome: (c) => ({ initiatorSessionId: c.sessionId, initiatorComputer: c.computer })
            })
          }, headers["idempotency-key"])
          yield* listenAsCaller(session.sessionId, from)
          return session
        }))
      .handle("input", ({ headers, path, payload }) =>
        Effect.gen(function*() {
          yield* routing.sendText(path.id, payload.text, payload.enter, headers["idempotency-key"])
          yield* listenAsCaller(path.id, yield* caller)
        }))
      .handle("keys", ({ headers, path, payload }) =>
        routing.sendKeys(path.id, payload.keys.map(toKeyPress), headers["idempotency-key"]))
      .handle("output", ({ path, urlParams }) =>
        Effect.gen(function*() {
          // A watched session's snapshot is re-captured on every change signal, so it is the
          // current screen while tmux answers; other history depths (or an unwatched session) are captured now.
          const session = yield* routing.locate(path.id)
          const snapshot = urlParams.lines === WATCH_HISTORY_LINES && session.status !== "closed"
            ? yield* outputLog.latest(path.id)
            : Option.none()
          if (Option.isNone(snapshot)) {
            const screen = yield* routing.capture(path.id, urlParams.lines)
            return new SessionOutput({ sessionId: path.id, screen, capturedAt: yield* DateTime.now, stale: false })
          }
          const fresh = !routing.isLocal(session) || (yield* sessions.terminalResponsive)
          return new SessionOutput({
            sessionId: path.id,
            screen: snapshot.value.screen,
            capturedAt: fresh ? yield* DateTime.now : snapshot.value.changedAt,
            stale: !fresh
          })
        }))
      .handle("close", ({ path }) =>
        routing.close(path.id))
      .handle("resume", ({ path }) =>
        routing.resume(path.id, false))
      .handle("restart", ({ path }) => routing.resume(path.id, true))
      .handle(
        "diff",
        ({ path, urlParams }) => routing.diff(path.id, urlParams.stat === "1" || urlParams.stat === "true")
      )
      .handle("finish", ({ headers, path, payload }) => routing.finish(path.id, payload, headers["idempotency-key"]))
      .handle("fork", ({ headers, path, payload }) => routing.fork(path.id, payload, headers["idempotency-key"]))
      .handle("listen", ({ path, payload }) =>
        Effect.gen(function*() {
          const listener = yield* routing.locate(payload.listener)
          yield* agents.listen(path.id, {
            sessionId: listener.sessionId,
            computer: payload.computer ?? listener.computer
          })
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

const WorktreesLive = HttpApiBuilder.group(
  TelemuxApi,
  "worktrees",
  (handlers) =>
    Effect.map(SessionRouting.make, (routing) =>
      handlers
        .handle("list", ({ urlParams }) => routing.listWorktrees(urlParams.computer))
        .handle("cleanup", ({ payload }) => {
          const { computer, ...cleanup } = payload
          return routing.cleanupWorktrees(cleanup, computer)
        }))
)

/** Every computer's trusted dirs: a session can be started in any of them (POST /v1/sessions with `computer`). */
const ProjectsLive = HttpApiBuilder.group(
  TelemuxApi,
  "projects",
  (handlers) => Effect.map(SessionRouting.make, (routing) => handlers.handle("list", () => routing.listProjects))
)

/** The API with its handlers and auth, answering health with `healthJson` (makeHealthJson); what HttpServer.ts serves. */
export const makeApiLive = (healthJson: Effect.Effect<string>): Layer.Layer<
  HttpApi.Api,
  never,
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
  | HttpListener
  | Worktrees
> =>
  HttpApiBuilder.api(TelemuxApi).pipe(
    Layer.provide([healthLive(healthJson), SessionsLive, ComputersLive, ProjectsLive, WorktreesLive, WebSignInLive]),
    Layer.provide(AuthorizationLive)
  )
