import { Context, Duration, type Effect } from "effect"
import type { AgentModeUnsupported, NativeSessionIdInvalid } from "../src/agents/AgentCommands.js"
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
import type { WorktreeError } from "../src/domain/Worktree.js"
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
