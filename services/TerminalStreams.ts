import { Context, Duration, type Effect, type Option, type Scope } from "effect"
import type { SessionId } from "../src/domain/Session.js"
import type { TerminalSnapshot } from "../src/domain/TerminalSnapshot.js"
import type { OperationError } from "./Sessions.js"

/** What a watched session's ring keeps of its latest output, for clients that resume with `since`. */
export const TERMINAL_RING_BYTES = 256 * 1024
/** A session nobody watches any more keeps its ring this long (a client reconnecting resumes from it). */
export const TERMINAL_LINGER = Duration.seconds(30)
/** History lines a terminal snapshot carries above the screen (the emulator's scrollback). */
export const TERMINAL_HISTORY_LINES = 500

/** One write of the pane, as tmux read it: UTF-8 (a character split between writes is whole in one of them). */
export interface TerminalChunk {
  readonly seq: number
  readonly bytes: Uint8Array
}

export type TerminalEvent =
  | { readonly _tag: "Chunk"; readonly sessionId: SessionId; readonly chunk: TerminalChunk }
  /**
   * Draw the terminal again from this snapshot and continue after its seq: its size changed (a
   * resize), or output may have been missed (the control channel came back).
   */
  | {
    readonly _tag: "Redraw"
    readonly sessionId: SessionId
    readonly seq: number
    readonly snapshot: TerminalSnapshot
  }

/** Called synchronously, in the pane's output order; it must return at once. */
export type TerminalListener = (event: TerminalEvent) => void

export interface SnapshotAt {
  /** The last seq the snapshot includes: chunks with a greater seq follow it. */
  readonly seq: number
  readonly snapshot: TerminalSnapshot
}

/**
 * Sessions' terminals as a stream: a snapshot, then every chunk the pane writes, each with a seq
 * (per session, rising; unique across the daemon's runs). Only watched sessions are read: a
 * session nobody watches costs nothing here.
 */
export class TerminalStreams extends Context.Tag("telemux/TerminalStreams")<TerminalStreams, {
  /** Tells `listener` of the session's terminal from now on, for the scope's life. */
  readonly watch: (sessionId: SessionId, listener: TerminalListener) => Effect.Effect<void, OperationError, Scope.Scope>
  /** A fresh snapshot, placed in the chunk order by its seq. */
  readonly snapshot: (sessionId: SessionId) => Effect.Effect<SnapshotAt, OperationError>
  /**
   * The chunks after `since`, when the session's ring still holds every one of them (none: the
   * client is up to date); None when some are gone, or `since` is not of this ring.
   */
  readonly since: (sessionId: SessionId, since: number) => Effect.Effect<Option.Option<ReadonlyArray<TerminalChunk>>>
}>() {}
