/**
 * The tmux commands of the terminal stream (pure, like Commands.ts): a snapshot of a pane's
 * terminal in one command list, raw bytes as keystrokes, and the size a viewer may set.
 */
import { Effect } from "effect"
import { TmuxCommandFailed } from "../../services/TerminalBridge.js"
import { CAPTURE_HISTORY_MAX } from "../../services/TerminalBridge.js"
import type { PaneId } from "../domain/Session.js"
import { type MouseTracking, type TerminalSnapshot, withoutSgr } from "../domain/TerminalSnapshot.js"

const FIELDS = [
  "pane_width",
  "pane_height",
  "cursor_x",
  "cursor_y",
  "cursor_flag",
  "alternate_on",
  "alternate_saved_x",
  "alternate_saved_y",
  "keypad_cursor_flag",
  "keypad_flag",
  "mouse_standard_flag",
  "mouse_button_flag",
  "mouse_all_flag",
  "mouse_sgr_flag",
  "mouse_utf8_flag",
  "insert_flag",
  "wrap_flag",
  "origin_flag",
  "scroll_region_upper",
  "scroll_region_lower"
] as const

const stateFormat = FIELDS.map((field) => `#{${field}}`).join(" ")

/**
 * One list, answered as five blocks in one round trip, so nothing the pane writes can fall between
 * them: the state (size, cursor, modes), the lines (history and what shows: the alternate screen
 * while it is on), and the normal screen saved under the alternate one (`-a`; `-q`: no error, an
 * empty block, when there is none). `-e` keeps colours and attributes, `-N` trailing spaces. Then
 * the same two as plain text with wrapped rows joined (`-J`): which rows continue on the next one.
 */
export const snapshotArgs = (pane: PaneId, historyLines: number): ReadonlyArray<ReadonlyArray<string>> => {
  const lines = Math.min(CAPTURE_HISTORY_MAX, Math.max(0, Math.trunc(historyLines)))
  return [
    ["display-message", "-p", "-t", pane, stateFormat],
    ["capture-pane", "-p", "-e", "-N", "-t", pane, "-S", `-${lines}`],
    ["capture-pane", "-a", "-q", "-p", "-e", "-N", "-t", pane],
    ["capture-pane", "-p", "-J", "-t", pane, "-S", `-${lines}`],
    ["capture-pane", "-a", "-q", "-p", "-J", "-t", pane]
  ]
}

/**
 * The rows (as `capture-pane -e -N` gives them) that continue on the next row, from the same rows
 * captured with `-J`, where each line is its rows' text joined; undefined when the two do not line
 * up (then no row is taken for wrapped: a terminal resized later rewraps less than tmux did).
 */
export const continuedRows = (
  rows: ReadonlyArray<string>,
  joined: ReadonlyArray<string>
): ReadonlyArray<number> | undefined => {
  const continued: Array<number> = []
  let row = 0
  for (const line of joined) {
    let text = ""
    for (;;) {
      if (row >= rows.length) return undefined
      text += withoutSgr(rows[row]!)
      row++
      if (text === line) break
      if (!line.startsWith(text)) return undefined
      continued.push(row - 1)
    }
  }
  return row === rows.length ? continued : undefined
}

const malformed = (detail: string) =>
  new TmuxCommandFailed({ command: "display-message", exitCode: null, stderr: `unexpected terminal state: ${detail}` })

/**
 * The snapshot from snapshotArgs' reply bodies; `bracketedPaste` is not a tmux format (the caller
 * knows it from the pane's output).
 */
export const parseSnapshot = (
  blocks: ReadonlyArray<ReadonlyArray<string>>,
  bracketedPaste: boolean
): Effect.Effect<TerminalSnapshot, TmuxCommandFailed> =>
  Effect.suspend(() => {
    const [stateBlock, linesBlock, savedBlock, joinedLinesBlock, joinedSavedBlock] = blocks
    const values = (stateBlock?.[0] ?? "").trim().split(" ").map(Number)
    if (values.length !== FIELDS.length || values.some((n) => !Number.isInteger(n) || n < 0)) {
      return Effect.fail(malformed(JSON.stringify(stateBlock?.[0] ?? "")))
    }
    const field = Object.fromEntries(FIELDS.map((name, i) => [name, values[i]!])) as Record<
      (typeof FIELDS)[number],
      number
    >
    const width = field.pane_width
    const height = field.pane_height
    if (width < 1 || height < 1) return Effect.fail(malformed(`size ${width}x${height}`))
    const lines = [...(linesBlock ?? [])]
    // tmux answers exactly `height` visible lines; pad defensively so the shape always holds
    while (lines.length < height) lines.push("")
    const visible = lines.slice(lines.length - height)
    const history = lines.slice(0, lines.length - height)
    const alternateOn = field.alternate_on === 1
    const saved = [...(savedBlock ?? [])].slice(0, height)
    while (saved.length < height) saved.push("")
    // over history then the normal screen: saved under the alternate screen while it is on
    const linesContinued = continuedRows(lines, joinedLinesBlock ?? [])
    const savedContinued = alternateOn ? continuedRows(saved, joinedSavedBlock ?? []) : undefined
    const continued = !alternateOn
      ? linesContinued
      : linesContinued === undefined || savedContinued === undefined
      ? undefined
      : [
        ...linesContinued.filter((row) => row < history.length),
        ...savedContinued.map((row) => row + history.length)
      ]
    const mouse: MouseTracking = field.mouse_all_flag === 1
      ? "any"
      : field.mouse_button_flag === 1
      ? "button"
      : field.mouse_standard_flag === 1
      ? "normal"
      : "none"
    return Effect.succeed({
      width,
      height,
      // x = width: the last column was written and the next character wraps (tmux's pending wrap)
      cursor: { x: Math.min(field.cursor_x, width), y: Math.min(field.cursor_y, height - 1) },
      modes: {
        alternateScreen: alternateOn,
        bracketedPaste,
        applicationCursor: field.keypad_cursor_flag === 1,
        applicationKeypad: field.keypad_flag === 1,
        mouse,
        mouseSgr: field.mouse_sgr_flag === 1,
        mouseUtf8: field.mouse_utf8_flag === 1,
        insert: field.insert_flag === 1,
        wrap: field.wrap_flag === 1,
        origin: field.origin_flag === 1,
        cursorVisible: field.cursor_flag === 1
      },
      scrollRegion: {
        top: Math.min(field.scroll_region_upper, height - 1),
        bottom: Math.min(field.scroll_region_lower, height - 1)
      },
      history,
      ...(continued === undefined || continued.length === 0 ? {} : { continued }),
      ...(alternateOn
        ? {
          screen: saved,
          alternate: {
            screen: visible,
            savedCursor: {
              x: Math.min(field.alternate_saved_x, width - 1),
              y: Math.min(field.alternate_saved_y, height - 1)
            }
          }
        }
        : { screen: visible })
    })
  })

/**
 * From this many bytes, input that is text a tmux argument can carry (valid UTF-8, no NUL: a paste,
 * not a keystroke) goes through a paste buffer, written to the pane in one go. `send-keys -H` costs
 * tmux a key event per byte: 64 KiB held the whole server for about a second (measured), a buffer
 * of the same size a few milliseconds.
 */
export const SEND_AS_PASTE_FROM = 256

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** The bytes as the text a paste buffer carries byte for byte, or undefined when they are not such text. */
export const pastableText = (bytes: Uint8Array): string | undefined => {
  if (bytes.includes(0)) return undefined
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}

/**
 * Pastes a buffer of raw input and deletes it: `-r`, a line feed stays a line feed; no `-p`, no
 * brackets added (a terminal that pastes sends its own markers when the application asked).
 */
export const pasteBytesArgs = (buffer: string, pane: PaneId): ReadonlyArray<string> => [
  "paste-buffer",
  "-r",
  "-d",
  "-b",
  buffer,
  "-t",
  pane
]

/** Bytes per `send-keys -H` command: a 64 KiB message is a list of 64 commands. */
export const SEND_BYTES_PER_COMMAND = 1024

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"))

/**
 * Raw bytes as tmux writes them to the pane: `send-keys -H`, one literal byte per argument (any
 * byte, 0x00–0xff; a multi-byte character is its bytes), after leaving copy-mode so they reach the
 * application, not the mode. Never a shell, never a key name.
 */
export const sendBytesArgs = (pane: PaneId, bytes: Uint8Array): ReadonlyArray<ReadonlyArray<string>> => {
  const commands: Array<ReadonlyArray<string>> = [["copy-mode", "-q", "-t", pane]]
  for (let start = 0; start < bytes.length; start += SEND_BYTES_PER_COMMAND) {
    const args = ["send-keys", "-H", "-t", pane]
    const end = Math.min(bytes.length, start + SEND_BYTES_PER_COMMAND)
    for (let i = start; i < end; i++) args.push(HEX[bytes[i]!]!)
    commands.push(args)
  }
  return commands
}

/** Clients of people attached with tmux that show the pane's window now (the daemon's own never do). */
export const viewersArgs = (pane: PaneId): ReadonlyArray<string> => [
  "display-message",
  "-p",
  "-t",
  pane,
  "#{window_active_clients} #{window_width} #{window_height}"
]

export const parseViewers = (body: ReadonlyArray<string>) => {
  const [viewers, width, height] = (body[0] ?? "").trim().split(" ").map(Number)
  return { viewers: viewers ?? 0, width: width ?? 0, height: height ?? 0 }
}

/**
 * A person who attaches gets the window sized by tmux again (window-size back to the server's
 * default): a size a stream client set (`resize-window` makes it manual) never outlives them
 * attaching. Set once per server, by the events client.
 */
export const attachResetsSizeArgs: ReadonlyArray<ReadonlyArray<string>> = [
  ["set-hook", "-g", "client-attached", "set-option -w -u window-size"],
  ["set-hook", "-g", "client-session-changed", "set-option -w -u window-size"]
]

// eslint-disable-next-line no-control-regex
const DECSET = /\x1b\[\?([0-9;]*)([hl])/g
/** What may begin a DECSET/DECRST the next output finishes: ESC, `ESC [`, `ESC [ ?`, parameters. */
// eslint-disable-next-line no-control-regex
const UNFINISHED_DECSET = /\x1b(?:\[(?:\?[0-9;]*)?)?$/
/** Longest unfinished DECSET kept: `ESC [ ?` and a few modes; anything longer is not one we read. */
const UNFINISHED_MAX = 32

/**
 * Whether the bytes turn bracketed paste on or off (the last DECSET/DECRST naming 2004 in them,
 * alone or among other modes: `ESC[?2004h`, `ESC[?1049;2004h`), or undefined when they do neither.
 * tmux has no format for the mode: it is read from the output.
 */
export const bracketedPasteIn = (data: string): boolean | undefined => {
  // every chunk of every pane passes here: the common case is one native search
  if (!data.includes("\x1b[?")) return undefined
  let on: boolean | undefined
  for (const match of data.matchAll(DECSET)) {
    if (match[1]!.split(";").includes("2004")) on = match[2] === "h"
  }
  return on
}

/**
 * The end of a pane's output that may be the start of a DECSET/DECRST (tmux passes on output as
 * the pane wrote it, cut anywhere): to be read again in front of the pane's next output. "" when
 * the output does not end inside one.
 */
export const unfinishedModeSequence = (data: string): string => {
  const at = data.lastIndexOf("\x1b")
  if (at < 0 || data.length - at > UNFINISHED_MAX) return ""
  return UNFINISHED_DECSET.exec(data.slice(at))?.[0] ?? ""
}

/**
 * One output of a pane read for bracketed paste, given what was left unfinished at the end of its
 * previous one (""): whether it switches the mode (see bracketedPasteIn), and what of its end to
 * keep for the next. Read so, outputs give what their bytes read whole would, wherever tmux cut them.
 */
export const readBracketedPaste = (unfinished: string, data: string) => {
  const seen = unfinished + data
  return { on: bracketedPasteIn(seen), unfinished: unfinishedModeSequence(seen) }
}
