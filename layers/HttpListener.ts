import { FileSystem, type HttpApp, HttpIncomingMessage, type HttpMiddleware, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Deferred, Duration, Effect, Fiber, Layer, Option, Schema } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import type { Duplex } from "node:stream"
import * as tls from "node:tls"
import {
  DRAIN_GRACE,
  HEADERS_TIMEOUT,
  HttpListener,
  KEEP_ALIVE_TIMEOUT,
  ListenFailed,
  PortInUse,
  REQUEST_BODY_MAX_BYTES,
  REQUEST_TIMEOUT,
  type RequestShortcut,
  RETRY_AFTER_SECONDS,
  TlsInvalid,
  type UpgradeHandler
} from "../services/HttpListener.js"
import type { TlsSettings } from "../services/TelemuxConfig.js"
import { DaemonUnavailable } from "../src/domain/Errors.js"
import * as HttpMetrics from "./HttpMetrics.js"
import { protocolRefusal } from "./RequestGuard.js"

export interface ListenerOptions {
  readonly host: string
  readonly port: number
  readonly drainGrace?: Duration.DurationInput
  /** Count and time every answer in the HTTP metrics (HttpMetrics.ts); on unless turned off. */
  readonly recordMetrics?: boolean
  /** Serve HTTPS (and WSS) with this certificate and key instead of HTTP. */
  readonly tls?: TlsSettings | undefined
}

type Phase = "starting" | "serving" | "draining"

const encodeUnavailable = Schema.encodeSync(DaemonUnavailable)

const unavailableBody = (phase: Phase) =>
  JSON.stringify(encodeUnavailable(
    phase === "starting"
      ? new DaemonUnavailable({
        state: "starting",
        message: "telemux is starting (tmux, database, fleet); retry in a moment"
      })
      : new DaemonUnavailable({ state: "shutting_down", message: "telemux is shutting down; retry once it is back" })
  ))

const answerUnavailable = (response: http.ServerResponse, phase: Phase) => {
  const body = unavailableBody(phase)
  response.shouldKeepAlive = false
  response.writeHead(503, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "retry-after": String(RETRY_AFTER_SECONDS),
    connection: "close"
  })
  response.end(body)
}

const ARRIVED = Symbol("arrived")
type Timed = http.ServerResponse & { [ARRIVED]?: number }

/** Counts an answer once its response is done (status 0: the client went away first). One function for every response. */
function recordAnswer(this: Timed) {
  HttpMetrics.record(
    this.req.method ?? "",
    this.req.url ?? "",
    this.writableFinished ? this.statusCode : 0,
    (performance.now() - (this[ARRIVED] ?? performance.now())) / 1000
  )
}

/** The same answer on a raw socket, for an upgrade request that cannot be served. */
export const refuseUpgrade = (
  socket: Duplex,
  status: number,
  reason: string,
  body: string,
  headers: Record<string, string> = {}
) => {
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    "content-type: application/json",
    `content-length: ${Buffer.byteLength(body)}`,
    "connection: close",
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
  ]
  if (socket.writable) socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`)
  else socket.destroy()
}

const bindError = (options: ListenerOptions, error: NodeJS.ErrnoException) => {
  switch (error.code) {
    case "EADDRINUSE":
      return new PortInUse({ host: options.host, port: options.port })
    case "EACCES":
      return new ListenFailed({
        ...options,
        reason: "permission denied (ports below 1024 need privileges); choose another TELEMUX_PORT"
      })
    case "EADDRNOTAVAIL":
      return new ListenFailed({
        ...options,
        reason: `${options.host} is not an address of this machine; check TELEMUX_HOST`
      })
    default:
      return new ListenFailed({ ...options, reason: error.message })
  }
}

const readPem = (file: string) =>
  Effect.try({
    try: () => fs.readFileSync(file),
    catch: (cause) =>
      new TlsInvalid({
        path: file,
        reason: `cannot read it (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`
      })
  })

/**
 * The certificate and key, read and checked before the port is bound: the certificate (the first of
 * a chain) is PEM, the key is an unencrypted PEM key, and it is the certificate's.
 */
export const loadTls = (settings: TlsSettings) =>
  Effect.gen(function*() {
    const cert = yield* readPem(settings.certPath)
    const key = yield* readPem(settings.keyPath)
    const reasonOf = (cause: unknown) => String((cause as Error).message ?? cause)
    const x509 = yield* Effect.try({
      try: () => new crypto.X509Certificate(cert),
      catch: (cause) =>
        new TlsInvalid({ path: settings.certPath, reason: `not a PEM certificate (${reasonOf(cause)})` })
    })
    const privateKey = yield* Effect.try({
      try: () => crypto.createPrivateKey(key),
      catch: (cause) =>
        new TlsInvalid({
          path: settings.keyPath,
          reason: `not an unencrypted PEM private key (${reasonOf(cause)})`
        })
    })
    if (!x509.checkPrivateKey(privateKey)) {
      return yield* new TlsInvalid({
        path: settings.keyPath,
        reason: `it is not the private key of the certificate ${settings.certPath}`
      })
    }
    yield* Effect.try({
      try: () => tls.createSecureContext({ cert, key }),
      catch: (cause) => new TlsInvalid({ path: settings.certPath, reason: reasonOf(cause) })
    })
    return { cert, key }
  })

/**
 * Binds at once and answers 503 until `server.serve` is called; see services/HttpListener.ts.
 * The node server's own timeouts are set on purpose: a client that never finishes its headers is
 * cut after HEADERS_TIMEOUT, a body after REQUEST_TIMEOUT, an idle keep-alive after KEEP_ALIVE_TIMEOUT.
 */
export const make = (options: ListenerOptions) =>
  Effect.gen(function*() {
    const drainGrace = Duration.decode(options.drainGrace ?? DRAIN_GRACE)
    const pems = options.tls === undefined ? undefined : yield* loadTls(options.tls)
    const serverOptions: http.ServerOptions = {
      noDelay: true,
      headersTimeout: Duration.toMillis(HEADERS_TIMEOUT),
      requestTimeout: Duration.toMillis(REQUEST_TIMEOUT),
      keepAliveTimeout: Duration.toMillis(KEEP_ALIVE_TIMEOUT),
      connectionsCheckingInterval: 1000,
      // a request without a Host goes on to the request guard, which refuses it in JSON (node's own answer is empty)
      requireHostHeader: false
    }
    const server: http.Server = pems === undefined
      ? http.createServer(serverOptions)
      : https.createServer({ ...serverOptions, ...pems })
    const scheme = pems === undefined ? "http" : "https"
    let phase: Phase = "starting"
    let onRequest: ((request: http.IncomingMessage, response: http.ServerResponse) => void) | undefined
    let onUpgrade: UpgradeHandler | undefined
    let shortcut: RequestShortcut | undefined
    const recordMetrics = options.recordMetrics ?? true

    /**
     * To the app while serving; a request a shortcut handed on after the drain began gets the 503
     * instead. Every request that comes here is counted and timed (the shortcut counts its own).
     */
    const toApp = (request: http.IncomingMessage, response: http.ServerResponse) => {
      if (recordMetrics) {
        ;(response as Timed)[ARRIVED] = performance.now()
        response.on("close", recordAnswer)
      }
      if (phase === "serving" && onRequest !== undefined) onRequest(request, response)
      else answerUnavailable(response, phase)
    }
    server.on("request", (request, response) => {
      if (phase !== "serving" || shortcut === undefined) toApp(request, response)
      else shortcut(request, response, (replay) => toApp(replay ?? request, response))
    })
    server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
      // as node does: nothing to answer on a reset socket, or in the middle of a response already begun
      const current = (socket as { _httpMessage?: http.ServerResponse })._httpMessage
      if (error.code === "ECONNRESET" || !socket.writable || current?.headersSent === true) return socket.destroy()
      const refusal = protocolRefusal(error)
      refuseUpgrade(
        socket,
        refusal.status,
        http.STATUS_CODES[refusal.status] ?? "Bad Request",
        JSON.stringify(refusal.body)
      )
    })
    server.on("upgrade", (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (phase === "serving" && onUpgrade !== undefined) onUpgrade(request, socket, head)
      else {refuseUpgrade(socket, 503, "Service Unavailable", unavailableBody(phase), {
          "retry-after": String(RETRY_AFTER_SECONDS)
        })}
    })

    yield* Effect.acquireRelease(
      Effect.async<void, PortInUse | ListenFailed>((resume) => {
        const onError = (error: NodeJS.ErrnoException) => resume(Effect.fail(bindError(options, error)))
        server.once("error", onError)
        server.listen({ host: options.host, port: options.port }, () => {
          server.off("error", onError)
          resume(Effect.void)
        })
      }),
      // Whatever is still open when the daemon is gone goes with it: nothing may hold the exit.
      () =>
        Effect.sync(() => {
          server.close()
          server.closeAllConnections()
        })
    )
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : options.port

    /** Request fibers still running: interrupted (and awaited) once the drain grace is over. */
    const inFlight = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
    const idle = yield* Deferred.make<void>()
    // Interruptible whatever the flags of the fiber that served the app (a layer's build may be
    // uninterruptible, and the handler's runtime inherits them): a request must yield to shutdown.
    const track = <A, E, R>(app: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.withFiberRuntime((fiber) => {
        inFlight.add(fiber)
        return Effect.ensuring(
          Effect.interruptible(app),
          Effect.suspend(() => {
            inFlight.delete(fiber)
            return phase === "draining" && inFlight.size === 0 ? Deferred.succeed(idle, undefined) : Effect.void
          })
        )
      })

    const drain = Effect.gen(function*() {
      phase = "draining"
      // Idle keep-alives and connections that never sent a whole request go now. While requests
      // are in flight the socket stays open and new requests get 503 shutting_down (a connection
      // refused or reset mid-handshake would leave a client unsure what happened).
      server.closeIdleConnections()
      // A finalizer runs uninterruptibly: each bounded wait is made interruptible so its timeout can end it.
      if (inFlight.size > 0) {
        yield* Effect.interruptible(Deferred.await(idle)).pipe(Effect.timeout(drainGrace), Effect.ignore)
      }
      server.close()
      server.closeAllConnections()
      yield* Effect.interruptible(Fiber.interruptAll(inFlight)).pipe(
        Effect.timeout(Duration.millis(100)),
        Effect.ignore
      )
    }).pipe(Effect.withSpan("HttpListener.drain"))

    const serve = (app: HttpApp.Default<unknown>, middleware?: HttpMiddleware.HttpMiddleware) =>
      Effect.gen(function*() {
        const handler = yield* NodeHttpServer.makeHandler(track(app), middleware!).pipe(
          Effect.provideService(HttpIncomingMessage.MaxBodySize, Option.some(FileSystem.Size(REQUEST_BODY_MAX_BYTES)))
        )
        onRequest = handler
        phase = "serving"
        yield* Effect.addFinalizer(() => drain)
        yield* Effect.logInfo("telemux listening").pipe(
          Effect.annotateLogs({
            url: `${scheme}://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`
          })
        )
      })

    return HttpListener.of({
      port,
      scheme,
      track,
      server: HttpServer.make({ address: { _tag: "TcpAddress", hostname: options.host, port }, serve }),
      onUpgrade: (handler) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            onUpgrade = handler
          }),
          () =>
            Effect.sync(() => {
              if (onUpgrade === handler) onUpgrade = undefined
            })
        ),
      shortcut: (handler) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            shortcut = handler
          }),
          () =>
            Effect.sync(() => {
              if (shortcut === handler) shortcut = undefined
            })
        )
    })
  })

/** The listener as a layer, and the platform's `HttpServer` it serves (for HttpApiBuilder.serve). */
export const layer = (
  options: ListenerOptions
): Layer.Layer<HttpListener | HttpServer.HttpServer, PortInUse | ListenFailed | TlsInvalid> => {
  const listener = Layer.scoped(HttpListener, make(options))
  return Layer.merge(
    listener,
    Layer.effect(HttpServer.HttpServer, Effect.map(HttpListener, (l) => l.server)).pipe(Layer.provide(listener))
  )
}
