import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { TmuxCommandFailed } from "../services/TerminalBridge.js"
import { PaneId } from "../src/domain/Session.js"
import { FRESH_MODES, replay, type TerminalModes, type TerminalSnapshot } from "../src/domain/TerminalSnapshot.js"
import {
  bracketedPasteIn,
  continuedRows,
  parseSnapshot,
  pastableText,
  pasteBytesArgs,
  readBracketedPaste,
  SEND_AS_PASTE_FROM,
  SEND_BYTES_PER_COMMAND,
  sendBytesArgs,
  unfinishedModeSequence
} from "../src/tmux/TerminalCommands.js"
import { makeTerminal, screenOf, scrollbackOf, write } from "./support/xterm.js"

const ESC = "\x1b"
const pane = PaneId.make("%7")

/** snapshotArgs' state line (display-message), in its field order, from a few named values. */
const stateLine = (values: Partial<Record<string, number>> = {}) => {
  const fields = {
    pane_width: 80,
    pane_height: 3,
    cursor_x: 4,
    cursor_y: 1,
    cursor_flag: 1,
    alternate_on: 0,
    alternate_saved_x: 0,
    alternate_saved_y: 0,
    keypad_cursor_flag: 0,
    keypad_flag: 0,
    mouse_standard_flag: 0,
    mouse_button_flag: 0,
    mouse_all_flag: 0,
    mouse_sgr_flag: 0,
    mouse_utf8_flag: 0,
    insert_flag: 0,
    wrap_flag: 1,
    origin_flag: 0,
    scroll_region_upper: 0,
    scroll_region_lower: 2,
    ...values
  }
  return Object.values(fields).join(" ")
}

const DEFAULT_MODES: TerminalModes = FRESH_MODES

const snapshotOf = (
  over: Omit<Partial<TerminalSnapshot>, "modes"> & { readonly modes?: Partial<TerminalModes> }
): TerminalSnapshot => {
  const height = over.height ?? 4
  return {
    width: 20,
    height,
    cursor: { x: 0, y: 0 },
    scrollRegion: { top: 0, bottom: height - 1 },
    history: [],
    screen: Array.from({ length: height }, () => ""),
    ...over,
    modes: { ...DEFAULT_MODES, ...over.modes }
  }
}

/** A fresh xterm.js of the snapshot's size with the replay written into it. */
const replayed = (snapshot: TerminalSnapshot) =>
  Effect.gen(function*() {
    const terminal = makeTerminal(snapshot.width, snapshot.height)
    yield* write(terminal, replay(snapshot))
    return terminal
  })

describe("parseSnapshot", () => {
  it.effect("normal screen: size, cursor, modes from the state line; lines above the screen are history", () =>
    Effect.gen(function*() {
      const snapshot = yield* parseSnapshot([[stateLine({ keypad_cursor_flag: 1, insert_flag: 1 })], [
        "old 1",
        "old 2",
        "a",
        `${ESC}[31mb`,
        "$ "
      ], []], true)
      assert.deepStrictEqual(snapshot, {
        width: 80,
        height: 3,
        cursor: { x: 4, y: 1 },
        modes: { ...DEFAULT_MODES, bracketedPaste: true, applicationCursor: true, insert: true },
        scrollRegion: { top: 0, bottom: 2 },
        history: ["old 1", "old 2"],
        screen: ["a", `${ESC}[31mb`, "$ "]
      })
      assert.isFalse("alternate" in snapshot)
    }))

  it.effect("alternate screen on: what shows is the alternate screen, the saved normal one goes under it", () =>
    Effect.gen(function*() {
      const snapshot = yield* parseSnapshot([
        [stateLine({ alternate_on: 1, alternate_saved_x: 2, alternate_saved_y: 2, cursor_x: 0, cursor_y: 0 })],
        ["old", "vim 1", "vim 2", "vim 3"],
        ["$ vim", ""]
      ], false)
      assert.isTrue(snapshot.modes.alternateScreen)
      assert.deepStrictEqual(snapshot.history, ["old"])
      assert.deepStrictEqual(snapshot.screen, ["$ vim", "", ""])
      assert.deepStrictEqual(snapshot.alternate, { screen: ["vim 1", "vim 2", "vim 3"], savedCursor: { x: 2, y: 2 } })
    }))

  it.effect("fewer lines than the height are padded below; a cursor past the screen is clamped, one just past the last column kept (pending wrap)", () =>
    Effect.gen(function*() {
      const short = yield* parseSnapshot([[stateLine({ cursor_x: 80, cursor_y: 9 })], ["only"], []], false)
      assert.deepStrictEqual(short.screen, ["only", "", ""])
      assert.deepStrictEqual(short.history, [])
      assert.deepStrictEqual(short.cursor, { x: 80, y: 2 })
      const beyond = yield* parseSnapshot([[stateLine({ cursor_x: 500, scroll_region_lower: 40 })], [], []], false)
      assert.strictEqual(beyond.cursor.x, 80)
      assert.deepStrictEqual(beyond.scrollRegion, { top: 0, bottom: 2 })
    }))

  it("continuedRows: the rows whose text goes on in the next row, from the same rows joined (-J); none when they do not line up", () => {
    const rows = [`${ESC}[31maaaa`, `bb${ESC}[0m`, "", "cccc", "dddd", "e"]
    assert.deepStrictEqual(continuedRows(rows, ["aaaabb", "", "ccccdddde"]), [0, 3, 4])
    assert.deepStrictEqual(continuedRows(rows, ["aaaa", "bb", "", "cccc", "dddd", "e"]), [])
    assert.isUndefined(continuedRows(rows, ["aaaabb", "", "ccccdddd"])) // a row left over
    assert.isUndefined(continuedRows(rows, ["aaaabb", "", "ccccdddde", "f"])) // a line with no row
    assert.isUndefined(continuedRows(rows, ["aaaabX", "", "ccccdddde"]))
    assert.isUndefined(continuedRows(rows, []))
  })

  it.effect("wrapped rows are taken from the joined captures, over history then the normal screen (saved under the alternate one)", () =>
    Effect.gen(function*() {
      const normal = yield* parseSnapshot([
        [stateLine()],
        ["long history li", "ne", "a", "wrapped scre", "en row"],
        [],
        ["long history line", "a", "wrapped screen row"],
        []
      ], false)
      assert.deepStrictEqual(normal.continued, [0, 3])
      const alternate = yield* parseSnapshot([
        [stateLine({ alternate_on: 1 })],
        ["long history li", "ne", "vim 1", "vim 2", "vim 3"],
        ["$ vim a lo", "ng line", ""],
        ["long history line", "vim 1", "vim 2", "vim 3"],
        ["$ vim a long line", ""]
      ], false)
      assert.deepStrictEqual(alternate.continued, [0, 2])
      // misaligned or missing: no row counts as wrapped, the field is left out
      const none = yield* parseSnapshot([[stateLine()], ["a", "b", "c"], [], ["x"], []], false)
      assert.isFalse("continued" in none)
      assert.isFalse("continued" in (yield* parseSnapshot([[stateLine()], ["a", "b", "c"], []], false)))
    }))

  it.effect("mouse tracking: any-motion over button-motion over normal", () =>
    Effect.gen(function*() {
      const mouseOf = (flags: Record<string, number>) =>
        Effect.map(parseSnapshot([[stateLine(flags)], [], []], false), (s) => s.modes.mouse)
      assert.strictEqual(yield* mouseOf({}), "none")
      assert.strictEqual(yield* mouseOf({ mouse_standard_flag: 1 }), "normal")
      assert.strictEqual(yield* mouseOf({ mouse_standard_flag: 1, mouse_button_flag: 1 }), "button")
      assert.strictEqual(yield* mouseOf({ mouse_standard_flag: 1, mouse_button_flag: 1, mouse_all_flag: 1 }), "any")
      const sgr = yield* parseSnapshot([[stateLine({ mouse_sgr_flag: 1, mouse_utf8_flag: 1 })], [], []], false)
      assert.deepInclude(sgr.modes, { mouseSgr: true, mouseUtf8: true })
    }))

  it.effect("a malformed state line is TmuxCommandFailed, never a snapshot", () =>
    Effect.gen(function*() {
      const good = stateLine()
      const malformed: ReadonlyArray<ReadonlyArray<ReadonlyArray<string>>> = [
        [],
        [[]],
        [[""]],
        [[good.split(" ").slice(1).join(" ")]], // a field short
        [[`${good} 1`]], // a field too many
        [[good.replace(/^80/, "wide")]],
        [[good.replace(/^80/, "-80")]],
        [[good.replace(/^80/, "80.5")]],
        [[stateLine({ pane_width: 0 })]],
        [[stateLine({ pane_height: 0 })]]
      ]
      for (const blocks of malformed) {
        const error = yield* Effect.flip(parseSnapshot(blocks, false))
        assert.instanceOf(error, TmuxCommandFailed)
        assert.strictEqual(error.command, "display-message")
        assert.include(error.stderr, "unexpected terminal state")
      }
    }))
})

describe("replay", () => {
  it("starts with a full reset; a plain snapshot sets no mode", () => {
    const bytes = replay(snapshotOf({ screen: ["$ ", "", "", ""], cursor: { x: 2, y: 0 } }))
    assert.isTrue(bytes.startsWith(`${ESC}c`))
    for (
      const mode of [
        "?1h",
        "?6h",
        "?7l",
        "4h",
        "?2004h",
        "?1000h",
        "?1002h",
        "?1003h",
        "?9h",
        "?1005h",
        "?1006h",
        "?25l",
        "?1049h"
      ]
    ) {
      assert.notInclude(bytes, `${ESC}[${mode}`)
    }
    assert.notInclude(bytes, `${ESC}=`)
    assert.notMatch(bytes, new RegExp(`${ESC}\\[\\d+;\\d+r`))
  })

  it.effect("every mode is set again: xterm.js ends with the snapshot's modes", () =>
    Effect.gen(function*() {
      const modes: TerminalModes = {
        ...DEFAULT_MODES,
        bracketedPaste: true,
        applicationCursor: true,
        applicationKeypad: true,
        mouse: "any",
        mouseSgr: true,
        insert: true,
        wrap: false,
        cursorVisible: false
      }
      const snapshot = snapshotOf({ modes, cursor: { x: 3, y: 2 } })
      const view = screenOf(yield* replayed(snapshot))
      assert.deepStrictEqual(view.modes, {
        applicationCursor: true,
        applicationKeypad: true,
        bracketedPaste: true,
        insert: true,
        mouse: "any",
        origin: false,
        wrap: false,
        focusEvents: false,
        cursorVisible: false
      })
      assert.deepStrictEqual(view.cursor, { x: 3, y: 2 })
      assert.include(replay(snapshot), `${ESC}[?1006h`)
      assert.include(replay(snapshotOf({ modes: { mouseUtf8: true } })), `${ESC}[?1005h`)
      const tracking = { x10: "x10", normal: "vt200", button: "drag", any: "any" } as const
      for (const [mouse, xterm] of Object.entries(tracking)) {
        const terminal = yield* replayed(snapshotOf({ modes: { mouse: mouse as TerminalModes["mouse"] } }))
        assert.strictEqual(screenOf(terminal).modes.mouse, xterm)
      }
    }))

  it.effect("a scroll region with origin mode: the cursor is placed relative to it, and scrolling stays inside it", () =>
    Effect.gen(function*() {
      const snapshot = snapshotOf({
        height: 6,
        screen: ["top", "r1", "r2", "r3", "r4", "bottom"],
        scrollRegion: { top: 1, bottom: 4 },
        cursor: { x: 0, y: 4 },
        modes: { origin: true }
      })
      const terminal = yield* replayed(snapshot)
      assert.deepStrictEqual(screenOf(terminal).cursor, { x: 0, y: 4 })
      assert.isTrue(screenOf(terminal).modes.origin)
      yield* write(terminal, "\n\nnew")
      assert.deepStrictEqual(screenOf(terminal).text, ["top", "r3", "r4", "", "new", "bottom"])
    }))

  it.effect("attributes capture-pane carries into the next line are set again at its start, and nothing else", () =>
    Effect.gen(function*() {
      const snapshot = snapshotOf({
        height: 5,
        screen: [
          `${ESC}[1m${ESC}[31mbold red`,
          `still${ESC}[22m red, not bold`,
          `red${ESC}[0m plain`,
          `${ESC}[38;2;1;2;3mrgb not bold/dim`,
          `same${ESC}[0;4munder`
        ]
      })
      const view = screenOf(yield* replayed(snapshot))
      assert.deepStrictEqual(view.styles, [
        ["0-7 fg=p16:1 bg=default bold"],
        ["0-4 fg=p16:1 bg=default bold", "5-18 fg=p16:1 bg=default"],
        ["0-2 fg=p16:1 bg=default", "3-8 fg=default bg=default"],
        ["0-15 fg=#010203 bg=default"],
        ["0-3 fg=#010203 bg=default", "4-8 fg=default bg=default underline"]
      ])
      // the attributes in force, once each: not every sequence since the last reset
      const bytes = replay(snapshot)
      assert.include(bytes, `\r\n${ESC}[1;31mstill`)
      assert.include(bytes, `\r\n${ESC}[31mred${ESC}[0m plain`)
      assert.include(bytes, `\r\n${ESC}[38;2;1;2;3msame`)
    }))

  it.effect("a background carried into the next line colours its text, not the rest of the row the line feed scrolled in", () =>
    Effect.gen(function*() {
      const snapshot = snapshotOf({
        height: 2,
        history: [`${ESC}[44mblue`],
        screen: ["next", `${ESC}[49mplain`]
      })
      const terminal = yield* replayed(snapshot)
      assert.deepStrictEqual(scrollbackOf(terminal), ["blue"])
      assert.deepStrictEqual(screenOf(terminal).styles, [["0-3 fg=default bg=p16:4"], ["0-4 fg=default bg=default"]])
    }))

  it("a long coloured history that never resets replays in about its own size (the attributes in force do not pile up)", () => {
    const history = Array.from({ length: 2000 }, (_, i) => `${ESC}[3${i % 8}mERROR${ESC}[39m line ${i}`)
    const bytes = replay(snapshotOf({ history }))
    assert.isBelow(bytes.length, 2 * history.join("\r\n").length)
  })

  it.effect("the alternate screen over the normal one: quitting the program shows the normal screen and cursor again", () =>
    Effect.gen(function*() {
      const snapshot = snapshotOf({
        height: 3,
        history: ["older"],
        screen: ["$ vim", "", ""],
        cursor: { x: 5, y: 2 },
        modes: { alternateScreen: true, applicationCursor: true },
        alternate: { screen: ["vim line 1", "~", "-- INSERT --"], savedCursor: { x: 5, y: 0 } }
      })
      const terminal = yield* replayed(snapshot)
      const view = screenOf(terminal)
      assert.strictEqual(view.buffer, "alternate")
      assert.deepStrictEqual(view.text, ["vim line 1", "~", "-- INSERT --"])
      assert.deepStrictEqual(view.cursor, { x: 5, y: 2 })
      yield* write(terminal, `${ESC}[?1049l`)
      const after = screenOf(terminal)
      assert.strictEqual(after.buffer, "normal")
      assert.deepStrictEqual(after.text, ["$ vim", "", ""])
      assert.deepStrictEqual(after.cursor, { x: 5, y: 0 })
      assert.deepStrictEqual(scrollbackOf(terminal), ["older"])
    }))

  it.effect("rows that continue on the next are written so the terminal wraps them: resized, it rewraps them as one line", () =>
    Effect.gen(function*() {
      const snapshot = snapshotOf({
        width: 10,
        height: 3,
        history: ["0123456789", "abc", "ABCDEFGHIJ"],
        screen: ["KLM", "$ ", ""],
        continued: [0, 2],
        cursor: { x: 2, y: 1 }
      })
      const terminal = yield* replayed(snapshot)
      const buffer = terminal.buffer.normal
      assert.deepStrictEqual(
        Array.from({ length: 6 }, (_, y) => buffer.getLine(y)!.isWrapped),
        [false, true, false, true, false, false]
      )
      assert.deepStrictEqual(screenOf(terminal).cursor, { x: 2, y: 1 })
      terminal.resize(20, 3)
      assert.deepStrictEqual([...scrollbackOf(terminal), ...screenOf(terminal).text].slice(-4), [
        "0123456789abc",
        "ABCDEFGHIJKLM",
        "$",
        ""
      ])
    }))

  it.effect("a cursor waiting to wrap (x = width) still wraps: the next character starts the next line", () =>
    Effect.gen(function*() {
      const full = "0123456789"
      const waiting = yield* replayed(snapshotOf({ width: 10, screen: [full, "", "", ""], cursor: { x: 10, y: 0 } }))
      assert.deepStrictEqual(screenOf(waiting).cursor, { x: 10, y: 0 })
      yield* write(waiting, "Z")
      assert.deepStrictEqual(screenOf(waiting).text.slice(0, 2), [full, "Z"])
      // on the last column, not waiting: the next character overwrites it
      const onLast = yield* replayed(snapshotOf({ width: 10, screen: [full, "", "", ""], cursor: { x: 9, y: 0 } }))
      yield* write(onLast, "Z")
      assert.deepStrictEqual(screenOf(onLast).text.slice(0, 2), ["012345678Z", ""])
    }))
})

describe("sendBytesArgs", () => {
  it("leaves copy-mode first, then sends at most SEND_BYTES_PER_COMMAND bytes per send-keys -H, in order", () => {
    const bytes = Uint8Array.from({ length: 2 * SEND_BYTES_PER_COMMAND + 452 }, (_, i) => i % 251)
    const commands = sendBytesArgs(pane, bytes)
    assert.deepStrictEqual(commands[0], ["copy-mode", "-q", "-t", pane])
    assert.deepStrictEqual(commands.slice(1).map((args) => args.length - 4), [1024, 1024, 452])
    for (const args of commands.slice(1)) assert.deepStrictEqual(args.slice(0, 4), ["send-keys", "-H", "-t", pane])
    const sent = commands.slice(1).flatMap((args) => args.slice(4).map((hex) => parseInt(hex, 16)))
    assert.deepStrictEqual(sent, [...bytes])
  })

  it("every byte 0x00–0xff is two hex digits of its own, never a key name or text", () => {
    const every = Uint8Array.from({ length: 256 }, (_, i) => i)
    const [leave, send] = sendBytesArgs(pane, every)
    assert.strictEqual(leave![0], "copy-mode")
    const hex = send!.slice(4)
    assert.deepStrictEqual(hex, Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0")))
  })

  it("exactly SEND_BYTES_PER_COMMAND bytes is one command; none is no send-keys at all", () => {
    assert.strictEqual(sendBytesArgs(pane, new Uint8Array(SEND_BYTES_PER_COMMAND)).length, 2)
    assert.deepStrictEqual(sendBytesArgs(pane, new Uint8Array(0)), [["copy-mode", "-q", "-t", pane]])
  })
})

describe("a paste through a buffer", () => {
  it("is text a tmux argument carries byte for byte: valid UTF-8 without NUL", () => {
    const text = "line\r\nnext\n\x1b[200~héllo ✓ 😀\x1b[201~\x01\x7f"
    assert.strictEqual(pastableText(new TextEncoder().encode(text)), text)
    assert.isUndefined(pastableText(Uint8Array.from([0x61, 0x00, 0x62])))
    assert.isUndefined(pastableText(Uint8Array.from([0x61, 0xc3])), "a character cut short")
    assert.isUndefined(pastableText(Uint8Array.from([0xff, 0xfe])))
    assert.isUndefined(pastableText(Uint8Array.from([0xed, 0xa0, 0x80])), "a surrogate half")
    // a byte-order mark is a character like any other: kept, not dropped
    assert.strictEqual(pastableText(Uint8Array.from([0xef, 0xbb, 0xbf, 0x61])), "\ufeffa")
    assert.isAbove(SEND_AS_PASTE_FROM, 16, "keystrokes, even an escape sequence, stay keys")
  })

  it("pastes raw: line feeds kept (-r), no markers added (no -p), the buffer deleted", () => {
    const args = pasteBytesArgs("telemux-x", pane)
    assert.deepStrictEqual(args, ["paste-buffer", "-r", "-d", "-b", "telemux-x", "-t", pane])
  })
})

describe("bracketed paste read from the output", () => {
  it("the last DECSET/DECRST naming 2004 wins, alone or among other modes; others say nothing", () => {
    assert.isTrue(bracketedPasteIn(`${ESC}[?2004h$ `))
    assert.isFalse(bracketedPasteIn(`${ESC}[?2004h$ ls\r\n${ESC}[?2004l`))
    assert.isTrue(bracketedPasteIn(`${ESC}[?2004lrun${ESC}[?2004h$ `))
    assert.isTrue(bracketedPasteIn(`${ESC}[?1049;2004h`))
    assert.isFalse(bracketedPasteIn(`${ESC}[?2004;1l`))
    assert.isUndefined(bracketedPasteIn("plain text"))
    assert.isUndefined(bracketedPasteIn(`${ESC}[?1049h${ESC}[?20045h${ESC}[2004h`))
    // unfinished: nothing yet (readBracketedPaste finishes it with the next output)
    assert.isUndefined(bracketedPasteIn(`${ESC}[?2004`))
    assert.isTrue(bracketedPasteIn(`${ESC}[?2004h then ${ESC}[?2004`))
  })

  it("the unfinished end of an output: ESC, ESC [, ESC [ ?, and parameters; nothing once finished or not DECSET", () => {
    for (const end of [ESC, `${ESC}[`, `${ESC}[?`, `${ESC}[?20`, `${ESC}[?2004`, `${ESC}[?1049;20`]) {
      assert.strictEqual(unfinishedModeSequence(`text${end}`), end)
    }
    for (
      const data of [
        `${ESC}[?2004h`,
        `${ESC}[?2004h$ `,
        `${ESC}[31m`,
        `${ESC}[3`,
        "plain",
        `${ESC}[?${"1;".repeat(20)}`
      ]
    ) {
      assert.strictEqual(unfinishedModeSequence(data), "")
    }
  })

  it("outputs cut anywhere read as the whole bytes would", () => {
    const piece = fc.constantFrom(
      `${ESC}[?2004h`,
      `${ESC}[?2004l`,
      `${ESC}[?1049;2004h`,
      `${ESC}[?1h`,
      `${ESC}[31m`,
      ESC,
      "$ ",
      "text",
      "[?2004h"
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 6 }), (pieces, cuts) => {
        const whole = pieces.join("")
        const at = [...new Set(cuts.map((cut) => cut % (whole.length + 1)))].sort((a, b) => a - b)
        const outputs = [0, ...at].map((from, i) => whole.slice(from, at[i] ?? whole.length)).filter((o) => o !== "")
        let unfinished = ""
        let on: boolean | undefined
        for (const output of outputs) {
          const read = readBracketedPaste(unfinished, output)
          unfinished = read.unfinished
          if (read.on !== undefined) on = read.on
        }
        assert.strictEqual(on, bracketedPasteIn(whole))
      }),
      { numRuns: 2000 }
    )
  })
})
