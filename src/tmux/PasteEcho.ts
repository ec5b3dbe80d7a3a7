/**
 * Telling, from a pane's output, that an application has shown a paste: its echo includes the
 * paste's last few visible characters. Terminal UIs draw with escape sequences, wrap long lines
 * inside frames and pad with spaces, so both sides are compared as visible characters only —
 * no escape sequences, controls, whitespace or box-drawing.
 */

/** Characters of the paste's end looked for in the echo: enough to be the paste's, few enough not to wrap. */
export const PASTE_TAIL_LENGTH = 8

/** Visible characters the echo is searched in, kept across outputs (an echo may come in pieces). */
const SEEN_MAX = 512

const ESCAPES =
  // CSI (with its parameters), OSC and DCS/APC/PM strings (ended by BEL or ST), other escapes (with
  // intermediates: a charset's `ESC ( B`)
  // eslint-disable-next-line no-control-regex
  /\u001b\[[0-?]*[ -/]*[@-~]|\u001b[\]P^_][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[ -/]*[0-~]?/g

/** Controls, whitespace (any), box-drawing and block elements (U+2500–U+259F): drawn around text, not text. */
// eslint-disable-next-line no-control-regex
const NOT_TEXT = /[\u0000-\u0020\u007f-\u009f\s\u2500-\u259f]/gu

/** What of `data` a person would read as text, with nothing between its characters. */
export const visibleText = (data: string): string => data.replace(ESCAPES, "").replace(NOT_TEXT, "")

/**
 * The characters whose echo means the paste has been shown: the end of its last line that has any
 * visible character, at most PASTE_TAIL_LENGTH of them; undefined when the paste shows nothing.
 */
export const pasteTail = (text: string): string | undefined => {
  const lines = text.split(/\r\n|\r|\n/)
  for (let i = lines.length - 1; i >= 0; i--) {
    const visible = [...visibleText(lines[i]!)]
    if (visible.length > 0) return visible.slice(-PASTE_TAIL_LENGTH).join("")
  }
  return undefined
}

/** A pane's visible output since a point, kept short, searched for a paste's tail. */
export interface EchoWatch {
  /** Adds an output; true once the tail has been seen in what was added so far. */
  readonly add: (data: string) => boolean
}

export const watchEcho = (tail: string): EchoWatch => {
  let seen = ""
  return {
    add: (data) => {
      seen = (seen + visibleText(data)).slice(-SEEN_MAX)
      return seen.includes(tail)
    }
  }
}
