/**
 * Key presses, per mode: the key tables (what each key does to the state and which commands it
 * asks for) and the dispatch over them. The help overlay (`?`) and the footer are generated from
 * these same tables.
 */
import { DIALOG_KEYS, openCreate } from "./Dialog.js"
import { editField } from "./Field.js"
import { parseKeyNames, tmuxKeyFor } from "./KeyNames.js"
import { type KeyInfo, noKey, type TuiState, type View } from "./Model.js"
import {
  type Binding,
  browse,
  dispatchKey,
  type KeyHelp,
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

export const PROJECTS_KEYS: ReadonlyArray<Binding> = [
  {
    keys: "↑ ↓  k j",
    does: "move",
    on: (i, k) => k.upArrow || k.downArrow || char("k")(i, k) || char("j")(i, k),
    run: (s, _, i, k) => {
      const delta = k.upArrow || i === "k" ? -1 : 1
      return step({
        ...s,
        projectCursor: Math.min(Math.max(0, s.projects.length - 1), Math.max(0, s.projectCursor + delta))
      })
    }
  },
  {
    keys: "r",
    does: "reload the projects",
    footer: "r reload",
    on: char("r"),
    run: (s) => step(notice(s, "info", "reloading projects"), [{ _tag: "LoadProjects" }])
  }
]

export const HISTORY_KEYS: ReadonlyArray<Binding> = [
  {
    keys: "↑ ↓  k j",
    does: "move",
    on: (i, k) => k.upArrow || k.downArrow || char("k")(i, k) || char("j")(i, k),
    run: (s, _, i, k) => {
      const delta = k.upArrow || i === "k" ? -1 : 1
      return step({
        ...s,
        historyCursor: Math.min(Math.max(0, s.history.length - 1), Math.max(0, s.historyCursor + delta))
      })
    }
  },
  {
    keys: "r",
    does: "reload the closed sessions",
    footer: "r reload",
    on: char("r"),
    run: (s) => step(notice(s, "info", "reloading history"), [{ _tag: "LoadHistory" }])
  }
]

const VIEW_KEYS: Readonly<Record<View, ReadonlyArray<Binding>>> = {
  sessions: SESSIONS_KEYS,
  projects: PROJECTS_KEYS,
  history: HISTORY_KEYS
}

export const HELP_KEYS: ReadonlyArray<Binding<number>> = [
  {
    keys: "↑ ↓",
    does: "scroll",
    on: (_, k) => k.upArrow || k.downArrow,
    run: (s, scroll, _, k) =>
      step({
        ...s,
        mode: { _tag: "help", scroll: Math.min(helpLineCount(), Math.max(0, scroll + (k.upArrow ? -1 : 1))) }
      })
  },
  {
    keys: "Esc ? q",
    does: "close the help",
    on: (i, k) => k.escape || i === "?" || i === "q",
    run: (s) => step(browse(s))
  }
]

/** Editing keys of every text field (the filter, the text to send, the dialog's fields). */
const EDITING: KeyHelp = {
  keys: "text",
  does: "type or paste; Backspace, Ctrl+U clears, Ctrl+W deletes a word; a paste ending in a line break is sent"
}

export const FILTER_KEYS: ReadonlyArray<Binding<string>> = [
  { keys: "Enter", does: "keep the filter", on: (_, k) => k.return, run: (s) => step(browse(s)) },
  {
    keys: "Esc",
    does: "clear the filter",
    on: (_, k) => k.escape,
    run: (s) => step(settle({ ...browse(s), filter: "" }))
  },
  {
    ...EDITING,
    on: () => true,
    run: (s, draft, i, k) => {
      const next = editField(draft, i, k)
      return step(settle({ ...s, mode: { _tag: "filter", draft: next }, filter: next }))
    }
  }
]

type SendCtx = Extract<TuiState["mode"], { readonly _tag: "send" }>

export const SEND_KEYS: ReadonlyArray<Binding<SendCtx>> = [
  {
    keys: "Enter",
    does: "send the text, then Enter",
    on: (_, k) => k.return,
    run: (s, mode) => {
      const next = s.sessionUi.has(mode.sessionId)
        ? withSessionUi(browse(s), mode.sessionId, (ui) => ({ ...ui, draft: "" }))
        : browse(s)
      return step(next, [{ _tag: "SendText", sessionId: mode.sessionId, text: mode.draft }])
    }
  },
  {
    keys: "Esc",
    does: "cancel (the text is kept for next time)",
    on: (_, k) => k.escape,
    run: (s, mode) => step(withSessionUi(browse(s), mode.sessionId, (ui) => ({ ...ui, draft: mode.draft })))
  },
  {
    ...EDITING,
    on: () => true,
    run: (s, mode, i, k) => step({ ...s, mode: { ...mode, draft: editField(mode.draft, i, k) } })
  }
]

type KeysCtx = Extract<TuiState["mode"], { readonly _tag: "keys" }>

const sendKeyNamed = (s: TuiState, mode: KeysCtx): Step => {
  const parsed = parseKeyNames(mode.draft)
  if ("error" in parsed) return step({ ...s, mode: { ...mode, error: parsed.error } })
  return step(browse(s), [{ _tag: "SendKeys", sessionId: mode.sessionId, keys: parsed.keys }])
}

export const KEY_PROMPT_KEYS: ReadonlyArray<Binding<KeysCtx>> = [
  {
    keys: "Esc",
    does: "cancel (to send Escape, type Escape and Enter)",
    on: (_, k) => k.escape,
    run: (s) => step(notice(browse(s), "info", "no key sent"))
  },
  {
    keys: "Enter",
    does: "send the key named (or Enter itself when nothing is typed)",
    on: (_, k) => k.return,
    run: (s, mode) =>
      mode.draft.trim() === ""
        ? step(browse(s), [{ _tag: "SendKeys", sessionId: mode.sessionId, keys: ["Enter"] }])
        : sendKeyNamed(s, mode)
  },
  {
    keys: "letters",
    does: "type a key's name: Escape, C-c, Up*3, BSpace*5 (any case, several with spaces)",
    on: (i, k) => !k.ctrl && !k.meta && !k.tab && !k.return && /^[\x21-\x7e]+$/.test(i),
    run: (s, mode, i) => step({ ...s, mode: { ...mode, draft: mode.draft + i, error: undefined } })
  },
  {
    keys: "Backspace",
    does: "delete a letter typed; with none, send BSpace",
    on: (_, k) => k.backspace || k.delete,
    run: (s, mode, i, k) =>
      mode.draft === ""
        ? step(browse(s), [{ _tag: "SendKeys", sessionId: mode.sessionId, keys: ["BSpace"] }])
        : step({ ...s, mode: { ...mode, draft: editField(mode.draft, i, k), error: undefined } })
  },
  {
    keys: "other keys",
    does: "Ctrl+<letter>, Tab, Shift+Tab, arrows, PgUp/PgDn, Home/End, Space: sent at once",
    on: () => true,
    run: (s, mode, i, k) => {
      if (i === " " && mode.draft !== "") return step({ ...s, mode: { ...mode, draft: mode.draft + " " } })
      const name = tmuxKeyFor(i, k)
      return name === undefined
        ? step(notice(browse(s), "info", "no key sent"))
        : step(browse(s), [{ _tag: "SendKeys", sessionId: mode.sessionId, keys: [name] }])
    }
  }
]

type CloseCtx = Extract<TuiState["mode"], { readonly _tag: "confirmClose" }>

export const CONFIRM_CLOSE_KEYS: ReadonlyArray<Binding<CloseCtx>> = [
  {
    keys: "y",
    does: "close the session",
    on: (i) => i === "y" || i === "Y",
    run: (s, mode) => step(browse(s), [{ _tag: "Close", sessionId: mode.sessionId }])
  },
  { keys: "n  Esc", does: "keep it", on: () => true, run: (s) => step(notice(browse(s), "info", "not closed")) }
]

/** What the help overlay lists, section by section: every table above, in the order used. */
export const HELP_SECTIONS: ReadonlyArray<{ readonly title: string; readonly keys: ReadonlyArray<KeyHelp> }> = [
  { title: "Every view", keys: GLOBAL_KEYS },
  { title: "Sessions (1)", keys: SESSIONS_KEYS },
  { title: "Projects (2)", keys: PROJECTS_KEYS },
  { title: "History (3)", keys: HISTORY_KEYS },
  { title: "New session dialog (n)", keys: DIALOG_KEYS },
  { title: "Send text (s)", keys: SEND_KEYS },
  { title: "Send a key (x)", keys: KEY_PROMPT_KEYS },
  { title: "Filter (/)", keys: FILTER_KEYS },
  { title: "Close (d)", keys: CONFIRM_CLOSE_KEYS },
  { title: "This help", keys: HELP_KEYS }
]

const helpLineCount = () => HELP_SECTIONS.reduce((n, section) => n + 1 + section.keys.length, 0)

/** The footer's keys for a view: the view's own, then those of every view (`? help` last). */
export const footerKeys = (view: View): ReadonlyArray<string> =>
  [...VIEW_KEYS[view], ...GLOBAL_KEYS].flatMap((b) => (b.footer === undefined ? [] : [b.footer]))

/** Modes with a text field, where a line break at the end of a pasted chunk is Enter. */
const TEXT_MODES: ReadonlySet<TuiState["mode"]["_tag"]> = new Set(["filter", "create", "send", "keys"])

const RETURN: KeyInfo = { ...noKey, return: true }

const dispatch = (state: TuiState, input: string, key: KeyInfo): Step => {
  const mode = state.mode
  const result = (() => {
    switch (mode._tag) {
      case "browse":
        return dispatchKey(VIEW_KEYS[state.view], state, undefined, input, key) ??
          dispatchKey(GLOBAL_KEYS, state, undefined, input, key)
      case "help":
        return dispatchKey(HELP_KEYS, state, mode.scroll, input, key)
      case "filter":
        return dispatchKey(FILTER_KEYS, state, mode.draft, input, key)
      case "create":
        return dispatchKey(DIALOG_KEYS, state, mode.dialog, input, key)
      case "send":
        return dispatchKey(SEND_KEYS, state, mode, input, key)
      case "keys":
        return dispatchKey(KEY_PROMPT_KEYS, state, mode, input, key)
      case "confirmClose":
        return dispatchKey(CONFIRM_CLOSE_KEYS, state, mode, input, key)
    }
  })()
  return result ?? step(state)
}

export const keyPressed = (state: TuiState, input: string, key: KeyInfo): Step => {
  // Text and Enter in one chunk (a paste, a fast typist, `tmux send-keys 'hi' Enter`): the text,
  // then Enter, as if typed. Line breaks inside the text stay the field's business (spaces).
  if (TEXT_MODES.has(state.mode._tag) && !key.return && input.length > 1 && /[\r\n]$/.test(input)) {
    const typed = dispatch(state, input.replace(/[\r\n]+$/, ""), noKey)
    const entered = TEXT_MODES.has(typed.state.mode._tag) ? dispatch(typed.state, "\r", RETURN) : typed
    return { state: entered.state, commands: [...typed.commands, ...entered.commands] }
  }
  return dispatch(state, input, key)
}
