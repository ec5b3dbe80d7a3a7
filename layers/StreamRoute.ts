/**
 * `GET /v1/stream`: the WebSocket push endpoint (protocol in src/api/StreamProtocol.ts; one
 * client's fan-out, back-pressure and overflow policy in StreamClient.ts).
 *
 * Upgrades are taken straight from the listener (services/HttpListener.ts), through the same
 * Host/Origin check as every request, onto a WebSocket server of our own whose frames are bounded
 * (STREAM_FRAME_MAX_BYTES). Auth as for the API: `Authorization: Bearer` on the upgrade request (a
 * wrong one is a 401 before any upgrade), or the web dashboard's cookie with the dashboard's own
 * Origin (an ended one, or one without that Origin, is a 401 before any upgrade), or, without the header, a first `auth` message within
 * STREAM_AUTH_DEADLINE (else close 4401); until then the client may send at most
 * STREAM_PREAUTH_MAX_BYTES, so an unauthenticated client costs a few KB however large a frame it
 * announces. A token in the URL is refused with 401, always. At shutdown every client gets a close
 * frame 1001 ("going away") before its connection is cut.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Data, Duration, Effect, Either, FiberSet, Layer, Metric, Option, Queue, Schema } from "effect"
import type * as http from "node:http"
import type * as net from "node:net"
import type { Duplex } from "node:stream"
import { type WebSocket, WebSocketServer } from "ws"
import { AuthToken } from "../services/AuthToken.js"
import { Cache } from "../services/Cache.js"
import { Fleet } from "../services/Fleet.js"
import { HttpListener } from "../services/HttpListener.js"
import { OutputLog } from "../services/OutputLog.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { terminalsOrNone } from "../services/TerminalStreams.js"
import { WebAuth } from "../services/WebAuth.js"
import { makeOutputFrames, READY } from "../src/api/StreamFrames.js"
import {
  CLOSE_UNAUTHORIZED,
  decodeClientMessage,
  STREAM_CLIENT_MESSAGE_MAX,
  STREAM_PATH
} from "../src/api/StreamProtocol.js"
import { InvalidRequest, Unauthorized } from "../src/domain/Errors.js"
import { INVALID_TOKEN_MESSAGE, NOT_BEARER_MESSAGE, parseBearer } from "../src/http/Bearer.js"
import { makeOriginPredicate } from "../src/http/Hosts.js"
import {
  COOKIE_ENDED_MESSAGE,
  COOKIE_ORIGIN_MESSAGE,
  cookieUpgradeAllowed,
  cookieValueOf
} from "../src/http/WebCookie.js"
import { refuseUpgrade } from "./HttpListener.js"
import { makeHeaderCheck, type Refusal } from "./RequestGuard.js"
import { type Deps, serveClient } from "./StreamClient.js"
import { streamClients } from "./StreamMetrics.js"

export {
  STREAM_CLIENT_QUEUE_MAX,
  STREAM_CLIENT_STALL_TIMEOUT,
  STREAM_SOCKET_HIGH_WATER,
  StreamClientStalled
} from "./StreamClient.js"
export {
  streamClients,
  streamLagResyncs,
  streamOverflows,
  streamQueueDepth,
  streamSocketBuffered
} from "./StreamMetrics.js"

/** Client messages waiting to be handled; more are dropped. */
export const STREAM_CLIENT_INBOX_MAX = 64
export const STREAM_AUTH_DEADLINE = Duration.seconds(5)

/** Bytes an unauthenticated client may send before its `auth` message has been read (a token is ≤ 1 KB). */
export const STREAM_PREAUTH_MAX_BYTES = 8 * 1024
/** Largest WebSocket frame or message accepted from an authenticated client (a message is ≤ STREAM_CLIENT_MESSAGE_MAX characters). */
export const STREAM_FRAME_MAX_BYTES = 4 * STREAM_CLIENT_MESSAGE_MAX
/** After the close frame at shutdown, clients get this long to answer it before their sockets are cut. */
export const STREAM_CLOSE_GRACE = Duration.millis(150)
export const CLOSE_GOING_AWAY = 1001

export class StreamUnauthorized extends Data.TaggedError("StreamUnauthorized")<{ readonly message: string }> {}

const TOKEN_PARAM = /^(access_?)?token$|^auth(orization)?$|^bearer$|^api_?key$/i

const hasTokenInUrl = (url: string): boolean => {
  const query = url.indexOf("?")
  if (query < 0) return false
  return [...new URLSearchParams(url.slice(query + 1)).keys()].some((key) => TOKEN_PARAM.test(key))
}

const unauthorized = (message: string): Refusal => ({
  status: 401,
  body: Schema.encodeSync(Unauthorized)(new Unauthorized({ message }))
})

const STATUS_TEXT: Record<number, string> = { 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" }

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
      return yield* new StreamUnauthorized({ message: INVALID_TOKEN_MESSAGE })
    }
  })

/**
 * Until `auth` has been read, counts what the client sends on the raw socket and cuts it past
 * STREAM_PREAUTH_MAX_BYTES: the WebSocket parser would otherwise buffer a whole announced frame.
 * Returns the effect that lifts the bound (once authenticated).
 */
const boundBeforeAuth = (socket: Duplex) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        let received = 0
        const onData = (chunk: Buffer) => {
          received += chunk.length
          if (received > STREAM_PREAUTH_MAX_BYTES) socket.destroy()
        }
        socket.on("data", onData)
        return onData
      }),
      (onData) => Effect.sync(() => socket.off("data", onData))
    ),
    (onData) => Effect.sync(() => socket.off("data", onData))
  )

/** The stream endpoint: its upgrades come from the listener; a plain GET gets a 426 from the router. */
export const StreamRouteLive: Layer.Layer<
  never,
  never,
  OutputLog | Cache | AuthToken | TelemuxConfig | Fleet | HttpListener | WebAuth
> = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    const cache = yield* Cache
    const fleet = yield* Fleet
    const token = yield* AuthToken
    const config = yield* TelemuxConfig
    const listener = yield* HttpListener
    const web = yield* WebAuth
    const deps: Deps = {
      outputLog: yield* OutputLog,
      cache,
      // the daemon always has it; API tests that serve no terminal leave it out
      terminals: yield* terminalsOrNone,
      computer: config.computer,
      // a session owned elsewhere is watched through the fleet while a client subscribes to it
      watchRemote: (sessionId) =>
        Effect.flatMap(cache.getSession(sessionId), (session) =>
          Option.isSome(session) && session.value.computer !== config.computer
            ? fleet.watchOutput(session.value)
            : Effect.void)
    }
    const outputFrame = makeOutputFrames()
    const guardSettings = {
      host: config.host,
      allowedHosts: config.allowedHosts,
      port: listener.port,
      scheme: listener.scheme
    }
    const checkHeaders = makeHeaderCheck(guardSettings)
    const isOwnOrigin = makeOriginPredicate(guardSettings)
    let clientCount = 0

    const wss = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new WebSocketServer({ noServer: true, maxPayload: STREAM_FRAME_MAX_BYTES, perMessageDeflate: false })
      ),
      (server) =>
        Effect.async<void>((resume) =>
          server.close(() => resume(Effect.void))
        )
    )

    /**
     * The upgrade completes at once and the message listener is attached in the same callback, so
     * a client that writes right after the handshake (an `auth` message) loses nothing.
     */
    const upgradeSocket = (
      request: http.IncomingMessage,
      socket: Duplex,
      head: Buffer,
      inbox: Queue.Enqueue<string | Uint8Array>
    ) =>
      Effect.acquireRelease(
        Effect.async<WebSocket>((resume) =>
          wss.handleUpgrade(request, socket, head, (ws) => {
            // a protocol error (a frame over the bound is a RangeError) closes the socket with its
            // code (1009, 1002…); without a listener it would be thrown out of the event loop
            ws.on("error", () => undefined)
            ws.on("message", (data: Buffer, isBinary: boolean) => {
              Queue.unsafeOffer(inbox, isBinary ? new Uint8Array(data) : data.toString("utf8"))
            })
            resume(Effect.succeed(ws))
          })
        ),
        (ws) => Effect.sync(() => ws.close())
      )

    /** Ends when the client's connection closes, whoever closed it. */
    const closedBy = (ws: WebSocket) =>
      Effect.async<void>((resume) => {
        if (ws.readyState === ws.CLOSED) return resume(Effect.void)
        ws.once("close", () => resume(Effect.void))
      })

    const connection = (request: http.IncomingMessage, socket: Duplex, head: Buffer, authenticated: boolean) =>
      Effect.gen(function*() {
        const liftBound = authenticated ? Effect.void : yield* boundBeforeAuth(socket)
        const inbox = yield* Queue.dropping<string | Uint8Array>(STREAM_CLIENT_INBOX_MAX)
        const ws = yield* upgradeSocket(request, socket, head, inbox)
        const raw = socket as net.Socket
        raw.setNoDelay(true)
        yield* Effect.acquireRelease(Metric.increment(streamClients), () => Metric.modify(streamClients, -1))
        const write = (frame: string | Uint8Array) => Effect.sync(() => ws.send(frame))
        const session = Effect.gen(function*() {
          if (!authenticated) {
            const result = yield* Effect.either(authenticate(inbox, token))
            if (Either.isLeft(result)) {
              yield* Effect.logInfo("refused a stream client").pipe(
                Effect.annotateLogs({ reason: result.left.message })
              )
              ws.close(CLOSE_UNAUTHORIZED, result.left.message)
              return
            }
            yield* liftBound
          }
          yield* write(READY)
          return yield* serveClient(deps, inbox, write, (frame) => ws.send(frame), raw, outputFrame)
        })
        yield* Effect.raceFirst(closedBy(ws), session).pipe(
          Effect.catchTag("StreamClientStalled", (error) =>
            Effect.zipRight(
              Effect.logWarning("dropped a stalled stream client", error),
              Effect.sync(() => socket.destroy())
            ))
        )
      }).pipe(
        Effect.catchAllCause((cause) => Effect.logDebug("stream client ended", cause)),
        Effect.annotateLogs({ streamClient: ++clientCount }),
        Effect.scoped
      )

    const upgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      Effect.gen(function*() {
        const url = request.url ?? "/"
        const refused = checkHeaders(request.headers) ?? (
          url.split("?")[0] !== STREAM_PATH
            ? {
              status: 404,
              body: {
                _tag: "RouteNotFound",
                message: `no WebSocket endpoint at ${url.split("?")[0]}; the stream is at ${STREAM_PATH}`
              }
            }
            : hasTokenInUrl(url)
            ? unauthorized("tokens are not accepted in URLs; send the Authorization header or an auth message")
            : undefined
        )
        if (refused !== undefined) {
          return refuseUpgrade(
            socket,
            refused.status,
            STATUS_TEXT[refused.status] ?? "Refused",
            JSON.stringify(refused.body)
          )
        }
        let authenticated = !config.auth
        if (config.auth) {
          const bearer = parseBearer(request.headers.authorization)
          if (bearer._tag === "NotBearer") {
            return refuseUpgrade(socket, 401, "Unauthorized", JSON.stringify(unauthorized(NOT_BEARER_MESSAGE).body))
          }
          if (bearer._tag === "Token") {
            if (!(yield* token.verify(bearer.token))) {
              return refuseUpgrade(
                socket,
                401,
                "Unauthorized",
                JSON.stringify(unauthorized(INVALID_TOKEN_MESSAGE).body)
              )
            }
            authenticated = true
          }
          // the dashboard's cookie, from its own page only (cross-site WebSocket hijacking)
          const cookie = bearer._tag === "Missing" ? cookieValueOf(listener.port, request.headers.cookie) : undefined
          if (cookie !== undefined) {
            const refusal = !cookieUpgradeAllowed(request.headers, isOwnOrigin)
              ? COOKIE_ORIGIN_MESSAGE
              : Option.isNone(yield* web.authenticate(cookie))
              ? COOKIE_ENDED_MESSAGE
              : undefined
            if (refusal !== undefined) {
              return refuseUpgrade(socket, 401, "Unauthorized", JSON.stringify(unauthorized(refusal).body))
            }
            authenticated = true
          }
        }
        yield* connection(request, socket, head, authenticated)
      })

    const run = yield* FiberSet.makeRuntime<never>()
    yield* listener.onUpgrade((request, socket, head) => {
      socket.on("error", () => socket.destroy())
      run(upgrade(request, socket, head))
    })
    // Registered last, so it runs first at shutdown: every client is told "going away" before
    // the connection fibers are interrupted and the sockets cut.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        if (wss.clients.size === 0) return
        const clients = [...wss.clients]
        for (const client of clients) client.close(CLOSE_GOING_AWAY, "telemux is shutting down")
        // Done as soon as every client has answered (most do within a few ms): the grace is the
        // bound, not a wait. A finalizer is uninterruptible; the wait is made interruptible so the
        // timeout can end it.
        yield* Effect.interruptible(Effect.forEach(clients, closedBy, { concurrency: "unbounded", discard: true }))
          .pipe(
            Effect.timeout(STREAM_CLOSE_GRACE),
            Effect.ignore
          )
        for (const client of wss.clients) client.terminate()
      })
    )

    yield* router.get(
      STREAM_PATH,
      HttpServerResponse.unsafeJson(
        Schema.encodeSync(InvalidRequest)(
          new InvalidRequest({ message: `${STREAM_PATH} is a WebSocket endpoint: send an Upgrade request` })
        ),
        { status: 426, headers: { upgrade: "websocket" } }
      )
    )
  })
)
