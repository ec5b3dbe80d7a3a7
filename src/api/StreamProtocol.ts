/**
 * The `/v1/stream` WebSocket protocol: JSON text frames, one message per frame, shared by the
 * daemon and its clients (CLI, TUI). Every client message is decoded with these schemas;
 * anything else is answered with an `error` message and changes nothing.
 */
import { Either, ParseResult, Schema } from "effect"
import { ComputerName, Session, SessionId } from "../domain/Session.js"
import { TerminalSnapshot } from "../domain/TerminalSnapshot.js"

export const STREAM_PATH = "/v1/stream"
/** Close code for a missing, late or wrong token (4000 + HTTP 401). */
export const CLOSE_UNAUTHORIZED = 4401
/** Close code for a client that stayed stalled past its deadline (RFC 6455 "try again later"). */
export const CLOSE_TRY_AGAIN_LATER = 1013
/** Output subscriptions one client may hold at once. */
export const STREAM_SUBSCRIPTIONS_MAX = 1000
/** Largest client message accepted, in UTF-16 code units of the frame text. */
export const STREAM_CLIENT_MESSAGE_MAX = 256 * 1024

const strict = { parseOptions: { onExcessProperty: "error" } } as const

const Seq = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

/** Terminal subscriptions one client may hold at once (each is a live byte stream). */
export const TERMINAL_SUBSCRIPTIONS_MAX = 32

// ---------------------------------------------------------------------------
// client → server
// ---------------------------------------------------------------------------

/** Only when the upgrade request carried no `Authorization: Bearer` header; must come first. */
export const AuthMessage = Schema.Struct({
  type: Schema.Literal("auth"),
  token: Schema.String
}).annotations({ ...strict, identifier: "AuthMessage" })

export const OutputSubscription = Schema.Struct({
  sessionId: SessionId,
  /** The last seq the client has; omitted: start from the latest snapshot. */
  since: Schema.optionalWith(Seq, { exact: true })
}).annotations({ ...strict, identifier: "OutputSubscription" })
export type OutputSubscription = typeof OutputSubscription.Type

export const TerminalSubscription = Schema.Struct({
  sessionId: SessionId,
  /** The last terminal seq the client applied; omitted, or gone from the daemon's ring: a fresh snapshot. */
  since: Schema.optionalWith(Seq, { exact: true })
}).annotations({ ...strict, identifier: "TerminalSubscription" })
export type TerminalSubscription = typeof TerminalSubscription.Type

export const SubscribeMessage = Schema.Struct({
  type: Schema.Literal("subscribe"),
  /** The session list: a `sessions` snapshot, then `session` events. */
  sessions: Schema.optionalWith(Schema.Literal(true), { exact: true }),
  /**
   * From now on, a screen update that follows the last one this client was sent comes as a
   * `patch` (what changed) instead of an `output` (the whole screen). For the connection.
   */
  patches: Schema.optionalWith(Schema.Literal(true), { exact: true }),
  output: Schema.optionalWith(Schema.Array(OutputSubscription).pipe(Schema.maxItems(STREAM_SUBSCRIPTIONS_MAX)), {
    exact: true
  }),
  /** The sessions' terminals: a `terminal` snapshot, then binary chunk frames (TerminalFrames.ts). */
  terminal: Schema.optionalWith(
    Schema.Array(TerminalSubscription).pipe(Schema.maxItems(TERMINAL_SUBSCRIPTIONS_MAX)),
    { exact: true }
  )
}).annotations({ ...strict, identifier: "SubscribeMessage" })

export const UnsubscribeMessage = Schema.Struct({
  type: Schema.Literal("unsubscribe"),
  sessions: Schema.optionalWith(Schema.Literal(true), { exact: true }),
  output: Schema.optionalWith(Schema.Array(SessionId).pipe(Schema.maxItems(STREAM_SUBSCRIPTIONS_MAX)), {
    exact: true
  }),
  terminal: Schema.optionalWith(Schema.Array(SessionId).pipe(Schema.maxItems(TERMINAL_SUBSCRIPTIONS_MAX)), {
    exact: true
  })
}).annotations({ ...strict, identifier: "UnsubscribeMessage" })

/**
 * Keystrokes for a session's terminal, as the terminal emulator produced them: `data` is text
 * (sent as its UTF-8 bytes), or with `binary` a string of byte values (each character < 256, as
 * xterm.js's onBinary gives mouse reports). At most 64 KiB of bytes (Sessions'
 * TERMINAL_INPUT_MAX_BYTES) per message; a longer paste comes as several, in order. Serialised
 * with the session's other input; a failure is answered with `inputFailed`.
 */
export const InputMessage = Schema.Struct({
  type: Schema.Literal("input"),
  sessionId: SessionId,
  data: Schema.String,
  binary: Schema.optionalWith(Schema.Literal(true), { exact: true })
}).annotations({ ...strict, identifier: "InputMessage" })

const Dimension = Schema.Number.pipe(Schema.int(), Schema.between(1, 10_000))

/**
 * The size this client shows the session's terminal at (send it when the view gets the focus or
 * changes size). Applied only while no person attached with tmux shows the session: they keep
 * theirs. Answered with `size`; every watcher then gets a `terminal` snapshot at the new size.
 */
export const ResizeMessage = Schema.Struct({
  type: Schema.Literal("resize"),
  sessionId: SessionId,
  cols: Dimension,
  rows: Dimension
}).annotations({ ...strict, identifier: "ResizeMessage" })

export const PingMessage = Schema.Struct({ type: Schema.Literal("ping") }).annotations({
  ...strict,
  identifier: "PingMessage"
})

export const ClientMessage = Schema.Union(
  AuthMessage,
  SubscribeMessage,
  UnsubscribeMessage,
  PingMessage,
  InputMessage,
  ResizeMessage
)
export type ClientMessage = typeof ClientMessage.Type

const decodeClientMessageEither = Schema.decodeUnknownEither(Schema.parseJson(ClientMessage), {
  errors: "first",
  onExcessProperty: "error"
})

/** Decodes one text frame; `Left` carries a message fit to send back to the client. */
export const decodeClientMessage = (text: string): Either.Either<ClientMessage, string> =>
  Either.mapLeft(decodeClientMessageEither(text), (error) => ParseResult.TreeFormatter.formatErrorSync(error))

// ---------------------------------------------------------------------------
// server → client
// ---------------------------------------------------------------------------

/** Authentication succeeded (or was not needed); requests may follow. */
export const ReadyMessage = Schema.Struct({ type: Schema.Literal("ready") })

/** The full list of open sessions, sent on `subscribe { sessions: true }` and after a lag. */
export const SessionsMessage = Schema.Struct({ type: Schema.Literal("sessions"), sessions: Schema.Array(Session) })

export const SessionUpsertedMessage = Schema.Struct({
  type: Schema.Literal("session"),
  event: Schema.Literal("upserted"),
  session: Session
})

export const SessionRemovedMessage = Schema.Struct({
  type: Schema.Literal("session"),
  event: Schema.Literal("removed"),
  sessionId: SessionId,
  computer: ComputerName
})

/** One screen update, the whole visible screen; seqs of a session rise with each update. */
export const OutputMessage = Schema.Struct({
  type: Schema.Literal("output"),
  sessionId: SessionId,
  seq: Seq,
  screen: Schema.String,
  changedAt: Schema.DateTimeUtc
})

/** Remove `remove` lines at `at`, then insert `insert` there. */
export const LineSplice = Schema.Struct({
  at: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  remove: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  insert: Schema.Array(Schema.String)
})

/**
 * One screen update as what changed (to clients that subscribed with `patches`): apply `splices`
 * in order to the lines of the screen the client has for `base` (the last seq it was sent for the
 * session), each at an index of the lines as they stand after the splices before it; joined with
 * "\n" they are the screen of `seq` (src/domain/ScreenPatch.ts). A patch always follows the screen
 * it applies to; anything else comes as `output` or `resync`.
 */
export const PatchMessage = Schema.Struct({
  type: Schema.Literal("patch"),
  sessionId: SessionId,
  seq: Seq,
  base: Seq,
  splices: Schema.Array(LineSplice),
  changedAt: Schema.DateTimeUtc
})

/**
 * Replace the session's screen with this snapshot and continue from its seq. Sent when a
 * subscription starts without `since`, when `since` is no longer in the daemon's ring, and
 * after the client lagged. Without `seq`/`screen`/`changedAt` the session has no output yet.
 */
export const ResyncMessage = Schema.Struct({
  type: Schema.Literal("resync"),
  sessionId: SessionId,
  seq: Schema.optionalWith(Seq, { exact: true }),
  screen: Schema.optionalWith(Schema.String, { exact: true }),
  changedAt: Schema.optionalWith(Schema.DateTimeUtc, { exact: true })
})

/** The pane's process ended. */
export const ExitedMessage = Schema.Struct({ type: Schema.Literal("exited"), sessionId: SessionId })

export const DirectoryMessage = Schema.Struct({
  type: Schema.Literal("directory"),
  sessionId: SessionId,
  path: Schema.String
})

/** The pane's foreground command changed (a shell means the session is idle). */
export const CommandMessage = Schema.Struct({
  type: Schema.Literal("command"),
  sessionId: SessionId,
  command: Schema.String
})

/**
 * What an agent in the session did, as telemux saw it: its first prompt delivered or not, a turn
 * finished, input asked for, its session started, a listener told.
 */
export const AgentMessage = Schema.Struct({
  type: Schema.Literal("agent"),
  sessionId: SessionId,
  event: Schema.Literal("started", "prompt", "turn", "input", "notified"),
  ok: Schema.Boolean,
  detail: Schema.String
})

/** A client message was refused; nothing changed and the connection stays open. */
export const ErrorMessage = Schema.Struct({ type: Schema.Literal("error"), message: Schema.String })

export const PongMessage = Schema.Struct({ type: Schema.Literal("pong") })

/**
 * Draw the session's terminal from this snapshot (resize the emulator to its size, write
 * `replay(snapshot)`), then apply the chunk frames whose seq is greater than `seq`. Sent when a
 * terminal subscription starts (or `since` is gone from the ring), after the client lagged, and
 * when the terminal's size changed.
 */
export const TerminalMessage = Schema.Struct({
  type: Schema.Literal("terminal"),
  sessionId: SessionId,
  seq: Seq,
  snapshot: TerminalSnapshot
})

/** The answer to `resize`: the terminal's size now, and whether the client's size was applied. */
export const SizeMessage = Schema.Struct({
  type: Schema.Literal("size"),
  sessionId: SessionId,
  cols: Schema.Number,
  rows: Schema.Number,
  applied: Schema.Boolean
})

/**
 * The session's terminal cannot be followed now. On another computer (`error`: ComputerUnreachable,
 * RemoteTimeout, …) it shows nothing new until the next `terminal` snapshot, which comes by itself
 * once it can be followed again. `SessionClosed`: the session ended; its terminal subscription
 * ends with this message.
 */
export const TerminalLostMessage = Schema.Struct({
  type: Schema.Literal("terminalLost"),
  sessionId: SessionId,
  error: Schema.String,
  message: Schema.String
})

/** Keystrokes were not delivered (`OutcomeUnknown`: they may have been). */
export const InputFailedMessage = Schema.Struct({
  type: Schema.Literal("inputFailed"),
  sessionId: SessionId,
  error: Schema.String,
  message: Schema.String
})

export const ServerMessage = Schema.Union(
  ReadyMessage,
  SessionsMessage,
  SessionUpsertedMessage,
  SessionRemovedMessage,
  OutputMessage,
  PatchMessage,
  ResyncMessage,
  ExitedMessage,
  DirectoryMessage,
  CommandMessage,
  AgentMessage,
  ErrorMessage,
  PongMessage,
  TerminalMessage,
  SizeMessage,
  InputFailedMessage,
  TerminalLostMessage
)
export type ServerMessage = typeof ServerMessage.Type

/** For clients: decodes one text frame from the daemon. */
export const decodeServerMessage = Schema.decodeUnknownEither(Schema.parseJson(ServerMessage))
