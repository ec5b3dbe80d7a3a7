import { Schema } from "effect"

/** Function keys, as tmux names them. */
export const FUNCTION_KEYS = ["F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12"] as const

/** Named keys other than the function keys. */
export const EDITING_KEYS = [
  "Enter",
  "Escape",
  "Tab",
  "BTab",
  "BSpace",
  "Up",
  "Down",
  "Left",
  "Right",
  "Home",
  "End",
  "PPage",
  "NPage",
  "DC",
  "Space"
] as const

/** Named keys the daemon will send (tmux's names); anything else is refused before tmux sees it. */
export const NAMED_KEYS = [...EDITING_KEYS, ...FUNCTION_KEYS] as const

const KEY_HELP = `a key is one of ${EDITING_KEYS.join(", ")}, F1-F12, C-<letter a-z>, or M-<letter or digit>`

/** The refused value as a refusal quotes it: whole when short, cut when long (a refusal must not echo megabytes). */
const quoted = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 80 ? `${text.slice(0, 80)}… (${text.length} characters)` : text
}

/** `C-<letter>`: Ctrl with a lowercase letter. */
const CTRL_LETTERS = [
  "a",
  "b",
  "c",
  "d",
  "e",
  "f",
  "g",
  "h",
  "i",
  "j",
  "k",
  "l",
  "m",
  "n",
  "o",
  "p",
  "q",
  "r",
  "s",
  "t",
  "u",
  "v",
  "w",
  "x",
  "y",
  "z"
] as const

/** `M-<key>`: Meta (Alt) with a letter (case matters: M-X is Alt+Shift+x) or a digit. */
const META_KEYS = [
  ...CTRL_LETTERS,
  ...CTRL_LETTERS.map((letter) => letter.toUpperCase() as Uppercase<typeof letter>),
  "0",
  "1",
  "2",
  "3",
  "4",
  "5",
  "6",
  "7",
  "8",
  "9"
] as const

/**
 * The accepted names written as a schema (an enum and a pattern), not as a predicate, so that
 * OpenAPI lists them. The message is the union's own: a name is checked as a whole, so a refusal
 * names the key and the accepted set instead of each alternative's mismatch.
 */
export const KeyName = Schema.Union(
  Schema.Literal(...NAMED_KEYS),
  Schema.TemplateLiteral("C-", Schema.Literal(...CTRL_LETTERS)).annotations({
    title: "C-<letter>",
    description: "Ctrl plus a lowercase letter a-z"
  }),
  Schema.TemplateLiteral("M-", Schema.Literal(...META_KEYS)).annotations({
    title: "M-<key>",
    description: "Meta (Alt) plus a letter a-z or A-Z (Alt+Shift) or a digit 0-9"
  })
).annotations({
  identifier: "KeyName",
  description: KEY_HELP,
  message: (issue) => ({
    message: typeof issue.actual === "string"
      ? `unknown key ${quoted(issue.actual)}: ${KEY_HELP}`
      : `Expected string, actual ${quoted(issue.actual)}`,
    override: true
  })
})
export type KeyName = typeof KeyName.Type

/** Most presses of one key in a single request item (BSpace×N, arrows×N). */
export const KEY_REPEAT_MAX = 200
/** Most presses in one request, repeats counted (they go to tmux as one command). */
export const KEY_PRESSES_MAX = 1000

export const KeyPress = Schema.Struct({
  key: KeyName,
  repeat: Schema.Int.pipe(Schema.between(1, KEY_REPEAT_MAX))
}).annotations({ identifier: "KeyPress" })
export type KeyPress = typeof KeyPress.Type

/** On the wire a key is its name, or `{ key, repeat }`. */
export const KeyInput = Schema.Union(
  KeyName,
  Schema.Struct({ key: KeyName, repeat: Schema.optional(KeyPress.fields.repeat) }).annotations({
    parseOptions: { onExcessProperty: "error" }
  })
).annotations({
  identifier: "KeyInput",
  message: (issue) => ({
    message: `bad key ${quoted(issue.actual)}: ${KEY_HELP}; or { "key": <key>, "repeat": 1-${KEY_REPEAT_MAX} }`,
    override: true
  })
})
export type KeyInput = typeof KeyInput.Type

export const toKeyPress = (input: KeyInput): KeyPress =>
  typeof input === "string" ? { key: input, repeat: 1 } : { key: input.key, repeat: input.repeat ?? 1 }
