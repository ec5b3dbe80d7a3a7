/**
 * `GET /v1/stream`: the WebSocket push endpoint (protocol in src/api/StreamProtocol.ts; one
 * client's fan-out, back-pressure and overflow policy in StreamClient.ts).
 *
 * Auth as for the API: `Authorization: Bearer` on the upgrade request (a wrong one is a 401
 * before any upgrade), or, without the header, a first `auth` message within
 * STREAM_AUTH_DEADLINE (else close 4401). A token in the URL is refused with 401, always.
 */
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse, Socket } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Data, Duration, Effect, Either, Layer, Metric, Option, Queue, Schema } from "effect"
import type * as net from "node:net"
import { AuthToken } from "../services/AuthToken.js"
import { Cache } from "../services/Cache.js"
import { Fleet } from "../services/Fleet.js"
import { OutputLog } from "../services/OutputLog.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { CLOSE_UNAUTHORIZED, decodeClientMessage, STREAM_PATH } from "../src/api/StreamProtocol.js"
import { InvalidRequest, Unauthorized } from "../src/domain/Errors.js"
import { type Deps, makeOutputFrames, READY, serveClient } from "./StreamClient.js"

export {
  STREAM_CLIENT_QUEUE_MAX,
  STREAM_CLIENT_STALL_TIMEOUT,
  STREAM_SOCKET_HIGH_WATER,
  StreamClientStalled,
  streamLagResyncs,
  streamOverflows,
  streamQueueDepth,
  streamSocketBuffered
} from "./StreamClient.js"

/** Client messages waiting to be handled; more are dropped. */
export const STREAM_CLIENT_INBOX_MAX = 64
export const STREAM_AUTH_DEADLINE = Duration.seconds(5)

export const streamClients = Metric.gauge("telemux_stream_clients", { description: "connected stream clients" })

export class StreamUnauthorized extends Data.TaggedError("StreamUnauthorized")<{ readonly message: string }> {}

const TOKEN_PARAM = /^(access_?)?token$|^auth(orization)?$|^bearer$|^api_?key$/i
const BEARER = /^bearer\s+/i

const hasTokenInUrl = (url: string): boolean => {
  const query = url.indexOf("?")
  if (query < 0) return false
  return [...new URLSearchParams(url.slice(query + 1)).keys()].some((key) => TOKEN_PARAM.test(key))
}

const refuse = (status: number, error: Unauthorized | InvalidRequest, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(
    error._tag === "Unauthorized" ? Schema.encodeSync(Unauthorized)(error) : Schema.encodeSync(InvalidRequest)(error),
    { status, headers }
  )

// ---------------------------------------------------------------------------
// The route
// ---------------------------------------------------------------------------

const authenticate = (inbox: Queue.Dequeue<string | Uint8Array>, token: AuthToken["Type"]) =>
  Effect.gen(function*() {
    const first = yield* Queue.take(inbox).pipe(Effect.timeoutFail({
      duration: STREAM_AUTH_DEADLINE,
      onTimeout: () => new StreamUnauthorized({ message: "no auth message in time" })
    }))
    const decoded = typeof first === "string" ? decodeClientMessage(first) : Either.left("binary")
    if (Either.isLeft(decoded) || decoded.right.type !== "auth") {
      return yield* new StreamUnauthorized({ message: "the first message must be {\"type\":\"auth\",\"token\":...}" })
    }
    if (!(yield* token.verify(decoded.right.token.trim()))) {
      return yield* new StreamUnauthorized({ message: "invalid API token" })
    }
  })

/** The stream endpoint, added to HttpApiBuilder's router (behind the same Host/Origin guard). */
export const StreamRouteLive: Layer.Layer<never, never, OutputLog | Cache | AuthToken | TelemuxConfig | Fleet> = HttpApiBuilder
  .Router.use((router) =>
    Effect.gen(function*() {
      const cache = yield* Cache
      const fleet = yield* Fleet
      const token = yield* AuthToken
      const config = yield* TelemuxConfig
      const deps: Deps = {
        outputLog: yield* OutputLog,
        cache,
        // a session owned elsewhere is watched through the fleet while a client subscribes to it
        watchRemote: (sessionId) =>
          Effect.flatMap(cache.getSession(sessionId), (session) =>
            Option.isSome(session) && session.value.computer !== config.computer
              ? fleet.watchOutput(session.value)
              : Effect.void)
      }
      const outputFrame = makeOutputFrames()
      let clientCount = 0

      const connection = (upgrade: Effect.Effect<Socket.Socket, unknown>, socket: net.Socket, authenticated: boolean) =>
        Effect.gen(function*() {
          const ws = yield* upgrade
          socket.setNoDelay(true)
          yield* Effect.acquireRelease(Metric.increment(streamClients), () => Metric.modify(streamClients, -1))
          const write = yield* ws.writer
          const inbox = yield* Queue.dropping<string | Uint8Array>(STREAM_CLIENT_INBOX_MAX)
          const reader = ws.runRaw((data) => Queue.offer(inbox, data))
          const session = Effect.gen(function*() {
            if (!authenticated) {
              const result = yield* Effect.either(authenticate(inbox, token))
              if (Either.isLeft(result)) {
                yield* Effect.logInfo("refused a stream client").pipe(Effect.annotateLogs({ reason: result.left.message }))
                return yield* write(new Socket.CloseEvent(CLOSE_UNAUTHORIZED, result.left.message))
              }
            }
            yield* write(READY)
            return yield* serveClient(deps, inbox, write, socket, outputFrame)
          })
          yield* Effect.raceFirst(reader, session).pipe(
            Effect.catchTag("StreamClientStalled", (error) =>
              Effect.zipRight(Effect.logWarning("dropped a stalled stream client", error), Effect.sync(() => socket.destroy())))
          )
        }).pipe(
          Effect.catchAllCause((cause) => Effect.logDebug("stream client ended", cause)),
          Effect.annotateLogs({ streamClient: ++clientCount }),
          Effect.scoped
        )

      yield* router.get(
        STREAM_PATH,
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          if (hasTokenInUrl(request.url)) {
            return refuse(401, new Unauthorized({ message: "tokens are not accepted in URLs; send the Authorization header or an auth message" }))
          }
          let authenticated = !config.auth
          const header = request.headers.authorization ?? ""
          if (config.auth && header.trim() !== "") {
            if (!BEARER.test(header)) {
              return refuse(401, new Unauthorized({ message: "the Authorization header must use the Bearer scheme" }))
            }
            if (!(yield* token.verify(header.replace(BEARER, "").trim()))) {
              return refuse(401, new Unauthorized({ message: "invalid API token" }))
            }
            authenticated = true
          }
          if (request.headers.upgrade?.toLowerCase() !== "websocket") {
            return refuse(426, new InvalidRequest({ message: `${STREAM_PATH} is a WebSocket endpoint` }), {
              upgrade: "websocket"
            })
          }
          yield* connection(request.upgrade, NodeHttpServerRequest.toIncomingMessage(request).socket, authenticated)
          return HttpServerResponse.empty()
        })
      )
    })
  )
