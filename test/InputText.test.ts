import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, ParseResult, Schema } from "effect"
import { INPUT_MAX_BYTES } from "../services/Sessions.js"
import { AgentLaunch, buildLaunch } from "../src/agents/AgentCommands.js"
import { SendInputPayload } from "../src/api/Api.js"
import {
  findPasteMarker,
  InputText,
  inputTextProblem,
  NOTICE_MAX_CHARS,
  sanitiseNotice
} from "../src/domain/InputText.js"
import { FleetRpcs } from "../src/fleet/Rpcs.js"

const ESC = "\u001b"
const CSI8 = "\u009b"
const SESSION = "00000000-0000-4000-8000-000000000001"

const decodeText = Schema.decodeUnknownEither(InputText)
const problemOf = (text: string) => {
  const result = decodeText(text)
  return Either.isLeft(result) ? ParseResult.TreeFormatter.formatErrorSync(result.left) : undefined
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing case can be replayed. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Pieces an attacker would combine: introducers, marker bodies, terminators, controls, halves of pairs. */
const HOSTILE_PIECES = [
  ESC,
  "[",
  "]",
  "P",
  "_",
  "^",
  "X",
  "\\",
  "200~",
  "201~",
  "20",
  "1~",
  "0",
  ";",
  ":",
  "?",
  "~",
  CSI8,
  "\u009d",
  "\u0090",
  "\u009c",
  "\u0007",
  "\u0015",
  "\u0003",
  "\u0004",
  "\r",
  "\n",
  "\t",
  "\u0000",
  "\u007f",
  "\u0085",
  "\u0018",
  "\u001a",
  "\ud83d",
  "\ude00",
  "😀",
  "é",
  "\u2028",
  "\u2029",
  "\u202e",
  "\u2066",
  " ",
  "touch /tmp/pwned",
  "a",
  "$(id)",
  "\u00a0"
]

const hostileText = (random: () => number, pieces: number) =>
  Array.from({ length: pieces }, () => HOSTILE_PIECES[Math.floor(random() * HOSTILE_PIECES.length)]!).join("")

// eslint-disable-next-line no-control-regex -- looking for control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
const INVISIBLE_FORMATTING = /[\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/

describe("InputText: what may be pasted into a pane", () => {
  it("accepts text with every control character but NUL, and escape sequences that are not paste markers", () => {
    let controls = ""
    for (let c = 1; c < 0x20; c++) controls += String.fromCharCode(c)
    const accepted = [
      "",
      "ls -la\n",
      "tab\tcr\rcrlf\r\nbell\u0007 del\u007f",
      controls,
      "C1 as text: \u0080\u0085\u009c\u009f",
      `${ESC}[A ${ESC}[2~ ${ESC}[20~ ${ESC}[2001~ ${ESC}[1201~ ${ESC}[202~ ${ESC}[200 ${ESC}[201 ${ESC}[;201~`,
      // CAN and SUB cancel a sequence; ESC starts a new one
      `${ESC}[20${"\u0018"}1~ ${ESC}[20${"\u001a"}1~ ${ESC}[20${ESC}[1~`,
      `${CSI8}2~ ${CSI8}A`,
      "unicode: héllo ✓ 日本 😀👍🏽 \u2028",
      "200~ 201~ [201~ \\e[201~ \\x1b[201~"
    ]
    for (const text of accepted) {
      assert.isUndefined(inputTextProblem(text), JSON.stringify(text))
      assert.isUndefined(problemOf(text), JSON.stringify(text))
    }
  })

  it("refuses NUL anywhere, saying where and that tmux cannot paste it", () => {
    for (const [text, index] of [["a\u0000b", 1], ["\u0000", 0], ["abc\u0000", 3]] as const) {
      const problem = inputTextProblem(text)
      assert.isDefined(problem)
      assert.include(problem!, "NUL")
      assert.include(problem!, `index ${index}`)
      assert.include(problem!, "remove it")
      assert.include(problemOf(text)!, "NUL")
    }
  })

  it("refuses lone UTF-16 surrogates (no UTF-8 encoding) but not pairs", () => {
    for (
      const [text, index] of [["\ud800", 0], ["a\udc00", 1], ["x\ude00\ud83d", 1], ["ok😀\ud83d", 4], [
        "\ud83d😀",
        0
      ]] as const
    ) {
      const problem = inputTextProblem(text)
      assert.isDefined(problem, JSON.stringify(text))
      assert.include(problem!, "lone UTF-16 surrogate")
      assert.include(problem!, `index ${index}`)
    }
    assert.isUndefined(inputTextProblem("😀\ud83d\ude00"))
  })

  it("refuses the bracketed-paste markers, 7-bit and 8-bit, naming the sequence and its place", () => {
    const cases: ReadonlyArray<readonly [string, number, string]> = [
      [`${ESC}[201~`, 0, "ESC[201~"],
      [`${ESC}[200~`, 0, "ESC[200~"],
      [`echo hi${ESC}[201~\ntouch /tmp/x\n`, 7, "ESC[201~"],
      [`${CSI8}201~`, 0, "<U+009B>201~"],
      [`x${CSI8}200~`, 1, "<U+009B>200~"]
    ]
    for (const [text, index, shown] of cases) {
      const problem = inputTextProblem(text)
      assert.isDefined(problem, JSON.stringify(text))
      assert.include(problem!, `bracketed-paste marker ${shown} at index ${index}`)
      assert.include(problem!, "remove it")
      assert.include(problemOf(text)!, "bracketed-paste marker")
    }
  })

  it("refuses every spelling a terminal parser reads as a marker: zeros, parameters, markers split by controls", () => {
    const spellings = [
      `${ESC}[0201~`,
      `${ESC}[000200~`,
      `${ESC}[201;5~`,
      `${ESC}[201:1~`,
      `${ESC}[?201~`,
      `${ESC}[201 ~`,
      // C0 controls are executed inside a sequence without ending it; DEL is ignored
      `${ESC}[2\u00010\u00071~`,
      `${ESC}[20\r\n1~`,
      `${ESC}[20\u007f1~`,
      `${ESC}\u0001[201~`,
      `${CSI8}\t201~`,
      // a marker hidden in an unfinished one, and in a sequence of its own kind
      `${ESC}[20${ESC}[201~1~`,
      `${ESC}${ESC}[201~`,
      `${CSI8}${CSI8}201~`
    ]
    for (const text of spellings) {
      assert.isDefined(findPasteMarker(text), JSON.stringify(text))
      assert.include(inputTextProblem(text) ?? "", "bracketed-paste marker", JSON.stringify(text))
    }
  })

  it("finds a marker at the end of a 1 MB text, and scans hostile megabytes in linear time", () => {
    const long = "x".repeat(1024 * 1024) + `${ESC}[201~`
    assert.deepStrictEqual(findPasteMarker(long), { start: 1024 * 1024, end: 1024 * 1024 + 6 })
    // introducers that each start a long run of parameter bytes: a quadratic scan would take minutes
    const runs = (`${ESC}[` + "2;".repeat(1000)).repeat(500) + `${CSI8}` + "0".repeat(200_000)
    const started = performance.now()
    assert.isUndefined(inputTextProblem(runs))
    assert.isBelow(performance.now() - started, 2000)
  })

  it("the first problem in the text is the one reported", () => {
    assert.include(inputTextProblem(`a${ESC}[201~b\u0000`)!, "bracketed-paste marker ESC[201~ at index 1")
    assert.include(inputTextProblem(`a\u0000b${ESC}[201~`)!, "NUL character (U+0000) at index 1")
    assert.include(inputTextProblem("\ud800\u0000")!, "lone UTF-16 surrogate (U+D800) at index 0")
  })

  it("names the field it checks", () => {
    assert.match(inputTextProblem(`${ESC}[201~`, "prompt")!, /^prompt contains/)
  })
})

describe("InputText where text enters the daemon", () => {
  it("the API's input payload refuses markers, NUL and lone surrogates, and still bounds the size", () => {
    const decode = Schema.decodeUnknownEither(SendInputPayload)
    for (const text of [`${ESC}[201~\ntouch /tmp/x\n`, `${CSI8}201~`, "a\u0000b", "\u0000", "\udfff"]) {
      const result = decode({ text, enter: false })
      assert.isTrue(Either.isLeft(result), JSON.stringify(text))
    }
    assert.deepStrictEqual(decode({ text: "a\tb\rc\u0003" }), Either.right({ text: "a\tb\rc\u0003", enter: true }))
    const tooLong = decode({ text: "é".repeat(INPUT_MAX_BYTES / 2 + 1) })
    assert.isTrue(Either.isLeft(tooLong))
    assert.include(
      ParseResult.TreeFormatter.formatErrorSync((tooLong as Either.Left<ParseResult.ParseError, unknown>).left),
      `${INPUT_MAX_BYTES} bytes`
    )
  })

  it("a fleet SendText request with a marker does not decode (the receiving computer refuses it)", () => {
    const decode = Schema.decodeUnknownEither(
      FleetRpcs.requests.get("SendText")!.payloadSchema as Schema.Schema<unknown, unknown>
    )
    const request = (text: string) => ({ sessionId: SESSION, text, enter: false })
    assert.isTrue(Either.isLeft(decode(request(`${ESC}[201~\nrm -rf ~\n`))))
    assert.isTrue(Either.isLeft(decode(request("a\u0000b"))))
    assert.isTrue(Either.isRight(decode(request("a\r\n\tb"))))
  })

  it.effect("an agent's first prompt with a marker is refused before any session exists", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        buildLaunch({
          agent: "claude",
          mode: "med",
          launch: AgentLaunch.startWithPrompt(`fix it${ESC}[201~\u0015touch /tmp/x\r`)
        })
      )
      assert.strictEqual(error._tag, "InvalidRequest")
      assert.include(error.message, "prompt contains the bracketed-paste marker ESC[201~ at index 6")
      const plan = yield* buildLaunch({
        agent: "claude",
        mode: "med",
        launch: AgentLaunch.startWithPrompt("fix\tit\r\nplease")
      })
      assert.strictEqual(plan.firstPrompt, "fix\tit\r\nplease")
    }))
})

describe("sanitiseNotice: one line of printable text", () => {
  it("removes escape sequences whole (CSI, OSC, DCS, 8-bit) and turns other controls into spaces", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      [`${ESC}[31mred${ESC}[0m text`, "red text"],
      [`before${ESC}[201~\u0015touch /tmp/pwned\r`, "before touch /tmp/pwned"],
      [`${ESC}]0;new title\u0007shown`, "shown"],
      [`${ESC}]8;;http://x${ESC}\\link${ESC}]8;;${ESC}\\`, "link"],
      [`${ESC}Pq#0;2;0;0;0${ESC}\\after`, "after"],
      [`${CSI8}201~x${CSI8}2J`, "x"],
      ["\u009d0;t\u009cy", "y"],
      [`a${ESC}7b${ESC}(Bc${ESC}`, "abc"],
      ["line1\nline2\r\nline3\ttab\u0000nul\u007fdel\u0085nel", "line1 line2 line3 tab nul del nel"],
      ["  spaced \u2028 out \u202e reversed  ", "spaced out reversed"],
      ["lone \ud800 half", "lone \ufffd half"],
      ["😀 pair kept", "😀 pair kept"]
    ]
    for (const [input, expected] of cases) assert.strictEqual(sanitiseNotice(input), expected, JSON.stringify(input))
  })

  it("a marker split by other bytes cannot be rebuilt by what is removed", () => {
    for (
      const input of [
        `${ESC}[20${ESC}[201~1~`,
        `${ESC}${ESC}[31m[201~`,
        `${ESC}[${ESC}]x\u0007201~`,
        `\u0000${ESC}\u0000[201~`,
        `${CSI8}${CSI8}201~`
      ]
    ) {
      const out = sanitiseNotice(input)
      assert.notMatch(out, CONTROL, JSON.stringify(input))
      assert.isUndefined(findPasteMarker(out))
    }
  })

  it("holds for 5,000 random hostile texts: no control, no lone surrogate, one line, bounded, idempotent, pastable", () => {
    const random = prng(20250610)
    for (let i = 0; i < 5000; i++) {
      const input = hostileText(random, 1 + Math.floor(random() * 60))
      const max = i % 10 === 0 ? 1 + Math.floor(random() * 30) : NOTICE_MAX_CHARS
      const out = sanitiseNotice(input, max)
      const where = `case ${i}: ${JSON.stringify(input)} → ${JSON.stringify(out)}`
      assert.notMatch(out, CONTROL, where)
      assert.notMatch(out, LONE_SURROGATE, where)
      assert.notMatch(out, INVISIBLE_FORMATTING, where)
      assert.notInclude(out, "  ", where)
      assert.strictEqual(out, out.trim(), where)
      assert.isAtMost(Array.from(out).length, max, where)
      assert.strictEqual(sanitiseNotice(out, max), out, where)
      assert.isUndefined(inputTextProblem(out), where)
    }
  })

  it("bounds long texts by code points without cutting a pair, quickly", () => {
    const emoji = sanitiseNotice("😀".repeat(1000))
    assert.strictEqual(Array.from(emoji).length, NOTICE_MAX_CHARS)
    assert.isTrue(emoji.endsWith("😀…"))
    assert.notMatch(emoji, LONE_SURROGATE)
    const started = performance.now()
    const huge = sanitiseNotice(
      `${ESC}]`.repeat(100_000) + "\u009d".repeat(100_000) + `${ESC}[`.repeat(100_000) + "tail"
    )
    assert.isBelow(performance.now() - started, 2000)
    assert.notMatch(huge, CONTROL)
    assert.strictEqual(sanitiseNotice("abcdef", 4), "abc…")
  })
})
