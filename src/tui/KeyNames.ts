/**
 * The TUI's "send a key" mode: the key pressed, as the tmux key name the API accepts
 * (src/domain/Keys.ts). Keys with no such name give undefined (nothing is sent).
 */
import type { KeyInfo } from "./Model.js"

export const tmuxKeyFor = (input: string, key: KeyInfo): string | undefined => {
  if (key.ctrl && /^[a-z]$/i.test(input)) return `C-${input.toLowerCase()}`
  if (key.return) return "Enter"
  if (key.escape) return "Escape"
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

/** What the keys mode offers, for its hint line. */
export const KEYS_HINT = "Ctrl+<letter>, Enter, Esc, Tab, Shift+Tab, Backspace, arrows, PgUp/PgDn, Home/End, Space"
