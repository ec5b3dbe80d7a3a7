/** The keys while browsing: those of every view, and each view's own (Sessions, Projects, History). */
import { openCreate } from "./Dialog.js"
import { openDiff } from "./DiffPane.js"
import { openFork } from "./ForkDialog.js"
import type { KeyInfo, TuiState, View } from "./Model.js"
import {
  type Binding,
  moveCursor,
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
const VIEWS: ReadonlyArray<View> = ["sessions", "projects", "history"]

const char = (c: string) => (input: string, k: KeyInfo) => input === c && !k.ctrl && !k.meta

const showView = (state: TuiState, view: View): Step =>
  step(
    { ...state, view },
    view === "projects" && !state.projectsLoaded
      ? [{ _tag: "LoadProjects" }]
      : view === "history" && !state.historyLoaded
      ? [{ _tag: "LoadHistory" }]
      : []
  )

/** Keys of every view while browsing. */
export const GLOBAL_KEYS: ReadonlyArray<Binding> = [
  {
    keys: "1 2 3",
    does: "Sessions, Projects, History",
    on: (input, k) => !k.ctrl && !k.meta && ["1", "2", "3"].includes(input),
    run: (s, _, input) => showView(s, VIEWS[Number(input) - 1]!)
  },
  {
    keys: "Tab",
    does: "next view",
    on: (_, k) => k.tab,
    run: (s, _, __, k) => showView(s, VIEWS[(VIEWS.indexOf(s.view) + (k.shift ? 2 : 1)) % VIEWS.length]!)
  },
  { keys: "n", does: "new session (a dialog)", footer: "n new", on: char("n"), run: (s) => openCreate(s) },
  {
    keys: "q  Ctrl+C",
    does: "quit",
    footer: "q quit",
    on: (input, k) => char("q")(input, k) || (k.ctrl && input === "c"),
    run: (s) => step(s, [{ _tag: "Quit" }])
  },
  {
    keys: "?",
    does: "this help",
    footer: "? help",
    on: char("?"),
    run: (s) => step({ ...s, mode: { _tag: "help", scroll: 0 } })
  }
]

const onNode = (state: TuiState, run: (row: { key: string; collapsed: boolean }) => TuiState): Step => {
  const row = selectedRow(state)
  return row === undefined || row.kind === "session" ? step(state) : step(run(row))
}

export const SESSIONS_KEYS: ReadonlyArray<Binding> = [
  {
    keys: "↑ ↓  k j",
    does: "move",
    on: (i, k) => k.upArrow || k.downArrow || char("k")(i, k) || char("j")(i, k),
    run: (s, _, i, k) => step(moveCursor(s, k.upArrow || i === "k" ? -1 : 1))
  },
  {
    keys: "PgUp PgDn",
    does: "move a page",
    on: (_, k) => k.pageUp || k.pageDown,
    run: (s, _, __, k) => step(moveCursor(s, k.pageUp ? -PAGE : PAGE))
  },
  {
    keys: "Home End  g G",
    does: "first, last",
    on: (i, k) => k.home || k.end || char("g")(i, k) || char("G")(i, k),
    run: (s, _, i, k) => step(moveCursor(s, k.home || i === "g" ? "first" : "last"))
  },
  {
    keys: "← h",
    does: "fold a computer or project; from a session, go to its project",
    on: (i, k) => k.leftArrow || char("h")(i, k),
    run: (s) => {
      const row = selectedRow(s)
      if (row?.kind !== "session") return onNode(s, (node) => setCollapsed(s, node.key, true))
      return step({
        ...s,
        cursor: projectKey(row.session.computer, projectOf(row.session, s.projects, s.localComputer).path)
      })
    }
  },
  {
    keys: "→ l",
    does: "unfold",
    on: (i, k) => k.rightArrow || char("l")(i, k),
    run: (s) => onNode(s, (node) => setCollapsed(s, node.key, false))
  },
  {
    keys: "Enter",
    does: "fold/unfold a node; attach to a session",
    on: (_, k) => k.return,
    run: (s) =>
      selectedRow(s)?.kind === "session"
        ? onSession(s, (one) => step(s, [{ _tag: "Attach", sessionId: one.sessionId }]))
        : onNode(s, (node) => setCollapsed(s, node.key, !node.collapsed))
  },
  {
    keys: "Space",
    does: "fold/unfold a node; a session's last input and output in full",
    on: char(" "),
    run: (s) =>
      selectedRow(s)?.kind === "session"
        ? onSession(s, (one) => step(withSessionUi(s, one.sessionId, (ui) => ({ ...ui, expanded: !ui.expanded }))))
        : onNode(s, (node) => setCollapsed(s, node.key, !node.collapsed))
  },
  {
    keys: "s i",
    does: "send text (then Enter) to the session",
    footer: "s send",
    on: (i, k) => char("s")(i, k) || char("i")(i, k),
    run: (s) =>
      onSession(
        s,
        (one) =>
          step({ ...s, mode: { _tag: "send", sessionId: one.sessionId, draft: sessionUiOf(s, one.sessionId).draft } })
      )
  },
  {
    keys: "x",
    does: "send a key: press it, or type its name (Escape, C-c, Up*3) and Enter",
    footer: "x key",
    on: char("x"),
    run: (s) =>
      onSession(
        s,
        (one) => step({ ...s, mode: { _tag: "keys", sessionId: one.sessionId, draft: "", error: undefined } })
      )
  },
  {
    keys: "a",
    does: "attach (tmux; the UI comes back when you detach)",
    footer: "a attach",
    on: char("a"),
    run: (s) => onSession(s, (one) => step(s, [{ _tag: "Attach", sessionId: one.sessionId }]))
  },
  {
    keys: "d",
    does: "close the session (asks first)",
    footer: "d close",
    on: char("d"),
    run: (s) => onSession(s, (one) => step({ ...s, mode: { _tag: "confirmClose", sessionId: one.sessionId } }))
  },
  {
    keys: "c",
    does: "the changes of the session's git worktree (stats and patch)",
    footer: "c changes",
    on: char("c"),
    run: (s) => onSession(s, (one) => openDiff(s, one))
  },
  {
    keys: "f",
    does: "fork an agent's conversation into a new session (another computer, a new worktree)",
    footer: "f fork",
    on: char("f"),
    run: (s) => onSession(s, (one) => openFork(s, one))
  },
  {
    keys: "/",
    does: "filter by id, title, directory, status, input, output",
    footer: "/ filter",
    on: char("/"),
    run: (s) => step({ ...s, mode: { _tag: "filter", draft: s.filter } })
  },
  {
    keys: "Esc",
    does: "clear the filter",
    on: (_, k) => k.escape,
    run: (s) => step(s.filter === "" ? s : settle({ ...s, filter: "" }))
  }
]

/** The keys of a view that is a list to move in and reload (Projects, History). */
const listKeys = (list: {
  readonly cursor: "projectCursor" | "historyCursor"
  readonly length: (s: TuiState) => number
  readonly does: string
  readonly reloading: string
  readonly load: "LoadProjects" | "LoadHistory"
}): ReadonlyArray<Binding> => [
  {
    keys: "↑ ↓  k j",
    does: "move",
    on: (i, k) => k.upArrow || k.downArrow || char("k")(i, k) || char("j")(i, k),
    run: (s, _, i, k) => {
      const delta = k.upArrow || i === "k" ? -1 : 1
      return step({
        ...s,
        [list.cursor]: Math.min(Math.max(0, list.length(s) - 1), Math.max(0, s[list.cursor] + delta))
      })
    }
  },
  {
    keys: "r",
    does: list.does,
    footer: "r reload",
    on: char("r"),
    run: (s) => step(notice(s, "info", list.reloading), [{ _tag: list.load }])
  }
]

export const PROJECTS_KEYS: ReadonlyArray<Binding> = listKeys({
  cursor: "projectCursor",
  length: (s) => s.projects.length,
  does: "reload the projects",
  reloading: "reloading projects",
  load: "LoadProjects"
})

export const HISTORY_KEYS: ReadonlyArray<Binding> = listKeys({
  cursor: "historyCursor",
  length: (s) => s.history.length,
  does: "reload the closed sessions",
  reloading: "reloading history",
  load: "LoadHistory"
})

export const VIEW_KEYS: Readonly<Record<View, ReadonlyArray<Binding>>> = {
  sessions: SESSIONS_KEYS,
  projects: PROJECTS_KEYS,
  history: HISTORY_KEYS
}
