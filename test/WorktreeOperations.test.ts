/**
 * The worktree operations over Sessions (layers/WorktreeOperations.ts, SessionsLive's create):
 * real git in a temporary repository, the terminal a double. A commit without a message asks the
 * session's agent (once per Idempotency-Key), a shell is told it needs one; a session whose tmux
 * side could not start leaves no worktree and no branch behind; a session without a worktree
 * has no diff.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { FakeTerminal } from "../layers/FakeTerminalBridge.js"
import * as WorktreeOperations from "../layers/WorktreeOperations.js"
import { IdempotencyKey } from "../services/Idempotency.js"
import { Sessions } from "../services/Sessions.js"
import { sessionsOnDoubles } from "./support/unitLayers.js"

const roots: Array<string> = []
afterAll(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true })
})

const git = (cwd: string, ...args: Array<string>) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@localhost", ...args], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  }).trim()

/** A home for the daemon and a repository with one commit on `main`, both in a fresh temp dir. */
const world = () => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "telemux-wtops-")))
  roots.push(root)
  const repo = path.join(root, "repo")
  fs.mkdirSync(repo)
  git(repo, "init", "-q", "-b", "main")
  fs.writeFileSync(path.join(repo, "a.txt"), "a\n")
  git(repo, "add", "-A")
  git(repo, "commit", "-q", "-m", "first")
  const home = path.join(root, "home")
  fs.mkdirSync(home)
  return { repo, home, layer: sessionsOnDoubles({ TELEMUX_HOME: home, TELEMUX_TRUSTED_DIRS: root }) }
}

describe("worktree operations over sessions", () => {
  it.effect("commit without a message asks the agent in its pane, once per key; a shell needs a message", () => {
    const w = world()
    return Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const ops = yield* WorktreeOperations.make
      const agentSession = yield* sessions.create({ projectDir: w.repo, agent: "claude", worktree: {} })
      assert.isDefined(agentSession.worktree)
      const made = fake.calls().find((call) => call.op === "create")
      assert.strictEqual(made?.op === "create" ? made.cwd : undefined, agentSession.worktree!.path)

      const key = IdempotencyKey.make("commit-once")
      const first = yield* ops.finish(agentSession.sessionId, { action: "commit" }, key)
      const again = yield* ops.finish(agentSession.sessionId, { action: "commit" }, key)
      assert.include(first.detail, "asked claude to commit")
      assert.deepStrictEqual(again, first)
      const asked = fake.calls().filter((call) =>
        call.op === "paste" && call.text === WorktreeOperations.COMMIT_REQUEST
      )
      assert.strictEqual(asked.length, 1, "the agent is asked once")

      const shell = yield* sessions.create({ projectDir: w.repo, worktree: { branch: "shell-work" } })
      const refused = yield* Effect.either(ops.finish(shell.sessionId, { action: "commit" }))
      assert.isTrue(Either.isLeft(refused))
      if (Either.isLeft(refused)) {
        assert.strictEqual(refused.left._tag, "InvalidRequest")
        assert.include(refused.left.message, "needs a message")
      }
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a session tmux could not start leaves no worktree and no branch", () => {
    const w = world()
    return Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      fake.setHung(true)
      const failed = yield* Effect.either(sessions.create({ projectDir: w.repo, worktree: { branch: "doomed" } }))
      fake.setHung(false)
      assert.isTrue(Either.isLeft(failed))
      if (Either.isLeft(failed)) assert.strictEqual(failed.left._tag, "TerminalUnavailable")
      assert.strictEqual(git(w.repo, "branch", "--list", "doomed"), "", "the branch it made is gone")
      assert.deepStrictEqual(git(w.repo, "worktree", "list", "--porcelain").match(/^worktree /gm)?.length, 1)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a session without a worktree has no diff, and is told how to get one", () => {
    const w = world()
    return Effect.gen(function*() {
      const sessions = yield* Sessions
      const ops = yield* WorktreeOperations.make
      const plain = yield* sessions.create({ projectDir: w.repo })
      const answer = yield* Effect.either(ops.diff(plain.sessionId, false))
      assert.isTrue(Either.isLeft(answer))
      if (Either.isLeft(answer)) {
        assert.strictEqual(answer.left._tag, "NoWorktree")
        assert.include(answer.left.message, "--worktree")
      }
    }).pipe(Effect.provide(w.layer))
  })
})
