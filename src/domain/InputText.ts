import { Schema } from "effect"

/**
 * Text the daemon pastes into a pane (tmux buffer + `paste-buffer -p`), by character class:
 *
 * - NUL (U+0000) is refused: tmux's `set-buffer` takes the text as a C string and cuts it there.
 * - A lone UTF-16 surrogate is refused: it has no UTF-8 encoding (it would arrive as U+FFFD).
 * - A bracketed-paste marker is refused: `ESC[200~` / `ESC[201~`, the 8-bit CSI forms
 *   (U+009B `200~` / `201~`), and every spelling a terminal parser reads as one of them (see
 *   `findPasteMarker`). An end marker inside a bracketed paste ends it early, and whatever
 *   follows arrives as typed keys: a newline after it runs a command in a shell.
 * - Everything else is delivered as is, control characters included (TAB, CR, ESC, C-c…).
 *   Sessions.sendText sends CRLF as one line end, and tmux's paste turns each LF into CR.
 */

const NUL = 0x00
const ESC = 0x1b
const CAN = 0x18
const SUB = 0x1a
const DEL = 0x7f
const CSI_8BIT = 0x9b
const LEFT_BRACKET = 0x5b
const TILDE = 0x7e

/**
 * Characters an ECMA-48 (VT500) parser acts on without leaving the sequence it is reading: C0
 * controls are executed in place, DEL is ignored. CAN and SUB cancel the sequence; ESC starts a
 * new one (checked from its own position).
 */
const keepsSequence = (c: number) => (c < 0x20 && c !== ESC && c !== CAN && c !== SUB) || c === DEL

/** Where the CSI that starts at `i` (ESC `[` or U+009B) has its first parameter byte, or -1. */
const csiParametersAt = (text: string, i: number): number => {
  const c = text.charCodeAt(i)
  if (c === CSI_8BIT) return i + 1
  if (c !== ESC) return -1
  let j = i + 1
  while (j < text.length && keepsSequence(text.charCodeAt(j))) j++
  return text.charCodeAt(j) === LEFT_BRACKET ? j + 1 : -1
}

/**
 * The end (exclusive) of a bracketed-paste marker starting at `i`, or -1: a CSI whose final byte
 * is `~` and whose first parameter is 200 or 201 as a number — so leading zeros, further
 * parameters (`;…`, `:…`), private markers, intermediates and controls inside the sequence
 * still count. Stricter than any one application (readline matches the exact bytes), so that
 * no application's parser finds a marker the check missed.
 */
const pasteMarkerEndAt = (text: string, i: number): number => {
  let j = csiParametersAt(text, i)
  if (j < 0) return -1
  let first = 0
  let digits = 0
  let inFirst = true
  for (; j < text.length; j++) {
    const c = text.charCodeAt(j)
    if (c >= 0x30 && c <= 0x39) {
      if (inFirst) {
        // capped: only 200 and 201 matter, and a run of digits must not overflow
        first = Math.min(first * 10 + (c - 0x30), 1000)
        digits++
      }
    } else if (c === 0x3a || c === 0x3b) {
      inFirst = false
    } else if (!((c >= 0x3c && c <= 0x3f) || (c >= 0x20 && c <= 0x2f) || keepsSequence(c))) {
      break
    }
  }
  return text.charCodeAt(j) === TILDE && digits > 0 && (first === 200 || first === 201) ? j + 1 : -1
}

/** The first bracketed-paste marker in `text` (start inclusive, end exclusive), or undefined. */
export const findPasteMarker = (text: string): { readonly start: number; readonly end: number } | undefined => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c !== ESC && c !== CSI_8BIT) continue
    const end = pasteMarkerEndAt(text, i)
    if (end >= 0) return { start: i, end }
  }
  return undefined
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff

/** Index of the first lone surrogate, or -1. */
const loneSurrogateAt = (text: string): number => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (isHighSurrogate(c)) {
      if (isLowSurrogate(text.charCodeAt(i + 1))) i++
      else return i
    } else if (isLowSurrogate(c)) return i
  }
  return -1
}

const hex = (c: number) => c.toString(16).toUpperCase().padStart(4, "0")

/** A sequence written so a person can find it in their text: ESC, U+009B and other controls spelled out. */
const visible = (sequence: string) =>
  Array.from(sequence, (char) => {
    const c = char.charCodeAt(0)
    if (c === ESC) return "ESC"
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) ? `<U+${hex(c)}>` : char
  }).join("")

const MARKER_SHOWN_MAX = 40

/** Why `text` cannot be pasted exactly (naming what to remove and where), or undefined when it can. */
export const inputTextProblem = (text: string, name: string = "text"): string | undefined => {
  const nul = text.indexOf(String.fromCharCode(NUL))
  const lone = loneSurrogateAt(text)
  const marker = findPasteMarker(text)
  // the first problem in the text, so fixing them in order converges
  const first = Math.min(
    nul < 0 ? Infinity : nul,
    lone < 0 ? Infinity : lone,
    marker === undefined ? Infinity : marker.start
  )
  if (first === Infinity) return undefined
  if (first === nul) {
    return `${name} contains a NUL character (U+0000) at index ${nul}: tmux cannot paste it (the text would be cut there); remove it`
  }
  if (first === lone) {
    return `${name} contains a lone UTF-16 surrogate (U+${hex(text.charCodeAt(lone))}) at index ${lone}, ` +
      "which has no UTF-8 encoding; remove it or complete the pair"
  }
  const shown = visible(text.slice(marker!.start, Math.min(marker!.end, marker!.start + MARKER_SHOWN_MAX)))
  return `${name} contains the bracketed-paste marker ${shown} at index ${
    marker!.start
  }: it would end the paste early ` +
    "and the rest would arrive as typed keys; remove it"
}

/** Text that can be pasted into a pane exactly as given (the rules are at the top of this module). */
export const InputText = Schema.String.pipe(
  Schema.filter((text) => inputTextProblem(text), {
    identifier: "InputText",
    description: "Typed literally. Refused: NUL (U+0000), lone UTF-16 surrogates, and bracketed-paste markers " +
      "(ESC[200~, ESC[201~, their 8-bit forms U+009B 200~ / 201~, and other spellings a terminal parser reads as " +
      "one). CRLF is sent as one line end; every other character, control characters included, reaches the pane as is.",
    // no JSON Schema keyword says this; without an entry the generator would drop the description too
    jsonSchema: {}
  })
)
export type InputText = typeof InputText.Type

// ---------------------------------------------------------------------------
// Notices the daemon types itself

/** Longest notice, in code points (the typed line stays readable and bounded). */
export const NOTICE_MAX_CHARS = 400

/**
 * Escape sequences, 7-bit (ESC …) or 8-bit (C1): CSI up to its final byte; OSC, DCS, SOS, PM and
 * APC strings up to their terminator (BEL, ESC \ or ST) when they have one; any other ESC with its
 * intermediates and final byte. These are removed whole; what is left (a lone ESC, a broken
 * sequence, an unterminated string's text) is handled character by character afterwards.
 */
const ESCAPE_SEQUENCE = new RegExp(
  [
    "(?:\\u001b\\[|\\u009b)[\\u0020-\\u003f]*[\\u0040-\\u007e]",
    // the body stops at any ESC or C1, so each introducer scans only up to the next one (linear)
    "(?:\\u001b[\\]PX^_]|[\\u0090\\u0098\\u009d\\u009e\\u009f])[^\\u0007\\u001b\\u0080-\\u009f]*(?:\\u0007|\\u001b\\\\|\\u009c)",
    "\\u001b[\\u0020-\\u002f]*[\\u0030-\\u007e]"
  ].join("|"),
  "g"
)

/** Controls (C0, DEL, C1), line and paragraph separators, and bidi embeddings/overrides/isolates. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NOT_PRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/**
 * A notice the daemon types into a listener's pane: one line of printable text. Escape sequences
 * are removed, every other control character (C0, DEL, C1) becomes a space, lone surrogates
 * become U+FFFD, runs of white space one space; at most `max` code points (never cutting a pair).
 * The result holds no ESC and no C1 at all, so no bracketed-paste marker can survive in it or be
 * formed by what is removed.
 */
export const sanitiseNotice = (text: string, max: number = NOTICE_MAX_CHARS): string => {
  const flat = text
    .replace(ESCAPE_SEQUENCE, "")
    .replace(NOT_PRINTABLE, " ")
    .replace(LONE_SURROGATE, "\ufffd")
    .replace(/\s+/g, " ")
    .trim()
  const chars = Array.from(flat)
  return chars.length <= max ? flat : chars.slice(0, Math.max(0, max - 1)).join("").trimEnd() + "…"
}
