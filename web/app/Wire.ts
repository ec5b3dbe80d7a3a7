/**
 * What the daemon sends, as JSON (the schemas' encoded side: dates are ISO strings). Types only:
 * the schemas themselves stay out of the browser's bundle.
 */
import type { Computer } from "../../src/domain/Computer.js"
import type { Project } from "../../src/domain/Project.js"
import type { Agent, AgentMode, Session, SessionStatus } from "../../src/domain/Session.js"
import type { TerminalSnapshot } from "../../src/domain/TerminalSnapshot.js"
import type { CleanupReport, FinishAction, FinishResult, WorktreeDiff } from "../../src/domain/Worktree.js"

export type SessionJson = typeof Session.Encoded
export type ProjectJson = typeof Project.Encoded
export type ComputerJson = typeof Computer.Encoded
export type WorktreeDiffJson = typeof WorktreeDiff.Encoded
export type FinishResultJson = typeof FinishResult.Encoded
export type CleanupReportJson = typeof CleanupReport.Encoded
export type { FinishAction }
export type { Agent, AgentMode, SessionStatus, TerminalSnapshot }

export const AGENTS: ReadonlyArray<Agent> = ["claude", "codex", "gemini"]
export const AGENT_MODES: ReadonlyArray<AgentMode> = ["fast", "med", "slow", "deep"]

/** The stream's JSON messages this dashboard reads (src/api/StreamProtocol.ts); the others are ignored. */
export type ServerMessageJson =
  | { readonly type: "ready" }
  | { readonly type: "pong" }
  | { readonly type: "sessions"; readonly sessions: ReadonlyArray<SessionJson> }
  | { readonly type: "session"; readonly event: "upserted"; readonly session: SessionJson }
  | { readonly type: "session"; readonly event: "removed"; readonly sessionId: string; readonly computer: string }
  | { readonly type: "terminal"; readonly sessionId: string; readonly seq: number; readonly snapshot: TerminalSnapshot }
  | {
    readonly type: "size"
    readonly sessionId: string
    readonly cols: number
    readonly rows: number
    readonly applied: boolean
  }
  | { readonly type: "terminalLost"; readonly sessionId: string; readonly error: string; readonly message: string }
  | { readonly type: "inputFailed"; readonly sessionId: string; readonly error: string; readonly message: string }
  | {
    readonly type: "agent"
    readonly sessionId: string
    readonly event: "started" | "prompt" | "turn" | "input" | "notified"
    readonly ok: boolean
    readonly detail: string
  }
  | { readonly type: "error"; readonly message: string }
