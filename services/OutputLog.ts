import { Context, type DateTime, type Effect, type Option, type PubSub, type Scope } from "effect"
import type { LineSplice } from "../src/domain/ScreenPatch.js"
import type { SessionId } from "../src/domain/Session.js"

/** Updates kept per session for clients that reconnect with `since`. */
export const OUTPUT_RING_SIZE = 64
/** Events buffered for each subscriber of the output PubSub before the oldest are dropped. */
export const OUTPUT_EVENTS_CAPACITY = 4096

/** A screen as it is numbered by the computer that owns the session (what `mirror` takes from another computer). */
export interface ScreenRecord {
  readonly _tag: "OutputChanged"
  readonly sessionId: SessionId
  /** Monotonic per session, across daemon restarts (a restart starts above any earlier seq). */
  readonly seq: number
  readonly screen: string
  readonly changedAt: DateTime.Utc
}

/** How to get from the session's update before (seq `base`) to this one, line by line. */
export interface ScreenPatch {
  readonly base: number
  readonly splices: ReadonlyArray<LineSplice>
}

export interface OutputChanged extends ScreenRecord {
  /**
   * `screen`'s lines. A line equal to the one the update before had is the same string, so the
   * ring holds each line once, however many updates it appears in.
   */
  readonly lines: ReadonlyArray<string>
  /** From the update before it in this log; undefined for the first one the log holds. */
  readonly patch: ScreenPatch | undefined
}

export type OutputEvent =
  | OutputChanged
  /** The pane's process ended (confirmed, never from one failed probe). */
  | { readonly _tag: "ProcessExited"; readonly sessionId: SessionId }
  | { readonly _tag: "DirectoryChanged"; readonly sessionId: SessionId; readonly path: string }
  /** The pane's foreground command changed (a shell means idle, anything else running). */
  | { readonly _tag: "CommandChanged"; readonly sessionId: SessionId; readonly command: string }
  /** What the session's agent did (prompt delivered, turn finished, input asked for, …). */
  | {
    readonly _tag: "AgentActivity"
    readonly sessionId: SessionId
    readonly event: "started" | "prompt" | "turn" | "input" | "notified"
    readonly ok: boolean
    readonly detail: string
    /** A finished turn's reply, whole (up to TURN_TEXT_MAX_CHARS), when the agent's hooks gave it. */
    readonly text?: string
  }

export type Since =
  /** Everything after the client's seq, oldest first (possibly none). */
  | { readonly _tag: "Missed"; readonly updates: ReadonlyArray<OutputChanged> }
  /** The client's seq is gone from the ring (or unknown): start over from this snapshot. */
  | { readonly _tag: "Resync"; readonly snapshot: Option.Option<OutputChanged> }

/**
 * Called with each event as it is recorded, in order, before `record`/`publish` returns: for the
 * hot paths (a stream client, the activity tracker) that only note the event and wake their own
 * fiber. It must not block or throw.
 */
export type OutputListener = (event: OutputEvent) => void

/** A screen to record for a session (see `appendAll`), as its lines (see TerminalBridge's `captureEach`). */
export interface NewScreen {
  readonly sessionId: SessionId
  /** Kept as they are: each must be a string of its own, not a view of a larger one. */
  readonly lines: ReadonlyArray<string>
  readonly changedAt: DateTime.Utc
}

/** Per-session screen history: the latest snapshot, a bounded ring of updates, and a PubSub of events. */
export class OutputLog extends Context.Tag("telemux/OutputLog")<OutputLog, {
  /** Records a new screen for the session, assigning the next seq. */
  readonly append: (sessionId: SessionId, screen: string, changedAt: DateTime.Utc) => Effect.Effect<OutputChanged>
  /** `append` for several screens at once (each session's in order), published together. */
  readonly appendAll: (screens: ReadonlyArray<NewScreen>) => Effect.Effect<ReadonlyArray<OutputChanged>>
  /**
   * Records an update numbered by the session's owner on another computer (seqs kept as they
   * are); an update not newer than the last one recorded is ignored and answers false.
   */
  readonly mirror: (update: ScreenRecord) => Effect.Effect<boolean>
  readonly publish: (event: Exclude<OutputEvent, OutputChanged>) => Effect.Effect<void>
  readonly latest: (sessionId: SessionId) => Effect.Effect<Option.Option<OutputChanged>>
  readonly since: (sessionId: SessionId, seq: number) => Effect.Effect<Since>
  /** Drops the session's history (on close). */
  readonly remove: (sessionId: SessionId) => Effect.Effect<void>
  readonly size: Effect.Effect<number>
  /** Every event, for consumers that handle each one in a fiber. */
  readonly events: PubSub.PubSub<OutputEvent>
  /** Every event through `listener` (see OutputListener) while the scope is open. */
  readonly listen: (listener: OutputListener) => Effect.Effect<void, never, Scope.Scope>
}>() {}
