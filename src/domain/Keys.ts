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

type NamedKey = (typeof NAMED_KEYS)[number]
const NAMED: ReadonlySet<string> = new Set(NAMED_KEYS)
const KEY_HELP = `a key is one of ${NAMED_KEYS.join(", ")}, or C-<letter a-z>`

export const KeyName = Schema.String.pipe(
  Schema.filter((key): key is NamedKey | `C-${string}` => NAMED.has(key) || /^C-[a-z]$/.test(key), {
    message: (issue) => `unknown key ${JSON.stringify(issue.actual)}: ${KEY_HELP}`
  })
).annotations({ identifier: "KeyName", description: KEY_HELP })
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
    message: `bad key ${JSON.stringify(issue.actual)}: ${KEY_HELP}; or { "key": <key>, "repeat": 1-${KEY_REPEAT_MAX} }`,
    override: true
  })
})
export type KeyInput = typeof KeyInput.Type

export const toKeyPress = (input: KeyInput): KeyPress =>
  typeof input === "string" ? { key: input, repeat: 1 } : { key: input.key, repeat: input.repeat ?? 1 }
