import { HttpApiSchema } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { execFileSync } from "node:child_process"
import {
  AGENT_MODE_FLAGS_DEFAULTS,
  AgentLaunch,
  AgentModeFlagsOverrideFromJson,
  AgentModeUnsupported,
  buildLaunch,
  mergeModeFlags,
  NativeSessionIdInvalid,
  supportsMode
} from "../src/agents/AgentCommands.js"
import { shellJoin, shellQuote } from "../src/agents/ShellQuote.js"
import type { Agent, AgentMode } from "../src/domain/Session.js"

const line = (agent: Agent, mode: AgentMode, launch: AgentLaunch, commands?: Partial<Record<Agent, string>>) =>
  buildLaunch({ agent, mode, launch, ...(commands === undefined ? {} : { commands }) }).pipe(
    Effect.map((plan) => plan.commandLine)
  )

const ID = "0b6f4d6e-7a3c-4c8e-9f1a-2d3b4c5d6e7f"

describe("agent launch commands", () => {
  it.effect("start each agent with its mode flags", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* line("claude", "fast", AgentLaunch.start), "claude --model haiku")
      assert.strictEqual(yield* line("claude", "med", AgentLaunch.start), "claude --model sonnet")
      assert.strictEqual(yield* line("claude", "slow", AgentLaunch.start), "claude --model opus")
      assert.strictEqual(yield* line("claude", "deep", AgentLaunch.start), "claude --model opus --effort max")
      assert.strictEqual(
        yield* line("codex", "fast", AgentLaunch.start),
        "codex -m gpt-5-codex -c model_reasoning_effort=low"
      )
      assert.strictEqual(
        yield* line("codex", "slow", AgentLaunch.start),
        "codex -m gpt-5-codex -c model_reasoning_effort=high"
      )
      assert.strictEqual(
        yield* line("codex", "deep", AgentLaunch.start),
        "codex -m gpt-5.1-codex-max -c model_reasoning_effort=xhigh"
      )
      assert.strictEqual(yield* line("gemini", "med", AgentLaunch.start), "gemini -m gemini-2.5-flash")
    }))

  it.effect("resume by native id, each in its agent's own way", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* line("claude", "med", AgentLaunch.resume(ID)), `claude --model sonnet --resume ${ID}`)
      assert.strictEqual(
        yield* line("codex", "med", AgentLaunch.resume(ID)),
        `codex resume -m gpt-5-codex -c model_reasoning_effort=medium ${ID}`
      )
      assert.strictEqual(
        yield* line("gemini", "slow", AgentLaunch.resume(ID)),
        `gemini -m gemini-2.5-pro --resume ${ID}`
      )
    }))

  it.effect("continue the latest conversation when no id is known", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* line("claude", "fast", AgentLaunch.resumeOrContinue(null)),
        "claude --model haiku --continue"
      )
      assert.strictEqual(
        yield* line("codex", "fast", AgentLaunch.resumeOrContinue(undefined)),
        "codex resume --last -m gpt-5-codex -c model_reasoning_effort=low"
      )
      assert.strictEqual(
        yield* line("gemini", "fast", AgentLaunch.resumeOrContinue("")),
        "gemini -m gemini-2.5-flash-lite --resume latest"
      )
      assert.deepStrictEqual(AgentLaunch.resumeOrContinue(ID), { _tag: "Resume", nativeSessionId: ID })
    }))

  it.effect("a first prompt is carried for pasting, never put on the command line", () =>
    Effect.gen(function*() {
      const prompt = "fix the tests; then `rm -rf /` $(whoami)"
      const plan = yield* buildLaunch({ agent: "claude", mode: "med", launch: AgentLaunch.startWithPrompt(prompt) })
      const plain = yield* buildLaunch({ agent: "claude", mode: "med", launch: AgentLaunch.start })
      assert.strictEqual(plan.commandLine, plain.commandLine)
      assert.strictEqual(plan.firstPrompt, prompt)
      assert.strictEqual(plain.firstPrompt, undefined)
    }))

  it.effect("the configured base command is used verbatim; a blank one falls back to the agent's name", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* line("claude", "fast", AgentLaunch.start, {
          claude: "FOO=1 /opt/claude/bin/claude --dangerously-skip-permissions"
        }),
        "FOO=1 /opt/claude/bin/claude --dangerously-skip-permissions --model haiku"
      )
      assert.strictEqual(
        yield* line("gemini", "fast", AgentLaunch.start, { gemini: "   " }),
        "gemini -m gemini-2.5-flash-lite"
      )
    }))

  it.effect("deep is refused where the agent has no such mode, with a 400", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(buildLaunch({ agent: "gemini", mode: "deep", launch: AgentLaunch.start }))
      assert.instanceOf(error, AgentModeUnsupported)
      assert.strictEqual(error._tag, "AgentModeUnsupported")
      assert.strictEqual(error.agent, "gemini")
      assert.strictEqual(HttpApiSchema.getStatusError(AgentModeUnsupported), 400)
      assert.strictEqual(HttpApiSchema.getStatusError(NativeSessionIdInvalid), 400)
      assert.isFalse(supportsMode(AGENT_MODE_FLAGS_DEFAULTS, "gemini", "deep"))
      assert.isTrue(supportsMode(AGENT_MODE_FLAGS_DEFAULTS, "codex", "deep"))
    }))

  it.effect("native ids that look like flags or carry shell characters are refused", () =>
    Effect.gen(function*() {
      for (const bad of ["", "--dangerously-skip-permissions", "a b", "x;rm -rf ~", "id\nrm", "$(id)"]) {
        const error = yield* Effect.flip(
          buildLaunch({ agent: "claude", mode: "fast", launch: AgentLaunch.resume(bad) })
        )
        assert.strictEqual(error._tag, "NativeSessionIdInvalid", JSON.stringify(bad))
      }
    }))

  it.effect("mode flags are overridable from configuration; null switches a mode off", () =>
    Effect.gen(function*() {
      const override = yield* Schema.decode(AgentModeFlagsOverrideFromJson)(
        JSON.stringify({
          codex: { deep: null },
          claude: { fast: ["--model", "claude-haiku-4-5"] },
          gemini: { deep: ["-m", "gemini-3-pro"] }
        })
      )
      const flags = mergeModeFlags(AGENT_MODE_FLAGS_DEFAULTS, override)
      const fast = yield* buildLaunch({ agent: "claude", mode: "fast", launch: AgentLaunch.start, modeFlags: flags })
      assert.strictEqual(fast.commandLine, "claude --model claude-haiku-4-5")
      // modes not mentioned keep their defaults
      const med = yield* buildLaunch({ agent: "claude", mode: "med", launch: AgentLaunch.start, modeFlags: flags })
      assert.strictEqual(med.commandLine, "claude --model sonnet")
      const codexDeep = yield* Effect.flip(
        buildLaunch({ agent: "codex", mode: "deep", launch: AgentLaunch.start, modeFlags: flags })
      )
      assert.strictEqual(codexDeep._tag, "AgentModeUnsupported")
      const geminiDeep = yield* buildLaunch({
        agent: "gemini",
        mode: "deep",
        launch: AgentLaunch.start,
        modeFlags: flags
      })
      assert.strictEqual(geminiDeep.commandLine, "gemini -m gemini-3-pro")
      assert.deepStrictEqual(mergeModeFlags(AGENT_MODE_FLAGS_DEFAULTS, undefined), AGENT_MODE_FLAGS_DEFAULTS)
    }))

  it("overrides with control characters or unknown agents are rejected", () => {
    const decode = Schema.decodeEither(AgentModeFlagsOverrideFromJson)
    assert.isTrue(Either.isLeft(decode(JSON.stringify({ claude: { fast: ["--model", "x\ny"] } }))))
    assert.isTrue(Either.isLeft(decode(JSON.stringify({ cursor: { fast: ["x"] } }))))
    assert.isTrue(Either.isLeft(decode(JSON.stringify({ claude: { turbo: ["x"] } }))))
    assert.isTrue(Either.isRight(decode("{}")))
  })

  it.effect("flag words with shell characters are quoted in the command line", () =>
    Effect.gen(function*() {
      const flags = mergeModeFlags(AGENT_MODE_FLAGS_DEFAULTS, {
        claude: { fast: ["--append-system-prompt", "be brief; don't $(ask)"] }
      })
      const plan = yield* buildLaunch({ agent: "claude", mode: "fast", launch: AgentLaunch.start, modeFlags: flags })
      assert.strictEqual(plan.commandLine, `claude --append-system-prompt 'be brief; don'\\''t $(ask)'`)
      assert.deepStrictEqual(plan.args, ["--append-system-prompt", "be brief; don't $(ask)"])
    }))
})

describe("shell quoting", () => {
  const tricky = [
    "plain",
    "",
    "with space",
    "it's",
    "''",
    "$HOME",
    "`id`",
    "$(id)",
    "a;b&c|d>e<f",
    "*.ts",
    "~root",
    "=ls",
    "back\\slash",
    "tab\there",
    "new\nline",
    "ünïcødé ✓",
    "--flag=value",
    "%1",
    "!event",
    "#comment"
  ]

  it("leaves safe words bare and quotes everything else", () => {
    assert.strictEqual(shellQuote("--model"), "--model")
    assert.strictEqual(shellQuote("model_reasoning_effort=low"), "model_reasoning_effort=low")
    assert.strictEqual(shellQuote("/usr/bin/node"), "/usr/bin/node")
    assert.strictEqual(shellQuote(""), "''")
    assert.strictEqual(shellQuote("it's"), `'it'\\''s'`)
    assert.strictEqual(shellQuote("=ls"), "'=ls'")
    assert.strictEqual(shellQuote("~root"), "'~root'")
  })

  for (const shell of ["sh", "bash"]) {
    it(`${shell} reads each quoted word back exactly`, () => {
      // printf prints each argument NUL-terminated: what the shell made of the command line
      const out = execFileSync(shell, ["-c", `printf '%s\\0' ${shellJoin(tricky)}`], { encoding: "utf8" })
      assert.deepStrictEqual(out.split("\0").slice(0, -1), tricky)
    })
  }
})
