/**
 * Key presses, per mode: the dispatch over the key tables (BrowseKeys.ts, PromptKeys.ts, Dialog.ts)
 * and the help overlay's own keys. The help overlay (`?`) and the footer are generated from these
 * same tables, so what they say is what the keys do.
 */
import { GLOBAL_KEYS, HISTORY_KEYS, PROJECTS_KEYS, SESSIONS_KEYS, VIEW_KEYS } from "./BrowseKeys.js"
import { DIALOG_KEYS } from "./Dialog.js"
import { DIFF_KEYS } from "./DiffPane.js"
import { FORK_KEYS } from "./ForkDialog.js"
import { type Cmd, type KeyInfo, noKey, type TuiState, type View } from "./Model.js"
import { CONFIRM_CLOSE_KEYS, FILTER_KEYS, KEY_PROMPT_KEYS, SEND_KEYS } from "./PromptKeys.js"
import { type Binding, browse, dispatchKey, type KeyHelp, type Step, step } from "./Steps.js"

/** The help overlay's own keys. */
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
  { title: "Changes (c)", keys: DIFF_KEYS },
  { title: "Fork dialog (f)", keys: FORK_KEYS },
  { title: "This help", keys: HELP_KEYS }
]

const helpLineCount = () => HELP_SECTIONS.reduce((n, section) => n + 1 + section.keys.length, 0)

/** The footer's keys for a view: the view's own, then those of every view (`? help` last). */
export const footerKeys = (view: View): ReadonlyArray<string> =>
  [...VIEW_KEYS[view], ...GLOBAL_KEYS].flatMap((b) => (b.footer === undefined ? [] : [b.footer]))

/** Modes with a text field, where a line break at the end of a pasted chunk is Enter. */
const TEXT_MODES: ReadonlySet<TuiState["mode"]["_tag"]> = new Set(["filter", "create", "send", "keys", "fork"])

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
      case "diff":
        return dispatchKey(DIFF_KEYS, state, mode.pane, input, key)
      case "fork":
        return dispatchKey(FORK_KEYS, state, mode.dialog, input, key)
    }
  })()
  return result ?? step(state)
}

/**
 * Keys typed while the screen was busy arrive as one chunk (`x` then `Escape` and Enter, `jj`).
 * Outside a text field a chunk this short is those key presses, one at a time, until one opens a
 * field, which takes the rest as typed text. A longer chunk there is a paste, not typing: taken as
 * keys it would run its letters as commands (an `a` attaches, `d` then `y` closes), so it does
 * nothing, as it always has.
 */
const TYPE_AHEAD_MAX = 16

const typedAhead = (state: TuiState, chars: ReadonlyArray<string>): Step => {
  const commands: Array<Cmd> = []
  let current = state
  for (let i = 0; i < chars.length; i++) {
    if (TEXT_MODES.has(current.mode._tag)) {
      const rest = chars.slice(i).join("")
      const typed = keyPressed(current, rest, rest.length === 1 ? keyOf(rest) : noKey)
      return { state: typed.state, commands: [...commands, ...typed.commands] }
    }
    const next = dispatch(current, chars[i]!, keyOf(chars[i]!))
    commands.push(...next.commands)
    current = next.state
  }
  return { state: current, commands }
}

/** The key a single character of a chunk is: Enter for a line break, else the character typed. */
const keyOf = (char: string): KeyInfo => (char === "\r" || char === "\n" ? RETURN : noKey)

export const keyPressed = (state: TuiState, input: string, key: KeyInfo): Step => {
  if (!TEXT_MODES.has(state.mode._tag) && !key.ctrl && !key.meta && input.length > 1) {
    const chars = Array.from(input)
    if (chars.length <= TYPE_AHEAD_MAX) return typedAhead(state, chars)
  }
  // Text and Enter in one chunk (a paste, a fast typist, `tmux send-keys 'hi' Enter`): the text,
  // then Enter, as if typed. Line breaks inside the text stay the field's business (spaces).
  if (TEXT_MODES.has(state.mode._tag) && !key.return && input.length > 1 && /[\r\n]$/.test(input)) {
    const typed = dispatch(state, input.replace(/[\r\n]+$/, ""), noKey)
    const entered = TEXT_MODES.has(typed.state.mode._tag) ? dispatch(typed.state, "\r", RETURN) : typed
    return { state: entered.state, commands: [...typed.commands, ...entered.commands] }
  }
  return dispatch(state, input, key)
}
