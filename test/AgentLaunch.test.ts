import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as AgentsLive from "../layers/AgentsLive.js"
import { FakeTerminal } from "../layers/FakeTerminalBridge.js"
import * as FleetLive from "../layers/FleetLive.js"
import * as MemoryOutputLog from "../layers/MemoryOutputLog.js"
import * as PaneProcessesLive from "../layers/PaneProcessesLive.js"
import * as SqliteListeners from "../layers/SqliteListeners.js"
import { Agents } from "../services/Agents.js"
import { Sessions } from "../services/Sessions.js"
import { programOf } from "../src/agents/CommandWord.js"
import { sessionsOnDoubles } from "./support/unitLayers.js"

const dir = os.tmpdir()

const agentsOnDoubles = (env: Readonly<Record<string, string>> = {}) =>
  AgentsLive.layer.pipe(
    Layer.provideMerge(FleetLive.layerAlone),
    Layer.provideMerge(Layer.mergeAll(MemoryOutputLog.layer, SqliteListeners.layerMemory)),
    Layer.provideMerge(sessionsOnDoubles(env))
  )

describe("the program of a configured agent command", () => {
  it("is the first word after assignments; a word only a shell can read is not guessed at", () => {
    const program = (line: string, home?: string) => {
      const word = programOf(line, home)
      return word._tag === "Program" ? word.word : undefined
    }
    assert.strictEqual(program("claude --dangerously-skip-permissions"), "claude")
    assert.strictEqual(program("  FOO=1 BAR=/x claude"), "claude")
    assert.strictEqual(program("/opt/claude/bin/claude"), "/opt/claude/bin/claude")
    assert.strictEqual(program("~/bin/claude", "/home/me"), "/home/me/bin/claude")
    assert.isUndefined(program("~/bin/claude"))
    assert.isUndefined(program("\"my claude\" --x"))
    assert.isUndefined(program("$HOME/bin/claude"))
    assert.isUndefined(program("FOO='a b' claude"))
    assert.isUndefined(program("exec claude"))
    assert.isUndefined(program("   "))
  })

  it("the foreground group of a pane's process is read past a command name holding parentheses", () => {
    const stat = "4242 (we (ird) name) S 1 4242 4242 34816 5151 4194560 1 0 0 0"
    assert.strictEqual(PaneProcessesLive.foregroundGroupOf(stat), 5151)
    assert.isUndefined(PaneProcessesLive.foregroundGroupOf("garbage"))
  })
})

describe("finding an agent's command (the live lookup)", () => {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-lookup-"))
  fs.writeFileSync(path.join(bin, "agent-here"), "#!/bin/sh\nexit 0\n", { mode: 0o755 })
  fs.writeFileSync(path.join(bin, "not-executable"), "#!/bin/sh\nexit 0\n", { mode: 0o644 })
  const lookup = (shell: string, line: string) =>
    Effect.flatMap(PaneProcessesLive.make, (processes) => processes.findCommand(line, bin)).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SHELL", shell], ["PATH", `${bin}:/usr/bin:/bin`]])))
    )

  it.effect("a path is checked as it is: missing, not executable, or found (relative ones from the directory)", () =>
    Effect.gen(function*() {
      const missing = yield* lookup("/bin/sh", "/nonexistent/agent --flag")
      assert.strictEqual(missing._tag, "Missing")
      assert.include(missing._tag === "Missing" ? missing.reason : "", "/nonexistent/agent does not exist")
      const plain = yield* lookup("/bin/sh", path.join(bin, "not-executable"))
      assert.include(plain._tag === "Missing" ? plain.reason : "", "is not executable")
      const relative = yield* lookup("/bin/sh", "./agent-here")
      assert.deepStrictEqual(relative, { _tag: "Found", program: "./agent-here", path: path.join(bin, "agent-here") })
      assert.deepStrictEqual(yield* lookup("/bin/sh", "\"quoted\" x"), { _tag: "Unchecked" })
    }))

  it.effect("a bare name is looked for on the PATH of a login shell; the daemon's PATH when that shell cannot tell", () =>
    Effect.gen(function*() {
      const sh = yield* lookup("/bin/sh", "sh -c true")
      assert.strictEqual(sh._tag, "Found")
      // the login shell does not answer: the daemon's own PATH is searched, and said to be
      const fallback = yield* lookup("/nonexistent/shell", "agent-here")
      assert.deepStrictEqual(fallback, { _tag: "Found", program: "agent-here", path: path.join(bin, "agent-here") })
      const nowhere = yield* lookup("/nonexistent/shell", "no-such-agent-anywhere")
      assert.strictEqual(nowhere._tag, "Missing")
      if (nowhere._tag === "Missing") {
        assert.strictEqual(nowhere.searched, `${bin}:/usr/bin:/bin`)
        assert.include(nowhere.reason, "the daemon's")
      }
    }))
})

describe("launch and resume on doubles", () => {
  it.scoped("an agent whose command is missing is refused before anything starts", () =>
    Effect.gen(function*() {
      const agents = yield* Agents
      const sessions = yield* Sessions
      const error = yield* Effect.flip(agents.launch({ projectDir: dir, agent: "gemini", prompt: "hello" }))
      assert.strictEqual(error._tag, "AgentCommandNotFound")
      if (error._tag === "AgentCommandNotFound") {
        assert.strictEqual(error.command, "gemini-nightly")
        assert.include(error.message, "TELEMUX_AGENT_GEMINI")
      }
      assert.deepStrictEqual(yield* sessions.list({ status: "all" }), [])
      assert.deepStrictEqual((yield* FakeTerminal).panes(), [])
    }).pipe(Effect.provide(agentsOnDoubles({ TELEMUX_AGENT_GEMINI: "gemini-nightly --yolo" }))))

  it.scoped("resume is refused while a program holds the pane, and types the command once the pane is at its shell", () =>
    Effect.gen(function*() {
      const agents = yield* Agents
      const sessions = yield* Sessions
      const terminal = yield* FakeTerminal
      const session = yield* agents.launch({ projectDir: dir, agent: "claude" })
      const typed = () => terminal.calls().filter((c) => c.op === "paste").length
      terminal.setForeground(session.paneId!, "node")
      const before = typed()
      const busy = yield* Effect.flip(agents.resume(session.sessionId))
      assert.strictEqual(busy._tag, "AgentBusy")
      assert.include(busy.message, `telemux restart ${session.sessionId}`)
      assert.strictEqual(typed(), before, "nothing typed into the agent")
      terminal.setForeground(session.paneId!, "bash")
      const resumed = yield* agents.resume(session.sessionId)
      assert.strictEqual(resumed.sessionId, session.sessionId)
      assert.strictEqual(typed(), before + 1)
      assert.strictEqual((yield* sessions.get(session.sessionId)).status, "running")
    }).pipe(Effect.provide(agentsOnDoubles())))
})
