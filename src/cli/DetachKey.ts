/**
 * The key that ends `telemux attach --via stream` (the session keeps running). Every other byte
 * the person types goes to the session, so it is one Ctrl key that terminals pass through and
 * shells rarely need: Ctrl+] by default, as telnet's escape. `--detach-key` or
 * TELEMUX_DETACH_KEY choose another, written as tmux writes keys: `C-]`, `C-q`, `C-\`…
 */
import { Either } from "effect"

export interface DetachKey {
  /** The byte a terminal sends for it (a C0 control character). */
  readonly byte: number
  /** As a person reads it: `Ctrl+]`. */
  readonly name: string
}

export const DEFAULT_DETACH_KEY = "C-]"

/** Keys a terminal sends for other keys (or as the start of them): refused as a detach key. */
const TAKEN: Readonly<Record<string, string>> = {
  "[": "it is Escape, which starts every arrow and function key",
  i: "it is Tab",
  j: "it is a line feed (Enter on some terminals)",
  m: "it is Enter",
  h: "it is Backspace on some terminals"
}

export const DETACH_KEY_HINT = "give a Ctrl key as C-<key>: C-a … C-z, C-\\, C-], C-^, C-_ or C-@ (e.g. C-] or C-q)"

/** `C-]`, `c-]`, `Ctrl-]`, `Ctrl+]` or `^]` → the key; Left: what is wrong, to show after the value. */
export const parseDetachKey = (text: string): Either.Either<DetachKey, string> => {
  const match = /^(?:c-|ctrl[-+]|\^)(.)$/i.exec(text.trim())
  if (match === null) return Either.left(DETACH_KEY_HINT)
  const key = match[1]!.toLowerCase()
  const taken = TAKEN[key]
  if (taken !== undefined) return Either.left(`${taken}; ${DETACH_KEY_HINT}`)
  const code = key.toUpperCase().charCodeAt(0)
  // Ctrl clears bit 6 of @ A–Z [ \ ] ^ _ (0x40–0x5f): NUL and 0x01–0x1f
  if (code < 0x40 || code > 0x5f) return Either.left(DETACH_KEY_HINT)
  return Either.right({ byte: code ^ 0x40, name: `Ctrl+${key}` })
}

/**
 * The ways a terminal may send the key besides its byte: the key's code point with the Ctrl
 * modifier (5) in kitty's keyboard protocol (`CSI 93;5u`) and xterm's modifyOtherKeys
 * (`CSI 27;5;93~`), which a program in the session may have turned on.
 */
const encodings = (key: DetachKey): ReadonlyArray<Uint8Array> => {
  const codePoint = String.fromCharCode(key.byte ^ 0x40).toLowerCase().charCodeAt(0)
  return [`\x1b[${codePoint};5u`, `\x1b[27;5;${codePoint}~`].map((text) => Buffer.from(text, "latin1"))
}

export interface KeystrokeRead {
  /** What goes to the session: the bytes before the detach key (all of them without it). */
  readonly keys: Uint8Array
  readonly detach: boolean
}

const PASTE_START = Buffer.from("\x1b[200~", "latin1")
const PASTE_END = Buffer.from("\x1b[201~", "latin1")

/** Whether `sequence` starts at `at` of `chunk`. */
const startsAt = (chunk: Uint8Array, at: number, sequence: Uint8Array) => {
  if (at + sequence.length > chunk.length) return false
  for (let i = 0; i < sequence.length; i++) if (chunk[at + i] !== sequence[i]) return false
  return true
}

/**
 * Reads of stdin, each cut at the first detach key — except inside a bracketed paste: a pasted
 * text that holds the key's byte is sent whole, it does not detach (the terminal marks pastes so
 * once the program in the session asked for it). The paste's state carries over from one read to
 * the next; a marker cut between two reads is rare enough to be left to the next marker.
 */
export const makeDetachScanner = (key: DetachKey) => {
  const sequences = encodings(key)
  let inPaste = false
  return (chunk: Uint8Array): KeystrokeRead => {
    for (let at = 0; at < chunk.length; at++) {
      const byte = chunk[at]!
      if (byte === 0x1b) {
        if (startsAt(chunk, at, PASTE_START)) {
          inPaste = true
          at += PASTE_START.length - 1
          continue
        }
        if (startsAt(chunk, at, PASTE_END)) {
          inPaste = false
          at += PASTE_END.length - 1
          continue
        }
      }
      if (inPaste) continue
      if (byte === key.byte || (byte === 0x1b && sequences.some((sequence) => startsAt(chunk, at, sequence)))) {
        return { keys: chunk.subarray(0, at), detach: true }
      }
    }
    return { keys: chunk, detach: false }
  }
}

/** One read of stdin on its own (no paste before it), cut at the first detach key: what is typed after it is not sent. */
export const splitAtDetachKey = (chunk: Uint8Array, key: DetachKey): KeystrokeRead => makeDetachScanner(key)(chunk)
