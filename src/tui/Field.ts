/** One-line text fields (filter, directory, text to send): typing, pasting, Backspace, Ctrl+U. */
import { FIELD_MAX_CHARS, type KeyInfo } from "./Model.js"

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g

/** The field's text after a key press; keys that do not edit leave it as it was. */
export const editField = (text: string, input: string, key: KeyInfo): string => {
  if (key.backspace || key.delete) return Array.from(text).slice(0, -1).join("")
  if (key.ctrl && input === "u") return ""
  if (key.ctrl && input === "w") return text.replace(/\S+\s*$/, "")
  if (key.ctrl || key.meta || key.tab || key.return || key.escape) return text
  if (key.upArrow || key.downArrow || key.leftArrow || key.rightArrow) return text
  // A paste arrives as one chunk; its line breaks become spaces (Enter sends the field).
  const typed = input.replace(/\r\n|\r|\n|\t/g, " ").replace(CONTROL, "")
  return (text + typed).slice(0, FIELD_MAX_CHARS)
}
