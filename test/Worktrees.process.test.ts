/**
 * Sessions in git worktrees through the real daemon (dist/main.js): two daemons on one real
 * Redis, each with a repository of its own and a bare `file://` origin. A session made in a
 * worktree, typed into, its diff read (the user's index byte-identical), committed, pushed, a
 * discard refused then forced (a salvage ref left); the same on the other computer through the
 * first one's API, its worktree listed fleet-wide and cleaned once its session ended; the projects
 * of both computers listed.
 */
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import {
  api,
  type DaemonEnv,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon
} from "./support/daemonProcess.js"
import { type RedisForTest, redisForTest } from "./support/redisServer.js"

const run = `${process.pid}-${randomBytes(3).toString("hex")}`
const A = `wt-a-${run}`
const B = `wt-b-${run}`
const SECRET = `worktrees-${randomBytes(8).toString("hex")}`

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@localhost",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@localhost",
  GIT_CONFIG_NOSYSTEM: "1"
}
const git = (cwd: string, ...args: Array<string>) =>
  execFileSync("git", args, { cwd, env: gitEnv, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim()

/** A repository with two commits on `main`, pushed to a bare origin beside it. */
const makeRepo = (parent: string) => {
  const origin = path.join(parent, "origin.git")
  const repo = path.join(parent, "repo")
  fs.mkdirSync(repo)
  git(parent, "init", "-q", "--bare", "-b", "main", origin)
  git(repo, "init", "-q", "-b", "main")
  fs.writeFileSync(path.join(repo, "README.md"), "# repo\n")
  fs.writeFileSync(path.join(repo, "tracked.txt"), "one\n")
  git(repo, "add", "-A")
  git(repo, "commit", "-q", "-m", "first")
  git(repo, "remote", "add", "origin", `file://${origin}`)
  git(repo, "push", "-q", "-u", "origin", "main")
  return { repo, origin }
}

const eventually = async <A>(what: string, probe: () => Promise<A | undefined>, timeoutMs = 15_000): Promise<A> => {
  const start = Date.now()
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() - start > timeoutMs) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

interface DiffFile {
  readonly path: string
  readonly change: string
}

describe("sessions in git worktrees (two daemons, real git, real Redis)", () => {
  let redis: RedisForTest
  let envA: DaemonEnv
  let envB: DaemonEnv
  let daemonA: RunningDaemon | undefined
  let daemonB: RunningDaemon | undefined
  let repoA: { repo: string; origin: string }
  let repoB: { repo: string; origin: string }

  const fleetEnv = (name: string, trusted: string) => ({
    TELEMUX_COMPUTER: name,
    TELEMUX_REDIS_URL: redis.url,
    TELEMUX_FLEET_SECRET: SECRET,
    TELEMUX_HEARTBEAT_INTERVAL: "1 second",
    TELEMUX_TRUSTED_DIRS: trusted
  })

  beforeAll(async () => {
    redis = await redisForTest()
    envA = await makeDaemonEnv()
    envB = await makeDaemonEnv()
    repoA = makeRepo(envA.projectDir)
    repoB = makeRepo(envB.projectDir)
    daemonA = await startDaemon(envA, fleetEnv(A, envA.projectDir))
    daemonB = await startDaemon(envB, fleetEnv(B, envB.projectDir))
  }, 60_000)

  afterAll(async () => {
    await daemonA?.stop()
    await daemonB?.stop()
    for (const env of [envA, envB]) if (env !== undefined) removeDaemonEnv(env)
    await redis?.stop()
  }, 60_000)

  it(
    "a local session: create in a worktree, diff (index untouched), commit, push, discard refused then forced",
    async () => {
      const call = api(envA)
      const created = await call("POST", "/v1/sessions", {
        projectDir: repoA.repo,
        title: "fix the parser",
        worktree: { branch: "feature/parser" }
      })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      const session = created.body
      assert.strictEqual(session.worktree.branch, "feature/parser")
      assert.strictEqual(session.worktree.base, "main")
      assert.strictEqual(session.worktree.repository, fs.realpathSync(repoA.repo))
      assert.strictEqual(session.workingDirectory, session.worktree.path)
      assert.isTrue(session.worktree.path.startsWith(path.join(envA.home, "worktrees")), session.worktree.path)
      assert.isFalse(session.worktree.path.startsWith(repoA.repo), "outside the user's working tree")

      // typed into the session's shell: the work happens in the worktree
      const typed = await call("POST", `/v1/sessions/${session.sessionId}/input`, {
        text: "echo hello > new.txt && echo two >> tracked.txt && rm README.md && pwd > where.txt"
      })
      assert.strictEqual(typed.status, 204, JSON.stringify(typed.body))
      const indexBefore = fs.readFileSync(path.join(repoA.repo, ".git", "index"))
      const diff = await eventually("the diff to show the typed changes", async () => {
        const answer = await call("GET", `/v1/sessions/${session.sessionId}/diff`)
        assert.strictEqual(answer.status, 200, JSON.stringify(answer.body))
        return answer.body.files.length >= 4 ? answer.body : undefined
      })
      const changes = Object.fromEntries((diff.files as Array<DiffFile>).map((f) => [f.path, f.change]))
      assert.deepStrictEqual(changes, {
        "new.txt": "added",
        "tracked.txt": "modified",
        "README.md": "deleted",
        "where.txt": "added"
      })
      assert.include(diff.patch, "+hello")
      assert.include(diff.patch, "+two")
      assert.isFalse(diff.truncated)
      assert.deepStrictEqual(fs.readFileSync(path.join(repoA.repo, ".git", "index")), indexBefore, "the user's index")
      assert.strictEqual(git(repoA.repo, "status", "--porcelain"), "", "the user's tree is untouched")

      const stats = await call("GET", `/v1/sessions/${session.sessionId}/diff?stat=1`)
      assert.strictEqual(stats.status, 200)
      assert.isNull(stats.body.patch)
      assert.strictEqual(stats.body.files.length, 4)

      // a shell has no agent to write the message
      const noMessage = await call("POST", `/v1/sessions/${session.sessionId}/worktree`, { action: "commit" })
      assert.strictEqual(noMessage.status, 400, JSON.stringify(noMessage.body))
      assert.include(noMessage.body.message, "needs a message")

      const committed = await call("POST", `/v1/sessions/${session.sessionId}/worktree`, {
        action: "commit",
        message: "parser work"
      })
      assert.strictEqual(committed.status, 200, JSON.stringify(committed.body))
      assert.match(committed.body.commit, /^[0-9a-f]{40}$/)
      assert.strictEqual(git(repoA.repo, "log", "-1", "--format=%s", "feature/parser"), "parser work")
      assert.strictEqual(git(repoA.repo, "rev-parse", "main"), git(repoA.origin, "rev-parse", "main"), "main unmoved")

      const pushed = await call("POST", `/v1/sessions/${session.sessionId}/worktree`, { action: "push" })
      assert.strictEqual(pushed.status, 200, JSON.stringify(pushed.body))
      assert.strictEqual(git(repoA.origin, "rev-parse", "refs/heads/feature/parser"), committed.body.commit)

      // unsaved work: a discard is refused and changes nothing
      await call("POST", `/v1/sessions/${session.sessionId}/input`, { text: "echo draft > draft.txt" })
      await eventually(
        "the draft to be written",
        async () => fs.existsSync(path.join(session.worktree.path, "draft.txt")) ? true : undefined
      )
      const refused = await call("POST", `/v1/sessions/${session.sessionId}/worktree`, { action: "discard" })
      assert.strictEqual(refused.status, 409, JSON.stringify(refused.body))
      assert.strictEqual(refused.body._tag, "WorktreeHasWork")
      assert.isTrue(fs.existsSync(session.worktree.path))
      assert.strictEqual((await call("GET", `/v1/sessions/${session.sessionId}`)).body.status !== "closed", true)

      const forced = await call("POST", `/v1/sessions/${session.sessionId}/worktree`, {
        action: "discard",
        force: true
      })
      assert.strictEqual(forced.status, 200, JSON.stringify(forced.body))
      assert.match(forced.body.salvageRef, /^refs\/telemux\/salvage\//)
      assert.strictEqual(git(repoA.repo, "show", `${forced.body.salvageRef}:draft.txt`), "draft")
      assert.isFalse(fs.existsSync(session.worktree.path), "the worktree is gone")
      assert.strictEqual((await call("GET", `/v1/sessions/${session.sessionId}`)).body.status, "closed")
      assert.strictEqual(git(repoA.repo, "rev-parse", "--abbrev-ref", "HEAD"), "main", "the default branch stays")
    },
    90_000
  )

  it("bad requests change nothing: not a repository, a branch name git refuses, a branch taken", async () => {
    const call = api(envA)
    const before = (await call("GET", "/v1/sessions?status=all")).body.length
    const plain = path.join(envA.projectDir, "plain")
    fs.mkdirSync(plain, { recursive: true })
    const notRepo = await call("POST", "/v1/sessions", { projectDir: plain, worktree: {} })
    assert.strictEqual(notRepo.status, 400, JSON.stringify(notRepo.body))
    assert.strictEqual(notRepo.body._tag, "NotAGitRepository")
    const badName = await call("POST", "/v1/sessions", { projectDir: repoA.repo, worktree: { branch: "a..b" } })
    assert.strictEqual(badName.status, 400, JSON.stringify(badName.body))
    assert.strictEqual(badName.body._tag, "BranchNameInvalid")
    const taken = await call("POST", "/v1/sessions", { projectDir: repoA.repo, worktree: { branch: "main" } })
    assert.strictEqual(taken.status, 409, JSON.stringify(taken.body))
    assert.strictEqual(taken.body._tag, "BranchConflict")
    assert.strictEqual((await call("GET", "/v1/sessions?status=all")).body.length, before, "no session was made")
  }, 60_000)

  it("on another computer through the first one's API: create, diff, list fleet-wide, clean once ended", async () => {
    const callA = api(envA)
    let created: { status: number; body: any } | undefined
    const start = Date.now()
    while (Date.now() - start < 20_000) {
      created = await callA("POST", "/v1/sessions", {
        projectDir: repoB.repo,
        computer: B,
        worktree: { branch: "remote-work" }
      })
      if (created.status === 201) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    assert.strictEqual(created?.status, 201, JSON.stringify(created?.body))
    const session = created!.body
    assert.strictEqual(session.computer, B)
    assert.isTrue(session.worktree.path.startsWith(path.join(envB.home, "worktrees")), session.worktree.path)

    await callA("POST", `/v1/sessions/${session.sessionId}/input`, { text: "echo far > far.txt" })
    const diff = await eventually("B's diff through A", async () => {
      const answer = await callA("GET", `/v1/sessions/${session.sessionId}/diff`)
      assert.strictEqual(answer.status, 200, JSON.stringify(answer.body))
      return answer.body.files.length > 0 ? answer.body : undefined
    })
    assert.deepStrictEqual(diff.files.map((f: DiffFile) => [f.path, f.change]), [["far.txt", "added"]])

    const listed = await callA("GET", "/v1/worktrees")
    assert.strictEqual(listed.status, 200, JSON.stringify(listed.body))
    const remote = listed.body.find((entry: { path: string }) => entry.path === session.worktree.path)
    assert.deepInclude(remote, { computer: B, state: "open", dirty: true, branch: "remote-work" })

    // a running session's worktree is never cleaned; an ended one's with unsaved work only when forced
    const whileOpen = await callA("POST", "/v1/worktrees/cleanup", { computer: B, paths: [session.worktree.path] })
    assert.strictEqual(whileOpen.status, 200, JSON.stringify(whileOpen.body))
    assert.deepStrictEqual(whileOpen.body.removed, [])
    assert.include(whileOpen.body.refused[0].reason, "runs in it")
    assert.strictEqual((await callA("DELETE", `/v1/sessions/${session.sessionId}`)).status, 200)
    const dirty = await callA("POST", "/v1/worktrees/cleanup", { computer: B })
    assert.deepStrictEqual(dirty.body.removed, [])
    assert.strictEqual(dirty.body.refused[0].path, session.worktree.path)
    assert.isTrue(fs.existsSync(session.worktree.path))
    const forced = await callA("POST", "/v1/worktrees/cleanup", { computer: B, force: true })
    assert.strictEqual(forced.body.removed[0].path, session.worktree.path, JSON.stringify(forced.body))
    assert.match(forced.body.removed[0].salvageRef, /^refs\/telemux\/salvage\//)
    assert.isFalse(fs.existsSync(session.worktree.path))
    assert.strictEqual(git(repoB.repo, "show", `${forced.body.removed[0].salvageRef}:far.txt`), "far")
  }, 90_000)

  it("a worktree left by an ended session is listed and said at the next start, never removed", async () => {
    const call = api(envA)
    const created = await call("POST", "/v1/sessions", { projectDir: repoA.repo, worktree: {} })
    assert.strictEqual(created.status, 201, JSON.stringify(created.body))
    const worktree = created.body.worktree
    assert.match(worktree.branch, /^telemux\//, "a name derived from the title and the id")
    assert.strictEqual((await call("DELETE", `/v1/sessions/${created.body.sessionId}`)).status, 200)
    await daemonA!.stop()
    daemonA = await startDaemon(envA, fleetEnv(A, envA.projectDir))
    await eventually(
      "the start's word about kept worktrees",
      async () => daemonA!.logs().includes("of sessions that ended are kept") ? true : undefined
    )
    assert.include(daemonA!.logs(), worktree.path)
    assert.isTrue(fs.existsSync(worktree.path), "kept")
    const listed = await api(envA)("GET", `/v1/worktrees?computer=${A}`)
    assert.deepInclude(listed.body.find((e: { path: string }) => e.path === worktree.path), {
      state: "closed",
      sessionId: created.body.sessionId,
      dirty: false
    })
    // clean, and its branch has nothing the base lacks: cleaned without force, the branch it made removed
    const cleaned = await api(envA)("POST", "/v1/worktrees/cleanup", {})
    assert.deepStrictEqual(cleaned.body.removed, [{ path: worktree.path, salvageRef: null }])
    assert.isFalse(fs.existsSync(worktree.path))
    assert.strictEqual(git(repoA.repo, "branch", "--list", worktree.branch), "")
  }, 90_000)

  it("the projects list covers every computer, each naming its own", async () => {
    const projects = await eventually("both computers' projects", async () => {
      const answer = await api(envA)("GET", "/v1/projects")
      assert.strictEqual(answer.status, 200, JSON.stringify(answer.body))
      return answer.body.length >= 2 ? answer.body : undefined
    })
    const byComputer = Object.fromEntries(
      projects.map((p: { computer: string; path: string }) => [p.computer, p.path])
    )
    assert.deepStrictEqual(byComputer, { [A]: envA.projectDir, [B]: envB.projectDir })
  }, 30_000)
})
