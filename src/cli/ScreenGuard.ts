/**
 * The session's bytes go to the person's own terminal as they are, on the alternate screen that
 * `telemux attach --via stream` switched to, so that detaching gives back the screen and
 * scrollback the person had. A few sequences would reach past that screen; they are rewritten on
 * the way:
 *
 * - the session's own alternate screen (`CSI ? 1049 h`, 1047, 47; vim, less, an agent's UI):
 *   switching on becomes "save the cursor, clear" (it is already the alternate screen); switching
 *   off would show the person's own screen, so it is dropped with the rest of the chunk, and the
 *   caller redraws the session's screen from a fresh snapshot (`left`);
 * - a full reset (RIS, `ESC c`: `reset`, and the first bytes of every replayed snapshot) leaves the
 *   alternate screen on some terminals and may clear their scrollback: it becomes SOFT_RESET;
 * - erasing the scrollback (`CSI 3 J`, which `clear` writes) would erase the person's: dropped.
 *
 * A sequence cut between two chunks is held back (`pending`) until the rest arrives.
 */

const ESC = 0x1b

/**
 * What a fresh terminal would be, short of RIS: a sequence the session left unfinished cancelled
 * (CAN: an OSC cut off by the end of the stream would swallow what follows), attributes, scroll
 * region, origin, wrap, insert, cursor keys, keypad, bracketed paste, mouse tracking and its
 * encodings, focus events, modifyOtherKeys, the cursor shown. Written before every snapshot (as
 * SOFT_RESET) and when the attach ends, so nothing the session turned on stays on in the person's
 * terminal.
 */
export const MODES_RESET = "\x18\x1b[0m\x1b[r\x1b[?6l\x1b[?7h\x1b[4l\x1b[?1l\x1b>\x1b[?2004l" +
  "\x1b[?9l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1004l\x1b[?25h\x1b[>4m"
export const SOFT_RESET = `${MODES_RESET}\x1b[H\x1b[2J`

/** The person's own screen saved (with the cursor), the alternate screen cleared: the attach starts. */
export const ENTER_SCREEN = "\x1b[?1049h\x1b[H\x1b[2J"
/** What the session turned on turned off, then the person's own screen back: the attach ends. */
export const LEAVE_SCREEN = `${MODES_RESET}\x1b[?1049l`

/** DECSC then erase the screen: the alternate screen's "switch on" inside ours. */
const ALTERNATE_ON = "\x1b7\x1b[2J"
const ALTERNATE_MODES = new Set(["47", "1047", "1049"])
/** A sequence longer than this without its final byte is not one to hold back. */
const PENDING_MAX = 64

export interface GuardResult {
  /** The bytes to write. */
  readonly output: Uint8Array
  /** An incomplete sequence at the chunk's end, to put before the next chunk. */
  readonly pending: Uint8Array
  /** The session left its alternate screen: what followed was dropped; redraw from a snapshot. */
  readonly left: boolean
}

const latin1 = (text: string) => Buffer.from(text, "latin1")
const isFinal = (byte: number) => byte >= 0x40 && byte <= 0x7e

/** `CSI ? Pm h|l` with an alternate-screen mode among Pm: the rewrite, and whether it switches off. */
const privateMode = (
  sequence: Uint8Array
): { readonly replacement: Uint8Array; readonly leaves: boolean } | undefined => {
  const text = Buffer.from(sequence).toString("latin1")
  // eslint-disable-next-line no-control-regex
  const match = /^\x1b\[\?([0-9;]*)([hl])$/.exec(text)
  if (match === null) return undefined
  const modes = match[1]!.split(";")
  if (!modes.some((mode) => ALTERNATE_MODES.has(mode))) return undefined
  const others = modes.filter((mode) => !ALTERNATE_MODES.has(mode) && mode !== "")
  const rest = others.length > 0 ? `\x1b[?${others.join(";")}${match[2]}` : ""
  const on = match[2] === "h"
  return { replacement: latin1(on ? rest + ALTERNATE_ON : rest), leaves: !on }
}

/** Filters `chunk` (after the previous call's `pending`) for the person's terminal. */
export const guardScreen = (pending: Uint8Array, chunk: Uint8Array): GuardResult => {
  const bytes = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
  const parts: Array<Uint8Array> = []
  let copied = 0
  let i = bytes.indexOf(ESC)
  const done = (end: number, rest: Uint8Array, left: boolean): GuardResult => {
    parts.push(bytes.subarray(copied, end))
    return { output: parts.length === 1 ? parts[0]! : Buffer.concat(parts), pending: rest, left }
  }
  while (i >= 0) {
    if (i + 1 >= bytes.length) return done(i, bytes.subarray(i), false)
    const next = bytes[i + 1]!
    if (next === 0x63) { // ESC c
      parts.push(bytes.subarray(copied, i), latin1(SOFT_RESET))
      copied = i + 2
    } else if (next === 0x5b) { // ESC [
      let end = i + 2
      while (end < bytes.length && !isFinal(bytes[end]!)) end++
      if (end >= bytes.length) {
        if (end - i <= PENDING_MAX) return done(i, bytes.subarray(i), false)
        break
      }
      const sequence = bytes.subarray(i, end + 1)
      const mode = privateMode(sequence)
      if (mode !== undefined) {
        parts.push(bytes.subarray(copied, i), mode.replacement)
        copied = end + 1
        if (mode.leaves) return done(copied, new Uint8Array(0), true)
      } else if (sequence.length === 4 && sequence[2] === 0x33 && sequence[3] === 0x4a) { // CSI 3 J
        parts.push(bytes.subarray(copied, i))
        copied = end + 1
      }
    }
    i = bytes.indexOf(ESC, i + 1)
  }
  return done(bytes.length, new Uint8Array(0), false)
}
