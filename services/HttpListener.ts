import type { HttpServer } from "@effect/platform"
import { Context, Data, Duration, type Effect, type Scope } from "effect"
import type * as http from "node:http"
import type { Duplex } from "node:stream"

/**
 * The daemon's listening socket, bound before anything else starts so that a port in use stops
 * the daemon before it touches tmux or SQLite. Every request gets an answer: `503` with
 * `Retry-After` while the daemon starts (and while it stops), the API once it is served. At
 * shutdown idle and half-sent connections are closed at once and requests in flight get
 * DRAIN_GRACE before their connections are cut.
 */

/** Requests in flight at shutdown get this long to finish before their connections are cut. */
export const DRAIN_GRACE = Duration.millis(250)
/** Largest request body read (an input of INPUT_MAX_BYTES as JSON, with room for escapes). */
export const REQUEST_BODY_MAX_BYTES = 8 * 1024 * 1024
/** A request's headers must arrive within this (a slow-loris client is cut). */
export const HEADERS_TIMEOUT = Duration.seconds(10)
/** A whole request, body included, must arrive within this. */
export const REQUEST_TIMEOUT = Duration.seconds(60)
/** An idle keep-alive connection is closed after this. */
export const KEEP_ALIVE_TIMEOUT = Duration.seconds(5)
/** Seconds a client is told to wait (`Retry-After`) while the daemon starts or stops. */
export const RETRY_AFTER_SECONDS = 1

/** Another process (perhaps another telemux) listens on the port. */
export class PortInUse extends Data.TaggedError("PortInUse")<{ readonly host: string; readonly port: number }> {
  override get message() {
    return `port ${this.port} on ${this.host} is in use — is telemux already running? (\`telemux doctor\`); ` +
      "or choose another port with TELEMUX_PORT"
  }
}

/** The socket could not be bound for another reason (a host that is not this machine's, a privileged port). */
export class ListenFailed extends Data.TaggedError("ListenFailed")<{
  readonly host: string
  readonly port: number
  readonly reason: string
}> {
  override get message() {
    return `cannot listen on ${this.host}:${this.port}: ${this.reason}`
  }
}

/**
 * TELEMUX_TLS_CERT / TELEMUX_TLS_KEY cannot be used: a file unreadable, not PEM, or a key that is
 * not the certificate's. The daemon stops before it serves anything.
 */
export class TlsInvalid extends Data.TaggedError("TlsInvalid")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `cannot serve HTTPS with ${this.path}: ${this.reason}; ` +
      "TELEMUX_TLS_CERT must name a PEM certificate (chain) and TELEMUX_TLS_KEY its unencrypted PEM private key " +
      "(see the README's Web dashboard section), or unset both to serve HTTP"
  }
}

/** A WebSocket upgrade request, handed over raw: the handler owns the socket from then on. */
export type UpgradeHandler = (request: http.IncomingMessage, socket: Duplex, head: Buffer) => void

/**
 * Sees each request before the served app: answers it, or calls `next` (at once or later, exactly
 * once) to hand it to the app untouched — or, when it has read the body, with `replay`: the same
 * request with that body to read again. For the few hot requests (HotRoutes.ts, HotInput.ts).
 */
export type RequestShortcut = (
  request: http.IncomingMessage,
  response: http.ServerResponse,
  next: (replay?: http.IncomingMessage) => void
) => void

export class HttpListener extends Context.Tag("telemux/HttpListener")<HttpListener, {
  /** The port actually bound (differs from the configured one when that is 0). */
  readonly port: number
  /** `https` when a certificate was given (TELEMUX_TLS_CERT), else `http`; WebSockets are `wss`/`ws` alike. */
  readonly scheme: "http" | "https"
  /** The HTTP server the API is served on; serving it ends the start-up 503s, closing its scope drains. */
  readonly server: HttpServer.HttpServer
  /** Routes upgrade requests to `handler` while the scope is open (one handler at a time). */
  readonly onUpgrade: (handler: UpgradeHandler) => Effect.Effect<void, never, Scope.Scope>
  /** Puts `shortcut` in front of the served app while the scope is open (one at a time; only while serving). */
  readonly shortcut: (shortcut: RequestShortcut) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Runs `effect` as a request in flight, as the app's requests run: interruptible, and waited
   * for by the drain (up to its grace), then interrupted. For a shortcut that answers a request
   * itself after I/O (HotInput.ts).
   */
  readonly track: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}>() {}
