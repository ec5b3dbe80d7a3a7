import { Context, Duration, Effect, Option, type Scope } from "effect"
import { TerminalUnavailable } from "../src/domain/Errors.js"
import type { IdempotencyKeyReused, InvalidRequest } from "../src/domain/Errors.js"
import type { SessionId } from "../src/domain/Session.js"
import type { TerminalSnapshot } from "../src/domain/TerminalSnapshot.js"
import type { FleetCallError } from "./Fleet.js"
import type { InputError, OperationError } from "./Sessions.js"
import type { ViewerFit } from "./TerminalBridge.js"

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
  /**
   * A session on another computer cannot be followed now (the fleet link or its owner failed): the
   * terminal shows nothing new until a Redraw, which comes once it can be followed again.
   */
  | { readonly _tag: "Lost"; readonly sessionId: SessionId; readonly error: string; readonly message: string }

/** Called synchronously, in the pane's output order; it must return at once. */
export type TerminalListener = (event: TerminalEvent) => void

export interface SnapshotAt {
  /** The last seq the snapshot includes: chunks with a greater seq follow it. */
  readonly seq: number
  readonly snapshot: TerminalSnapshot
}

/** What a terminal operation can fail with: the session's own errors, or its computer's link. */
export type TerminalError = OperationError | FleetCallError

/**
 * Sessions' terminals as a stream: a snapshot, then every chunk the pane writes, each with a seq
 * (per session, rising; unique across the daemon's runs). Only watched sessions are read: a
 * session nobody watches costs nothing here. A session on another computer is followed through
 * its owner (the fleet's WatchTerminal) with the owner's seqs.
 */
export class TerminalStreams extends Context.Tag("telemux/TerminalStreams")<TerminalStreams, {
  /** Tells `listener` of the session's terminal from now on, for the scope's life. */
  readonly watch: (sessionId: SessionId, listener: TerminalListener) => Effect.Effect<void, TerminalError, Scope.Scope>
  /** A fresh snapshot, placed in the chunk order by its seq. */
  readonly snapshot: (sessionId: SessionId) => Effect.Effect<SnapshotAt, TerminalError>
  /**
   * The chunks after `since`, when the session's ring still holds every one of them (none: the
   * client is up to date); None when some are gone, or `since` is not of this ring.
   */
  readonly since: (sessionId: SessionId, since: number) => Effect.Effect<Option.Option<ReadonlyArray<TerminalChunk>>>
  /** Raw keystrokes into the session's pane (Sessions.sendBytes), here or on its computer. */
  readonly sendBytes: (
    sessionId: SessionId,
    bytes: Uint8Array
  ) => Effect.Effect<void, InputError | InvalidRequest | IdempotencyKeyReused | FleetCallError>
  /** A viewer's size (Sessions.fitTerminal), here or on its computer. */
  readonly resize: (sessionId: SessionId, cols: number, rows: number) => Effect.Effect<ViewerFit, TerminalError>
}>() {}

const noTerminal = new TerminalUnavailable({ message: "this server streams no terminals" })

/**
 * The daemon's TerminalStreams, or one that has none: for the servers of tests that serve no
 * terminal (API and fleet tests over doubles), which then answer every terminal request so.
 */
export const terminalsOrNone: Effect.Effect<TerminalStreams["Type"]> = Effect.map(
  Effect.serviceOption(TerminalStreams),
  Option.getOrElse(() =>
    TerminalStreams.of({
      watch: () => Effect.fail(noTerminal),
      snapshot: () => Effect.fail(noTerminal),
      since: () => Effect.succeed(Option.none()),
      sendBytes: () => Effect.fail(noTerminal),
      resize: () => Effect.fail(noTerminal)
    })
  )
)
