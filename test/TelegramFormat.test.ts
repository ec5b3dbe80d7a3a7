import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Option } from "effect"
import { GrammyError, HttpError } from "grammy"
import { classify } from "../layers/TelegramApiGrammy.js"
import * as ConfigLive from "../layers/TelemuxConfigLive.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { ComputerName } from "../src/domain/Session.js"
import { parseQuestion } from "../src/telegram/Choices.js"
import { decodeCallback, encodeCallback, keyCommand, parseCommand, parseNew } from "../src/telegram/Commands.js"
import { fitText, MESSAGE_MAX_BYTES, renderTail, TAIL_LINES_MAX, topicTitle } from "../src/telegram/Format.js"
import { TOKEN } from "./support/telegramLayers.js"

const grammyError = (code: number, description: string, retryAfter?: number) =>
  new GrammyError(
    "call failed",
    {
      ok: false,
      error_code: code,
      description,
      ...(retryAfter === undefined ? {} : { parameters: { retry_after: retryAfter } })
    },
    "editMessageText",
    {}
  )

describe("Telegram: what the chat shows", () => {
  it("a topic's title: status emoji, computer, project, agent; at most 128 characters", () => {
    const session = {
      status: "waiting_input",
      computer: ComputerName.make("laptop"),
      workingDirectory: "/home/me/src/telemux/",
      agent: "claude"
    } as const
    assert.strictEqual(topicTitle(session), "❓ laptop · telemux · claude")
    assert.strictEqual(topicTitle({ ...session, status: "running", agent: null }), "🟢 laptop · telemux · shell")
    const long = topicTitle({ ...session, workingDirectory: `/${"x".repeat(300)}` })
    assert.strictEqual([...long].length, 128)
    assert.isTrue(long.endsWith("…"))
  })

  it("the tail: escaped, the screen's end; a cut is said and never silent; it always fits one message", () => {
    const small = renderTail("a < b && c > d\n\n\n", "")
    assert.strictEqual(small.html, "<pre>a &lt; b &amp;&amp; c &gt; d</pre>")
    assert.strictEqual(small.cut, 0)
    const tall = renderTail(Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n"), "")
    assert.strictEqual(tall.cut, 100 - TAIL_LINES_MAX)
    assert.include(tall.html, "line 99")
    assert.notInclude(tall.html, "line 59\n")
    assert.include(tall.html, `${100 - TAIL_LINES_MAX} lines above not shown`)
    const wide = renderTail(Array.from({ length: 30 }, () => "<".repeat(400)).join("\n"), "")
    assert.isAtMost(Buffer.byteLength(wide.html), MESSAGE_MAX_BYTES)
    assert.isAbove(wide.cut, 0)
    const huge = renderTail("é".repeat(10_000), "")
    assert.isAtMost(Buffer.byteLength(huge.html), MESSAGE_MAX_BYTES)
    assert.isAbove(huge.cut, 0)
    const text = fitText("x".repeat(5000))
    assert.isAtMost(Buffer.byteLength(text), MESSAGE_MAX_BYTES)
    assert.include(text, "cut")
  })

  it("choices read from a screen: a numbered menu, a yes/no prompt, none", () => {
    const menu = parseQuestion(
      "╭────╮\n│ Do you want to make this edit to README.md? │\n│ ❯ 1. Yes │\n│   2. Yes, and don't ask again │\n│   3. No, and tell Claude what to do differently (esc) │\n╰────╯\n"
    )
    assert.include(menu.question, "Do you want to make this edit")
    assert.deepStrictEqual(menu.choices.map((c) => [c.text, c.enter]), [["1", false], ["2", false], ["3", false]])
    assert.strictEqual(menu.choices[0]!.label, "1. Yes")
    assert.isAtMost(menu.choices[2]!.label.length, 40)
    const yesNo = parseQuestion("Overwrite file.txt? (y/n) ")
    assert.deepStrictEqual(yesNo.choices.map((c) => [c.label, c.text, c.enter]), [["Yes", "y", true], [
      "No",
      "n",
      true
    ]])
    assert.include(yesNo.question, "Overwrite")
    assert.deepStrictEqual(parseQuestion("What should I name it?\n> ").choices, [])
    // numbers that are no menu (not 1, 2, … in order) offer no buttons
    assert.deepStrictEqual(parseQuestion("3. foo\n7. bar\n").choices, [])
  })

  it("commands, keys with counts, /new's words, callback data both ways", () => {
    assert.deepStrictEqual(parseCommand("/new@telemux_bot demo claude fix the bug"), {
      name: "new",
      args: "demo claude fix the bug"
    })
    assert.isUndefined(parseCommand("just text"))
    assert.deepStrictEqual(keyCommand({ name: "up", args: "3" }), Either.right({ key: "Up", repeat: 3 }))
    assert.deepStrictEqual(keyCommand({ name: "ctrlc", args: "" }), Either.right({ key: "C-c", repeat: 1 }))
    assert.isTrue(Either.isLeft(keyCommand({ name: "up", args: "lots" })!))
    assert.isUndefined(keyCommand({ name: "close", args: "" }))
    assert.deepStrictEqual(parseNew("demo claude fix the  bug"), {
      project: "demo",
      agent: "claude",
      prompt: "fix the  bug"
    })
    assert.deepStrictEqual(parseNew("demo run the tests"), { project: "demo", prompt: "run the tests" })
    assert.deepStrictEqual(parseNew(""), {})
    const id = "0b0e4b8a-6a0b-4a57-9f57-0d1c1f1f1f1f"
    for (
      const callback of [
        { _tag: "Answer", sessionId: id, index: 2 },
        { _tag: "FullScreen", sessionId: id },
        { _tag: "Pick", picker: 12, index: 3 }
      ] as const
    ) {
      const data = encodeCallback(callback)
      assert.isAtMost(Buffer.byteLength(data), 64)
      assert.deepStrictEqual(decodeCallback(data), callback)
    }
    assert.isUndefined(decodeCallback("x:1"))
    assert.isUndefined(decodeCallback("p:a:b"))
  })

  it("Telegram's answers become typed errors", () => {
    const limited = classify("editMessageText", grammyError(429, "Too Many Requests: retry after 7", 7))
    assert.strictEqual(limited._tag, "TelegramRateLimited")
    assert.strictEqual(limited._tag === "TelegramRateLimited" && Duration.toMillis(limited.retryAfter), 7000)
    assert.strictEqual(
      classify("getUpdates", grammyError(409, "Conflict: terminated by other getUpdates"))._tag,
      "TelegramConflict"
    )
    assert.strictEqual(
      classify("editMessageText", grammyError(400, "Bad Request: message is not modified: x"))._tag,
      "TelegramNotModified"
    )
    assert.strictEqual(
      classify("sendMessage", grammyError(400, "Bad Request: message thread not found"))._tag,
      "TelegramThreadNotFound"
    )
    assert.strictEqual(classify("sendMessage", grammyError(403, "Forbidden: bot was kicked"))._tag, "TelegramRefused")
    assert.strictEqual(classify("sendMessage", grammyError(502, "Bad Gateway"))._tag, "TelegramNetworkError")
    assert.strictEqual(
      classify("sendMessage", new HttpError("Network request failed", new Error("ECONNRESET")))._tag,
      "TelegramNetworkError"
    )
  })
})

describe("Telegram settings", () => {
  const read = (env: Record<string, string>) =>
    Effect.provide(TelemuxConfig, ConfigLive.layerFromRecord(env)).pipe(Effect.map((s) => s.telegram))

  it.effect("none set: no bot; all set: the chat and the allowlist", () =>
    Effect.gen(function*() {
      assert.isTrue(Option.isNone(yield* read({})))
      const on = yield* read({
        TELEMUX_TELEGRAM_TOKEN: TOKEN,
        TELEMUX_TELEGRAM_CHAT: "-1001234567890",
        TELEMUX_TELEGRAM_USERS: "111, 222 333",
        TELEMUX_TELEGRAM_CHATS: "444"
      })
      assert.isTrue(Option.isSome(on))
      const settings = Option.getOrThrow(on)
      assert.strictEqual(settings.chat, -1001234567890)
      assert.deepStrictEqual(settings.users, [111, 222, 333])
      assert.deepStrictEqual(settings.chats, [444])
      assert.isTrue(Option.isNone(settings.apiRoot))
    }))

  it.effect("bad settings stop the daemon with ConfigInvalid saying what to do", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[Record<string, string>, string]> = [
        [{ TELEMUX_TELEGRAM_TOKEN: TOKEN }, "TELEMUX_TELEGRAM_CHAT is needed"],
        [{ TELEMUX_TELEGRAM_TOKEN: TOKEN, TELEMUX_TELEGRAM_CHAT: "my-group" }, "numeric id of the forum supergroup"],
        [{ TELEMUX_TELEGRAM_TOKEN: "nope", TELEMUX_TELEGRAM_CHAT: "-100" }, "@BotFather"],
        [
          { TELEMUX_TELEGRAM_TOKEN: TOKEN, TELEMUX_TELEGRAM_CHAT: "-100", TELEMUX_TELEGRAM_USERS: "42,@me" },
          "\"@me\", which is not a Telegram user id"
        ],
        [{ TELEMUX_TELEGRAM_CHAT: "-100" }, "TELEMUX_TELEGRAM_TOKEN is not"]
      ]
      for (const [env, expected] of cases) {
        const error = yield* Effect.flip(read(env))
        assert.strictEqual(error._tag, "ConfigInvalid")
        assert.include(error.message, expected)
      }
    }))
})
