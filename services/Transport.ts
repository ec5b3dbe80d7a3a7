import { Context, Data, type DateTime, Duration, type Effect, type Option, type Scope, type Stream } from "effect"

/** Every Redis key telemux writes starts with this: namespaced and versioned. */
export const KEY_PREFIX = "telemux:v1:"

/** Bound on any single command on the command connection. */
export const TRANSPORT_COMMAND_TIMEOUT = Duration.seconds(2)
/** First delay before reconnecting after a connection is lost; doubled (with jitter) up to the cap. */
export const RECONNECT_BACKOFF_INITIAL = Duration.millis(100)
export const RECONNECT_BACKOFF_MAX = Duration.seconds(5)
/** `COUNT` hint passed to each `SCAN` step. */
export const SCAN_COUNT = 500
/** Longest a blocking stream read may wait on the server before returning empty. */
export const STREAM_BLOCK_MAX = Duration.seconds(5)

/**
 * Why a command failed, as far as a client of the daemon needs to know: `unavailable` (no
 * connection), `timeout` (no answer in time), `out-of-memory` (Redis at `maxmemory` refuses
 * writes), `read-only` (a replica), `denied` (authentication or ACL), `refused` (any other error
 * reply: Redis answered, and said no).
 */
export type TransportFailure =
  | "unavailable"
  | "lost"
  | "timeout"
  | "out-of-memory"
  | "read-only"
  | "denied"
  | "refused"

/** What to tell a client for each failure: never Redis's own text, always what to check. */
const adviceFor: Record<TransportFailure, string> = {
  unavailable: "no connection to Redis; check that it runs and is reachable at TELEMUX_REDIS_URL",
  lost:
    "the connection to Redis ended before it answered, so what was sent may have run; check that Redis runs and is reachable at TELEMUX_REDIS_URL",
  timeout: "Redis did not answer in time; check its load and the network to it",
  "out-of-memory": "Redis refuses writes: it is out of memory; check its used memory, maxmemory and maxmemory-policy",
  "read-only": "Redis refuses writes: it is a read-only replica; point TELEMUX_REDIS_URL at the primary",
  denied: "Redis refused the command (authentication or ACL); check the credentials and ACL of TELEMUX_REDIS_URL",
  refused: "Redis refused the command; the daemon's log has its reply"
}

/**
 * A Redis command failed, timed out, or the link is down; the operation did not happen (or may
 * not have). `message` is Redis's (or the driver's) own text, for the log; `advice` is for clients.
 */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly operation: string
  readonly message: string
  readonly failure: TransportFailure
  readonly cause?: unknown
}> {
  get advice(): string {
    return adviceFor[this.failure]
  }
}

/**
 * The link to the fleet's shared engine. `up`: commands flow; `connecting`: (re)connecting,
 * `attempt` counts tries since the link was last healthy; `down`: the last attempt failed and the
 * next is scheduled.
 */
export interface LinkStatus {
  readonly state: "up" | "connecting" | "down"
  readonly since: DateTime.Utc
  readonly attempt: number
  readonly lastError: string | null
}

/** A value and how long it has left to live (`Duration.infinity` for a key without a TTL). */
export interface ExpiringValue {
  readonly value: string
  readonly expiresIn: Duration.Duration
}

export interface StreamEntry {
  readonly stream: string
  /** The server-assigned entry id (`<ms>-<seq>`), strictly increasing within a stream. */
  readonly id: string
  readonly payload: string
}

/** Where a reader is in one stream: entries with ids strictly after `after` are returned. */
export interface StreamPosition {
  readonly stream: string
  readonly after: string
}

/** The id before every entry of a stream. */
export const STREAM_START = "0-0"

/**
 * A blocking reader on its own connection (a blocked `XREAD` holds its connection), released
 * with its scope. Interrupting a read closes and reopens the reader's connection.
 */
export interface StreamReader {
  /**
   * Entries after each position, oldest first, at most `count` per stream; waits up to `block`
   * for the first entry and returns `[]` when none arrived.
   */
  readonly read: (
    positions: ReadonlyArray<StreamPosition>,
    options: { readonly count: number; readonly block: Duration.Duration }
  ) => Effect.Effect<ReadonlyArray<StreamEntry>, TransportError>
}

/**
 * What the fleet protocol needs from Redis and nothing more: expiring values, a non-blocking
 * walk over keys, and capped streams. Keys passed in are full keys (callers add `KEY_PREFIX`).
 * Every value written has a TTL and every stream a MAXLEN (and a TTL), so Redis memory stays flat.
 */
export class Transport extends Context.Tag("telemux/Transport")<Transport, {
  /** The link as it is now, and every change to it. */
  readonly link: Effect.Effect<LinkStatus>
  readonly linkChanges: Stream.Stream<LinkStatus>
  /** Sets `key` to `value`, expiring after `ttl`. */
  readonly put: (key: string, value: string, ttl: Duration.Duration) => Effect.Effect<void, TransportError>
  readonly get: (key: string) => Effect.Effect<Option.Option<string>, TransportError>
  /** Values of several keys with their remaining lives, in one round trip, in the order asked. */
  readonly getMany: (
    keys: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<Option.Option<ExpiringValue>>, TransportError>
  readonly remove: (key: string) => Effect.Effect<void, TransportError>
  /**
   * The atomic steps of a lease (services/Lease.ts), each one round trip checked and done on the
   * server at once. `claim`: sets `key` = `value` expiring after `ttl` only if `key` is absent
   * (`SET NX PX`); true when it was set.
   */
  readonly claim: (key: string, value: string, ttl: Duration.Duration) => Effect.Effect<boolean, TransportError>
  /** Sets `key`'s TTL to `ttl` only while it holds `value`; false (and nothing changed) otherwise. */
  readonly renewIfHeld: (key: string, value: string, ttl: Duration.Duration) => Effect.Effect<boolean, TransportError>
  /** Removes `key` only while it holds `value`; false (and nothing removed) otherwise. */
  readonly releaseIfHeld: (key: string, value: string) => Effect.Effect<boolean, TransportError>
  /**
   * A fenced write: sets `key` = `value` expiring after `ttl` only while `fence.key` holds
   * `fence.value`, checked and written at once; false (and nothing written) otherwise.
   */
  readonly putIfHeld: (
    fence: { readonly key: string; readonly value: string },
    key: string,
    value: string,
    ttl: Duration.Duration
  ) => Effect.Effect<boolean, TransportError>
  /**
   * Every key matching the glob `pattern`, walked with `SCAN` cursors (`MATCH`, `COUNT`) until the
   * cursor returns to 0, deduplicated. Never `KEYS`.
   */
  readonly scan: (pattern: string) => Effect.Effect<ReadonlyArray<string>, TransportError>
  /**
   * Appends `payload` to `stream`, trimming it to about `maxLen` entries and (re)setting its TTL
   * to `ttl`, in one round trip. Returns the new entry's id.
   */
  readonly append: (
    stream: string,
    payload: string,
    options: { readonly maxLen: number; readonly ttl: Duration.Duration }
  ) => Effect.Effect<string, TransportError>
  /** Id of the newest entry of `stream`, or `STREAM_START` when it is empty or missing. */
  readonly lastId: (stream: string) => Effect.Effect<string, TransportError>
  /**
   * The last id each stream ever generated (`XINFO STREAM` `last-generated-id`: entries deleted or
   * trimmed since still count), `STREAM_START` for a missing stream; one round trip for all.
   * A reader positioned beyond it would never read the stream's next entry.
   */
  readonly lastGeneratedIds: (streams: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string>, TransportError>
  /** A blocking reader with a connection of its own, closed with the scope. */
  readonly reader: Effect.Effect<StreamReader, TransportError, Scope.Scope>
}>() {}
