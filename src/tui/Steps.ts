/**
 * The reducer's building blocks: selection, per-session and per-node UI state (bounded, pruned),
 * and the session list's changes. Update.ts and Keys.ts compose them.
 */
import type { Session, SessionId } from "../domain/Session.js"
import { prune, remove, touch } from "./Bounded.js"
import {
  type Cmd,
  emptySessionUi,
  type KeyInfo,
  NODE_UI_MAX,
  SESSION_UI_MAX,
  type SessionUi,
  type TuiState
} from "./Model.js"
import { buildRows, computerKey, nodeKeys, projectKey, projectOf, type Row } from "./Tree.js"

export interface Step {
  readonly state: TuiState
  readonly commands: ReadonlyArray<Cmd>
}

/** A key as the help overlay and the footer show it. */
export interface KeyHelp {
  readonly keys: string
  readonly does: string
  /** Its short form in the footer (`n new`); none: only in the help. */
  readonly footer?: string
}

/**
 * One entry of a key table: which presses it takes and what they do. The tables are what the UI
 * dispatches on and what the help overlay lists, so the two cannot disagree. `Ctx` is what the
 * mode carries (the dialog, the prompt), passed in so that `run` need not look for it again.
 */
export interface Binding<Ctx = void> extends KeyHelp {
  readonly on: (input: string, key: KeyInfo) => boolean
  readonly run: (state: TuiState, ctx: Ctx, input: string, key: KeyInfo) => Step
}

/** The first binding of `table` that takes the press, run; undefined when none does. */
export const dispatchKey = <Ctx>(
  table: ReadonlyArray<Binding<Ctx>>,
  state: TuiState,
  ctx: Ctx,
  input: string,
  key: KeyInfo
): Step | undefined => {
  for (const binding of table) {
    if (binding.on(input, key)) return binding.run(state, ctx, input, key)
  }
  return undefined
}

export const selectedRow = (state: TuiState): Row | undefined =>
  state.cursor === undefined ? undefined : buildRows(state).find((row) => row.key === state.cursor)

export const selectedSession = (state: TuiState): Session | undefined => {
  const row = selectedRow(state)
  return row?.kind === "session" ? row.session : undefined
}

export const sessionUiOf = (state: TuiState, id: SessionId): SessionUi => state.sessionUi.get(id) ?? emptySessionUi

export const withSessionUi = (state: TuiState, id: SessionId, change: (ui: SessionUi) => SessionUi): TuiState => ({
  ...state,
  sessionUi: touch(state.sessionUi, id, change(sessionUiOf(state, id)), SESSION_UI_MAX)
})

/**
 * After the sessions, filter or nodes changed: per-session state only for sessions that exist,
 * node state only for nodes that exist, and a cursor on a row that exists (near where it was;
 * on the first session when nothing was selected yet).
 */
export const settle = (state: TuiState): TuiState => {
  const nodes = nodeKeys(state)
  const next: TuiState = {
    ...state,
    sessionUi: prune(state.sessionUi, (id) => state.sessions.has(id)),
    nodeUi: prune(state.nodeUi, (key) => nodes.has(key))
  }
  const rows = buildRows(next)
  if (rows.length === 0) return { ...next, cursor: undefined, cursorIndex: 0 }
  let index = next.cursor === undefined ? -1 : rows.findIndex((row) => row.key === next.cursor)
  if (index < 0 && next.cursor === undefined) index = Math.max(0, rows.findIndex((row) => row.kind === "session"))
  if (index < 0) index = Math.min(next.cursorIndex, rows.length - 1)
  return { ...next, cursor: rows[index]!.key, cursorIndex: index }
}

export const moveCursor = (state: TuiState, delta: number | "first" | "last"): TuiState => {
  const rows = buildRows(state)
  if (rows.length === 0) return state
  const current = Math.max(0, rows.findIndex((row) => row.key === state.cursor))
  const index = delta === "first" ? 0 : delta === "last" ?
    rows.length - 1 :
    Math.min(rows.length - 1, Math.max(0, current + delta))
  return { ...state, cursor: rows[index]!.key, cursorIndex: index }
}

export const setCollapsed = (state: TuiState, key: string, collapsed: boolean): TuiState =>
  settle({ ...state, nodeUi: touch(state.nodeUi, key, { collapsed }, NODE_UI_MAX) })

export const upsert = (state: TuiState, session: Session): TuiState => {
  if (session.status === "closed") return removeSession(state, session.sessionId)
  const before = state.sessions.get(session.sessionId)
  const sessions = new Map(state.sessions)
  sessions.set(session.sessionId, session)
  const next = { ...state, sessions }
  return before !== undefined && before.status !== session.status
    ? withSessionUi(next, session.sessionId, (ui) => ({ ...ui, previousStatus: before.status }))
    : next
}

export const removeSession = (state: TuiState, id: SessionId): TuiState => {
  if (!state.sessions.has(id)) return state
  const sessions = new Map(state.sessions)
  sessions.delete(id)
  return { ...state, sessions, sessionUi: remove(state.sessionUi, id) }
}

export const listed = (state: TuiState, list: ReadonlyArray<Session>): TuiState => {
  let next: TuiState = { ...state, sessions: new Map(), sessionsLoaded: true }
  const open = list.filter((s) => s.status !== "closed")
  const sessions = new Map<SessionId, Session>()
  for (const session of open) sessions.set(session.sessionId, session)
  next = { ...next, sessions }
  for (const session of open) {
    const before = state.sessions.get(session.sessionId)
    if (before !== undefined && before.status !== session.status) {
      next = withSessionUi(next, session.sessionId, (ui) => ({ ...ui, previousStatus: before.status }))
    }
  }
  return next
}

/** Selects `session`, making sure no filter or collapsed node hides it. */
export const reveal = (state: TuiState, session: Session): TuiState => {
  const project = projectOf(session, state.projects, state.localComputer)
  let nodeUi = state.nodeUi
  for (const key of [computerKey(session.computer), projectKey(session.computer, project.path)]) {
    if (nodeUi.get(key)?.collapsed === true) nodeUi = touch(nodeUi, key, { collapsed: false }, NODE_UI_MAX)
  }
  const filter = buildRows({ ...state, nodeUi }).some((row) => row.key === session.sessionId) ? state.filter : ""
  return settle({ ...state, nodeUi, filter, cursor: session.sessionId })
}

export const notice = (state: TuiState, kind: "info" | "error", text: string): TuiState => ({
  ...state,
  notice: { kind, text }
})

export const none: ReadonlyArray<Cmd> = []
export const step = (state: TuiState, commands: ReadonlyArray<Cmd> = none): Step => ({ state, commands })

export const browse = (state: TuiState): TuiState => ({ ...state, mode: { _tag: "browse" } })

/** Commands on the selected session, or a notice that one must be selected. */
export const onSession = (state: TuiState, run: (session: Session) => Step): Step => {
  const session = state.view === "sessions" ? selectedSession(state) : undefined
  return session === undefined ? step(notice(state, "info", "select a session first")) : run(session)
}
