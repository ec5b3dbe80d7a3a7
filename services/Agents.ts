import { Context, Duration, type Effect } from "effect"
import type { AgentModeUnsupported, NativeSessionIdInvalid } from "../src/agents/AgentCommands.js"
import type { ConversationExport } from "../src/agents/Conversations.js"
import type {
  AgentBusy,
  AgentCommandNotFound,
  InvalidRequest,
  OutcomeUnknown,
  SessionNotFound,
  StorageFailure,
  TerminalUnavailable
} from "../src/domain/Errors.js"
import type { Agent, AgentMode, ComputerName, Session, SessionId } from "../src/domain/Session.js"
import type { WorktreeError, WorktreeRequest } from "../src/domain/Worktree.js"
import type { CreateSessionRequest, InputError } from "./Sessions.js"

/** The agent's screen must be still this long before its first prompt is pasted… */
export const PROMPT_QUIET = Duration.millis(800)
/** …but the prompt goes in after this long whatever the screen does. */
export const PROMPT_READY_TIMEOUT = Duration.seconds(30)
/** After Enter the screen must change within this long, or the attempt counts as lost. */
export const PROMPT_VERIFY_TIMEOUT = Duration.seconds(3)
export const PROMPT_ATTEMPTS = 3
/** A second turn-stop of one session within this window is the same stop, reported once. */
export const STOP_DEBOUNCE = Duration.seconds(2)
/** Sessions tracked by the stop debounce at once (an entry leaves when its session closes). */
export const STOP_DEBOUNCE_MAX = 4096
/** Restart waits this long for the pane to return to its shell after the interrupts. */
export const RESTART_SHELL_TIMEOUT = Duration.seconds(10)

export interface LaunchRequest extends CreateSessionRequest {
  readonly agent: Agent
  readonly mode?: AgentMode
  /** Pasted once the agent is ready, never put on the command line. */
  readonly prompt?: string
}

/** What a fork may choose; the rest comes from the session forked. */
export interface ForkOptions {
  /** Default: `fork of <title>`. */
  readonly title?: string | undefined
  /** Default: the session's own mode. */
  readonly mode?: AgentMode | undefined
  readonly worktree?: WorktreeRequest | undefined
}

/** A fork of a conversation exported on another computer, as that computer asks for it here. */
export interface ImportedFork extends ForkOptions {
  readonly projectDir: string
  readonly initiatorSessionId?: SessionId | undefined
  readonly initiatorComputer?: ComputerName | undefined
}

/** A local session's conversation, ready to travel, with what a fork elsewhere needs of the session. */
export interface ExportedConversation {
  readonly source: Session
  readonly conversation: ConversationExport
  /** The fork's request: the source's project, title and mode unless the options say otherwise. */
  readonly request: ImportedFork
}

export type AgentError = InvalidRequest | AgentModeUnsupported | NativeSessionIdInvalid | AgentCommandNotFound

/**
 * AI coding agents in sessions: started with a mode and a first prompt, resumed, restarted; their
 * hooks drive the session's turn status; sessions that listen to one are told when it stops or asks.
 */
export class Agents extends Context.Tag("telemux/Agents")<Agents, {
  /** Creates the session, starts the agent in it, and delivers the prompt in the background (reported on the stream). */
  readonly launch: (
    request: LaunchRequest
  ) => Effect.Effect<Session, AgentError | TerminalUnavailable | StorageFailure | OutcomeUnknown | WorktreeError>
  /**
   * Starts the session's agent again in its pane, resuming its conversation (by native id, else the
   * latest); refused (AgentBusy) while a program runs in the pane, which would read the command as input.
   */
  readonly resume: (id: SessionId) => Effect.Effect<Session, AgentError | AgentBusy | InputError>
  /**
   * A new session continuing the agent's conversation (its current native id) under a new id, in
   * the same project (a new worktree of it on request), with the same agent and mode unless told.
   * Refused (InvalidRequest) for a session with no agent, or whose agent has no conversation yet.
   */
  readonly fork: (
    id: SessionId,
    options: ForkOptions
  ) => Effect.Effect<
    Session,
    AgentError | SessionNotFound | TerminalUnavailable | StorageFailure | OutcomeUnknown | WorktreeError
  >
  /** The session's conversation file, read (bounded) for a fork on another computer. */
  readonly exportConversation: (
    id: SessionId,
    options: ForkOptions
  ) => Effect.Effect<ExportedConversation, AgentError | SessionNotFound | StorageFailure>
  /** Here, the fork of a conversation exported elsewhere: written where the agent looks, then forked. */
  readonly forkImported: (
    conversation: ConversationExport,
    request: ImportedFork
  ) => Effect.Effect<Session, AgentError | TerminalUnavailable | StorageFailure | OutcomeUnknown | WorktreeError>
  /** Interrupts the agent twice, waits for the shell, then resumes. */
  readonly restart: (id: SessionId) => Effect.Effect<Session, AgentError | InputError>
  /** `listener` is told (a line typed into its pane) each time `target` finishes a turn or asks for input. */
  readonly listen: (
    target: SessionId,
    listener: { readonly sessionId: SessionId; readonly computer: ComputerName }
  ) => Effect.Effect<void, InvalidRequest | SessionNotFound | StorageFailure>
  /** Types `notice` into a local listener's pane (how another computer's agent reaches one here). */
  readonly notify: (listener: SessionId, notice: string) => Effect.Effect<void, InputError>
  readonly debounceSize: Effect.Effect<number>
}>() {}
