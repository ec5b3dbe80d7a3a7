import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { AgentLaunch, buildLaunch, NativeSessionIdInvalid } from "../src/agents/AgentCommands.js"
import {
  type AgentHomes,
  claudeProjectDir,
  CONVERSATION_MAX_BYTES,
  type ConversationExport,
  geminiChatsDir,
  importConversation,
  locateConversation,
  prepareFork,
  readConversation
} from "../src/agents/Conversations.js"
import type { Agent } from "../src/domain/Session.js"
import { FAKE_AGENTS } from "./fixtures/agents/hookBuild.js"

const ID = "0b6f4d6e-7a3c-4c8e-9f1a-2d3b4c5d6e7f"

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** A HOME of its own and a project dir in it (resolved: the agents see their cwd so). */
const makeHome = () => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "telemux-fork-")))
  dirs.push(root)
  const project = path.join(root, "my project.v2")
  fs.mkdirSync(project)
  const homes: AgentHomes = {
    claude: path.join(root, ".claude"),
    codex: path.join(root, ".codex"),
    gemini: path.join(root, ".gemini")
  }
  return { home: root, project, homes }
}

/** Runs a fake agent as a pane's shell would (stdin not a terminal: it reads lines, then exits). */
const runFake = (home: string, cwd: string, agent: Agent, args: ReadonlyArray<string>, input: string) => {
  const result = spawnSync(path.join(FAKE_AGENTS, agent), args, {
    cwd,
    input,
    encoding: "utf8",
    timeout: 20_000,
    env: {
      PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      HOME: home,
      FAKE_AGENT_REQUIRE_CONVERSATION: "1"
    }
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** The fake's own report of the conversation id it started with. */
const sessionOf = (stdout: string) => /session=(\S+)/.exec(stdout)?.[1] ?? ""

const argvOf = (home: string, agent: Agent): Array<Array<string>> =>
  fs.readFileSync(path.join(home, `.fake-${agent}-argv.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l))

describe("fork launch words", () => {
  it.effect("claude --resume <id> --fork-session, codex fork <flags> <id>, gemini --resume <copy's id>", () =>
    Effect.gen(function*() {
      const words = (agent: Agent) =>
        Effect.map(buildLaunch({ agent, mode: "fast", launch: AgentLaunch.fork(ID) }), (p) => p.args)
      assert.deepStrictEqual(yield* words("claude"), ["--model", "haiku", "--resume", ID, "--fork-session"])
      assert.deepStrictEqual(yield* words("codex"), [
        "fork",
        "-m",
        "gpt-5-codex",
        "-c",
        "model_reasoning_effort=low",
        ID
      ])
      assert.deepStrictEqual(yield* words("gemini"), ["-m", "gemini-2.5-flash-lite", "--resume", ID])
      const plan = yield* buildLaunch({ agent: "claude", mode: "med", launch: AgentLaunch.fork(ID) })
      assert.strictEqual(plan.commandLine, `claude --model sonnet --resume ${ID} --fork-session`)
      assert.isUndefined(plan.firstPrompt)
    }))

  it.effect("the id is validated as for resume: flag-like, empty or shell-odd ids are refused", () =>
    Effect.gen(function*() {
      for (const bad of ["", "--dangerously-skip-permissions", "-x", "a b", "id;rm -rf /", "a\nb", "x".repeat(200)]) {
        for (const agent of ["claude", "codex", "gemini"] as const) {
          const result = yield* Effect.either(buildLaunch({ agent, mode: "med", launch: AgentLaunch.fork(bad) }))
          assert.isTrue(Either.isLeft(result), `${agent} ${JSON.stringify(bad)}`)
          if (Either.isLeft(result)) {
            assert.instanceOf(result.left, NativeSessionIdInvalid)
            assert.include(result.left.message, "can fork")
          }
        }
      }
    }))
})

describe("conversation files (where the agents keep them)", () => {
  it("claude's project dir: every non-alphanumeric character of the cwd as '-'", () => {
    const homes: AgentHomes = { claude: "/h/.claude", codex: "/h/.codex", gemini: "/h/.gemini" }
    assert.strictEqual(
      claudeProjectDir(homes, "/home/me/my project.v2/a_b"),
      "/h/.claude/projects/-home-me-my-project-v2-a-b"
    )
    assert.strictEqual(
      geminiChatsDir(homes, "/p"),
      `/h/.gemini/tmp/${createHash("sha256").update("/p").digest("hex")}/chats`
    )
  })

  for (const agent of ["claude", "codex", "gemini"] as const) {
    it.effect(`${agent}: the fake's conversation is found where the module looks, by id alone`, () =>
      Effect.gen(function*() {
        const { home, homes, project } = makeHome()
        const run = runFake(home, project, agent, [], "hello\n")
        assert.strictEqual(run.code, 0, run.stderr)
        const id = sessionOf(run.stdout)
        const file = yield* locateConversation(homes, agent, id, null, project)
        assert.include(fs.readFileSync(file, "utf8"), "reply: hello")
        // the fake, resumed by that id, finds it too
        const resumed = runFake(home, project, agent, agent === "codex" ? ["resume", id] : ["--resume", id], "again\n")
        assert.strictEqual(resumed.code, 0, resumed.stderr)
        assert.include(resumed.stdout, `resumed ${id}`)
        // and refuses an id with no file, as the real agent does
        const missing = runFake(home, project, agent, agent === "codex" ? ["resume", ID] : ["--resume", ID], "")
        assert.strictEqual(missing.code, 1)
        assert.include(missing.stderr, `no conversation found with id ${ID}`)
      }))
  }

  it.effect("a conversation moved to another HOME and project dir is where claude looks there; the fork continues it", () =>
    Effect.gen(function*() {
      const a = makeHome()
      const b = makeHome()
      const first = runFake(a.home, a.project, "claude", [], "remember 42\n")
      const id = sessionOf(first.stdout)
      const exported = yield* readConversation(a.homes, "claude", id, null, a.project)
      assert.strictEqual(exported.fileName, `${id}.jsonl`)
      // not there before the import
      assert.strictEqual(runFake(b.home, b.project, "claude", ["--resume", id, "--fork-session"], "").code, 1)
      const written = yield* importConversation(b.homes, exported, b.project)
      assert.strictEqual(written, path.join(claudeProjectDir(b.homes, b.project), `${id}.jsonl`))
      const forked = runFake(b.home, b.project, "claude", ["--resume", id, "--fork-session"], "what number?\n")
      assert.strictEqual(forked.code, 0, forked.stderr)
      const newId = sessionOf(forked.stdout)
      assert.include(forked.stdout, `forked ${id} as ${newId}`)
      assert.notStrictEqual(newId, id)
      const copy = fs.readFileSync(path.join(claudeProjectDir(b.homes, b.project), `${newId}.jsonl`), "utf8")
      assert.include(copy, "remember 42")
      assert.deepStrictEqual(argvOf(b.home, "claude").at(-1), ["--resume", id, "--fork-session"])
    }))

  it.effect("codex's rollout keeps its date directories on the other computer", () =>
    Effect.gen(function*() {
      const a = makeHome()
      const b = makeHome()
      const id = sessionOf(runFake(a.home, a.project, "codex", [], "hi\n").stdout)
      const exported = yield* readConversation(a.homes, "codex", id, null, a.project)
      assert.match(exported.fileName, new RegExp(`^rollout-\\d{4}-\\d{2}-\\d{2}T[\\d-]+-${id}\\.jsonl$`))
      const written = yield* importConversation(b.homes, exported, b.project)
      const [, y, m, d] = /^rollout-(\d{4})-(\d{2})-(\d{2})/.exec(exported.fileName)!
      assert.strictEqual(written, path.join(b.homes.codex, "sessions", y!, m!, d!, exported.fileName))
      const forked = runFake(b.home, b.project, "codex", ["fork", "-m", "gpt-5-codex", id], "next\n")
      assert.strictEqual(forked.code, 0, forked.stderr)
      assert.include(forked.stdout, `forked ${id} as `)
    }))

  it.effect("gemini's fork is a copy under a new id (content and file name) that gemini resumes", () =>
    Effect.gen(function*() {
      const { home, homes, project } = makeHome()
      const id = sessionOf(runFake(home, project, "gemini", [], "remember 7\n").stdout)
      const file = yield* locateConversation(homes, "gemini", id, null, project)
      const newId = yield* prepareFork(homes, { _tag: "Local", agent: "gemini", nativeSessionId: id, file }, project)
      assert.notStrictEqual(newId, id)
      const copies = fs.readdirSync(geminiChatsDir(homes, project)).filter((n) => n.includes(newId.slice(0, 8)))
      assert.strictEqual(copies.length, 1)
      assert.match(copies[0]!, /^session-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-[0-9a-f]{8}\.json$/)
      const copy = JSON.parse(fs.readFileSync(path.join(geminiChatsDir(homes, project), copies[0]!), "utf8"))
      assert.strictEqual(copy.sessionId, newId)
      assert.strictEqual(JSON.parse(fs.readFileSync(file, "utf8")).sessionId, id, "the original is left as it was")
      const resumed = runFake(home, project, "gemini", ["--resume", newId], "what number?\n")
      assert.strictEqual(resumed.code, 0, resumed.stderr)
      assert.include(resumed.stdout, `resumed ${newId}`)
    }))

  it.effect("a local claude file already where the fork will look is left alone; another project dir gets a copy", () =>
    Effect.gen(function*() {
      const { home, homes, project } = makeHome()
      const id = sessionOf(runFake(home, project, "claude", [], "x\n").stdout)
      const file = yield* locateConversation(homes, "claude", id, null, project)
      const before = fs.statSync(file).mtimeMs
      const source = { _tag: "Local", agent: "claude", nativeSessionId: id, file } as const
      assert.strictEqual(yield* prepareFork(homes, source, project), id)
      assert.strictEqual(fs.statSync(file).mtimeMs, before)
      const worktree = path.join(home, "worktree")
      fs.mkdirSync(worktree)
      assert.strictEqual(yield* prepareFork(homes, source, worktree), id)
      assert.strictEqual(
        fs.readFileSync(path.join(claudeProjectDir(homes, worktree), `${id}.jsonl`), "utf8"),
        fs.readFileSync(file, "utf8")
      )
    }))

  it.effect("export refuses a conversation past the bound, and one that is nowhere, with typed errors", () =>
    Effect.gen(function*() {
      const { homes, project } = makeHome()
      const missing = yield* Effect.flip(readConversation(homes, "claude", ID, null, project))
      assert.strictEqual(missing._tag, "ConversationUnavailable")
      const big = path.join(claudeProjectDir(homes, project), `${ID}.jsonl`)
      fs.mkdirSync(path.dirname(big), { recursive: true })
      fs.writeFileSync(big, "")
      fs.truncateSync(big, CONVERSATION_MAX_BYTES + 1)
      const tooLarge = yield* Effect.flip(readConversation(homes, "claude", ID, big, project))
      assert.strictEqual(tooLarge._tag, "ConversationTooLarge")
      assert.include(tooLarge.message, String(CONVERSATION_MAX_BYTES))
    }))

  it.effect("an import whose codex file name does not carry the id is refused", () =>
    Effect.gen(function*() {
      const { homes, project } = makeHome()
      const conversation: ConversationExport = {
        agent: "codex",
        nativeSessionId: ID,
        fileName: "rollout-2025-01-01T00-00-00-other.jsonl",
        content: "{}\n"
      }
      const refused = yield* Effect.flip(importConversation(homes, conversation, project))
      assert.strictEqual(refused._tag, "ConversationUnavailable")
    }))
})
