/**
 * A pane's terminal as a person attached with `tmux attach` sees it: its lines with their colours
 * and attributes (SGR sequences as `capture-pane -e` writes them), the cursor, the size, and the
 * modes the application set. `replay` turns it into the bytes that draw it on a fresh terminal
 * emulator of the same size (xterm.js in the dashboard, the user's own terminal in `telemux
 * attach`); the pane's output after the snapshot then applies on top of it.
 */
import { Schema } from "effect"

const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative())
const Size = Schema.Number.pipe(Schema.int(), Schema.between(1, 10_000))

export const MouseTracking = Schema.Literal("none", "x10", "normal", "button", "any")
export type MouseTracking = typeof MouseTracking.Type

export const TerminalModes = Schema.Struct({
  /** The application switched to the alternate screen (a full-screen program: vim, htop, an agent's UI). */
  alternateScreen: Schema.Boolean,
  /** Pasted text is to be wrapped in ESC[200~ … ESC[201~ (DECSET 2004). */
  bracketedPaste: Schema.Boolean,
  /** Cursor keys send ESC O A… instead of ESC [ A… (DECCKM). */
  applicationCursor: Schema.Boolean,
  /** The keypad sends application sequences (DECKPAM). */
  applicationKeypad: Schema.Boolean,
  mouse: MouseTracking,
  /** Mouse reports in SGR form (1006) / UTF-8 form (1005). */
  mouseSgr: Schema.Boolean,
  mouseUtf8: Schema.Boolean,
  insert: Schema.Boolean,
  /** Auto-wrap at the right margin (DECAWM); on in a fresh terminal. */
  wrap: Schema.Boolean,
  /** Cursor addressing relative to the scroll region (DECOM). */
  origin: Schema.Boolean,
  cursorVisible: Schema.Boolean
})
export type TerminalModes = typeof TerminalModes.Type

export const Cursor = Schema.Struct({ x: Count, y: Count })

export const TerminalSnapshot = Schema.Struct({
  width: Size,
  height: Size,
  cursor: Cursor,
  modes: TerminalModes,
  /** Rows of the scroll region, 0-based and inclusive; the whole screen when none was set. */
  scrollRegion: Schema.Struct({ top: Count, bottom: Count }),
  /** Lines above the screen (oldest first), with SGR sequences. */
  history: Schema.Array(Schema.String),
  /** The normal screen's `height` lines: what shows unless the alternate screen is on. */
  screen: Schema.Array(Schema.String),
  /** With the alternate screen on: its `height` lines, and where the cursor was on the normal screen. */
  alternate: Schema.optionalWith(
    Schema.Struct({ screen: Schema.Array(Schema.String), savedCursor: Cursor }),
    { exact: true }
  )
})
export type TerminalSnapshot = typeof TerminalSnapshot.Type

const ESC = "\x1b"
const CSI = `${ESC}[`

/** Cursor to 0-based (x, y). */
const moveTo = (x: number, y: number) => `${CSI}${y + 1};${x + 1}H`

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[([0-9;:]*)m/g

/**
 * Writes `lines` from the cursor's row down, each from column 0; no line feed after the last.
 * `capture-pane -e` carries attributes from one line into the next, but a line feed that scrolls
 * fills the new line with the current background: so each line ends with a reset, and the next
 * one starts by setting again what was in force (the SGR sequences since the last reset).
 */
const drawLines = (lines: ReadonlyArray<string>) => {
  let inForce = ""
  const drawn: Array<string> = []
  for (const line of lines) {
    drawn.push(`${inForce}${line}${CSI}0m`)
    for (const match of line.matchAll(SGR)) {
      const params = match[1]!
      inForce = params === "" || params === "0" ? "" : /^0?;/.test(params) ? match[0] : inForce + match[0]
    }
  }
  return drawn.join("\r\n")
}

/**
 * The bytes that make a fresh terminal of the snapshot's size show exactly the snapshot: history
 * scrolled into the scrollback, the screen, the modes, the cursor. Starts with a full reset (RIS),
 * so it may also be written over whatever a terminal showed before.
 */
export const replay = (snapshot: TerminalSnapshot): string => {
  const { cursor, height, modes, scrollRegion } = snapshot
  const parts: Array<string> = [`${ESC}c`]
  // the normal screen: history lines scroll off the top into the scrollback as they are written
  parts.push(drawLines([...snapshot.history, ...snapshot.screen]))
  if (snapshot.alternate !== undefined) {
    // 1049 saves the cursor on the normal screen and clears the alternate one
    const saved = snapshot.alternate.savedCursor
    parts.push(moveTo(saved.x, saved.y), `${CSI}?1049h`, `${CSI}H`, drawLines(snapshot.alternate.screen))
  }
  if (scrollRegion.top !== 0 || scrollRegion.bottom !== height - 1) {
    parts.push(`${CSI}${scrollRegion.top + 1};${scrollRegion.bottom + 1}r`)
  }
  if (modes.origin) parts.push(`${CSI}?6h`)
  parts.push(moveTo(cursor.x, modes.origin ? cursor.y - scrollRegion.top : cursor.y))
  if (!modes.wrap) parts.push(`${CSI}?7l`)
  if (modes.insert) parts.push(`${CSI}4h`)
  if (modes.applicationCursor) parts.push(`${CSI}?1h`)
  if (modes.applicationKeypad) parts.push(`${ESC}=`)
  if (modes.bracketedPaste) parts.push(`${CSI}?2004h`)
  const tracking = { none: undefined, x10: 9, normal: 1000, button: 1002, any: 1003 }[modes.mouse]
  if (tracking !== undefined) parts.push(`${CSI}?${tracking}h`)
  if (modes.mouseSgr) parts.push(`${CSI}?1006h`)
  if (modes.mouseUtf8) parts.push(`${CSI}?1005h`)
  if (!modes.cursorVisible) parts.push(`${CSI}?25l`)
  return parts.join("")
}
