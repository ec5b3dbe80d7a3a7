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

/** The modes of a terminal just reset: what an application has not changed. */
export const FRESH_MODES: TerminalModes = {
  alternateScreen: false,
  bracketedPaste: false,
  applicationCursor: false,
  applicationKeypad: false,
  mouse: "none",
  mouseSgr: false,
  mouseUtf8: false,
  insert: false,
  wrap: true,
  origin: false,
  cursorVisible: true
}

export const Cursor = Schema.Struct({ x: Count, y: Count })

export const TerminalSnapshot = Schema.Struct({
  width: Size,
  height: Size,
  /**
   * `x` is `width` when the application has just written the last column and its next character
   * goes to the next line (the pending wrap tmux and terminals keep; the cursor shows on the last
   * column).
   */
  cursor: Cursor,
  modes: TerminalModes,
  /** Rows of the scroll region, 0-based and inclusive; the whole screen when none was set. */
  scrollRegion: Schema.Struct({ top: Count, bottom: Count }),
  /** Lines above the screen (oldest first), with SGR sequences. */
  history: Schema.Array(Schema.String),
  /**
   * Rows, counted over `history` then `screen`, that continue on the next row (the application
   * wrote past the right margin): a terminal resized later rewraps them as one line, as tmux does.
   * None when absent.
   */
  continued: Schema.optionalWith(Schema.Array(Count), { exact: true }),
  /** The normal screen's `height` lines: what shows unless the alternate screen is on. */
  screen: Schema.Array(Schema.String),
  /** With the alternate screen on: its `height` lines, and where the cursor was on the normal screen. */
  alternate: Schema.optionalWith(
    Schema.Struct({ screen: Schema.Array(Schema.String), savedCursor: Cursor }),
    { exact: true }
  )
})
export type TerminalSnapshot = typeof TerminalSnapshot.Type

// Drawing a snapshot needs no Schema: it lives apart, so the web dashboard's bundle carries no `effect`.
export { replay, withoutSgr } from "./TerminalReplay.js"
