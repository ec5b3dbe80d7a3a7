import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, DateTime, Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { settings } from "../layers/TelemuxConfigLive.js"
import { decodeHookEventJson, HookEvent, type HookEventJson, TurnStopped } from "../src/agents/HookEvent.js"
import {
  HOOK_RAW_MAX_CHARS,
  HOOK_SUMMARY_MAX_CHARS,
  type HookInvocation,
  lastAssistantMessageOfJsonl,
  lastAssistantMessageOfTranscript,
  normaliseHookPayload,
  readFileTail,
  summariseText,
  TRANSCRIPT_TAIL_BYTES,
  TURN_TEXT_MAX_CHARS
} from "../src/agents/HookPayload.js"
import { stateDirFrom } from "../src/agents/StateDir.js"
import { summarise, SUMMARY_MAX_CHARS } from "../src/domain/Session.js"

const AT = new Date("2025-06-01T12:00:00.000Z")

/** Normalises, and checks the result is a valid HookEvent (the daemon decodes exactly this). */
const normalise = (invocation: Omit<HookInvocation, "at">): HookEventJson => {
  const json = normaliseHookPayload({ ...invocation, at: AT })
  Effect.runSync(decodeHookEventJson(JSON.stringify(json)))
  return json
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "telemux-payload-"))

const assistantLine = (text: string) =>
  JSON.stringify({ type: "assistant", message: { role: "assistant", content: [{ type: "text", text }] } })
const toolLine = JSON.stringify({
  type: "assistant",
  message: { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Bash", input: { command: "ls" } }] }
})
const userLine = (text: string) => JSON.stringify({ type: "user", message: { role: "user", content: text } })

describe("Claude Code payloads", () => {
  const base = { session_id: "c0ffee00-1111-4222-8333-444455556666", transcript_path: "/t/x.jsonl", cwd: "/p" }

  it("SessionStart carries the native session id and the transcript", () => {
    const event = normalise({
      agent: "claude",
      event: "SessionStart",
      payload: JSON.stringify({ ...base, hook_event_name: "SessionStart", source: "startup" })
    })
    assert.deepStrictEqual(event, {
      _tag: "SessionStarted",
      agent: "claude",
      at: AT.toISOString(),
      nativeSessionId: base.session_id,
      nativeLogFile: "/t/x.jsonl",
      source: "startup"
    })
  })

  it("SessionStart without a session id is an invalid payload, not a crash", () => {
    const event = normalise({
      agent: "claude",
      event: "SessionStart",
      payload: JSON.stringify({ hook_event_name: "SessionStart" })
    })
    assert.strictEqual(event._tag, "HookPayloadInvalid")
  })

  it("UserPromptSubmit carries the prompt, summarised", () => {
    const prompt = "please   fix\n\nthe tests " + "x".repeat(500)
    const event = normalise({
      agent: "claude",
      event: "UserPromptSubmit",
      payload: JSON.stringify({ ...base, hook_event_name: "UserPromptSubmit", prompt })
    })
    assert.strictEqual(event._tag, "PromptSubmitted")
    assert.strictEqual((event as { prompt: string }).prompt, summarise(prompt))
    assert.isAtMost((event as { prompt: string }).prompt.length, SUMMARY_MAX_CHARS)
  })

  it("Stop takes the last reply from the payload when given", () => {
    const event = normalise({
      agent: "claude",
      event: "Stop",
      payload: JSON.stringify({
        ...base,
        hook_event_name: "Stop",
        stop_hook_active: false,
        last_assistant_message: "All  done.\n\n- one\n- two\n"
      }),
      lastMessageOfTranscript: () => "from the transcript"
    })
    // the reply whole, lines and all: it is what a front-end shows as the turn's text
    assert.deepStrictEqual(event, {
      _tag: "TurnStopped",
      agent: "claude",
      at: AT.toISOString(),
      nativeSessionId: base.session_id,
      lastMessage: "All  done.\n\n- one\n- two",
      transcriptPath: "/t/x.jsonl"
    })
  })

  it("Stop without it reads the transcript's tail", () => {
    const dir = tmp()
    const transcript = path.join(dir, "s.jsonl")
    fs.writeFileSync(transcript, [userLine("hi"), assistantLine("Here is   the\nanswer."), toolLine, ""].join("\n"))
    const event = normalise({
      agent: "claude",
      event: "Stop",
      payload: JSON.stringify({ ...base, transcript_path: transcript, hook_event_name: "Stop" })
    })
    assert.strictEqual(event._tag, "TurnStopped")
    assert.strictEqual((event as { lastMessage: string }).lastMessage, "Here is   the\nanswer.")
    fs.rmSync(dir, { recursive: true })
  })

  it("a reply longer than TURN_TEXT_MAX_CHARS is cut, and says so", () => {
    const long = "x".repeat(TURN_TEXT_MAX_CHARS * 2)
    const event = normalise({
      agent: "claude",
      event: "Stop",
      payload: JSON.stringify({ ...base, hook_event_name: "Stop", last_assistant_message: long })
    })
    const kept = (event as { lastMessage: string }).lastMessage
    assert.isAtMost(kept.length, TURN_TEXT_MAX_CHARS)
    assert.match(kept, /^x+\n… \(cut: the whole reply is in the agent's session\)$/)
  })

  it("Stop with an unreadable transcript has no last message, and is still a TurnStopped", () => {
    const event = normalise({
      agent: "claude",
      event: "Stop",
      payload: JSON.stringify({ ...base, transcript_path: "/nonexistent/t.jsonl", hook_event_name: "Stop" })
    })
    assert.strictEqual(event._tag, "TurnStopped")
    assert.isUndefined((event as { lastMessage?: string }).lastMessage)
  })

  it("Notification asks for input", () => {
    const event = normalise({
      agent: "claude",
      event: "Notification",
      payload: JSON.stringify({
        ...base,
        hook_event_name: "Notification",
        message: "Claude needs your permission to use Bash",
        notification_type: "permission_prompt"
      })
    })
    assert.deepStrictEqual(event, {
      _tag: "InputRequested",
      agent: "claude",
      at: AT.toISOString(),
      nativeSessionId: base.session_id,
      message: "Claude needs your permission to use Bash",
      notificationType: "permission_prompt"
    })
  })

  it("events telemux does not install are recorded as invalid", () => {
    const event = normalise({
      agent: "claude",
      event: "PreToolUse",
      payload: JSON.stringify({ ...base, hook_event_name: "PreToolUse" })
    })
    assert.strictEqual(event._tag, "HookPayloadInvalid")
    assert.include((event as { reason: string }).reason, "PreToolUse")
  })
})

describe("Codex notify payloads", () => {
  it("agent-turn-complete stops the turn, with the thread id as native session id", () => {
    const event = normalise({
      agent: "codex",
      event: "notify",
      payload: JSON.stringify({
        type: "agent-turn-complete",
        "thread-id": "019a-thread",
        "turn-id": "12",
        cwd: "/p",
        "input-messages": ["rename foo to bar"],
        "last-assistant-message": "Renamed foo to bar in 3 files."
      })
    })
    assert.deepStrictEqual(event, {
      _tag: "TurnStopped",
      agent: "codex",
      at: AT.toISOString(),
      nativeSessionId: "019a-thread",
      lastMessage: "Renamed foo to bar in 3 files."
    })
  })

  it("other notification types are invalid", () => {
    const event = normalise({
      agent: "codex",
      event: "notify",
      payload: JSON.stringify({ type: "approval-requested" })
    })
    assert.strictEqual(event._tag, "HookPayloadInvalid")
  })
})

describe("Gemini CLI payloads", () => {
  const base = { session_id: "g-1", transcript_path: "/g/chat.json", cwd: "/p", timestamp: "2025-06-01T12:00:00Z" }

  it("maps SessionStart, BeforeAgent, AfterAgent and Notification", () => {
    const started = normalise({
      agent: "gemini",
      event: "SessionStart",
      payload: JSON.stringify({ ...base, hook_event_name: "SessionStart", source: "resume" })
    })
    assert.strictEqual(started._tag, "SessionStarted")
    assert.strictEqual((started as { nativeSessionId: string }).nativeSessionId, "g-1")
    assert.strictEqual((started as { nativeLogFile: string }).nativeLogFile, "/g/chat.json")

    const prompted = normalise({
      agent: "gemini",
      event: "BeforeAgent",
      payload: JSON.stringify({ ...base, hook_event_name: "BeforeAgent", prompt: "explain this" })
    })
    assert.deepStrictEqual(prompted, {
      _tag: "PromptSubmitted",
      agent: "gemini",
      at: AT.toISOString(),
      nativeSessionId: "g-1",
      prompt: "explain this"
    })

    const stopped = normalise({
      agent: "gemini",
      event: "AfterAgent",
      payload: JSON.stringify({
        ...base,
        hook_event_name: "AfterAgent",
        prompt: "explain",
        prompt_response: "It is a parser."
      })
    })
    assert.strictEqual(stopped._tag, "TurnStopped")
    assert.strictEqual((stopped as { lastMessage: string }).lastMessage, "It is a parser.")

    const asked = normalise({
      agent: "gemini",
      event: "Notification",
      payload: JSON.stringify({
        ...base,
        hook_event_name: "Notification",
        notification_type: "ToolPermission",
        message: "Allow run_shell_command?",
        details: { tool: "run_shell_command" }
      })
    })
    assert.strictEqual(asked._tag, "InputRequested")
    assert.strictEqual((asked as { notificationType: string }).notificationType, "ToolPermission")
  })
})

describe("invalid payloads", () => {
  it("become HookPayloadInvalid with the raw text truncated", () => {
    const cases = ["", "not json", "[1,2]", "null", "{" + "x".repeat(5000)]
    for (const payload of cases) {
      for (const agent of ["claude", "codex", "gemini"] as const) {
        const event = normalise({ agent, event: "Stop", payload })
        assert.strictEqual(event._tag, "HookPayloadInvalid", `${agent} ${payload.slice(0, 10)}`)
        const invalid = event as { raw: string; event: string; agent: string }
        assert.isAtMost(invalid.raw.length, HOOK_RAW_MAX_CHARS)
        assert.strictEqual(invalid.raw, payload.slice(0, HOOK_RAW_MAX_CHARS))
        assert.strictEqual(invalid.agent, agent)
      }
    }
  })

  it.effect("decodes to the schema classes with a DateTime", () =>
    Effect.gen(function*() {
      const json = normaliseHookPayload({
        agent: "codex",
        event: "notify",
        payload: `{"type":"agent-turn-complete"}`,
        at: AT
      })
      const event = yield* decodeHookEventJson(JSON.stringify(json))
      assert.instanceOf(event, TurnStopped)
      assert.strictEqual(DateTime.toEpochMillis(event.at), AT.getTime())
      // and back: what the daemon would write is what the hook wrote
      assert.deepStrictEqual(Schema.encodeSync(HookEvent)(event), json)
    }))
})

describe("transcript tail", () => {
  it("finds the last text reply, skipping tool calls, user lines and broken lines", () => {
    const jsonl = [assistantLine("first"), userLine("more"), assistantLine("second"), toolLine, "{broken", ""].join(
      "\n"
    )
    assert.strictEqual(lastAssistantMessageOfJsonl(jsonl), "second")
    assert.strictEqual(lastAssistantMessageOfJsonl([userLine("x"), toolLine].join("\n")), undefined)
    assert.strictEqual(
      lastAssistantMessageOfJsonl(
        JSON.stringify({
          type: "assistant",
          message: { role: "assistant", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }
        })
      ),
      "a\nb"
    )
  })

  it("reads only the last 64 KB of a large transcript, from a whole line", () => {
    const dir = tmp()
    const file = path.join(dir, "big.jsonl")
    const filler = userLine("y".repeat(1000))
    // a reply far from the end, beyond the tail window, and one near it
    const lines = [
      assistantLine("too early"),
      ...Array.from({ length: 200 }, () => filler),
      assistantLine("the latest"),
      filler
    ]
    fs.writeFileSync(file, lines.join("\n") + "\n")
    assert.isAbove(fs.statSync(file).size, 3 * TRANSCRIPT_TAIL_BYTES)
    const tail = readFileTail(file)!
    assert.isAtMost(Buffer.byteLength(tail), TRANSCRIPT_TAIL_BYTES)
    assert.isTrue(tail.startsWith("{"), "the tail starts at a line")
    assert.strictEqual(lastAssistantMessageOfTranscript(file), "the latest")

    const stale = path.join(dir, "stale.jsonl")
    fs.writeFileSync(stale, [assistantLine("too early"), ...Array.from({ length: 200 }, () => filler)].join("\n"))
    assert.strictEqual(lastAssistantMessageOfTranscript(stale), undefined)
    fs.rmSync(dir, { recursive: true })
  })

  it("keeps the reply whole up to TURN_TEXT_MAX_CHARS, cut and marked past it", () => {
    const dir = tmp()
    const file = path.join(dir, "long.jsonl")
    fs.writeFileSync(file, assistantLine("word ".repeat(200)))
    assert.strictEqual(lastAssistantMessageOfTranscript(file), "word ".repeat(200).trim())
    fs.writeFileSync(file, assistantLine("word ".repeat(2000)))
    const message = lastAssistantMessageOfTranscript(file)!
    assert.isAtMost(message.length, TURN_TEXT_MAX_CHARS)
    assert.isTrue(message.endsWith("(cut: the whole reply is in the agent's session)"))
    fs.rmSync(dir, { recursive: true })
  })
})

describe("summariseText", () => {
  it("is the domain's summarise, without loading effect", () => {
    assert.strictEqual(HOOK_SUMMARY_MAX_CHARS, SUMMARY_MAX_CHARS)
    const samples = [
      "",
      "  a  b  ",
      "x".repeat(199),
      "x".repeat(200),
      "x".repeat(201),
      "line\n".repeat(100),
      "é✓ ".repeat(90)
    ]
    for (const sample of samples) assert.strictEqual(summariseText(sample), summarise(sample))
  })
})

describe("state dir", () => {
  const homeOf = (env: Record<string, string>) =>
    settings.pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
      Effect.map((s) => s.home),
      Effect.runSync
    )

  it("follows the daemon's rule: TELEMUX_HOME, else XDG_STATE_HOME/telemux, else ~/.local/state/telemux", () => {
    const cases: ReadonlyArray<Record<string, string>> = [
      { TELEMUX_HOME: "/srv/telemux" },
      { TELEMUX_HOME: "relative/dir", XDG_STATE_HOME: "/x" },
      { XDG_STATE_HOME: "/var/state" },
      {}
    ]
    for (const env of cases) assert.strictEqual(stateDirFrom(env), homeOf(env), JSON.stringify(env))
    assert.strictEqual(stateDirFrom({}, () => "/home/u"), "/home/u/.local/state/telemux")
  })
})
