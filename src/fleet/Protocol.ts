import { Duration, Schema } from "effect"
import { IdempotencyKey } from "../../services/Idempotency.js"
import { KEY_PREFIX } from "../../services/Transport.js"
import { AgentModeUnsupported, NativeSessionIdInvalid } from "../agents/AgentCommands.js"
import { Computer } from "../domain/Computer.js"
import {
  ComputerUnreachable,
  IdempotencyKeyReused,
  InvalidRequest,
  OutcomeUnknown,
  RemoteTimeout,
  SessionClosed,
  SessionNotFound,
  StorageFailure,
  TerminalUnavailable
} from "../domain/Errors.js"
import { InputText } from "../domain/InputText.js"
import { KeyPress } from "../domain/Keys.js"
import { Agent, AgentMode, ComputerName, Session, SessionId } from "../domain/Session.js"

// ---------------------------------------------------------------------------
// Keys: namespaced, versioned; every one has a TTL or a MAXLEN (streams have both)
// ---------------------------------------------------------------------------

export const FleetKeys = {
  computer: (name: ComputerName) => `${KEY_PREFIX}computer:${name}`,
  computers: `${KEY_PREFIX}computer:*`,
  /** Requests to one computer. */
  inbox: (name: ComputerName) => `${KEY_PREFIX}inbox:${name}`,
  /** Replies to requests one computer sent. */
  replies: (name: ComputerName) => `${KEY_PREFIX}replies:${name}`,
  /** Session and computer changes, from every computer to every computer. */
  events: `${KEY_PREFIX}events`,
  /** A session's screen updates, written by its owner only while someone elsewhere watches. */
  output: (sessionId: SessionId) => `${KEY_PREFIX}output:${sessionId}`
} as const

/** A record not rewritten within three heartbeat intervals expires: the computer is gone. */
export const heartbeatTtl = (interval: Duration.Duration) => Duration.times(interval, 3)

export const INBOX_MAXLEN = 10_000
export const REPLIES_MAXLEN = 10_000
export const EVENTS_MAXLEN = 10_000
/** Idle streams expire: a computer that left for good leaves nothing behind. */
export const STREAM_TTL = Duration.days(1)
/** Screen updates kept per watched session (a watcher that falls further behind is resynced). */
export const OUTPUT_STREAM_MAXLEN = 64
/** An owner forwards a session's output this long after the last watch request; watchers renew well inside it. */
export const OUTPUT_LEASE = Duration.seconds(30)
export const OUTPUT_LEASE_RENEW = Duration.seconds(10)

/** A request's default deadline (from sending to the reply being read). */
export const REQUEST_TIMEOUT = Duration.seconds(10)
/** Creating a session starts a shell: it gets longer. */
export const CREATE_TIMEOUT = Duration.seconds(20)
/** Requests awaiting a reply at once; more are refused rather than queued without bound. */
export const PENDING_REQUESTS_MAX = 10_000
/** Request ids remembered to drop a duplicate delivery. */
export const HANDLED_IDS_MAX = 10_000
/** Inbound requests handled at once; input to one session still runs in order. */
export const REQUEST_CONCURRENCY = 16
/** Entries taken per stream per read. */
export const READ_BATCH = 200

// ---------------------------------------------------------------------------
// Requests: structured commands, never shell strings
// ---------------------------------------------------------------------------

export const ListSessions = Schema.TaggedStruct("ListSessions", {})
export const CreateSession = Schema.TaggedStruct("CreateSession", {
  projectDir: Schema.NonEmptyString,
  title: Schema.optionalWith(Schema.String, { exact: true }),
  agent: Schema.optionalWith(Agent, { exact: true }),
  mode: Schema.optionalWith(AgentMode, { exact: true }),
  prompt: Schema.optionalWith(Schema.String, { exact: true }),
  /** The session on the sender's computer that asked for this one (it is told when this one stops). */
  initiatorSessionId: Schema.optionalWith(SessionId, { exact: true }),
  idempotencyKey: Schema.optionalWith(IdempotencyKey, { exact: true })
})
export const SendText = Schema.TaggedStruct("SendText", {
  sessionId: SessionId,
  text: InputText,
  enter: Schema.Boolean,
  idempotencyKey: Schema.optionalWith(IdempotencyKey, { exact: true })
})
export const SendKeys = Schema.TaggedStruct("SendKeys", {
  sessionId: SessionId,
  keys: Schema.NonEmptyArray(KeyPress),
  /** The client's Idempotency-Key, kept by the owner (create, text and keys carry it). */
  idempotencyKey: Schema.optionalWith(IdempotencyKey, { exact: true })
})
export const Capture = Schema.TaggedStruct("Capture", {
  sessionId: SessionId,
  lines: Schema.Number.pipe(Schema.int(), Schema.between(0, 2000))
})
export const CloseSession = Schema.TaggedStruct("CloseSession", { sessionId: SessionId })
/** Starts (or renews) forwarding of the session's output to its stream; answers with the latest screen. */
export const WatchOutput = Schema.TaggedStruct("WatchOutput", { sessionId: SessionId })

/** `listener` (on the sender's side) is to be told when `target` (here) stops or asks for input. */
export const Listen = Schema.TaggedStruct("Listen", {
  target: SessionId,
  listener: Schema.Struct({ sessionId: SessionId, computer: ComputerName })
})
/** A one-line notice for a listener session here: typed into its pane. */
export const Notify = Schema.TaggedStruct("Notify", { sessionId: SessionId, notice: Schema.String })

/** Starts the session's agent again, resuming its conversation; Restart interrupts it first. */
export const ResumeAgent = Schema.TaggedStruct("ResumeAgent", { sessionId: SessionId, restart: Schema.Boolean })

export const Request = Schema.Union(
  ListSessions,
  CreateSession,
  SendText,
  SendKeys,
  Capture,
  CloseSession,
  WatchOutput,
  Listen,
  Notify,
  ResumeAgent
)
export type Request = typeof Request.Type

/** A session's screen as its owner numbered it. */
export const OutputUpdate = Schema.Struct({
  sessionId: SessionId,
  seq: Schema.Number,
  screen: Schema.String,
  changedAt: Schema.Number
})
export type OutputUpdate = typeof OutputUpdate.Type

/** What each request answers with when it succeeds. */
export const ResultOf = {
  ListSessions: Schema.Array(Session),
  CreateSession: Session,
  SendText: Schema.Null,
  SendKeys: Schema.Null,
  Capture: Schema.String,
  CloseSession: Session,
  WatchOutput: Schema.NullOr(OutputUpdate),
  Listen: Schema.Null,
  Notify: Schema.Null,
  ResumeAgent: Session
} as const satisfies Record<Request["_tag"], Schema.Schema.AnyNoContext>

export type ResultOf<R extends Request> = Schema.Schema.Type<(typeof ResultOf)[R["_tag"]]>

/** The typed errors a remote computer can answer with; they reach the caller as if raised locally. */
export const RemoteError = Schema.Union(
  AgentModeUnsupported,
  NativeSessionIdInvalid,
  SessionNotFound,
  SessionClosed,
  InvalidRequest,
  TerminalUnavailable,
  StorageFailure,
  ComputerUnreachable,
  RemoteTimeout,
  OutcomeUnknown,
  IdempotencyKeyReused
)
export type RemoteError = typeof RemoteError.Type

export const Reply = Schema.Union(
  Schema.TaggedStruct("Ok", { requestId: Schema.UUID, value: Schema.Unknown }),
  Schema.TaggedStruct("Failed", { requestId: Schema.UUID, error: RemoteError })
)
export type Reply = typeof Reply.Type

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

export const FleetEvent = Schema.Union(
  Schema.TaggedStruct("SessionUpserted", { session: Session }),
  Schema.TaggedStruct("SessionRemoved", { sessionId: SessionId, computer: ComputerName }),
  /** A computer leaving on purpose (a crash is noticed when its record expires). */
  Schema.TaggedStruct("ComputerLeft", { name: ComputerName })
)
export type FleetEvent = typeof FleetEvent.Type

/** A heartbeat record: the computer as it describes itself. */
export const Heartbeat = Computer

/** Message kinds on the wire (the envelope's `kind`). */
export const Kinds = {
  request: "request",
  reply: "reply",
  event: "event",
  output: "output"
} as const
