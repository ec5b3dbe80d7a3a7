/**
 * A `/v1/stream` connection for the CLI and TUI, over @effect/platform's Socket.
 *
 * The token goes in the protocol's first `auth` message (the platform WebSocket cannot set
 * headers; a token in the URL is refused by design). The connection is ready once the daemon
 * answers `ready`; a wrong token is a close with code 4401.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Socket from "@effect/platform/Socket"
import { Duration, Effect, Either, Exit, Fiber, Layer, Mailbox, Option, Redacted, type Scope, Stream } from "effect"
import * as tls from "node:tls"
import * as WS from "ws"
import {
  type ClientMessage,
  CLOSE_UNAUTHORIZED,
  decodeServerMessage,
  type ServerMessage
} from "../api/StreamProtocol.js"
import { type ChunkFrame, decodeChunkFrame } from "../api/TerminalFrames.js"
import { reconnectBackoff } from "../concurrency/Backoff.js"
import { type CliError, DaemonUnreachable, TokenRejected } from "./CliError.js"
import type { DaemonAddress } from "./Connection.js"

/** Longest wait for the socket to open and the daemon to say `ready`. */
export const STREAM_OPEN_TIMEOUT = Duration.seconds(5)
/** Decoded messages waiting for the consumer; past this the socket's reader waits. */
export const STREAM_INBOX_MAX = 1024

export const RECONNECT_DELAY_MIN = Duration.millis(200)
export const RECONNECT_DELAY_MAX = Duration.seconds(5)

/**
 * Waits between connect attempts of one outage: 200 ms doubling, jittered, never above 5 s (the
 * daemon's one reconnect backoff). A fresh copy runs for each outage (see keepConnected), so a long
 * outage stays at the cap and the next one starts from the minimum.
 */
export const reconnectSchedule = reconnectBackoff(RECONNECT_DELAY_MIN, RECONNECT_DELAY_MAX)

export interface KeepConnectedOptions<C, A, E, R1, R2> {
  /** Opens one connection; it lives in the scope of its round. The only step retried on the backoff. */
  readonly connect: Effect.Effect<C, E, R1>
  /** Uses the connection until it ends: `Some` ends the loop with its value, `None` (the link ended) reconnects. */
  readonly serve: (connection: C) => Effect.Effect<Option.Option<A>, E, R2>
  /** Errors that end the loop instead of reconnecting (a refused token). */
  readonly isFatal: (error: E) => boolean
  /** Told of each failed connect attempt and each lost link (`None`: the daemon ended it normally). */
  readonly onLost: (reason: Option.Option<E>) => Effect.Effect<void>
}

/**
 * The daemon's reconnect pattern, client side: connect (retried on a fresh `reconnectSchedule`),
 * serve until the link ends, wait the minimum delay, and again, until `serve` is done or an error
 * is fatal. Only the connect step is retried, so every outage starts a fresh backoff; the pause
 * after a link ends keeps a link that dies as soon as it opens from spinning.
 */
export const keepConnected = <C, A, E, R1, R2>(
  options: KeepConnectedOptions<C, A, E, R1, R2>
): Effect.Effect<A, E, Exclude<R1 | R2, Scope.Scope>> => {
  const notFatal = (error: E) => !options.isFatal(error)
  const lost = (error: E) => (notFatal(error) ? options.onLost(Option.some(error)) : Effect.void)
  const connected = options.connect.pipe(
    Effect.tapError(lost),
    Effect.retry({ schedule: reconnectSchedule, while: notFatal })
  )
  const round = Effect.scoped(Effect.flatMap(connected, options.serve)).pipe(
    Effect.tap((done) => (Option.isNone(done) ? options.onLost(Option.none()) : Effect.void)),
    Effect.catchIf(notFatal, (error) => Effect.as(options.onLost(Option.some(error)), Option.none()))
  )
  return Effect.gen(function*() {
    while (true) {
      const done = yield* round
      if (Option.isSome(done)) return done.value
      yield* Effect.sleep(RECONNECT_DELAY_MIN)
    }
  })
}

export interface StreamConnection<M = ServerMessage> {
  /** Every message after `ready`, in order; ends when the daemon closes, fails when the link breaks. */
  readonly messages: Stream.Stream<M, CliError>
  readonly send: (message: ClientMessage) => Effect.Effect<void, CliError>
}

/** A terminal chunk frame (binary), in the order it came among the JSON messages. */
export interface TerminalChunkMessage extends ChunkFrame {
  readonly type: "chunk"
}

/** The socket's cause is a foreign event or error (ws's ErrorEvent says "connect ECONNREFUSED …" in `message`). */
const describeCause = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string" &&
    cause.message !== ""
    ? cause.message
    : String(cause)

const socketError = (address: DaemonAddress) => (error: Socket.SocketError): CliError => {
  if (error.reason === "Close" && error.code === CLOSE_UNAUTHORIZED) {
    return new TokenRejected({
      tokenPath: address.tokenPath,
      detail: error.closeReason ?? "the stream refused the token"
    })
  }
  if (error.reason === "Close") {
    return new DaemonUnreachable({ address: address.display, detail: `stream closed (${error.code})` })
  }
  return new DaemonUnreachable({
    address: address.display,
    detail: `stream ${error.reason}: ${describeCause(error.cause)}`
  })
}

/**
 * Opens the stream and waits for `ready`. The socket belongs to the scope: closing the scope
 * closes it. Binary frames (terminal chunks) are skipped: see connectTerminal.
 */
export const connect = (
  address: DaemonAddress,
  token: Option.Option<Redacted.Redacted<string>>
): Effect.Effect<StreamConnection, CliError, Scope.Scope> => open<never>(address, token, () => undefined)

/** As connect, with the terminal chunk frames among the messages (for `subscribe { terminal }`). */
export const connectTerminal = (
  address: DaemonAddress,
  token: Option.Option<Redacted.Redacted<string>>
): Effect.Effect<StreamConnection<ServerMessage | TerminalChunkMessage>, CliError, Scope.Scope> =>
  open(address, token, (frame) => {
    const chunk = decodeChunkFrame(frame)
    return chunk === undefined ? undefined : { type: "chunk", ...chunk }
  })

const typeOf = (message: unknown): string =>
  typeof message === "object" && message !== null && "type" in message ? String(message.type) : "a binary frame"

const open = <B>(
  address: DaemonAddress,
  token: Option.Option<Redacted.Redacted<string>>,
  decodeBinary: (frame: Uint8Array) => B | undefined
): Effect.Effect<StreamConnection<ServerMessage | B>, CliError, Scope.Scope> =>
  Effect.gen(function*() {
    const socket = yield* Socket.makeWebSocket(address.streamUrl, {
      openTimeout: STREAM_OPEN_TIMEOUT,
      closeCodeIsError: (code) => code !== 1000
    })
    const write = yield* socket.writer
    const mailbox = yield* Mailbox.make<ServerMessage | B, CliError>({ capacity: STREAM_INBOX_MAX })
    const toError = socketError(address)
    const onOpen = Option.match(token, {
      onNone: () => Effect.void,
      onSome: (value) => write(JSON.stringify({ type: "auth", token: Redacted.value(value) })).pipe(Effect.ignore)
    })
    const reader = yield* socket.runRaw((data) => {
      if (typeof data !== "string") {
        const binary = decodeBinary(data)
        return binary === undefined ? undefined : mailbox.offer(binary)
      }
      const decoded = decodeServerMessage(data)
      // A message type this client does not know yet is skipped, not fatal.
      if (Either.isRight(decoded)) return mailbox.offer(decoded.right)
    }, { onOpen }).pipe(
      Effect.mapError(toError),
      Effect.onExit((exit) => mailbox.done(Exit.asVoid(exit))),
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => Fiber.interrupt(reader))

    // The first message is `ready` (or a close 4401 for a wrong token).
    const first = yield* mailbox.take.pipe(
      Effect.catchTag("NoSuchElementException", () =>
        Effect.fail(
          new DaemonUnreachable({ address: address.display, detail: "the stream closed before it was ready" })
        )),
      Effect.timeoutFail({
        duration: STREAM_OPEN_TIMEOUT,
        onTimeout: () => new DaemonUnreachable({ address: address.display, detail: "the stream did not become ready" })
      })
    )
    if (typeOf(first) !== "ready") {
      return yield* new DaemonUnreachable({
        address: address.display,
        detail: `unexpected first message ${typeOf(first)}`
      })
    }
    const connection: StreamConnection<ServerMessage | B> = {
      messages: Mailbox.toStream(mailbox),
      send: (message) => write(JSON.stringify(message)).pipe(Effect.mapError(toError))
    }
    return connection
  }).pipe(Effect.provide(webSocketConstructor(address)))

/** `ws` trusting `address.ca` besides the system's CAs (as DaemonClient's fetch does); the platform's otherwise. */
const webSocketConstructor = (address: DaemonAddress): Layer.Layer<Socket.WebSocketConstructor> => {
  const ca = address.ca
  return ca === undefined
    ? NodeSocket.layerWebSocketConstructor
    : Layer.succeed(
      Socket.WebSocketConstructor,
      (url, protocols) =>
        new WS.WebSocket(url, protocols, { ca: [...tls.rootCertificates, ca] }) as unknown as globalThis.WebSocket
    )
}
