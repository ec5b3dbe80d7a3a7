/**
 * The terminal UI's reducer: `update(state, msg)` → the next state and the commands to run.
 * Pure: no I/O, no clock; the tests drive it (and the components over it) with plain messages.
 */
import type { ServerMessage } from "../api/StreamProtocol.js"
import type { Session } from "../domain/Session.js"
import { createAnswered } from "./Dialog.js"
import { diffAnswered } from "./DiffPane.js"
import { forkAnswered } from "./ForkDialog.js"
import { keyPressed } from "./Keys.js"
import { HISTORY_MAX, type Msg, type TuiState } from "./Model.js"
import {
  browse,
  listed,
  notice,
  removeSession,
  reveal,
  selectedSession,
  settle,
  type Step,
  step,
  upsert
} from "./Steps.js"

export type { Step } from "./Steps.js"
export { selectedRow, selectedSession } from "./Steps.js"

/** The stream's messages as UI messages; undefined for what the UI does not show. */
export const fromServer = (message: ServerMessage): Msg | undefined => {
  switch (message.type) {
    case "sessions":
      return { _tag: "SessionsListed", sessions: message.sessions }
    case "session":
      return message.event === "upserted"
        ? { _tag: "SessionUpserted", session: message.session }
        : { _tag: "SessionRemoved", sessionId: message.sessionId }
    case "output":
      return { _tag: "Screen", sessionId: message.sessionId, seq: message.seq, screen: message.screen }
    case "resync":
      return { _tag: "Screen", sessionId: message.sessionId, seq: message.seq, screen: message.screen }
    default:
      return undefined
  }
}

/** How every stream message reaches the UI (the live client and the tests alike). */
export const applyServerMessage = (dispatch: (msg: Msg) => void, message: ServerMessage): void => {
  const msg = fromServer(message)
  if (msg !== undefined) dispatch(msg)
}

const closedAt = (s: Session) => (s.closedAt ?? s.createdAt).epochMillis

/** A session that closed goes to the top of the history (once loaded: the load brings it otherwise). */
const remember = (state: TuiState, session: Session): TuiState => {
  if (session.status !== "closed" || !state.historyLoaded) return state
  const history = [session, ...state.history.filter((s) => s.sessionId !== session.sessionId)].slice(0, HISTORY_MAX)
  return { ...state, history, historyCursor: Math.min(state.historyCursor, history.length - 1) }
}

/** A session whose first prompt was just found not delivered: said in the footer, where the user is looking. */
const promptFailure = (state: TuiState, session: Session): TuiState => {
  const delivery = session.promptDelivery
  if (delivery?.state !== "failed" || state.sessions.get(session.sessionId)?.promptDelivery?.state === "failed") {
    return state
  }
  const name = session.title === "" ? session.sessionId.slice(0, 8) : session.title
  return notice(state, "error", `${name}: prompt not delivered: ${delivery.detail}`)
}

const reduce = (state: TuiState, msg: Msg): Step => {
  switch (msg._tag) {
    case "SessionsListed":
      return step(settle(listed(state, msg.sessions)))
    case "SessionUpserted":
      return step(settle(upsert(remember(promptFailure(state, msg.session), msg.session), msg.session)))
    case "SessionRemoved":
      return step(settle(removeSession(state, msg.sessionId)))
    case "Screen":
      return step(
        state.preview?.sessionId === msg.sessionId
          ? { ...state, preview: { sessionId: msg.sessionId, seq: msg.seq, screen: msg.screen } }
          : state
      )
    case "Link":
      return step({ ...state, link: msg.link })
    case "ProjectsLoaded":
      return step(settle({
        ...state,
        projects: msg.projects,
        projectsLoaded: true,
        projectCursor: Math.min(state.projectCursor, Math.max(0, msg.projects.length - 1))
      }))
    case "ComputersLoaded":
      return step({ ...state, computers: msg.computers })
    case "HistoryLoaded": {
      const history = msg.sessions.filter((s) => s.status === "closed")
        .sort((a, b) => closedAt(b) - closedAt(a))
        .slice(0, HISTORY_MAX)
      return step({
        ...state,
        history,
        historyLoaded: true,
        historyCursor: Math.min(state.historyCursor, Math.max(0, history.length - 1))
      })
    }
    case "LocalComputer":
      return step(settle({ ...state, localComputer: msg.name }))
    case "RequestStarted":
      return step({ ...state, pending: state.pending + 1 })
    case "RequestSucceeded": {
      const next = { ...state, pending: Math.max(0, state.pending - 1) }
      return step(msg.text === undefined ? next : notice(next, "info", msg.text))
    }
    case "RequestFailed":
      return step(notice({ ...state, pending: Math.max(0, state.pending - 1) }, "error", msg.text))
    case "Created": {
      // a fork answers with the new session too
      const closed = state.mode._tag === "create" || state.mode._tag === "fork" ? browse(state) : state
      return step(reveal(upsert({ ...closed, view: "sessions" }, msg.session), msg.session))
    }
    case "CreateFailed":
      return step(
        state.mode._tag === "create"
          ? createAnswered({ ...state, pending: Math.max(0, state.pending - 1) }, msg.text)
          : notice({ ...state, pending: Math.max(0, state.pending - 1) }, "error", msg.text)
      )
    case "Notice":
      return step({ ...state, notice: msg.notice })
    case "DiffLoaded":
      return step(
        diffAnswered({ ...state, pending: Math.max(0, state.pending - 1) }, msg.sessionId, { diff: msg.diff })
      )
    case "DiffFailed":
      return step(
        diffAnswered({ ...state, pending: Math.max(0, state.pending - 1) }, msg.sessionId, { error: msg.text })
      )
    case "ForkFailed":
      return step(forkAnswered({ ...state, pending: Math.max(0, state.pending - 1) }, msg.text))
    case "Key":
      return keyPressed({ ...state, notice: undefined }, msg.input, msg.key)
    case "Tick":
      return step(state.pending > 0 ? { ...state, spinner: state.spinner + 1 } : state)
    case "Clock":
      // Only the views that show ages are drawn again.
      return step(state.view === "projects" || state.mode._tag === "help" ? state : { ...state, now: msg.now })
  }
}

/**
 * One step of the UI. Whenever the selected session changes, its preview starts empty and a
 * WatchOutput command moves the output subscription to it.
 */
export const update = (state: TuiState, msg: Msg): Step => {
  const result = reduce(state, msg)
  if (msg._tag === "Screen" || msg._tag === "Tick" || msg._tag === "Link" || msg._tag === "Clock") return result
  const before = state.preview?.sessionId
  const selected = selectedSession(result.state)?.sessionId
  if (selected === before) return result
  return {
    state: {
      ...result.state,
      preview: selected === undefined ? undefined : { sessionId: selected, seq: undefined, screen: undefined }
    },
    commands: [...result.commands, { _tag: "WatchOutput", sessionId: selected }]
  }
}
