/**
 * The fleet's Redis layout and limits (keys, caps, deadlines) and the broadcasts every computer
 * reads (heartbeats, session events). What one computer asks another is in Rpcs.ts.
 */
import { Duration, Schema } from "effect"
import { KEY_PREFIX } from "../../services/Transport.js"
import { Computer } from "../domain/Computer.js"
import { ComputerName, Session, SessionId } from "../domain/Session.js"

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
  events: `${KEY_PREFIX}events`
} as const

/** A record not rewritten within three heartbeat intervals expires: the computer is gone. */
export const heartbeatTtl = (interval: Duration.Duration) => Duration.times(interval, 3)

export const INBOX_MAXLEN = 10_000
export const REPLIES_MAXLEN = 10_000
export const EVENTS_MAXLEN = 10_000
/** Idle streams expire: a computer that left for good leaves nothing behind. */
export const STREAM_TTL = Duration.days(1)
/** A watch that carried nothing for this long gets a WatchAlive item; a watcher that hears nothing for 3× restarts it. */
export const WATCH_KEEPALIVE = Duration.seconds(10)
/** Sessions another computer may watch at once here; more watches are refused. */
export const WATCHES_MAX = 4096

/** A request's default deadline (from sending to the reply being read). */
export const REQUEST_TIMEOUT = Duration.seconds(10)
/** Creating a session starts a shell: it gets longer. */
export const CREATE_TIMEOUT = Duration.seconds(20)
/** A fork elsewhere carries its conversation (up to CONVERSATION_MAX_BYTES): longer still. */
export const FORK_TIMEOUT = Duration.seconds(45)
/** A worktree's finish or cleanup may push or remove several trees: git's own bounds, and a margin. */
export const WORKTREE_FINISH_TIMEOUT = Duration.seconds(150)
/** Another computer's part of a fleet-wide listing (projects, worktrees): one that is slower is left out. */
export const LISTING_TIMEOUT = Duration.seconds(3)
/** Requests awaiting a reply at once; more are refused rather than queued without bound. */
export const PENDING_REQUESTS_MAX = 10_000
/** Request ids remembered to drop a duplicate delivery. */
export const HANDLED_IDS_MAX = 10_000
/** Inbound requests handled at once; input to one session still runs in order. */
export const REQUEST_CONCURRENCY = 16
/** Inbound requests waiting or running at once; beyond it a request is answered "busy". */
export const QUEUED_REQUESTS_MAX = 10_000
/** Entries taken per stream per read. */
export const READ_BATCH = 200

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
  /** An rpc message from a caller (a request, or the interruption of one) — src/fleet/Rpcs.ts. */
  request: "rpc-request",
  /** An rpc message to a caller (a result, or one item of a stream). */
  reply: "rpc-reply",
  event: "event"
} as const
