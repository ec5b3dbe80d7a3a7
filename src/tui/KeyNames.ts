/**
 * The TUI's "send a key" prompt: the key pressed, as the tmux key name the API accepts
 * (src/domain/Keys.ts), or key names typed out (`Escape`, `C-c`, `Up*3`) for the keys the prompt
 * itself uses (Esc cancels it) and for repeats. Keys with no name give undefined (nothing is sent).
 */
import { KEY_REPEAT_MAX, type KeyInput, type KeyName, NAMED_KEYS } from "../domain/Keys.js"
import type { KeyInfo } from "./Model.js"

/** The key pressed as a tmux key name; Esc is not one here (it cancels the prompt). */
export const tmuxKeyFor = (input: string, key: KeyInfo): KeyName | undefined => {
  if (key.ctrl && /^[a-z]$/i.test(input)) return `C-${input.toLowerCase()}` as KeyName
  if (key.return) return "Enter"
  if (key.tab) return key.shift ? "BTab" : "Tab"
  if (key.backspace || key.delete) return "BSpace"
  if (key.upArrow) return "Up"
  if (key.downArrow) return "Down"
  if (key.leftArrow) return "Left"
  if (key.rightArrow) return "Right"
  if (key.pageUp) return "PPage"
  if (key.pageDown) return "NPage"
  if (key.home) return "Home"
  if (key.end) return "End"
  if (input === " ") return "Space"
  return undefined
}

/** Other spellings people type for the API's names (lowercase). */
const ALIASES: Readonly<Record<string, KeyName>> = {
  esc: "Escape",
  return: "Enter",
  backspace: "BSpace",
  bs: "BSpace",
  delete: "DC",
  del: "DC",
  pgup: "PPage",
  pageup: "PPage",
  pgdn: "NPage",
  pagedown: "NPage",
  "s-tab": "BTab",
  backtab: "BTab"
}

const byLowerName = new Map<string, KeyName>(NAMED_KEYS.map((name) => [name.toLowerCase(), name]))

const keyNameOf = (word: string): KeyName | undefined => {
  const lower = word.toLowerCase()
  const ctrl = /^(?:c-|ctrl\+|\^)([a-z])$/.exec(lower)
  if (ctrl !== null) return `C-${ctrl[1]}` as KeyName
  return byLowerName.get(lower) ?? ALIASES[lower]
}

/**
 * Typed key names, separated by spaces, each with an optional repeat `*N`: `Escape`, `esc`,
 * `C-c`, `Up*3 Enter`. Any case. Either the keys or what is wrong with the text.
 */
export const parseKeyNames = (
  text: string
): { readonly keys: readonly [KeyInput, ...Array<KeyInput>] } | { readonly error: string } => {
  const words = text.trim().split(/\s+/).filter((word) => word !== "")
  const keys: Array<KeyInput> = []
  for (const word of words) {
    const match = /^(.+?)(?:\*(\d+))?$/.exec(word)!
    const name = keyNameOf(match[1]!)
    if (name === undefined) return { error: `unknown key ${JSON.stringify(match[1])}: ${KEY_NAMES_HINT}` }
    const repeat = match[2] === undefined ? 1 : Number(match[2])
    if (repeat < 1 || repeat > KEY_REPEAT_MAX) {
      return { error: `${word}: a key repeats 1 to ${KEY_REPEAT_MAX} times` }
    }
    keys.push(repeat === 1 ? name : { key: name, repeat })
  }
  const [first, ...rest] = keys
  return first === undefined ? { error: "type a key name, e.g. Escape" } : { keys: [first, ...rest] }
}

export const KEY_NAMES_HINT = `${NAMED_KEYS.join(" ")} C-a…C-z, Name*N repeats`
