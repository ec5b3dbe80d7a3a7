/** One-line text fields (filter, directory, text to send): typing, pasting, Backspace, Ctrl+U. */
import { FIELD_MAX_CHARS, type KeyInfo, noKey } from "./Model.js"

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g

/** The editing keys a chunk of input can hold, as the single key presses they are. */
const EDITING_KEYS: Readonly<Record<string, { readonly input: string; readonly key: KeyInfo }>> = {
  "\u0015": { input: "u", key: { ...noKey, ctrl: true } },
  "\u0017": { input: "w", key: { ...noKey, ctrl: true } },
  "\u007f": { input: "", key: { ...noKey, backspace: true } },
  "\u0008": { input: "", key: { ...noKey, backspace: true } }
}
// eslint-disable-next-line no-control-regex
const EDITING = /([\u0015\u0017\u007f\u0008])/

/** The field's text after a key press; keys that do not edit leave it as it was. */
export const editField = (text: string, input: string, key: KeyInfo): string => {
  if (key.backspace || key.delete) return Array.from(text).slice(0, -1).join("")
  if (key.ctrl && input === "u") return ""
  if (key.ctrl && input === "w") return text.replace(/\S+\s*$/, "")
  if (key.ctrl || key.meta || key.tab || key.return || key.escape) return text
  if (key.upArrow || key.downArrow || key.leftArrow || key.rightArrow) return text
  // Keys typed while the screen was busy arrive as one chunk (Ctrl+U, then the new text): its
  // editing keys act where they come in it, as they would have one at a time.
  if (input.length > 1 && EDITING.test(input)) {
    // the text between them goes in as a paste; each editing key as its own press
    return input.split(EDITING).reduce((out, part) => {
      const press = EDITING_KEYS[part]
      return press === undefined ? editField(out, part, noKey) : editField(out, press.input, press.key)
    }, text)
  }
  // A paste arrives as one chunk; its line breaks become spaces (Enter sends the field).
  const typed = input.replace(/\r\n|\r|\n|\t/g, " ").replace(CONTROL, "")
  return (text + typed).slice(0, FIELD_MAX_CHARS)
}
