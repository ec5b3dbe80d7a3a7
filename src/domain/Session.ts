import { Schema } from "effect"
import { SessionWorktree } from "./Worktree.js"

export const SessionId = Schema.UUID.pipe(Schema.brand("SessionId"))
export type SessionId = typeof SessionId.Type

export const ComputerName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/, {
    message: () => "a computer name is 1 to 64 characters of A-Z, a-z, 0-9, _ and -"
  }),
  Schema.brand("ComputerName")
)
export type ComputerName = typeof ComputerName.Type

/** tmux's stable pane id (`%N`). Panes are addressed by id, never by a name prefix. */
export const PaneId = Schema.String.pipe(
  Schema.pattern(/^%\d+$/, { message: () => "a pane id looks like %N" }),
  Schema.brand("PaneId")
)
export type PaneId = typeof PaneId.Type

export const TmuxName = Schema.String.pipe(Schema.pattern(/^tmx_[0-9a-f]{8}$/), Schema.brand("TmuxName"))
export type TmuxName = typeof TmuxName.Type

export const SessionStatus = Schema.Literal("creating", "running", "idle", "waiting_input", "closed")
export type SessionStatus = typeof SessionStatus.Type
export const OPEN_STATUSES: ReadonlyArray<SessionStatus> = ["creating", "running", "idle", "waiting_input"]

export const CloseReason = Schema.Literal("user", "tmux_gone", "pane_dead", "inactive", "error")
export type CloseReason = typeof CloseReason.Type

export const Agent = Schema.Literal("claude", "codex", "gemini")
export type Agent = typeof Agent.Type

export const AgentMode = Schema.Literal("fast", "med", "slow", "deep")
export type AgentMode = typeof AgentMode.Type

/** Longest `lastInput` / `lastOutput` kept on a session. */
export const SUMMARY_MAX_CHARS = 200

/**
 * What became of an agent's first prompt: `pending` from the launch until it was typed and the
 * screen answered (`delivered`), or telemux gave up (`failed`, with what to do in `detail`).
 */
export class PromptDelivery extends Schema.Class<PromptDelivery>("PromptDelivery")({
  state: Schema.Literal("pending", "delivered", "failed"),
  detail: Schema.String,
  at: Schema.DateTimeUtc
}) {}

export class Session extends Schema.Class<Session>("Session")({
  sessionId: SessionId,
  computer: ComputerName,
  tmuxName: TmuxName,
  paneId: Schema.NullOr(PaneId),
  title: Schema.String,
  workingDirectory: Schema.String,
  status: SessionStatus,
  createdAt: Schema.DateTimeUtc,
  lastActivityAt: Schema.NullOr(Schema.DateTimeUtc),
  lastOutputAt: Schema.NullOr(Schema.DateTimeUtc),
  lastInput: Schema.NullOr(Schema.String),
  lastOutput: Schema.NullOr(Schema.String),
  agent: Schema.NullOr(Agent),
  agentMode: Schema.NullOr(AgentMode),
  nativeSessionId: Schema.NullOr(Schema.String),
  nativeLogFile: Schema.NullOr(Schema.String),
  initiatorSessionId: Schema.NullOr(SessionId),
  initiatorComputer: Schema.NullOr(ComputerName),
  closedAt: Schema.NullOr(Schema.DateTimeUtc),
  closeReason: Schema.NullOr(CloseReason),
  /** Only on a session started with a prompt; kept while the daemon runs (not stored). */
  promptDelivery: Schema.optionalWith(PromptDelivery, { exact: true }),
  /** The git worktree the session runs in (its working directory), when it was made in one. */
  worktree: Schema.optionalWith(SessionWorktree, { exact: true })
}) {}

/** A session as it is born: `creating`, no pane yet, nothing typed or seen, no agent. */
export const newSession = (fields: {
  readonly sessionId: SessionId
  readonly computer: ComputerName
  readonly title: string
  readonly workingDirectory: string
  readonly createdAt: Session["createdAt"]
}): Session =>
  new Session({
    ...fields,
    tmuxName: tmuxNameFor(fields.sessionId),
    paneId: null,
    status: "creating",
    lastActivityAt: null,
    lastOutputAt: null,
    lastInput: null,
    lastOutput: null,
    agent: null,
    agentMode: null,
    nativeSessionId: null,
    nativeLogFile: null,
    initiatorSessionId: null,
    initiatorComputer: null,
    closedAt: null,
    closeReason: null
  })

/** `tmx_` + the first 8 hex digits of the session id. */
export const tmuxNameFor = (id: SessionId): TmuxName => TmuxName.make(`tmx_${id.replace(/-/g, "").slice(0, 8)}`)

export const summarise = (text: string): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length <= SUMMARY_MAX_CHARS ? flat : flat.slice(0, SUMMARY_MAX_CHARS - 1) + "…"
}
