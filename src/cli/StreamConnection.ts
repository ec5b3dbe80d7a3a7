/**
 * A `/v1/stream` connection for the CLI and TUI, over @effect/platform's Socket.
 *
 * The token goes in the protocol's first `auth` message (the platform WebSocket cannot set
 * headers; a token in the URL is refused by design). The connection is ready once the daemon
 * answers `ready`; a wrong token is a close with code 4401.
 */
import * as Socket from "@effect/platform/Socket"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Duration, Effect, Either, Exit, Fiber, Mailbox, Option, Redacted, Schedule, type Scope, Stream } from "effect"
import {
  type ClientMessage,
  CLOSE_UNAUTHORIZED,
  decodeServerMessage,
  type ServerMessage
} from "../api/StreamProtocol.js"
import { type CliError, DaemonUnreachable, TokenRejected } from "./CliError.js"
import type { DaemonAddress } from "./Connection.js"

/** Longest wait for the socket to open and the daemon to say `ready`. */
export const STREAM_OPEN_TIMEOUT = Duration.seconds(5)
/** Decoded messages waiting for the consumer; past this the socket's reader waits. */
export const STREAM_INBOX_MAX = 1024

export const RECONNECT_DELAY_MIN = Duration.millis(200)
export const RECONNECT_DELAY_MAX = Duration.seconds(5)
/** A connection that lived this long counts as a success: the next wait starts from the minimum again. */
export const RECONNECT_RESET_AFTER = Duration.seconds(10)

/** 200 ms, 400 ms, … capped at 5 s; starts over after a connection that lasted. */
export const reconnectSchedule = Schedule.exponential(RECONNECT_DELAY_MIN).pipe(
  Schedule.union(Schedule.spaced(RECONNECT_DELAY_MAX)),
  Schedule.resetAfter(RECONNECT_RESET_AFTER)
)

export interface StreamConnection {
  /** Every message after `ready`, in order; ends when the daemon closes, fails when the link breaks. */
  readonly messages: Stream.Stream<ServerMessage, CliError>
  readonly send: (message: ClientMessage) => Effect.Effect<void, CliError>
}

const socketError = (address: DaemonAddress) => (error: Socket.SocketError): CliError => {
  if (error.reason === "Close" && error.code === CLOSE_UNAUTHORIZED) {
    return new TokenRejected({ tokenPath: address.tokenPath, detail: error.closeReason ?? "the stream refused the token" })
  }
  if (error.reason === "Close") {
    return new DaemonUnreachable({ address: address.display, detail: `stream closed (${error.code})` })
  }
  return new DaemonUnreachable({ address: address.display, detail: `stream ${error.reason}: ${String(error.cause)}` })
}

/**
 * Opens the stream and waits for `ready`. The socket belongs to the scope: closing the scope
 * closes it.
 */
export const connect = (
  address: DaemonAddress,
  token: Option.Option<Redacted.Redacted<string>>
): Effect.Effect<StreamConnection, CliError, Scope.Scope> =>
  Effect.gen(function*() {
    const socket = yield* Socket.makeWebSocket(address.streamUrl, {
      openTimeout: STREAM_OPEN_TIMEOUT,
      closeCodeIsError: (code) => code !== 1000
    })
    const write = yield* socket.writer
    const mailbox = yield* Mailbox.make<ServerMessage, CliError>({ capacity: STREAM_INBOX_MAX })
    const toError = socketError(address)
    const onOpen = Option.match(token, {
      onNone: () => Effect.void,
      onSome: (value) =>
        write(JSON.stringify({ type: "auth", token: Redacted.value(value) })).pipe(Effect.ignore)
    })
    const reader = yield* socket.runRaw((data) => {
      if (typeof data !== "string") return
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
        Effect.fail(new DaemonUnreachable({ address: address.display, detail: "the stream closed before it was ready" }))),
      Effect.timeoutFail({
        duration: STREAM_OPEN_TIMEOUT,
        onTimeout: () => new DaemonUnreachable({ address: address.display, detail: "the stream did not become ready" })
      })
    )
    if (first.type !== "ready") {
      return yield* new DaemonUnreachable({ address: address.display, detail: `unexpected first message ${first.type}` })
    }
    const connection: StreamConnection = {
      messages: Mailbox.toStream(mailbox),
      send: (message) => write(JSON.stringify(message)).pipe(Effect.mapError(toError))
    }
    return connection
  }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor))
