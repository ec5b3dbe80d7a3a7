/**
 * What one computer of the fleet can ask another: an `@effect/rpc` group, each procedure with its
 * own payload, success and error schemas. Carried over Redis streams in signed envelopes
 * (layers/FleetRpcTransport.ts); served by layers/FleetServer.ts, called through the Fleet service.
 */
import { Rpc, RpcGroup, RpcMiddleware } from "@effect/rpc"
import { Context, Schema } from "effect"
import { IdempotencyKey } from "../../services/Idempotency.js"
import { AgentModeUnsupported, NativeSessionIdInvalid } from "../agents/AgentCommands.js"
import { ConversationExport } from "../agents/Conversations.js"
import {
  AgentBusy,
  AgentCommandNotFound,
  ComputerUnreachable,
  IdempotencyKeyReused,
  InvalidRequest,
  OutcomeUnknown,
  RemoteTimeout,
  SessionClosed,
  SessionNotFound,
  StorageFailure,
  TerminalUnavailable
} from "../domain/Errors.js"
import { InputText } from "../domain/InputText.js"
import { KeyPress } from "../domain/Keys.js"
import { Project } from "../domain/Project.js"
import { Agent, AgentMode, ComputerName, Session, SessionId } from "../domain/Session.js"
import { TerminalSnapshot } from "../domain/TerminalSnapshot.js"
import {
  CleanupPayload,
  CleanupReport,
  FinishPayload,
  FinishResult,
  NoWorktree,
  WorktreeDiff,
  WorktreeEntry,
  WorktreeErrors,
  WorktreeRequest
} from "../domain/Worktree.js"

/** The computer a request came from, as its envelope's signature proves; every handler may ask. */
export class FleetCaller extends Context.Tag("telemux/FleetCaller")<FleetCaller, ComputerName>() {}

/**
 * Every procedure runs behind this: it tells the handler who called, and declares once the errors
 * of the link itself that any call may end with (no answer in time; the computer not reachable).
 */
export class FleetCallerMiddleware extends RpcMiddleware.Tag<FleetCallerMiddleware>()("telemux/FleetCallerMiddleware", {
  provides: FleetCaller,
  failure: Schema.Union(RemoteTimeout, ComputerUnreachable)
}) {}

/** A session's screen as its owner numbered it. */
export const OutputUpdate = Schema.Struct({
  sessionId: SessionId,
  seq: Schema.Number,
  screen: Schema.String,
  changedAt: Schema.Number
})
export type OutputUpdate = typeof OutputUpdate.Type

/** Sent on a watch when nothing else was for a while: the watch is alive (a silent one is restarted). */
export const WatchAlive = Schema.TaggedStruct("WatchAlive", {})
/** A finished turn's reply, whole as the agent's hooks gave it, for a watcher elsewhere (e.g. the Telegram poller). */
export const TurnText = Schema.TaggedStruct("TurnText", { sessionId: SessionId, text: Schema.String })
export const WatchItem = Schema.Union(OutputUpdate, WatchAlive, TurnText)
export type WatchItem = typeof WatchItem.Type

/** A session's terminal as its owner numbered it: draw this snapshot, then apply the chunks after `seq`. */
export const TerminalSnapshotItem = Schema.TaggedStruct("TerminalSnapshot", {
  seq: Schema.Number,
  snapshot: TerminalSnapshot
})
/** Chunks with the seqs seq, seq + 1, … in order (the pane's bytes). */
export const TerminalChunksItem = Schema.TaggedStruct("TerminalChunks", {
  seq: Schema.Number,
  chunks: Schema.Array(Schema.Uint8ArrayFromBase64)
})
export const TerminalItem = Schema.Union(TerminalSnapshotItem, TerminalChunksItem, WatchAlive)
export type TerminalItem = typeof TerminalItem.Type

const session = { sessionId: SessionId }
const idempotencyKey = Schema.optionalWith(IdempotencyKey, { exact: true })

/** Errors of anything that reaches a session's pane. */
const InputErrors = Schema.Union(
  SessionNotFound,
  SessionClosed,
  TerminalUnavailable,
  StorageFailure,
  OutcomeUnknown,
  IdempotencyKeyReused
)
const AgentErrors = [InvalidRequest, AgentModeUnsupported, NativeSessionIdInvalid, AgentCommandNotFound] as const

export const CreateSessionPayload = Schema.Struct({
  projectDir: Schema.NonEmptyString,
  title: Schema.optionalWith(Schema.String, { exact: true }),
  agent: Schema.optionalWith(Agent, { exact: true }),
  mode: Schema.optionalWith(AgentMode, { exact: true }),
  prompt: Schema.optionalWith(Schema.String, { exact: true }),
  /** The session on the caller's computer that asked for this one (it is told when this one stops). */
  initiatorSessionId: Schema.optionalWith(SessionId, { exact: true }),
  worktree: Schema.optionalWith(WorktreeRequest, { exact: true }),
  idempotencyKey
})
export type CreateSessionPayload = typeof CreateSessionPayload.Type

/** What a fork may choose (the API's ForkPayload, less the computer). */
const forkOptions = {
  title: Schema.optionalWith(Schema.String, { exact: true }),
  mode: Schema.optionalWith(AgentMode, { exact: true }),
  worktree: Schema.optionalWith(WorktreeRequest, { exact: true })
}

/** A fork's request as the source's computer sends it to the fork's: where, and the conversation to continue. */
export const ForkAgentPayload = Schema.Struct({
  conversation: ConversationExport,
  projectDir: Schema.NonEmptyString,
  ...forkOptions,
  idempotencyKey
})
export type ForkAgentPayload = typeof ForkAgentPayload.Type

export class FleetRpcs extends RpcGroup.make(
  /** This computer's open sessions (a joining computer's are loaded so). */
  Rpc.make("ListSessions", { success: Schema.Array(Session) }),
  Rpc.make("CreateSession", {
    payload: CreateSessionPayload,
    success: Session,
    error: Schema.Union(
      TerminalUnavailable,
      StorageFailure,
      OutcomeUnknown,
      IdempotencyKeyReused,
      ...AgentErrors,
      ...WorktreeErrors
    )
  }),
  Rpc.make("SendText", {
    payload: Schema.Struct({ ...session, text: InputText, enter: Schema.Boolean, idempotencyKey }),
    error: InputErrors
  }),
  Rpc.make("SendKeys", {
    payload: Schema.Struct({ ...session, keys: Schema.NonEmptyArray(KeyPress), idempotencyKey }),
    error: InputErrors
  }),
  Rpc.make("Capture", {
    payload: Schema.Struct({ ...session, lines: Schema.Number.pipe(Schema.int(), Schema.between(0, 2000)) }),
    success: Schema.String,
    error: Schema.Union(SessionNotFound, SessionClosed, TerminalUnavailable, StorageFailure)
  }),
  Rpc.make("CloseSession", {
    payload: Schema.Struct(session),
    success: Session,
    error: Schema.Union(SessionNotFound, TerminalUnavailable, StorageFailure)
  }),
  /** The session's screens from now on: the latest first, then each change, until the caller goes away. */
  Rpc.make("WatchOutput", {
    payload: Schema.Struct(session),
    success: WatchItem,
    error: Schema.Union(SessionNotFound, StorageFailure, InvalidRequest),
    stream: true
  }),
  /**
   * The session's terminal from now on: a snapshot first, then its chunks, a new snapshot whenever
   * the caller fell behind or the terminal was redrawn (a resize), WatchAlive when nothing else was
   * sent for a while; until the caller goes away.
   */
  Rpc.make("WatchTerminal", {
    payload: Schema.Struct(session),
    success: TerminalItem,
    error: Schema.Union(SessionNotFound, SessionClosed, TerminalUnavailable, StorageFailure, InvalidRequest),
    stream: true
  }),
  /** A fresh snapshot of the session's terminal, with the seq it falls at (the WatchTerminal seqs). */
  Rpc.make("TerminalSnapshot", {
    payload: Schema.Struct(session),
    success: TerminalSnapshotItem,
    error: Schema.Union(SessionNotFound, SessionClosed, TerminalUnavailable, StorageFailure)
  }),
  /** Raw keystrokes (Sessions.sendBytes), at most TERMINAL_INPUT_MAX_BYTES. */
  Rpc.make("TerminalInput", {
    payload: Schema.Struct({ ...session, bytes: Schema.Uint8ArrayFromBase64 }),
    error: Schema.Union(InputErrors, InvalidRequest)
  }),
  /** A viewer's size (Sessions.fitTerminal). */
  Rpc.make("TerminalResize", {
    payload: Schema.Struct({
      ...session,
      cols: Schema.Number.pipe(Schema.int(), Schema.between(1, 10_000)),
      rows: Schema.Number.pipe(Schema.int(), Schema.between(1, 10_000))
    }),
    success: Schema.Struct({ width: Schema.Number, height: Schema.Number, applied: Schema.Boolean }),
    error: Schema.Union(SessionNotFound, SessionClosed, TerminalUnavailable, StorageFailure)
  }),
  /** `listener` (on the caller's side) is to be told when `target` (here) stops or asks for input. */
  Rpc.make("Listen", {
    payload: Schema.Struct({
      target: SessionId,
      listener: Schema.Struct({ sessionId: SessionId, computer: ComputerName })
    }),
    error: Schema.Union(SessionNotFound, InvalidRequest, StorageFailure, TerminalUnavailable)
  }),
  /** A one-line notice for a listener session here: typed into its pane. */
  Rpc.make("Notify", { payload: Schema.Struct({ ...session, notice: Schema.String }), error: InputErrors }),
  /** The changes of the session's worktree (Worktrees.diff). */
  Rpc.make("WorktreeDiff", {
    payload: Schema.Struct({ ...session, statOnly: Schema.Boolean }),
    success: WorktreeDiff,
    error: Schema.Union(SessionNotFound, StorageFailure, NoWorktree, ...WorktreeErrors)
  }),
  /** Commit, push, merge or discard the session's worktree, at most once per key. */
  Rpc.make("FinishWorktree", {
    payload: Schema.Struct({ ...session, finish: FinishPayload, idempotencyKey }),
    success: FinishResult,
    error: Schema.Union(InputErrors, InvalidRequest, NoWorktree, ...WorktreeErrors)
  }),
  /** This computer's worktrees, with their owners. */
  Rpc.make("ListWorktrees", {
    success: Schema.Array(WorktreeEntry),
    error: Schema.Union(StorageFailure, ...WorktreeErrors)
  }),
  /** Removes this computer's worktrees whose session ended (the cleanup's rules). */
  Rpc.make("CleanupWorktrees", {
    payload: CleanupPayload,
    success: CleanupReport,
    error: Schema.Union(StorageFailure, ...WorktreeErrors)
  }),
  /** This computer's trusted dirs, each naming this computer. */
  Rpc.make("ListProjects", { success: Schema.Array(Project) }),
  /** Starts the session's agent again, resuming its conversation; with `restart`, interrupts it first. */
  Rpc.make("ResumeAgent", {
    payload: Schema.Struct({ ...session, restart: Schema.Boolean }),
    success: Session,
    error: Schema.Union(InputErrors, AgentBusy, ...AgentErrors)
  }),
  /**
   * Forks the session (one of this computer's) onto `computer` (default: here): what a fork of a
   * session elsewhere is sent as, to the computer that has its conversation.
   */
  Rpc.make("ForkSession", {
    payload: Schema.Struct({
      ...session,
      computer: Schema.optionalWith(ComputerName, { exact: true }),
      ...forkOptions,
      idempotencyKey
    }),
    success: Session,
    error: Schema.Union(
      SessionNotFound,
      TerminalUnavailable,
      StorageFailure,
      OutcomeUnknown,
      IdempotencyKeyReused,
      ComputerUnreachable,
      RemoteTimeout,
      ...AgentErrors,
      ...WorktreeErrors
    )
  }),
  /** Starts here a fork of a conversation exported on the caller's computer (its file written where the agent looks). */
  Rpc.make("ForkAgent", {
    payload: ForkAgentPayload,
    success: Session,
    error: Schema.Union(
      TerminalUnavailable,
      StorageFailure,
      OutcomeUnknown,
      IdempotencyKeyReused,
      ...AgentErrors,
      ...WorktreeErrors
    )
  })
).middleware(FleetCallerMiddleware) {}

export type FleetRpc = RpcGroup.Rpcs<typeof FleetRpcs>

/**
 * The procedures that change nothing where they run. A request for one that Redis took without
 * confirming may fail at once (`ComputerUnreachable`): asked again, it is no harm. Any other may
 * have run, and is waited for (layers/FleetRpcTransport.ts).
 */
export const READ_ONLY_PROCEDURES: ReadonlySet<FleetRpc["_tag"]> = new Set([
  "ListSessions",
  "Capture",
  "WatchOutput",
  "WatchTerminal",
  "TerminalSnapshot",
  "WorktreeDiff",
  "ListWorktrees",
  "ListProjects"
])
