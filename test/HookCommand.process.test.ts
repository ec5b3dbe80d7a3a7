import { NodeFileSystem } from "@effect/platform-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Layer, Ref } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as HookOutboxLive from "../layers/HookOutbox.js"
import { HookEventHandler, HookOutbox, type SessionRef } from "../services/AgentHooks.js"
import { DEFAULT_TMUX_SOCKET } from "../services/TelemuxConfig.js"
import { DEFAULT_TMUX_SOCKET as HOOK_DEFAULT_TMUX_SOCKET } from "../src/agents/HookCommand.js"
import type { HookEvent } from "../src/agents/HookEvent.js"
import { hookLogPath, outboxPath } from "../src/agents/StateDir.js"
import { buildHook, HOOK_JS, outboxRows, runHookProcess } from "./fixtures/agents/hookBuild.js"

const SESSION_A = "aaaaaaaa-1111-4222-8333-444444444444"
const SESSION_B = "bbbbbbbb-1111-4222-8333-444444444444"

const dirs: Array<string> = []
const tempHome = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-hook-"))
  dirs.push(dir)
  return dir
}

beforeAll(() => {
  buildHook()
})
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const claudePayload = (event: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    session_id: "native-1",
    transcript_path: "/nonexistent.jsonl",
    cwd: "/p",
    hook_event_name: event,
    ...extra
  })

describe("the hook command (node dist/hook.js)", () => {
  it("loads no effect: plain Node and better-sqlite3 only", () => {
    const bundle = fs.readFileSync(HOOK_JS, "utf8")
    const imports = [...bundle.matchAll(/^import .* from "([^"]+)"/gm)].map((m) => m[1])
    assert.includeMembers(["node:fs", "node:module", "node:os", "node:path"], imports)
    assert.notInclude(bundle, `from "effect`)
    assert.include(bundle, `"better-sqlite3"`)
  })

  it("outside a telemux pane it exits 0 silently and writes nothing", () => {
    const home = tempHome()
    const result = runHookProcess(["claude", "Stop"], { TELEMUX_HOME: home }, claudePayload("Stop"))
    assert.strictEqual(result.status, 0)
    assert.strictEqual(result.stdout, "")
    assert.strictEqual(result.stderr, "")
    assert.deepStrictEqual(fs.readdirSync(home), [])
  })

  it("in a session it appends one normalised row, printing nothing", () => {
    const home = tempHome()
    const env = { TELEMUX_HOME: home, TELEMUX_SESSION_ID: SESSION_A }
    const started = runHookProcess(
      ["claude", "SessionStart"],
      env,
      claudePayload("SessionStart", { source: "startup" })
    )
    const stopped = runHookProcess(["claude", "Stop"], env, claudePayload("Stop", { last_assistant_message: "Done." }))
    for (const result of [started, stopped]) {
      assert.strictEqual(result.status, 0, result.stderr)
      assert.strictEqual(result.stdout, "")
    }
    const rows = outboxRows(outboxPath(home))
    assert.deepStrictEqual(rows.map((r) => [r.session_id, r.agent, r.event, r.event_json._tag]), [
      [SESSION_A, "claude", "SessionStart", "SessionStarted"],
      [SESSION_A, "claude", "Stop", "TurnStopped"]
    ])
    assert.strictEqual(rows[0]!.event_json.nativeSessionId, "native-1")
    assert.strictEqual(rows[1]!.event_json.lastMessage, "Done.")
  })

  it("takes Codex's payload from its last argument", () => {
    const home = tempHome()
    const payload = JSON.stringify({ type: "agent-turn-complete", "thread-id": "t-9", "last-assistant-message": "ok" })
    const result = runHookProcess(["codex", "notify", payload], { TELEMUX_HOME: home, TELEMUX_SESSION_ID: SESSION_A })
    assert.strictEqual(result.status, 0)
    const [row] = outboxRows(outboxPath(home))
    assert.deepStrictEqual(row!.event_json, {
      _tag: "TurnStopped",
      agent: "codex",
      at: row!.event_json.at,
      nativeSessionId: "t-9",
      lastMessage: "ok"
    })
  })

  it("with only a tmux pane it records the pane and its server for the daemon to map", () => {
    const home = tempHome()
    const result = runHookProcess(["gemini", "AfterAgent"], {
      TELEMUX_HOME: home,
      TMUX_PANE: "%12",
      TMUX: "/tmp/tmux-1000/telemux,4242,0"
    }, JSON.stringify({ session_id: "g", hook_event_name: "AfterAgent", prompt_response: "hi" }))
    assert.strictEqual(result.status, 0)
    const [row] = outboxRows(outboxPath(home))
    assert.deepStrictEqual([row!.session_id, row!.pane_id, row!.tmux_socket], [null, "%12", "/tmp/tmux-1000/telemux"])
  })

  it("a pane of another tmux server (the user's own) is none of telemux's business", () => {
    assert.strictEqual(HOOK_DEFAULT_TMUX_SOCKET, DEFAULT_TMUX_SOCKET)
    const home = tempHome()
    const payload = JSON.stringify({ session_id: "g", hook_event_name: "AfterAgent", prompt_response: "hi" })
    const env = { TELEMUX_HOME: home, TMUX_PANE: "%3", TMUX: "/tmp/tmux-1000/default,4242,0" }
    assert.strictEqual(runHookProcess(["gemini", "AfterAgent"], env, payload).status, 0)
    assert.deepStrictEqual(fs.readdirSync(home), [])
    // unless telemux runs its server on that socket
    assert.strictEqual(
      runHookProcess(["gemini", "AfterAgent"], { ...env, TELEMUX_TMUX_SOCKET: "default" }, payload).status,
      0
    )
    assert.strictEqual(outboxRows(outboxPath(home)).length, 1)
  })

  it("a bad payload becomes a HookPayloadInvalid row", () => {
    const home = tempHome()
    const result = runHookProcess(
      ["claude", "Stop"],
      { TELEMUX_HOME: home, TELEMUX_SESSION_ID: SESSION_A },
      "not json at all"
    )
    assert.strictEqual(result.status, 0)
    const [row] = outboxRows(outboxPath(home))
    assert.strictEqual(row!.event_json._tag, "HookPayloadInvalid")
    assert.strictEqual(row!.event_json.raw, "not json at all")
  })

  it("never fails the agent: an unusable state dir or a broken outbox still exits 0, logging why", () => {
    const base = tempHome()
    const file = path.join(base, "a-file")
    fs.writeFileSync(file, "")
    const unusable = runHookProcess(["claude", "Stop"], {
      TELEMUX_HOME: path.join(file, "home"),
      TELEMUX_SESSION_ID: SESSION_A
    }, claudePayload("Stop"))
    assert.strictEqual(unusable.status, 0)
    assert.strictEqual(unusable.stdout, "")

    const home = tempHome()
    fs.writeFileSync(outboxPath(home), "this is not a database".repeat(100))
    const broken = runHookProcess(
      ["claude", "Stop"],
      { TELEMUX_HOME: home, TELEMUX_SESSION_ID: SESSION_A },
      claudePayload("Stop")
    )
    assert.strictEqual(broken.status, 0)
    assert.strictEqual(broken.stdout, "")
    assert.match(fs.readFileSync(hookLogPath(home), "utf8"), /hook claude Stop failed: /)

    const unknown = runHookProcess(["cursor", "Stop"], { TELEMUX_HOME: home, TELEMUX_SESSION_ID: SESSION_A }, "{}")
    assert.strictEqual(unknown.status, 0)
    assert.match(fs.readFileSync(hookLogPath(home), "utf8"), /unknown agent "cursor"/)
  })

  it("hooks running at the same time all land", async () => {
    const home = tempHome()
    const runs = Array.from({ length: 12 }, (_, i) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, [HOOK_JS, "claude", "UserPromptSubmit"], {
          env: { PATH: process.env.PATH ?? "", TELEMUX_HOME: home, TELEMUX_SESSION_ID: SESSION_A },
          stdio: ["pipe", "ignore", "ignore"]
        })
        child.on("exit", resolve)
        child.stdin.end(claudePayload("UserPromptSubmit", { prompt: `p${i}` }))
      }))
    assert.deepStrictEqual(await Promise.all(runs), Array(12).fill(0))
    const prompts = outboxRows(outboxPath(home)).map((r) => r.event_json.prompt)
    assert.sameMembers(prompts as Array<string>, Array.from({ length: 12 }, (_, i) => `p${i}`))
  })

  it.live("rows written while no daemon runs are delivered once, in order, when the worker starts", () =>
    Effect.gen(function*() {
      const home = tempHome()
      const expected: Record<string, Array<string>> = { [SESSION_A]: [], [SESSION_B]: [] }
      for (let i = 0; i < 4; i++) {
        for (const session of [SESSION_A, SESSION_B]) {
          const prompt = `${session.slice(0, 1)}${i}`
          expected[session]!.push(prompt)
          const result = runHookProcess(
            ["claude", "UserPromptSubmit"],
            { TELEMUX_HOME: home, TELEMUX_SESSION_ID: session },
            claudePayload("UserPromptSubmit", { prompt })
          )
          assert.strictEqual(result.status, 0, result.stderr)
        }
      }
      const total = 8
      const seen = yield* Ref.make<ReadonlyArray<{ readonly ref: SessionRef; readonly event: HookEvent }>>([])
      const allIn = yield* Deferred.make<void>()
      const handler = HookEventHandler.of({
        handle: (ref, event) =>
          Ref.updateAndGet(seen, (list) => [...list, { ref, event }]).pipe(
            Effect.flatMap((list) => list.length >= total ? Deferred.succeed(allIn, undefined) : Effect.void),
            Effect.asVoid
          )
      })
      const daemon = HookOutboxLive.workerLayer.pipe(
        Layer.provideMerge(
          Layer.merge(
            HookOutboxLive.layerFile(outboxPath(home)).pipe(Layer.provide(NodeFileSystem.layer)),
            Layer.succeed(HookEventHandler, handler)
          )
        )
      )
      yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(daemon)
        yield* Deferred.await(allIn).pipe(
          Effect.timeoutFail({ duration: Duration.seconds(10), onTimeout: () => "not all delivered" })
        )
        // a round more, to see that nothing comes twice
        yield* Effect.sleep(Duration.millis(600))
        const stats = yield* Effect.flatMap(HookOutbox, (outbox) => outbox.stats).pipe(Effect.provide(context))
        assert.deepStrictEqual(stats, { pending: 0, deadLetters: 0 })
      }))
      const delivered = yield* Ref.get(seen)
      assert.strictEqual(delivered.length, total)
      for (const session of [SESSION_A, SESSION_B]) {
        const ofSession = delivered.filter((d) => d.ref._tag === "Session" && d.ref.sessionId === session)
        assert.deepStrictEqual(
          ofSession.map((d) => d.event._tag === "PromptSubmitted" ? d.event.prompt : d.event._tag),
          expected[session]
        )
      }
      // a second daemon start finds nothing left to deliver
      assert.deepStrictEqual(outboxRows(outboxPath(home)), [])
    }))
})
