/**
 * A headless terminal emulator (xterm.js, the one the dashboard runs) for tests that replay a
 * pane's snapshot and output into it and compare what it shows: text, colours and attributes per
 * cell, the cursor and the modes.
 */
import * as xtermModule from "@xterm/headless"
import type { IBuffer, IBufferCell, Terminal as XTerminal } from "@xterm/headless"
import { Effect } from "effect"

// The package is CommonJS: under Node's ESM loader its classes sit on the default export.
const xterm =
  ("Terminal" in xtermModule ? xtermModule : (xtermModule as { default: unknown }).default) as typeof xtermModule

export type Terminal = XTerminal

export const makeTerminal = (cols: number, rows: number, scrollback = 10_000): Terminal =>
  new xterm.Terminal({ cols, rows, scrollback, allowProposedApi: true })

/** Resolves once xterm has parsed `data` (its write is asynchronous). */
export const write = (terminal: Terminal, data: string | Uint8Array): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    terminal.write(data, () => resume(Effect.void))
  })

const colour = (mode: "fg" | "bg", cell: IBufferCell): string => {
  const [isDefault, isRgb, value] = mode === "fg"
    ? [cell.isFgDefault(), cell.isFgRGB(), cell.getFgColor()]
    : [cell.isBgDefault(), cell.isBgRGB(), cell.getBgColor()]
  if (isDefault) return "default"
  // palette colours keep their mode (16 or 256): `31` and `38;5;1` are told apart
  return isRgb
    ? `#${value.toString(16).padStart(6, "0")}`
    : `${(mode === "fg" ? cell.getFgColorMode() : cell.getBgColorMode()) >>> 24 === 1 ? "p16" : "p256"}:${value}`
}

const styleOf = (cell: IBufferCell): string => {
  const flags = [
    cell.isBold() ? "bold" : "",
    cell.isDim() ? "dim" : "",
    cell.isItalic() ? "italic" : "",
    cell.isUnderline() ? "underline" : "",
    cell.isInverse() ? "inverse" : "",
    cell.isStrikethrough() ? "strike" : ""
  ].filter((flag) => flag !== "")
  return [`fg=${colour("fg", cell)}`, `bg=${colour("bg", cell)}`, ...flags].join(" ")
}

/** A cell never written and a space written in the default style look the same. */
const blank = (chars: string) => chars === "" || chars === " "

/** A row's text as it looks: without trailing blanks (written spaces as much as empty cells). */
const rowText = (buffer: IBuffer, y: number) => buffer.getLine(y)?.translateToString(true).replace(/ +$/, "") ?? ""

/**
 * A row's styles as runs, `"<from>-<to> <style>"` (columns inclusive), blank default cells at the
 * end left out (`capture-pane -N` writes spaces where the pane has cells it never wrote): short to read in a failing assertion, and equal exactly when every cell's is.
 */
const rowStyles = (buffer: IBuffer, y: number, cols: number): ReadonlyArray<string> => {
  const line = buffer.getLine(y)
  if (line === undefined) return []
  const cell = buffer.getNullCell()
  const styles: Array<string> = []
  for (let x = 0; x < cols; x++) {
    const got = line.getCell(x, cell)
    styles.push(got === undefined ? "" : styleOf(got))
  }
  const plain = styleOf(buffer.getNullCell())
  let end = cols
  while (end > 0 && styles[end - 1] === plain && blank(line.getCell(end - 1, cell)?.getChars() ?? "")) end--
  const runs: Array<string> = []
  let from = 0
  for (let x = 1; x <= end; x++) {
    if (x === end || styles[x] !== styles[from]) {
      runs.push(`${from}-${x - 1} ${styles[from]}`)
      from = x
    }
  }
  return runs
}

export interface ScreenView {
  /** Which buffer shows: the alternate one while a full-screen program runs. */
  readonly buffer: "normal" | "alternate"
  /** The visible rows, trailing blanks trimmed. */
  readonly text: ReadonlyArray<string>
  /** Per visible row, its styles (see rowStyles). */
  readonly styles: ReadonlyArray<ReadonlyArray<string>>
  readonly cursor: { readonly x: number; readonly y: number }
  readonly modes: {
    readonly applicationCursor: boolean
    readonly applicationKeypad: boolean
    readonly bracketedPaste: boolean
    readonly insert: boolean
    readonly mouse: string
    readonly origin: boolean
    readonly wrap: boolean
    readonly focusEvents: boolean
    /** Not in xterm.js's public API: read from its core service (DECTCEM). */
    readonly cursorVisible: boolean
  }
}

/** What the terminal shows now. */
export const screenOf = (terminal: Terminal): ScreenView => {
  const buffer = terminal.buffer.active
  const text: Array<string> = []
  const styles: Array<ReadonlyArray<string>> = []
  for (let y = 0; y < terminal.rows; y++) {
    text.push(rowText(buffer, buffer.baseY + y))
    styles.push(rowStyles(buffer, buffer.baseY + y, terminal.cols))
  }
  const modes = terminal.modes
  return {
    buffer: buffer.type,
    text,
    styles,
    cursor: { x: buffer.cursorX, y: buffer.cursorY },
    modes: {
      applicationCursor: modes.applicationCursorKeysMode,
      applicationKeypad: modes.applicationKeypadMode,
      bracketedPaste: modes.bracketedPasteMode,
      insert: modes.insertMode,
      mouse: modes.mouseTrackingMode,
      origin: modes.originMode,
      wrap: modes.wraparoundMode,
      focusEvents: modes.sendFocusMode,
      cursorVisible: !(terminal as unknown as { _core: { coreService: { isCursorHidden: boolean } } })._core.coreService
        .isCursorHidden
    }
  }
}

/** The normal buffer's lines above the screen (its scrollback), oldest first, trailing blanks trimmed. */
export const scrollbackOf = (terminal: Terminal): ReadonlyArray<string> => {
  const buffer = terminal.buffer.normal
  const lines: Array<string> = []
  for (let y = 0; y < buffer.baseY; y++) lines.push(rowText(buffer, y))
  return lines
}

/** The scrollback's styles, row by row (see rowStyles). */
export const scrollbackStylesOf = (terminal: Terminal): ReadonlyArray<ReadonlyArray<string>> => {
  const buffer = terminal.buffer.normal
  const rows: Array<ReadonlyArray<string>> = []
  for (let y = 0; y < buffer.baseY; y++) rows.push(rowStyles(buffer, y, terminal.cols))
  return rows
}
