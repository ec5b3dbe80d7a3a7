/** Key presses, per mode: what each key does to the state and which commands it asks for. */
import { editField } from "./Field.js"
import { tmuxKeyFor } from "./KeyNames.js"
import type { KeyInfo, TuiState } from "./Model.js"
import {
  browse,
  moveCursor,
  none,
  notice,
  onSession,
  selectedRow,
  sessionUiOf,
  setCollapsed,
  settle,
  type Step,
  step,
  withSessionUi
} from "./Steps.js"
import { projectKey, projectOf } from "./Tree.js"

const PAGE = 10

const browseKey = (state: TuiState, input: string, key: KeyInfo): Step => {
  if (input === "q" || (key.ctrl && input === "c")) return step(state, [{ _tag: "Quit" }])
  if (key.tab || input === "1" || input === "2") {
    const view = input === "1"
      ? "sessions"
      : input === "2"
      ? "projects"
      : state.view === "sessions"
      ? "projects"
      : "sessions"
    return step({ ...state, view }, view === "projects" && !state.projectsLoaded ? [{ _tag: "LoadProjects" }] : none)
  }
  if (input === "r") return step(notice(state, "info", "reloading projects"), [{ _tag: "LoadProjects" }])
  if (input === "n") {
    const row = state.view === "sessions" ? selectedRow(state) : undefined
    const fromProject = state.view === "projects" ? state.projects[state.projectCursor]?.path : undefined
    const fromRow = row?.kind === "project"
      ? row.path
      : row?.kind === "session"
      ? projectOf(row.session, state.projects, state.localComputer).path
      : undefined
    return step({ ...state, mode: { _tag: "create", draft: fromProject ?? fromRow ?? state.defaultDir } })
  }
  if (state.view === "projects") {
    if (key.upArrow || input === "k") return step({ ...state, projectCursor: Math.max(0, state.projectCursor - 1) })
    if (key.downArrow || input === "j") {
      return step({
        ...state,
        projectCursor: Math.min(Math.max(0, state.projects.length - 1), state.projectCursor + 1)
      })
    }
    return step(state)
  }
  if (key.upArrow || input === "k") return step(moveCursor(state, -1))
  if (key.downArrow || input === "j") return step(moveCursor(state, 1))
  if (key.pageUp) return step(moveCursor(state, -PAGE))
  if (key.pageDown) return step(moveCursor(state, PAGE))
  if (key.home || input === "g") return step(moveCursor(state, "first"))
  if (key.end || input === "G") return step(moveCursor(state, "last"))
  if (input === "/") return step({ ...state, mode: { _tag: "filter", draft: state.filter } })
  if (key.escape) return step(state.filter === "" ? state : settle({ ...state, filter: "" }))
  const row = selectedRow(state)
  if (row !== undefined && row.kind !== "session") {
    if (key.leftArrow || input === "h") return step(setCollapsed(state, row.key, true))
    if (key.rightArrow || input === "l") return step(setCollapsed(state, row.key, false))
    if (key.return || input === " ") return step(setCollapsed(state, row.key, !row.collapsed))
  }
  if (row?.kind === "session" && (key.leftArrow || input === "h")) {
    const project = projectOf(row.session, state.projects, state.localComputer)
    return step({ ...state, cursor: projectKey(row.session.computer, project.path) })
  }
  if (input === " ") {
    return onSession(state, (s) => step(withSessionUi(state, s.sessionId, (ui) => ({ ...ui, expanded: !ui.expanded }))))
  }
  if (input === "s" || input === "i") {
    return onSession(
      state,
      (s) =>
        step({ ...state, mode: { _tag: "send", sessionId: s.sessionId, draft: sessionUiOf(state, s.sessionId).draft } })
    )
  }
  if (input === "x") return onSession(state, (s) => step({ ...state, mode: { _tag: "keys", sessionId: s.sessionId } }))
  if (input === "d") {
    return onSession(state, (s) => step({ ...state, mode: { _tag: "confirmClose", sessionId: s.sessionId } }))
  }
  if (input === "a" || key.return) {
    return onSession(state, (s) => step(state, [{ _tag: "Attach", sessionId: s.sessionId }]))
  }
  return step(state)
}

export const keyPressed = (state: TuiState, input: string, key: KeyInfo): Step => {
  const mode = state.mode
  switch (mode._tag) {
    case "browse":
      return browseKey(state, input, key)
    case "filter": {
      if (key.return) return step(browse(state))
      if (key.escape) return step(settle({ ...browse(state), filter: "" }))
      const draft = editField(mode.draft, input, key)
      return step(settle({ ...state, mode: { ...mode, draft }, filter: draft }))
    }
    case "create": {
      if (key.escape) return step(browse(state))
      if (key.return) {
        const dir = mode.draft.trim()
        return dir === "" ? step(browse(state)) : step(browse(state), [{ _tag: "Create", dir }])
      }
      return step({ ...state, mode: { ...mode, draft: editField(mode.draft, input, key) } })
    }
    case "send": {
      if (key.escape) return step(withSessionUi(browse(state), mode.sessionId, (ui) => ({ ...ui, draft: mode.draft })))
      if (key.return) {
        const next = state.sessionUi.has(mode.sessionId)
          ? withSessionUi(browse(state), mode.sessionId, (ui) => ({ ...ui, draft: "" }))
          : browse(state)
        return step(next, [{ _tag: "SendText", sessionId: mode.sessionId, text: mode.draft }])
      }
      return step({ ...state, mode: { ...mode, draft: editField(mode.draft, input, key) } })
    }
    case "keys": {
      const name = tmuxKeyFor(input, key)
      return name === undefined
        ? step(notice(browse(state), "info", "no key sent"))
        : step(browse(state), [{ _tag: "SendKey", sessionId: mode.sessionId, key: name }])
    }
    case "confirmClose":
      return input === "y" || input === "Y"
        ? step(browse(state), [{ _tag: "Close", sessionId: mode.sessionId }])
        : step(notice(browse(state), "info", "not closed"))
  }
}
