import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { geminiChatsDir } from "../src/agents/Conversations.js"
import { install } from "../src/agents/HookInstall.js"
import type { Agent } from "../src/domain/Session.js"
import { HOOK_COMMAND } from "./fixtures/agents/hookBuild.js"
import { agentDaemonEnvs } from "./support/agentDaemon.js"
import { api, type DaemonEnv, type RunningDaemon, startDaemon } from "./support/daemonProcess.js"
import { fakeAgentVariables, recordedArgv } from "./support/fakeAgents.js"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `probe` until it returns a value, or fails with `what` after `timeoutMs`. */
const eventually = async <A>(what: string, probe: () => Promise<A | undefined>, timeoutMs = 20_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

/** `words` appear in `argv` in this order, side by side. */
const containsRun = (argv: ReadonlyArray<string>, words: ReadonlyArray<string>) =>
  argv.some((_, i) => words.every((w, j) => argv[i + j] === w))

describe("forking an agent's conversation (dist/main.js, real tmux, fake agent CLIs recording their command lines)", () => {
  const envs = agentDaemonEnvs()

  it(
    "claude forks with --resume <current id> --fork-session (the new id after /clear), codex with fork <id>, gemini resumes a copy under a new id; a shell or an agent with no conversation yet is refused",
    async () => {
      const env: DaemonEnv = await envs.make()
      // the project is a git repository, so that a fork can go into a worktree of it
      for (const args of [["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "start"]]) {
        execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@localhost", ...args], {
          cwd: env.projectDir,
          stdio: "ignore"
        })
      }
      await Effect.runPromise(
        install({ home: env.home, hookCommand: HOOK_COMMAND }).pipe(Effect.provide(NodeContext.layer))
      )
      const daemon: RunningDaemon = await startDaemon(env, fakeAgentVariables)
      const call = api(env)
      const session = async (id: string) => (await call("GET", `/v1/sessions/${id}`)).body
      const screen = async (id: string) =>
        (await call("GET", `/v1/sessions/${id}/output?lines=200`)).body.screen as string
      const withContext = (id: string) => async (e: Error) => {
        throw new Error(
          `${e.message}\n--- screen:\n${await screen(id)}\n--- daemon:\n${
            daemon.logs().split("\n").filter((l) => /agent|hook|fork|rror/i.test(l)).slice(-20).join("\n")
          }`
        )
      }
      /** A session of `agent` with a first prompt, once its agent has reported its conversation id. */
      const started = async (agent: Agent, prompt: string) => {
        const created = await call("POST", "/v1/sessions", { projectDir: env.projectDir, agent, mode: "fast", prompt })
        assert.strictEqual(created.status, 201, JSON.stringify(created.body))
        const id: string = created.body.sessionId
        return eventually(`${agent}'s conversation id`, async () => {
          const s = await session(id)
          return s.nativeSessionId !== null && (await screen(id)).includes(`reply: ${prompt}`) ? s : undefined
        }).catch(withContext(id))
      }
      const fork = (id: string, body: Record<string, unknown> = {}) => call("POST", `/v1/sessions/${id}/fork`, body)
      /** The fork's session once its agent reported the conversation it continues under. */
      const forkedSession = (id: string, not: string) =>
        eventually("the fork's own conversation id", async () => {
          const s = await session(id)
          return s.nativeSessionId !== null && s.nativeSessionId !== not ? s : undefined
        }).catch(withContext(id))

      try {
        // -- claude ------------------------------------------------------------------------------------
        const source = await started("claude", "remember 42")
        const first: string = source.nativeSessionId
        const forked = await fork(source.sessionId)
        assert.strictEqual(forked.status, 201, JSON.stringify(forked.body))
        assert.notStrictEqual(forked.body.sessionId, source.sessionId)
        assert.strictEqual(forked.body.agent, "claude")
        assert.strictEqual(forked.body.agentMode, "fast")
        assert.strictEqual(forked.body.title, `fork of ${source.title}`)
        assert.strictEqual(forked.body.workingDirectory, source.workingDirectory)
        const fork1 = await forkedSession(forked.body.sessionId, first)
        assert.isTrue(
          recordedArgv(env.home, "claude").some((argv) => containsRun(argv, ["--resume", first, "--fork-session"])),
          JSON.stringify(recordedArgv(env.home, "claude"))
        )
        assert.include(await screen(fork1.sessionId), `forked ${first} as ${fork1.nativeSessionId}`)
        // the fork continues the conversation: its transcript carries the source's turns
        assert.include(fs.readFileSync(fork1.nativeLogFile, "utf8"), "remember 42")

        // /clear in the source starts a new conversation: the next fork continues that one
        assert.strictEqual(
          (await call("POST", `/v1/sessions/${source.sessionId}/input`, { text: "/clear" })).status,
          204
        )
        const cleared = await eventually("the source's new conversation id after /clear", async () => {
          const s = await session(source.sessionId)
          return s.nativeSessionId !== first ? s : undefined
        }).catch(withContext(source.sessionId))
        const second: string = cleared.nativeSessionId
        const forkedAgain = await fork(source.sessionId, { title: "second fork", mode: "slow" })
        assert.strictEqual(forkedAgain.status, 201, JSON.stringify(forkedAgain.body))
        assert.strictEqual(forkedAgain.body.title, "second fork")
        assert.strictEqual(forkedAgain.body.agentMode, "slow")
        await forkedSession(forkedAgain.body.sessionId, second)
        const lastClaude = recordedArgv(env.home, "claude").at(-1)!
        assert.deepStrictEqual(lastClaude, ["--model", "opus", "--resume", second, "--fork-session"])

        // into a new git worktree of the project's repository: the conversation follows it there
        const inWorktree = await fork(source.sessionId, { worktree: { branch: "forked-work" } })
        assert.strictEqual(inWorktree.status, 201, JSON.stringify(inWorktree.body))
        assert.strictEqual(inWorktree.body.worktree.branch, "forked-work")
        assert.strictEqual(inWorktree.body.workingDirectory, inWorktree.body.worktree.path)
        assert.isTrue(inWorktree.body.worktree.path.startsWith(path.join(env.home, "worktrees")))
        await forkedSession(inWorktree.body.sessionId, second)
        assert.deepStrictEqual(recordedArgv(env.home, "claude").at(-1), [
          "--model",
          "haiku",
          "--resume",
          second,
          "--fork-session"
        ])

        // -- codex -----------------------------------------------------------------------------------
        const codex = await started("codex", "hello codex")
        const codexId: string = codex.nativeSessionId
        const codexFork = await fork(codex.sessionId)
        assert.strictEqual(codexFork.status, 201, JSON.stringify(codexFork.body))
        await eventually(
          "codex forked",
          async () => ((await screen(codexFork.body.sessionId)).includes(`forked ${codexId} as `) ? true : undefined)
        ).catch(withContext(codexFork.body.sessionId))
        assert.deepStrictEqual(recordedArgv(env.home, "codex").at(-1), [
          "fork",
          "-m",
          "gpt-5-codex",
          "-c",
          "model_reasoning_effort=low",
          codexId
        ])

        // -- gemini: a copy of its conversation file under a new id, resumed ---------------------------
        const gemini = await started("gemini", "hello gemini")
        const geminiId: string = gemini.nativeSessionId
        const geminiFork = await fork(gemini.sessionId)
        assert.strictEqual(geminiFork.status, 201, JSON.stringify(geminiFork.body))
        const geminiForked = await forkedSession(geminiFork.body.sessionId, geminiId)
        const copyId: string = geminiForked.nativeSessionId
        assert.deepStrictEqual(recordedArgv(env.home, "gemini").at(-1), [
          "-m",
          "gemini-2.5-flash-lite",
          "--resume",
          copyId
        ])
        const chats = geminiChatsDir({ claude: "", codex: "", gemini: path.join(env.home, ".gemini") }, env.projectDir)
        const copies = fs.readdirSync(chats).filter((name) =>
          JSON.parse(fs.readFileSync(path.join(chats, name), "utf8")).sessionId === copyId
        )
        assert.strictEqual(copies.length, 1, fs.readdirSync(chats).join(", "))
        assert.include(copies[0], copyId.slice(0, 8))
        assert.include(fs.readFileSync(path.join(chats, copies[0]!), "utf8"), "hello gemini")

        // -- Idempotency-Key: a retry gets the first fork, and nothing runs twice --------------------
        const keyed = async () => {
          const res = await fetch(`http://127.0.0.1:${env.port}/v1/sessions/${codex.sessionId}/fork`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${fs.readFileSync(path.join(env.home, "token"), "utf8").trim()}`,
              "content-type": "application/json",
              "idempotency-key": "fork-once-7f3a"
            },
            body: JSON.stringify({ title: "keyed" })
          })
          return { status: res.status, body: (await res.json()) as { sessionId: string } }
        }
        const codexRuns = recordedArgv(env.home, "codex").length
        const once = await keyed()
        assert.strictEqual(once.status, 201, JSON.stringify(once.body))
        const again = await keyed()
        assert.strictEqual(again.status, 201, JSON.stringify(again.body))
        assert.strictEqual(again.body.sessionId, once.body.sessionId)
        await eventually(
          "the keyed fork's agent",
          async () => (recordedArgv(env.home, "codex").length > codexRuns ? true : undefined)
        )
        await sleep(1000)
        assert.strictEqual(recordedArgv(env.home, "codex").length, codexRuns + 1)

        // -- refused ---------------------------------------------------------------------------------
        const shell = (await call("POST", "/v1/sessions", { projectDir: env.projectDir, title: "plain" })).body
        const noAgent = await fork(shell.sessionId)
        assert.strictEqual(noAgent.status, 400, JSON.stringify(noAgent.body))
        assert.include(noAgent.body.message, "runs no agent")
        // codex reports its conversation id only after a turn: none yet without a prompt
        const quiet = (await call("POST", "/v1/sessions", { projectDir: env.projectDir, agent: "codex" })).body
        const noConversation = await fork(quiet.sessionId)
        assert.strictEqual(noConversation.status, 400, JSON.stringify(noConversation.body))
        assert.include(noConversation.body.message, "wait until the agent has started a conversation")
        const unknown = await fork("00000000-0000-4000-8000-000000000000")
        assert.strictEqual(unknown.status, 404, JSON.stringify(unknown.body))
      } finally {
        await daemon.stop()
      }
    },
    120_000
  )
})
