/**
 * `telemux attach`'s pure parts: the way chosen, the detach key (parsed, found in a read of
 * stdin), keystrokes cut into input messages, the session's bytes guarded on their way to the
 * person's terminal (checked in xterm.js: the person's own screen comes back), and the attach's
 * reducer.
 */
import * as xterm from "@xterm/headless"
import { Either, Option } from "effect"
import { assert, describe, it } from "vitest"
import { TERMINAL_INPUT_MAX_BYTES } from "../services/Sessions.js"
import { type ServerMessage, STREAM_CLIENT_MESSAGE_MAX } from "../src/api/StreamProtocol.js"
import { chooseAttachWay } from "../src/cli/Attach.js"
import { type DetachKey, makeDetachScanner, parseDetachKey, splitAtDetachKey } from "../src/cli/DetachKey.js"
import { keystrokeMessages } from "../src/cli/KeystrokeMessages.js"
import { ENTER_SCREEN, guardScreen, LEAVE_SCREEN, SOFT_RESET } from "../src/cli/ScreenGuard.js"
import {
  type AttachAction,
  type AttachContext,
  type AttachMessage,
  type AttachViewState,
  initialViewState,
  onAttachMessage,
  subscription
} from "../src/cli/StreamAttachView.js"
import { SessionId } from "../src/domain/Session.js"
import { FRESH_MODES, type TerminalSnapshot } from "../src/domain/TerminalSnapshot.js"
import { makeSession } from "./support/fixtures.js"

const bytes = (text: string) => new Uint8Array(Buffer.from(text, "latin1"))
const text = (data: Uint8Array | string) => (typeof data === "string" ? data : Buffer.from(data).toString("latin1"))
const key = (spec: string): DetachKey => Either.getOrThrow(parseDetachKey(spec))

describe("the way to attach", () => {
  const choose = (via: "tmux" | "ssh" | "stream" | undefined, preferred: string | undefined, local: boolean) =>
    chooseAttachWay({ via: Option.fromNullable(via), preferred, local })

  it("defaults to tmux for a session of this computer and to the stream for one of another", () => {
    assert.deepStrictEqual(choose(undefined, undefined, true), Either.right("tmux"))
    assert.deepStrictEqual(choose(undefined, undefined, false), Either.right("stream"))
    assert.deepStrictEqual(choose(undefined, "  ", false), Either.right("stream"))
  })

  it("takes --via where it applies and refuses it where it cannot, saying what to give instead", () => {
    assert.deepStrictEqual(choose("stream", undefined, true), Either.right("stream"))
    assert.deepStrictEqual(choose("stream", "ssh", false), Either.right("stream"))
    assert.deepStrictEqual(choose("ssh", undefined, false), Either.right("ssh"))
    assert.deepStrictEqual(choose("tmux", "stream", true), Either.right("tmux"))
    const tmuxRemote = choose("tmux", undefined, false)
    assert.isTrue(Either.isLeft(tmuxRemote) && tmuxRemote.left.message.includes("--via ssh"))
    const sshLocal = choose("ssh", undefined, true)
    assert.isTrue(Either.isLeft(sshLocal) && sshLocal.left.message.includes("--via stream"))
  })

  it("takes TELEMUX_ATTACH_VIA where it applies, else the default; refuses a value it does not know", () => {
    assert.deepStrictEqual(choose(undefined, "ssh", false), Either.right("ssh"))
    assert.deepStrictEqual(choose(undefined, "ssh", true), Either.right("tmux"))
    assert.deepStrictEqual(choose(undefined, "stream", true), Either.right("stream"))
    assert.deepStrictEqual(choose(undefined, "tmux", false), Either.right("stream"))
    const bad = choose(undefined, "telnet", true)
    assert.isTrue(
      Either.isLeft(bad) && bad.left.message.includes("TELEMUX_ATTACH_VIA") && bad.left.message.includes("telnet")
    )
  })
})

describe("the detach key", () => {
  it("is a Ctrl key written as tmux writes it, or as Ctrl-x, Ctrl+x, ^x", () => {
    assert.deepStrictEqual(parseDetachKey("C-]"), Either.right({ byte: 0x1d, name: "Ctrl+]" }))
    assert.deepStrictEqual(parseDetachKey("ctrl-Q"), Either.right({ byte: 0x11, name: "Ctrl+q" }))
    assert.deepStrictEqual(parseDetachKey("Ctrl+\\"), Either.right({ byte: 0x1c, name: "Ctrl+\\" }))
    assert.deepStrictEqual(parseDetachKey(" ^_ "), Either.right({ byte: 0x1f, name: "Ctrl+_" }))
    assert.deepStrictEqual(parseDetachKey("C-@"), Either.right({ byte: 0x00, name: "Ctrl+@" }))
  })

  it("refuses what is not a Ctrl key, and the Ctrl keys that are Escape, Tab, Enter, Backspace", () => {
    for (const spec of ["", "]", "C-", "C-1", "C-ab", "M-x", "C-~"]) {
      assert.isTrue(Either.isLeft(parseDetachKey(spec)), spec)
    }
    for (const spec of ["C-[", "C-i", "C-m", "C-j", "C-h"]) {
      const refused = parseDetachKey(spec)
      assert.isTrue(Either.isLeft(refused) && /Escape|Tab|Enter|line feed|Backspace/.test(refused.left), spec)
    }
  })

  it("is found in a read of stdin: what comes before it is sent, what comes after it is not", () => {
    const ctrlBracket = key("C-]")
    assert.deepStrictEqual(splitAtDetachKey(bytes("ls -l\r"), ctrlBracket), { keys: bytes("ls -l\r"), detach: false })
    assert.deepStrictEqual(splitAtDetachKey(bytes("ab\x1dcd"), ctrlBracket), { keys: bytes("ab"), detach: true })
    assert.deepStrictEqual(splitAtDetachKey(bytes("\x1d"), ctrlBracket), { keys: bytes(""), detach: true })
    // another key's byte is a keystroke like any other
    assert.deepStrictEqual(splitAtDetachKey(bytes("a\x11b"), ctrlBracket), { keys: bytes("a\x11b"), detach: false })
    assert.deepStrictEqual(splitAtDetachKey(bytes("a\x11b"), key("C-q")), { keys: bytes("a"), detach: true })
  })

  it("is found as kitty's keyboard protocol and xterm's modifyOtherKeys send it", () => {
    const ctrlBracket = key("C-]")
    assert.deepStrictEqual(splitAtDetachKey(bytes("x\x1b[93;5uy"), ctrlBracket), { keys: bytes("x"), detach: true })
    assert.deepStrictEqual(splitAtDetachKey(bytes("\x1b[27;5;93~"), ctrlBracket), { keys: bytes(""), detach: true })
    assert.deepStrictEqual(splitAtDetachKey(bytes("\x1b[113;5u"), key("C-q")), { keys: bytes(""), detach: true })
    // an arrow key is not it
    assert.deepStrictEqual(splitAtDetachKey(bytes("\x1b[A"), ctrlBracket), { keys: bytes("\x1b[A"), detach: false })
  })

  it("inside a bracketed paste is pasted text, not a detach, across reads; after the paste it detaches again", () => {
    const scan = makeDetachScanner(key("C-]"))
    assert.deepStrictEqual(scan(bytes("\x1b[200~a\x1db")), { keys: bytes("\x1b[200~a\x1db"), detach: false })
    assert.deepStrictEqual(scan(bytes("c\x1dd\x1b[201~e")), { keys: bytes("c\x1dd\x1b[201~e"), detach: false })
    assert.deepStrictEqual(scan(bytes("f\x1dg")), { keys: bytes("f"), detach: true })
    // a paste and the key typed after it in one read
    const again = makeDetachScanner(key("C-]"))
    assert.deepStrictEqual(again(bytes("\x1b[200~x\x1d\x1b[201~\x1d")), {
      keys: bytes("\x1b[200~x\x1d\x1b[201~"),
      detach: true
    })
  })
})

describe("keystrokes as input messages", () => {
  const id = SessionId.make("3f2a0c1e-1111-4111-8111-111111111111")
  const joined = (messages: ReturnType<typeof keystrokeMessages>) => messages.map((m) => m.data).join("")

  it("sends one read as one binary message of its byte values", () => {
    const read = new Uint8Array([0x1b, 0x5b, 0x41, 0xc3, 0xa9, 0x00, 0xff])
    const messages = keystrokeMessages(id, read)
    assert.deepStrictEqual(messages, [{
      type: "input",
      sessionId: id,
      data: "\x1b[A\xc3\xa9\x00\xff",
      binary: true
    }])
    assert.deepStrictEqual(keystrokeMessages(id, new Uint8Array(0)), [])
  })

  it("cuts a read above 64 KiB into messages of at most 64 KiB, in order", () => {
    const read = new Uint8Array(TERMINAL_INPUT_MAX_BYTES * 2 + 10).map((_, i) => 0x20 + (i % 90))
    const messages = keystrokeMessages(id, read)
    assert.deepStrictEqual(messages.map((m) => m.data.length), [TERMINAL_INPUT_MAX_BYTES, TERMINAL_INPUT_MAX_BYTES, 10])
    assert.strictEqual(joined(messages), text(read))
  })

  it("cuts control bytes sooner: each message stays under the daemon's message length once JSON-encoded", () => {
    // JSON writes each of these as \u00XX: six characters for a byte
    const read = new Uint8Array(TERMINAL_INPUT_MAX_BYTES).fill(0x01)
    const messages = keystrokeMessages(id, read)
    assert.isAbove(messages.length, 1)
    for (const message of messages) {
      assert.isAtMost(JSON.stringify(message).length, STREAM_CLIENT_MESSAGE_MAX)
      assert.isAtMost(message.data.length, TERMINAL_INPUT_MAX_BYTES)
    }
    assert.strictEqual(joined(messages), text(read))
  })

  it("counts each byte as JSON writes it", () => {
    const limits = { maxBytes: 100, maxChars: 12 }
    // "a" 1, "\"" 2, "\n" 2, 0x01 6: 11 characters, then the next byte starts a new message
    const messages = keystrokeMessages(id, bytes("a\"\n\x01b\x01\x01"), limits)
    assert.deepStrictEqual(messages.map((m) => m.data), ["a\"\n\x01b", "\x01\x01"])
    for (const message of messages) assert.isAtMost(JSON.stringify(message.data).length - 2, limits.maxChars)
  })
})

/** xterm.js with everything written to it, then its screen lines and whether the alternate buffer is on. */
const emulate = async (
  columns: number,
  rows: number,
  writes: ReadonlyArray<Uint8Array | string>
): Promise<{ lines: Array<string>; alternate: boolean; cursor: readonly [number, number] }> => {
  const terminal = new xterm.Terminal({ cols: columns, rows, allowProposedApi: true })
  for (const data of writes) await new Promise<void>((resolve) => terminal.write(data, resolve))
  const buffer = terminal.buffer.active
  const lines: Array<string> = []
  for (let y = 0; y < rows; y++) lines.push(buffer.getLine(buffer.baseY + y)?.translateToString(true) ?? "")
  const result = { lines, alternate: buffer.type === "alternate", cursor: [buffer.cursorX, buffer.cursorY] as const }
  terminal.dispose()
  return result
}

describe("the session's bytes on the person's terminal", () => {
  it("passes what does not reach past the attach's screen as it is", () => {
    const plain = bytes("hello \x1b[1;31mred\x1b[0m\r\n\x1b[2J\x1b[H\x1b[?25l\x1b]0;title\x07")
    assert.deepStrictEqual(guardScreen(new Uint8Array(0), plain), { output: plain, pending: bytes(""), left: false })
  })

  it("turns the session's alternate screen on into save-and-clear, and off into a redraw", () => {
    const on = guardScreen(new Uint8Array(0), bytes("a\x1b[?1049hb"))
    assert.strictEqual(text(on.output), "a\x1b7\x1b[2Jb")
    assert.isFalse(on.left)
    const off = guardScreen(new Uint8Array(0), bytes("vi's last\x1b[?1049lshell prompt$ "))
    assert.deepStrictEqual({ output: text(off.output), left: off.left }, { output: "vi's last", left: true })
    // with other modes in the same sequence: those are kept
    assert.strictEqual(
      text(guardScreen(new Uint8Array(0), bytes("\x1b[?1;1049;2004h")).output),
      "\x1b[?1;2004h\x1b7\x1b[2J"
    )
    assert.strictEqual(text(guardScreen(new Uint8Array(0), bytes("\x1b[?47h")).output), "\x1b7\x1b[2J")
    assert.isTrue(guardScreen(new Uint8Array(0), bytes("\x1b[?1047l")).left)
  })

  it("turns a full reset into a soft one and drops the erasing of the scrollback", () => {
    assert.strictEqual(text(guardScreen(new Uint8Array(0), bytes("x\x1bcy")).output), `x${SOFT_RESET}y`)
    assert.strictEqual(text(guardScreen(new Uint8Array(0), bytes("\x1b[H\x1b[2J\x1b[3J$ ")).output), "\x1b[H\x1b[2J$ ")
  })

  it("holds back a sequence cut between two chunks until the rest comes", () => {
    const whole = "ab\x1b[?1049hcd"
    for (let cut = 1; cut < whole.length; cut++) {
      const first = guardScreen(new Uint8Array(0), bytes(whole.slice(0, cut)))
      const second = guardScreen(first.pending, bytes(whole.slice(cut)))
      assert.strictEqual(text(first.output) + text(second.output), "ab\x1b7\x1b[2Jcd", `cut at ${cut}`)
      assert.strictEqual(second.pending.length, 0)
    }
  })

  it("in a real emulator: vim's screen comes and goes on the attach's screen, and the person's own comes back", async () => {
    const theirs = "person$ ls\r\nfile-a file-b\r\nperson$ telemux attach 3f2a"
    let pending: Uint8Array = new Uint8Array(0)
    const chunks: Array<Uint8Array> = []
    let left = false
    for (const chunk of ["$ vim\r\n\x1b[?10", "49h\x1b[H~\r\n~ VIM", "\x1b[?1049l$ after vim"]) {
      const guarded = guardScreen(pending, bytes(chunk))
      pending = guarded.pending
      chunks.push(guarded.output)
      left ||= guarded.left
    }
    assert.isTrue(left)
    const during = await emulate(40, 6, [theirs, ENTER_SCREEN, ...chunks])
    // never left the attach's (alternate) screen: the person's screen is not drawn over
    assert.isTrue(during.alternate)
    assert.deepStrictEqual(during.lines.slice(0, 2), ["~", "~ VIM"])
    const after = await emulate(40, 6, [theirs, ENTER_SCREEN, ...chunks, LEAVE_SCREEN])
    assert.isFalse(after.alternate)
    assert.deepStrictEqual(after.lines.slice(0, 3), ["person$ ls", "file-a file-b", "person$ telemux attach 3f2a"])
    assert.deepStrictEqual(after.cursor, [27, 2])
  })
})

describe("the attach's reducer", () => {
  const session = makeSession({ status: "idle" })
  const id = session.sessionId
  const context: AttachContext = { columns: 20, rows: 4, detachKeyName: "Ctrl+]" }
  const snapshot: TerminalSnapshot = {
    width: 20,
    height: 4,
    cursor: { x: 2, y: 1 },
    modes: FRESH_MODES,
    scrollRegion: { top: 0, bottom: 3 },
    history: ["old line"],
    screen: ["first", "$ ", "", ""]
  }
  const terminal = (seq: number): ServerMessage => ({ type: "terminal", sessionId: id, seq, snapshot })
  const chunk = (seq: number, data: string): AttachMessage => ({
    type: "chunk",
    sessionId: id,
    seq,
    bytes: bytes(data)
  })
  const run = (messages: ReadonlyArray<AttachMessage>, from: AttachViewState = initialViewState(id)) => {
    let state = from
    const actions: Array<AttachAction> = []
    for (const message of messages) {
      const [next, done] = onAttachMessage(state, message, context)
      state = next
      actions.push(...done)
    }
    return { state, actions }
  }
  const writes = (actions: ReadonlyArray<AttachAction>) =>
    actions.flatMap((a) => (a._tag === "Write" || a._tag === "Draw" ? [text(a.bytes)] : []))

  it("draws a snapshot (its screen, not its history), says the detach key once, then writes the chunks after it", async () => {
    const { actions, state } = run([terminal(5), chunk(5, "stale"), chunk(6, "ls"), chunk(7, "\r\n")])
    assert.deepStrictEqual(writes(actions).slice(1), ["ls", "\r\n"])
    assert.deepStrictEqual(actions.filter((a) => a._tag === "Notice"), [{
      _tag: "Notice",
      text: "telemux: attached; detach with Ctrl+] (the session keeps running)"
    }])
    assert.strictEqual(state.lastSeq, 7)
    assert.strictEqual(actions[0]?._tag, "Draw")
    const drawn = await emulate(20, 4, ["junk everywhere\r\n\x1b[?2004h", writes(actions)[0]!])
    assert.deepStrictEqual(drawn.lines, ["first", "$ ", "", ""])
    assert.deepStrictEqual(drawn.cursor, [2, 1])
    // a later snapshot replaces the screen, without a second notice
    const again = run([terminal(9)], state)
    assert.strictEqual(again.state.lastSeq, 9)
    assert.isFalse(again.actions.some((a) => a._tag === "Notice"))
  })

  it("resubscribes after the last seq written, or for a fresh snapshot when none was or a redraw is due", () => {
    assert.deepStrictEqual(subscription(initialViewState(id)), {
      type: "subscribe",
      sessions: true,
      terminal: [{ sessionId: id }]
    })
    const { state } = run([terminal(3), chunk(4, "x")])
    assert.deepStrictEqual(subscription(state), {
      type: "subscribe",
      sessions: true,
      terminal: [{ sessionId: id, since: 4 }]
    })
    assert.deepStrictEqual(subscription({ ...state, awaitingRedraw: true }), {
      type: "subscribe",
      sessions: true,
      terminal: [{ sessionId: id }]
    })
  })

  it("asks for a redraw when the session leaves its alternate screen, and writes nothing until it comes", () => {
    const { actions, state } = run([
      terminal(1),
      chunk(2, "\x1b[?1049h~"),
      chunk(3, "~\x1b[?1049l$ "),
      chunk(4, "more")
    ])
    assert.deepStrictEqual(writes(actions).slice(1), ["\x1b7\x1b[2J~", "~"])
    assert.deepStrictEqual(actions.filter((a) => a._tag === "Send"), [{
      _tag: "Send",
      message: { type: "subscribe", terminal: [{ sessionId: id }] }
    }])
    assert.isTrue(state.awaitingRedraw)
    const redrawn = run([terminal(4), chunk(5, "ok")], state)
    assert.isFalse(redrawn.state.awaitingRedraw)
    assert.deepStrictEqual(writes(redrawn.actions).slice(1), ["ok"])
  })

  it("ends when the session closes: removed, upserted closed, or missing from the list", () => {
    const closed: Array<AttachAction> = [{ _tag: "End", ending: { _tag: "Closed" } }]
    assert.deepStrictEqual(
      run([{ type: "session", event: "removed", sessionId: id, computer: session.computer }]).actions,
      closed
    )
    assert.deepStrictEqual(
      run([{ type: "session", event: "upserted", session: { ...session, status: "closed" } as typeof session }])
        .actions,
      closed
    )
    assert.deepStrictEqual(run([{ type: "sessions", sessions: [] }]).actions, closed)
    assert.deepStrictEqual(run([{ type: "sessions", sessions: [session] }]).actions, [])
    const other = makeSession({ status: "idle" })
    assert.deepStrictEqual(
      run([{ type: "session", event: "removed", sessionId: other.sessionId, computer: other.computer }]).actions,
      []
    )
  })

  it("shows a keystroke failure and goes on; an unknown outcome says to look before typing again", () => {
    const failed = run([{ type: "inputFailed", sessionId: id, error: "TerminalUnavailable", message: "tmux is gone" }])
    assert.deepStrictEqual(failed.actions, [{
      _tag: "Notice",
      text: "telemux: keystrokes not delivered (tmux is gone); type them again"
    }])
    const unknown = run([{ type: "inputFailed", sessionId: id, error: "OutcomeUnknown", message: "no answer" }])
    assert.deepStrictEqual(unknown.actions, [{
      _tag: "Notice",
      text: "telemux: no answer for keystrokes (no answer); they may have arrived: look before typing them again"
    }])
  })

  it("ends on a refused terminal before anything was drawn; shows other errors", () => {
    const refusal =
      `terminal of session ${id}: session ${id} runs on far; its terminal streams from that computer's daemon only`
    assert.deepStrictEqual(run([{ type: "error", message: refusal }]).actions, [{
      _tag: "End",
      ending: { _tag: "Refused", detail: refusal }
    }])
    const later = run([terminal(1), { type: "error", message: refusal }]).actions.at(-1)
    assert.strictEqual(later?._tag, "Notice")
    const resize = run([{ type: "error", message: `resize of session ${id}: tmux is busy` }]).actions
    assert.deepStrictEqual(resize, [{
      _tag: "Notice",
      text: `telemux: resize of session ${id}: tmux is busy; the session stays at its size`
    }])
  })

  it("says once that the session keeps another size, when its size was not applied", () => {
    const kept = (cols: number, rows: number, applied = false): ServerMessage => ({
      type: "size",
      sessionId: id,
      cols,
      rows,
      applied
    })
    const { actions, state } = run([kept(80, 24), kept(80, 24)])
    assert.deepStrictEqual(actions, [{
      _tag: "Notice",
      text: "telemux: shown at the session's own size 80x24 (yours: 20x4): someone attached with tmux keeps it " +
        "until they detach"
    }])
    assert.isTrue(state.toldSize)
    assert.deepStrictEqual(run([kept(20, 4)]).actions, [])
    assert.deepStrictEqual(run([kept(80, 24, true)]).actions, [])
  })
})
