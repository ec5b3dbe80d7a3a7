/** The keys of the prompts: the filter, the text to send, the key to send, the question before closing. */
import { editField } from "./Field.js"
import { parseKeyNames, tmuxKeyFor } from "./KeyNames.js"
import type { TuiState } from "./Model.js"
import { type Binding, browse, type KeyHelp, notice, settle, type Step, step, withSessionUi } from "./Steps.js"

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
    run: (s) => step(notice(browse(s), "info", "no key sent (x to pick one; s sends text)"))
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
        ? step(notice(browse(s), "info", "that key has no name tmux knows: no key sent (? lists the keys)"))
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
