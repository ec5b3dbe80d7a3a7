import { Context, type DateTime, Duration, type Effect } from "effect"
import type {
  InvalidRequest,
  OutcomeUnknown,
  SessionClosed,
  SessionNotFound,
  StorageFailure,
  TerminalUnavailable
} from "../src/domain/Errors.js"
import type { KeyPress } from "../src/domain/Keys.js"
import type {
  Agent,
  AgentMode,
  CloseReason,
  ComputerName,
  PromptDelivery,
  Session,
  SessionId,
  SessionStatus
} from "../src/domain/Session.js"
import type { TerminalSnapshot } from "../src/domain/TerminalSnapshot.js"
import type { WorktreeError, WorktreeRequest } from "../src/domain/Worktree.js"
import type { OutputMark } from "./SessionStore.js"
import type { ViewerFit } from "./TerminalBridge.js"

/** How often rows are compared with tmux while the daemon runs. */
export const RECONCILE_INTERVAL = Duration.seconds(15)
/** Wait before the confirming second look at a session that seemed gone. */
export const RECONCILE_CONFIRM_DELAY = Duration.millis(750)
/** How often idle sessions are checked against the inactivity timeout. */
export const REAP_INTERVAL = Duration.minutes(5)
/** How often closed rows past retention are pruned. */
export const PRUNE_INTERVAL = Duration.hours(1)
/** Largest keystroke message (raw bytes) accepted at once; a bigger paste comes in several. */
export const TERMINAL_INPUT_MAX_BYTES = 64 * 1024
/** Largest text accepted by one input request. */
/**
 * A terminal's keystrokes record the session's activity at most this often (a typist sends a
 * message per key: each would otherwise be a row written and a session update sent to every client).
 */
export const KEYSTROKE_ACTIVITY_INTERVAL = Duration.seconds(1)
export const INPUT_MAX_BYTES = 1024 * 1024
export const SESSIONS_LIST_LIMIT_MAX = 10_000
/** Most sessions with input in flight at once; each holds a lock entry only while busy. */
export const INPUT_LOCKS_MAX = 4096

export interface CreateSessionRequest {
  readonly projectDir: string
  readonly title?: string
  /** Recorded on the row; starting the agent in the pane is the Agents service's part. */
  readonly agent?: Agent
  readonly agentMode?: AgentMode
  /** The session (and its computer) that asked for this one, when an agent did. */
  readonly initiatorSessionId?: SessionId
  readonly initiatorComputer?: ComputerName
  /** Run in a new git worktree of the project's repository (services/Worktrees.ts). */
  readonly worktree?: WorktreeRequest
}

export interface ListSessionsRequest {
  readonly computer?: ComputerName
  readonly status?: SessionStatus | "all"
  readonly limit?: number
}

export type OperationError = SessionNotFound | SessionClosed | TerminalUnavailable | StorageFailure

/** What input (text, keys) can fail with: an operation error, or an outcome that is not known. */
export type InputError = OperationError | OutcomeUnknown

/**
 * What watching a pane revealed, or what an agent's hook reported; applied only to open
 * sessions, never reopening a closed one.
 */
export interface Observation {
  readonly status?: "running" | "idle" | "waiting_input"
  readonly lastOutput?: string
  readonly lastOutputAt?: DateTime.Utc
  readonly nativeSessionId?: string
  readonly nativeLogFile?: string
  /** Kept on the session in memory (the cache), not stored. */
  readonly promptDelivery?: PromptDelivery
}

export interface ReconcileReport {
  readonly adopted: number
  readonly closed: ReadonlyArray<SessionId>
  /** Seen missing once but present (or unknowable) on the second look. */
  readonly spared: number
  /** telemux-named tmux sessions without an open row, killed after the second look. */
  readonly orphansRemoved: number
}

/** The orchestration of local sessions: tmux, the store and the cache kept in step. */
export class Sessions extends Context.Tag("telemux/Sessions")<Sessions, {
  readonly create: (
    request: CreateSessionRequest
  ) => Effect.Effect<Session, InvalidRequest | TerminalUnavailable | StorageFailure | WorktreeError>
  readonly list: (request: ListSessionsRequest) => Effect.Effect<ReadonlyArray<Session>, StorageFailure>
  /** The list as JSON text, built from per-version cached encodings where possible. */
  readonly listJson: (request: ListSessionsRequest) => Effect.Effect<string, StorageFailure>
  readonly get: (id: SessionId) => Effect.Effect<Session, SessionNotFound | StorageFailure>
  readonly getJson: (id: SessionId) => Effect.Effect<string, SessionNotFound | StorageFailure>
  /**
   * Pastes `text` literally; with `enter`, presses Enter as its own key — with the paste when a
   * shell reads it, after the application has shown the paste otherwise (TerminalBridge.type). A
   * failure after the text reached the pane is OutcomeUnknown, never a plain "not done".
   */
  readonly sendText: (id: SessionId, text: string, enter: boolean) => Effect.Effect<void, InputError>
  /** All presses in one tmux command: sent together, or not at all (or unknown when tmux did not answer). */
  readonly sendKeys: (id: SessionId, keys: ReadonlyArray<KeyPress>) => Effect.Effect<void, InputError>
  readonly capture: (id: SessionId, historyLines: number) => Effect.Effect<string, OperationError>
  /**
   * The session's terminal (TerminalBridge.snapshot): `at` is called where the snapshot falls in
   * the pane's output order.
   */
  readonly terminalSnapshot: <A>(
    id: SessionId,
    historyLines: number,
    at: () => A
  ) => Effect.Effect<readonly [TerminalSnapshot, A], OperationError>
  /**
   * Raw keystrokes (a terminal's bytes) into the pane, serialised with the session's other input;
   * at most TERMINAL_INPUT_MAX_BYTES per call.
   */
  readonly sendBytes: (id: SessionId, bytes: Uint8Array) => Effect.Effect<void, InputError | InvalidRequest>
  /** A viewer's size for the session's window, applied only while no person attached with tmux shows it. */
  readonly fitTerminal: (id: SessionId, width: number, height: number) => Effect.Effect<ViewerFit, OperationError>
  /** Whether tmux answers now (a kept screen is current only while it does). */
  readonly terminalResponsive: Effect.Effect<boolean>
  /** Kills the tmux session and marks the row closed; closing a closed session returns it as is. */
  readonly close: (
    id: SessionId,
    reason: CloseReason
  ) => Effect.Effect<Session, SessionNotFound | TerminalUnavailable | StorageFailure>
  /**
   * Compares open rows with tmux; closes a vanished session, and kills a telemux-named tmux session
   * that no open row owns, each only after a confirming second look.
   */
  readonly reconcile: Effect.Effect<ReconcileReport, TerminalUnavailable | StorageFailure>
  /** Records what the output watcher saw; unknown or closed sessions are ignored. */
  readonly observe: (id: SessionId, observation: Observation) => Effect.Effect<void, StorageFailure>
  /** The latest output of several sessions, written together (the activity flush); closed or unknown ones are left alone. */
  readonly recordOutput: (marks: ReadonlyArray<OutputMark>) => Effect.Effect<void, StorageFailure>
  /** Closes sessions with no input for longer than the inactivity timeout; returns their ids. */
  readonly reapInactive: Effect.Effect<ReadonlyArray<SessionId>, StorageFailure>
}>() {}
