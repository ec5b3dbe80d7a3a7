import { NodeContext } from "@effect/platform-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AgentLaunch, buildLaunch } from "../src/agents/AgentCommands.js"
import { install, uninstall } from "../src/agents/HookInstall.js"
import { outboxPath } from "../src/agents/StateDir.js"
import type { Agent, AgentMode } from "../src/domain/Session.js"
import { buildHook, FAKE_AGENTS, HOOK_COMMAND, outboxRows } from "./fixtures/agents/hookBuild.js"

const SESSION = "cccccccc-1111-4222-8333-444444444444"

const dirs: Array<string> = []
beforeAll(() => {
  buildHook()
})
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

interface World {
  /** $HOME of the agent, where its settings and transcripts live. */
  readonly home: string
  /** TELEMUX_HOME: the state dir with the outbox. */
  readonly state: string
  readonly project: string
}

/** A home with telemux's hooks installed by `install`, and an empty state dir. */
const makeWorld = Effect.gen(function*() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-fakes-"))
  dirs.push(root)
  const world: World = {
    home: path.join(root, "home"),
    state: path.join(root, "state"),
    project: path.join(root, "project")
  }
  fs.mkdirSync(world.home)
  fs.mkdirSync(world.project)
  const reports = yield* install({ home: world.home, hookCommand: HOOK_COMMAND })
  assert.deepStrictEqual(reports.map((r) => r.outcome), ["changed", "changed", "changed"])
  return world
}).pipe(Effect.provide(NodeContext.layer))

/** Types the launch plan's command line into a shell, as the daemon types it into a pane. */
const runAgent = (world: World, agent: Agent, launch: AgentLaunch, input: string, mode: AgentMode = "fast") =>
  Effect.gen(function*() {
    const plan = yield* buildLaunch({ agent, mode, launch, commands: { [agent]: path.join(FAKE_AGENTS, agent) } })
    const result = spawnSync("sh", ["-c", plan.commandLine], {
      cwd: world.project,
      input,
      encoding: "utf8",
      timeout: 20_000,
      env: {
        PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        HOME: world.home,
        TELEMUX_HOME: world.state,
        TELEMUX_SESSION_ID: SESSION
      }
    })
    assert.strictEqual(result.status, 0, result.stderr)
    return { stdout: result.stdout, rows: outboxRows(outboxPath(world.state)), plan }
  })

const summary = (rows: ReturnType<typeof outboxRows>) =>
  rows.map((row) => {
    const e = row.event_json
    const detail = e.prompt ?? e.lastMessage ?? e.message ?? e.nativeSessionId ?? e.reason
    return `${e._tag}:${String(detail)}`
  })

const INPUT = "hello\nask: which file?\n"

describe("fake agent CLIs with telemux's hooks installed", () => {
  it.effect("claude: SessionStart, then per line UserPromptSubmit, Notification on ask:, Stop with the reply from the transcript", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld
      const { rows, stdout } = yield* runAgent(world, "claude", AgentLaunch.start, INPUT)
      assert.include(stdout, "claude> ")
      assert.include(stdout, "reply: hello")
      assert.include(stdout, "model=haiku")
      const started = rows[0]!.event_json
      assert.strictEqual(started._tag, "SessionStarted")
      assert.match(String(started.nativeLogFile), /\.claude\/projects\/.*\.jsonl$/)
      assert.deepStrictEqual(summary(rows).slice(1), [
        "PromptSubmitted:hello",
        "TurnStopped:reply: hello",
        "PromptSubmitted:ask: which file?",
        "InputRequested:which file?",
        "TurnStopped:reply: ask: which file?"
      ])
      assert.isTrue(rows.every((r) => r.session_id === SESSION && r.agent === "claude"))
      assert.isTrue(rows.every((r) => r.event_json.nativeSessionId === started.nativeSessionId))
    }))

  it.effect("gemini: SessionStart, BeforeAgent, Notification, AfterAgent", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld
      const { rows, stdout } = yield* runAgent(world, "gemini", AgentLaunch.start, INPUT, "slow")
      assert.include(stdout, "gemini> ")
      assert.include(stdout, "model=gemini-2.5-pro")
      assert.strictEqual(rows[0]!.event_json._tag, "SessionStarted")
      assert.deepStrictEqual(summary(rows).slice(1), [
        "PromptSubmitted:hello",
        "TurnStopped:reply: hello",
        "PromptSubmitted:ask: which file?",
        "InputRequested:which file?",
        "TurnStopped:reply: ask: which file?"
      ])
      assert.deepStrictEqual(rows.map((r) => r.event), [
        "SessionStart",
        "BeforeAgent",
        "AfterAgent",
        "BeforeAgent",
        "Notification",
        "AfterAgent"
      ])
    }))

  it.effect("codex: notify with the JSON argument after each turn", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld
      const { rows, stdout } = yield* runAgent(world, "codex", AgentLaunch.start, INPUT)
      assert.include(stdout, "codex> ")
      assert.deepStrictEqual(summary(rows), ["TurnStopped:reply: hello", "TurnStopped:reply: ask: which file?"])
      assert.deepStrictEqual(rows.map((r) => r.event), ["notify", "notify"])
      const thread = rows[0]!.event_json.nativeSessionId
      assert.isString(thread)
      assert.strictEqual(rows[1]!.event_json.nativeSessionId, thread)
    }))

  for (const agent of ["claude", "codex", "gemini"] as const) {
    it.effect(`${agent}: resumes by native id and continues the latest, with the flags telemux emits`, () =>
      Effect.gen(function*() {
        const world = yield* makeWorld
        const first = yield* runAgent(world, agent, AgentLaunch.start, "one\n")
        const nativeId = String(first.rows[0]!.event_json.nativeSessionId)

        const resumedId = "0b6f4d6e-7a3c-4c8e-9f1a-2d3b4c5d6e7f"
        const resumed = yield* runAgent(world, agent, AgentLaunch.resume(resumedId), "two\n")
        assert.include(resumed.stdout, `resumed ${resumedId}`)
        const newRows = resumed.rows.slice(first.rows.length)
        assert.isTrue(newRows.length > 0)
        assert.isTrue(
          newRows.every((r) => r.event_json.nativeSessionId === resumedId),
          JSON.stringify(summary(newRows))
        )

        // the latest conversation is now the resumed one
        const continued = yield* runAgent(world, agent, AgentLaunch.resumeOrContinue(null), "three\n")
        assert.include(continued.stdout, `continued ${resumedId}`)
        assert.notStrictEqual(nativeId, resumedId)
      }))
  }

  it.effect("after uninstall the agents run without telemux's hooks", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld
      yield* uninstall({ home: world.home, hookCommand: HOOK_COMMAND }).pipe(Effect.provide(NodeContext.layer))
      for (const agent of ["claude", "codex", "gemini"] as const) {
        const { rows, stdout } = yield* runAgent(world, agent, AgentLaunch.start, "hello\n")
        assert.include(stdout, "reply: hello")
        assert.deepStrictEqual(rows, [])
      }
    }))
})
