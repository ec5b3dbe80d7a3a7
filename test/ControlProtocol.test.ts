import { assert, describe, it } from "@effect/vitest"
import { PaneId } from "../src/domain/Session.js"
import { enterAtShellArgs } from "../src/tmux/Commands.js"
import {
  commandLine,
  commandListLine,
  type ControlMessage,
  makeControlParser,
  quoteArg,
  replyBlocks,
  unescapeOutput
} from "../src/tmux/ControlProtocol.js"

const bytes = (text: string) => new TextEncoder().encode(text)

/** Feeds `chunks` in order and returns every message they completed. */
const parseAll = (chunks: ReadonlyArray<Uint8Array | string>, parser = makeControlParser()) =>
  chunks.flatMap((chunk) => parser.push(typeof chunk === "string" ? bytes(chunk) : chunk))

/** The octal escaping tmux applies to %output (bytes < 32 and backslash as \ooo). */
const escapeLikeTmux = (data: Uint8Array) =>
  Array.from(data, (b) => (b < 32 || b === 0x5c ? `\\${b.toString(8).padStart(3, "0")}` : String.fromCharCode(b))).join(
    ""
  )

/** A string whose chars are bytes (what escapeLikeTmux returns) back to those bytes. */
const bytesFromLatin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0))

/** Messages as plain objects: an output's text and ESC flag are read through its getters. */
const plain = (messages: ReadonlyArray<ControlMessage>) =>
  messages.map((m) =>
    m._tag === "Output" ? { _tag: m._tag, paneId: m.paneId, data: m.data, hasEscape: m.hasEscape } : m
  )

const outputs = (messages: ReadonlyArray<ControlMessage>, pane?: string) =>
  messages.flatMap((m) => (m._tag === "Output" && (pane === undefined || m.paneId === pane) ? [m.data] : []))

describe("control protocol: reply framing", () => {
  it("ends a block only at the %end with its own triple; look-alike lines are body text", () => {
    const messages = parseAll([
      "%begin 1700000000 12 1\n",
      "%end 1 2 3\n",
      "%begin 9 9 9\n",
      "%error 1700000000 12 0\n",
      "%end 1700000000 13 1\n",
      "%output %1 not-a-notification\n",
      "  %end 1700000000 12 1\n",
      "%end 1700000000 12 1\n"
    ])
    assert.deepStrictEqual(messages, [{
      _tag: "Reply",
      time: "1700000000",
      number: "12",
      flags: "1",
      ok: true,
      body: [
        "%end 1 2 3",
        "%begin 9 9 9",
        "%error 1700000000 12 0",
        "%end 1700000000 13 1",
        "%output %1 not-a-notification",
        "  %end 1700000000 12 1"
      ]
    }])
  })

  it("reports %error blocks, empty bodies and notifications between blocks, in order", () => {
    const messages = parseAll([
      "%begin 5 1 0\n%end 5 1 0\n%session-changed $0 _telemux_hub\n",
      "%begin 5 2 1\nparse error: unknown command: bogus\n%error 5 2 1\n",
      "%sessions-changed\n%window-close @4\n%unlinked-window-close @5\n%pane-mode-changed %7\n",
      "%layout-change @1 abcd,80x24,0,0,1 abcd,80x24,0,0,1 *\n",
      "%begin 5 3 1\n\n%end 5 3 1\n%exit too far behind\n"
    ])
    assert.deepStrictEqual(messages, [
      { _tag: "Reply", time: "5", number: "1", flags: "0", ok: true, body: [] },
      { _tag: "SessionChanged", sessionId: "$0", name: "_telemux_hub" },
      { _tag: "Reply", time: "5", number: "2", flags: "1", ok: false, body: ["parse error: unknown command: bogus"] },
      { _tag: "SessionsChanged" },
      { _tag: "WindowClose", windowId: "@4" },
      { _tag: "UnlinkedWindowClose", windowId: "@5" },
      { _tag: "PaneModeChanged", paneId: "%7" },
      // a window's size changed: the terminals of its panes are drawn again
      { _tag: "LayoutChange", windowId: "@1" },
      { _tag: "Reply", time: "5", number: "3", flags: "1", ok: true, body: [""] },
      { _tag: "Exit", reason: "too far behind" }
    ])
  })

  it("keeps a line split across chunks, at any byte, and a UTF-8 body intact", () => {
    const wire = bytes("%begin 7 8 1\nété ✓ 日本 😀 %end 7 8 1\n%end 7 8 1\n%output %3 ok\\015\\012\n")
    for (let cut = 1; cut < wire.length; cut++) {
      const messages = parseAll([wire.subarray(0, cut), wire.subarray(cut)])
      assert.deepStrictEqual(plain(messages), [
        { _tag: "Reply", time: "7", number: "8", flags: "1", ok: true, body: ["été ✓ 日本 😀 %end 7 8 1"] },
        { _tag: "Output", paneId: "%3", data: "ok\r\n", hasEscape: false }
      ], `cut at byte ${cut}`)
    }
    const oneByteAtATime = parseAll(Array.from(wire, (b) => Uint8Array.of(b)))
    assert.strictEqual(oneByteAtATime.length, 2)
  })

  it("yields nothing for a line until its newline arrives", () => {
    const parser = makeControlParser()
    assert.deepStrictEqual(parser.push(bytes("%output %1 abc")), [])
    assert.deepStrictEqual(parser.push(bytes("def")), [])
    assert.deepStrictEqual(plain(parser.push(bytes("\n"))), [{
      _tag: "Output",
      paneId: "%1",
      data: "abcdef",
      hasEscape: false
    }])
  })
})

/** `text` as a chunk that counts the lines the parser decodes (a body line reused is not decoded). */
const countingChunk = (text: string | Uint8Array) => {
  const chunk = Buffer.from(typeof text === "string" ? bytes(text) : text) as Buffer & {
    utf8Slice: (start: number, end: number) => string
  }
  const decode = chunk.utf8Slice.bind(chunk)
  const decoded: Array<string> = []
  chunk.utf8Slice = (start, end) => {
    const line = decode(start, end)
    decoded.push(line)
    return line
  }
  return { chunk, decoded }
}

describe("control protocol: a reply repeating the last capture (previousBody)", () => {
  const reply = (triple: string, lines: ReadonlyArray<string>) =>
    `%begin ${triple}\n${lines.map((l) => `${l}\n`).join("")}%end ${triple}\n`
  const parse = (previous: ReadonlyArray<string> | undefined, wire: string | Uint8Array) => {
    const asked: Array<string> = []
    const parser = makeControlParser({
      previousBody: () => {
        asked.push("asked")
        return previous
      }
    })
    const { chunk, decoded } = countingChunk(wire)
    const messages = parser.push(chunk)
    return { messages, decoded, asked: asked.length }
  }
  const bodyOf = (messages: ReadonlyArray<ControlMessage>) => {
    const [message] = messages
    assert.strictEqual(message?._tag, "Reply")
    return (message as Extract<ControlMessage, { _tag: "Reply" }>).body
  }

  it("an unchanged screen is read without decoding a line; only the block's end is", () => {
    const screen = ["$ echo hi", "hi", "", "$ "]
    const { asked, decoded, messages } = parse(screen, reply("1 1 1", screen))
    assert.deepStrictEqual(bodyOf(messages), screen)
    assert.deepStrictEqual(decoded, ["%end 1 1 1"])
    assert.strictEqual(asked, 1)
  })

  it("a screen scrolled up by two with two new lines decodes the two new lines only", () => {
    const before = ["t1", "t2", "t3", "t4", "t5", "t6"]
    const after = ["t3", "t4", "t5", "t6", "t7", "t8"]
    const { decoded, messages } = parse(before, reply("1 2 1", after))
    assert.deepStrictEqual(bodyOf(messages), after)
    assert.deepStrictEqual(decoded, ["t7", "t8", "%end 1 2 1"])
  })

  it("only ASCII bytes are taken as the same: other text is decoded, invalid UTF-8 as U+FFFD", () => {
    // the byte 0xE9 alone is not "é" (U+00E9), though its value is that character's code
    const wire = Buffer.concat([bytes("%begin 1 3 1\n"), Uint8Array.of(0xe9, 0x0a), bytes("日本 ✓\n%end 1 3 1\n")])
    const { decoded, messages } = parse(["é", "日本 ✓"], wire)
    assert.deepStrictEqual(bodyOf(messages), ["\ufffd", "日本 ✓"])
    assert.deepStrictEqual(decoded, ["\ufffd", "日本 ✓", "%end 1 3 1"])
  })

  it("a previous body holding the block's own end line never hides that end", () => {
    // a pane printed `%end 1 4 1` in its last capture; the reply's real end is that same text
    const { messages } = parse(["%end 1 4 1", "x"], "%begin 1 4 1\nx\n%end 1 4 1\n%sessions-changed\n")
    assert.deepStrictEqual(messages, [
      { _tag: "Reply", time: "1", number: "4", flags: "1", ok: true, body: ["x"] },
      { _tag: "SessionsChanged" }
    ])
  })

  it("a wrong previous body (another pane's) changes nothing but what is decoded", () => {
    const screen = ["alpha", "beta", "gamma"]
    const { decoded, messages } = parse(["beta", "zeta", "alpha", "gamma"], reply("1 5 1", screen))
    assert.deepStrictEqual(bodyOf(messages), screen)
    assert.isAtLeast(decoded.length, 2)
  })

  it("is asked only for replies to the client's own commands (flags 1), once per block", () => {
    const { asked } = parse(["x"], `${reply("1 6 0", ["x"])}${reply("1 7 1", ["x"])}${reply("1 8 1", ["y"])}`)
    assert.strictEqual(asked, 2)
  })
})

describe("control protocol: output", () => {
  it("unescapes \\ooo and \\\\ into bytes", () => {
    assert.deepStrictEqual(Array.from(unescapeOutput(bytes("a\\134b\\\\c\\033[0m\\015\\012"))), [
      ...bytes("a\\b\\c"),
      0x1b,
      ...bytes("[0m"),
      0x0d,
      0x0a
    ])
    assert.deepStrictEqual(Array.from(unescapeOutput(bytes("\\0\\08x"))), Array.from(bytes("\\0\\08x")))
    assert.deepStrictEqual(outputs(parseAll(["%output %2 C:\\134dir\\134 \\\\n\n"])), ["C:\\dir\\ \\n"])
  })

  it("decodes a character split across two %output notifications of one pane", () => {
    for (const text of ["é", "✓", "日本", "😀", "a é ✓ 日本 😀 z"]) {
      const raw = bytes(text)
      for (let cut = 1; cut < raw.length; cut++) {
        const parser = makeControlParser()
        const messages = parseAll(
          [
            `%output %5 ${escapeLikeTmux(raw.subarray(0, cut))}\n`,
            // Another pane's output in between must not disturb %5's pending bytes.
            `%output %6 ${escapeLikeTmux(bytes("日"))}\n`,
            `%output %5 ${escapeLikeTmux(raw.subarray(cut))}\n`
          ].map(bytesFromLatin1),
          parser
        )
        assert.strictEqual(outputs(messages, "%5").join(""), text, `${text} cut at byte ${cut}`)
        assert.deepStrictEqual(outputs(messages, "%6"), ["日"])
      }
    }
  })

  it("tells whether an output holds an ESC from its escaped bytes, and decodes only what is read", () => {
    const [plain, coloured, slash] = parseAll([
      `%output %1 ${escapeLikeTmux(bytes("plain\r\n"))}\n`,
      `%output %1 ${escapeLikeTmux(bytes("\x1b[31mred\x1b[0m"))}\n`,
      `%output %1 ${escapeLikeTmux(bytes("\\033 is how tmux writes it"))}\n`
    ].map(bytesFromLatin1))
    assert.isFalse(plain?._tag === "Output" && plain.hasEscape)
    assert.isTrue(coloured?._tag === "Output" && coloured.hasEscape)
    // a backslash followed by 033 is escaped itself (\134033): not an ESC
    assert.isFalse(slash?._tag === "Output" && slash.hasEscape)
    assert.strictEqual(slash?._tag === "Output" ? slash.data : "", "\\033 is how tmux writes it")

    // A pane's output nobody read is left out of its decoder's stream: the next one read starts afresh.
    const parser = makeControlParser()
    const half = escapeLikeTmux(bytes("é").subarray(0, 1))
    const [unread] = parseAll([`%output %2 ${half}\n`].map(bytesFromLatin1), parser)
    assert.strictEqual(unread?._tag, "Output")
    const [next] = parseAll([`%output %2 next\n`].map(bytesFromLatin1), parser)
    assert.strictEqual(next?._tag === "Output" ? next.data : "", "next")
  })

  it("reads %extended-output's value after the ' : ' mark", () => {
    const messages = parseAll(
      [`%extended-output %9 120 future-arg : ${escapeLikeTmux(bytes("x : y\\ ✓\n"))}\n`].map(bytesFromLatin1)
    )
    assert.deepStrictEqual(outputs(messages), ["x : y\\ ✓\n"])
  })

  it("parses %subscription-changed with its value after the first ' : '", () => {
    const [message] = parseAll(["%subscription-changed path $0 @1 1 %1 - : /tmp/a : b\n"])
    assert.deepStrictEqual(message, {
      _tag: "SubscriptionChanged",
      name: "path",
      sessionId: "$0",
      windowId: "@1",
      windowIndex: "1",
      paneId: "%1",
      value: "/tmp/a : b"
    })
  })

  it("bounds the per-pane decoders, dropping the least recently written", () => {
    const parser = makeControlParser({ maxPanes: 2 })
    const half = escapeLikeTmux(bytes("é").subarray(0, 1))
    const rest = escapeLikeTmux(bytes("é").subarray(1))
    parseAll([`%output %1 ${half}\n`, `%output %2 x\n`, `%output %3 y\n`].map(bytesFromLatin1), parser)
    // %1's half character went with its decoder: the rest alone is not a character.
    const [message] = parseAll([`%output %1 ${rest}\n`].map(bytesFromLatin1), parser)
    assert.notStrictEqual(message?._tag === "Output" ? message.data : "", "é")
  })
})

describe("control protocol: quoting", () => {
  it("leaves plain words bare and double-quotes the rest with tmux's escapes", () => {
    assert.strictEqual(quoteArg("capture-pane"), "capture-pane")
    assert.strictEqual(quoteArg("-t"), "-t")
    assert.strictEqual(quoteArg("tmx_0badf00d:1.0"), "tmx_0badf00d:1.0")
    assert.strictEqual(quoteArg("%3"), "\"%3\"")
    assert.strictEqual(quoteArg(""), "\"\"")
    assert.strictEqual(quoteArg("a;b"), "\"a;b\"")
    assert.strictEqual(quoteArg("$HOME ~ \"q\" \\"), "\"\\$HOME \\~ \\\"q\\\" \\\\\"")
    assert.strictEqual(quoteArg("l1\nl2\r\t\u0001\u007f"), "\"l1\\nl2\\r\\t\\001\\177\"")
    assert.strictEqual(quoteArg("#{pane_id} 'x' 日本"), "\"#{pane_id} 'x' 日本\"")
    assert.strictEqual(commandLine(["set-buffer", "-b", "x", "--", "a b"]), "set-buffer -b x -- \"a b\"")
  })

  it("never lets a newline through, so one command is one line", () => {
    const line = commandLine(["set-buffer", "--", "a\nb\r\n" + "x\n".repeat(1000)])
    assert.notInclude(line, "\n")
    assert.notInclude(line, "\r")
  })
})

describe("control protocol: command lists", () => {
  it("joins commands with bare separators; a `;` inside an argument stays quoted text", () => {
    assert.strictEqual(
      commandListLine([["set-buffer", "-b", "b", "--", "x ; y"], ["paste-buffer", "-b", "b", "-t", "%1"], [
        "display-message",
        "-p",
        ";"
      ]]),
      "set-buffer -b b -- \"x ; y\" ; paste-buffer -b b -t \"%1\" ; display-message -p \";\""
    )
  })

  it("counts the reply blocks a command answers: an if-shell two (its own and its branch's)", () => {
    assert.strictEqual(replyBlocks(["copy-mode", "-q", "-t", "%1"]), 1)
    assert.strictEqual(replyBlocks(enterAtShellArgs(PaneId.make("%1"))), 2)
  })
})
