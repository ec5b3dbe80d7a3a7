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

export const KeyName = Schema.Union(
  Schema.Literal(...NAMED_KEYS),
  Schema.TemplateLiteral("C-", Schema.String).pipe(
    Schema.pattern(/^C-[a-z]$/, { message: () => "a control key is C- and one letter a-z" })
  )
).annotations({
  identifier: "KeyName",
  description: `one of ${NAMED_KEYS.join(", ")}, or C-<letter>`,
  message: () => `unknown key: use one of ${NAMED_KEYS.join(", ")}, or C-<letter>`
})
export type KeyName = typeof KeyName.Type

/** Most presses of one key in a single request item (BSpace×N, arrows×N). */
export const KEY_REPEAT_MAX = 200

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
)
export type KeyInput = typeof KeyInput.Type

export const toKeyPress = (input: KeyInput): KeyPress =>
  typeof input === "string" ? { key: input, repeat: 1 } : { key: input.key, repeat: input.repeat ?? 1 }
