import { Schema } from "effect"

/** Named keys the daemon will send; anything else is refused before tmux sees it. */
export const NAMED_KEYS = [
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

const KEY_HELP = `a key is one of ${NAMED_KEYS.join(", ")}, or C-<letter a-z>`

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
