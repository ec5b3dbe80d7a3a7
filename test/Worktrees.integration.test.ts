import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { make } from "../layers/GitWorktrees.js"
import type { CreateWorktree } from "../services/Worktrees.js"
import { SALVAGE_REF_PREFIX, type SessionWorktree, WORKTREE_SETUP_FILE } from "../src/domain/Worktree.js"

/**
 * The git worktree layer on real repositories in temp dirs: a repository with a bare `file://`
 * origin, every git the layer runs given an empty HOME (no identity, no global config), so the
 * daemon's own commits show the fallback identity.
 */

interface Fixture {
  readonly dir: string
  readonly home: string
  readonly repo: string
  readonly origin: string
  readonly root: string
  readonly env: Record<string, string>
  readonly git: (cwd: string, ...args: Array<string>) => string
  readonly gitStatus: (cwd: string, ...args: Array<string>) => number
}

const LINES = Array.from({ length: 40 }, (_, i) => `line ${i}`).join("\n") + "\n"

const fixture = (): Fixture => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "telemux-worktrees-")))
  const home = path.join(dir, "home")
  fs.mkdirSync(home)
  const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, ".config"), GIT_CONFIG_NOSYSTEM: "1" }
  const testEnv = {
    ...process.env,
    ...env,
    GIT_AUTHOR_NAME: "Test Person",
    GIT_AUTHOR_EMAIL: "test@example.com",
    GIT_COMMITTER_NAME: "Test Person",
    GIT_COMMITTER_EMAIL: "test@example.com",
    LC_ALL: "C"
  }
  const spawn = (cwd: string, args: Array<string>) => spawnSync("git", args, { cwd, env: testEnv, encoding: "utf8" })
  const git = (cwd: string, ...args: Array<string>) => {
    const result = spawn(cwd, args)
    if (result.status !== 0) assert.fail(`git ${args.join(" ")} in ${cwd}: ${result.stderr}`)
    return result.stdout.trim()
  }
  const gitStatus = (cwd: string, ...args: Array<string>) => spawn(cwd, args).status ?? -1
  const origin = path.join(dir, "origin.git")
  const repo = path.join(dir, "repo")
  git(dir, "init", "-q", "--bare", "-b", "main", origin)
  git(dir, "init", "-q", "-b", "main", repo)
  fs.mkdirSync(path.join(repo, "src"))
  fs.writeFileSync(path.join(repo, "README.md"), "# repo\n")
  fs.writeFileSync(path.join(repo, "src", "a.txt"), LINES)
  fs.writeFileSync(path.join(repo, "old.txt"), LINES.replaceAll("line", "old"))
  fs.writeFileSync(path.join(repo, "bin.dat"), Buffer.from([0, 1, 2, 3, 0, 255, 254]))
  fs.writeFileSync(path.join(repo, ".gitignore"), "*.log\n")
  git(repo, "add", "-A")
  git(repo, "commit", "-q", "-m", "initial")
  git(repo, "remote", "add", "origin", `file://${origin}`)
  git(repo, "push", "-q", "-u", "origin", "main")
  git(repo, "remote", "set-head", "origin", "-a")
  return { dir, home, repo, origin, root: path.join(dir, "worktrees"), env, git, gitStatus }
}

/** A fresh fixture for the test, removed after it whatever happened. */
const withFixture = <A, E>(body: (f: Fixture) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(fixture),
    body,
    (f) => Effect.sync(() => fs.rmSync(f.dir, { recursive: true, force: true }))
  )

const request = (f: Fixture, over: Partial<CreateWorktree> = {}): CreateWorktree => ({
  projectDir: f.repo,
  title: "Fix the login page",
  sessionId: "0b6f4d6e-7a3c-4c8e-9f1a-2d3b4c5d6e7f",
  request: {},
  trusted: false,
  ...over
})

const layerOf = (f: Fixture, extra: { patchMaxBytes?: number; setupTimeout?: Duration.DurationInput } = {}) =>
  make({ root: f.root, env: f.env, ...extra })

const indexBytes = (file: string) => fs.readFileSync(file)

describe("GitWorktrees: create", () => {
  it.live("makes a new named branch from the current branch under <root>/<repo>-<hash>/", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const wt = yield* layerOf(f).create(request(f, { request: { branch: "feature/x" } }))
        assert.strictEqual(wt.repository, f.repo)
        assert.match(wt.path, new RegExp(`^${f.root}/repo-[0-9a-f]{8}/feature-x$`))
        assert.strictEqual(wt.branch, "feature/x")
        assert.strictEqual(wt.base, "main")
        assert.isTrue(wt.createdBranch)
        assert.strictEqual(f.git(wt.path, "symbolic-ref", "--short", "HEAD"), "feature/x")
        assert.isTrue(fs.existsSync(path.join(wt.path, "src", "a.txt")))
        // made --no-track: push sets the upstream, not the base
        assert.notStrictEqual(f.gitStatus(f.repo, "config", "branch.feature/x.merge"), 0)
      })
    ))

  it.live("derives telemux/<slug>-<8 of the id> when no branch is named", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const wt = yield* layerOf(f).create(request(f))
        assert.strictEqual(wt.branch, "telemux/fix-the-login-page-0b6f4d6e")
        assert.strictEqual(path.basename(wt.path), "telemux-fix-the-login-page-0b6f4d6e")
      })
    ))

  it.live("checks out an existing branch, and refuses one checked out elsewhere with its path", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        f.git(f.repo, "branch", "topic")
        const layer = layerOf(f)
        const wt = yield* layer.create(request(f, { request: { branch: "topic", existing: true } }))
        assert.isFalse(wt.createdBranch)
        assert.strictEqual(f.git(wt.path, "symbolic-ref", "--short", "HEAD"), "topic")
        const again = yield* Effect.flip(layer.create(request(f, { request: { branch: "topic", existing: true } })))
        assert.strictEqual(again._tag, "BranchCheckedOut")
        if (again._tag === "BranchCheckedOut") assert.strictEqual(again.path, wt.path)
        const main = yield* Effect.flip(layer.create(request(f, { request: { branch: "main", existing: true } })))
        assert.strictEqual(main._tag, "BranchCheckedOut")
        if (main._tag === "BranchCheckedOut") assert.strictEqual(main.path, f.repo)
      })
    ))

  it.live("refuses a missing base, a taken name, an invalid name and a missing existing branch", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const layer = layerOf(f)
        const base = yield* Effect.flip(layer.create(request(f, { request: { branch: "x", base: "nope" } })))
        assert.strictEqual(base._tag, "BranchConflict")
        if (base._tag === "BranchConflict") assert.strictEqual(base.reason, "missing")
        const taken = yield* Effect.flip(layer.create(request(f, { request: { branch: "main" } })))
        assert.strictEqual(taken._tag, "BranchConflict")
        if (taken._tag === "BranchConflict") assert.strictEqual(taken.reason, "exists")
        const invalid = yield* Effect.flip(layer.create(request(f, { request: { branch: "bad..name" } })))
        assert.strictEqual(invalid._tag, "BranchNameInvalid")
        const missing = yield* Effect.flip(layer.create(request(f, { request: { branch: "ghost", existing: true } })))
        assert.strictEqual(missing._tag, "BranchConflict")
        if (missing._tag === "BranchConflict") assert.strictEqual(missing.reason, "missing")
        assert.deepStrictEqual(
          fs.existsSync(f.root) ? fs.readdirSync(f.root).flatMap((d) => fs.readdirSync(path.join(f.root, d))) : [],
          []
        )
      })
    ))

  it.live("a repository without commits and a directory that is no repository get their own errors", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const empty = path.join(f.dir, "empty")
        f.git(f.dir, "init", "-q", empty)
        const noCommits = yield* Effect.flip(layerOf(f).create(request(f, { projectDir: empty })))
        assert.strictEqual(noCommits._tag, "RepositoryHasNoCommits")
        const plain = path.join(f.dir, "plain")
        fs.mkdirSync(plain)
        const notRepo = yield* Effect.flip(layerOf(f).create(request(f, { projectDir: plain })))
        assert.strictEqual(notRepo._tag, "NotAGitRepository")
        assert.match(notRepo.message, /git init/)
      })
    ))

  it.live("initialises submodules in the new worktree (trusted); untrusted and refused, nothing is left", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const sub = path.join(f.dir, "sub")
        f.git(f.dir, "init", "-q", "-b", "main", sub)
        fs.writeFileSync(path.join(sub, "lib.txt"), "from the submodule\n")
        f.git(sub, "add", "lib.txt")
        f.git(sub, "commit", "-q", "-m", "sub")
        f.git(f.repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub, "vendor/sub")
        f.git(f.repo, "commit", "-q", "-m", "add submodule")
        const layer = layerOf(f)
        const wt = yield* layer.create(request(f, { request: { branch: "with-sub" }, trusted: true }))
        assert.strictEqual(
          fs.readFileSync(path.join(wt.path, "vendor", "sub", "lib.txt"), "utf8"),
          "from the submodule\n"
        )
        // Without trust git's default refuses a local-path submodule: a typed error, nothing left behind.
        const refused = yield* Effect.flip(layer.create(request(f, { request: { branch: "untrusted-sub" } })))
        assert.strictEqual(refused._tag, "GitFailed")
        assert.match(refused.message, /submodules/)
        assert.notStrictEqual(f.gitStatus(f.repo, "show-ref", "--verify", "-q", "refs/heads/untrusted-sub"), 0)
        assert.isFalse(fs.existsSync(path.join(path.dirname(wt.path), "untrusted-sub")))
      })
    ))

  it.live("runs the setup file when trusted, not when untrusted; a failing one leaves nothing", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        fs.mkdirSync(path.join(f.repo, ".telemux"))
        fs.writeFileSync(
          path.join(f.repo, WORKTREE_SETUP_FILE),
          "# prepare\necho ran > setup-ran.txt\n\npwd >> setup-ran.txt\n"
        )
        f.git(f.repo, "add", ".telemux")
        f.git(f.repo, "commit", "-q", "-m", "setup")
        const layer = layerOf(f)
        const trusted = yield* layer.create(request(f, { request: { branch: "trusted" }, trusted: true }))
        assert.strictEqual(fs.readFileSync(path.join(trusted.path, "setup-ran.txt"), "utf8"), `ran\n${trusted.path}\n`)
        const untrusted = yield* layer.create(request(f, { request: { branch: "untrusted" }, trusted: false }))
        assert.isFalse(fs.existsSync(path.join(untrusted.path, "setup-ran.txt")))

        fs.writeFileSync(
          path.join(f.repo, WORKTREE_SETUP_FILE),
          "echo before-failing\nexit 3\necho never > never.txt\n"
        )
        f.git(f.repo, "commit", "-q", "-am", "failing setup")
        const failed = yield* Effect.flip(layer.create(request(f, { request: { branch: "failing" }, trusted: true })))
        assert.strictEqual(failed._tag, "WorktreeSetupFailed")
        if (failed._tag === "WorktreeSetupFailed") assert.match(failed.output, /before-failing/)
        assert.isFalse(fs.existsSync(path.join(path.dirname(trusted.path), "failing")))
        assert.notStrictEqual(f.gitStatus(f.repo, "show-ref", "--verify", "-q", "refs/heads/failing"), 0)
        assert.notInclude(f.git(f.repo, "worktree", "list"), "failing")

        // The commands share one time bound; past it the one running is stopped and nothing is left.
        fs.writeFileSync(path.join(f.repo, WORKTREE_SETUP_FILE), "echo started\nsleep 30\n")
        f.git(f.repo, "commit", "-q", "-am", "slow setup")
        const started = Date.now()
        const slow = yield* Effect.flip(
          layerOf(f, { setupTimeout: "1 second" }).create(request(f, { request: { branch: "slow" }, trusted: true }))
        )
        assert.strictEqual(slow._tag, "WorktreeSetupFailed")
        assert.match(slow.message, /did not finish/)
        assert.isBelow(Date.now() - started, 15_000)
        assert.isFalse(fs.existsSync(path.join(path.dirname(trusted.path), "slow")))
        assert.notStrictEqual(f.gitStatus(f.repo, "show-ref", "--verify", "-q", "refs/heads/slow"), 0)
      })
    ))
})

/** A worktree with a commit of its own, then: an edit, an untracked file, a deletion, a binary change, a rename. */
const changedWorktree = (f: Fixture, layer: ReturnType<typeof layerOf>) =>
  Effect.gen(function*() {
    const wt = yield* layer.create(request(f, { request: { branch: "work" } }))
    fs.writeFileSync(path.join(wt.path, "committed.txt"), "committed on the branch\n")
    f.git(wt.path, "add", "committed.txt")
    f.git(wt.path, "commit", "-q", "-m", "on the branch")
    fs.writeFileSync(path.join(wt.path, "src", "a.txt"), LINES.replace("line 3\n", "line three\n"))
    fs.writeFileSync(path.join(wt.path, "new.txt"), "new content\n")
    fs.rmSync(path.join(wt.path, "README.md"))
    fs.writeFileSync(path.join(wt.path, "bin.dat"), Buffer.from([0, 9, 9, 9, 0, 255]))
    fs.renameSync(path.join(wt.path, "old.txt"), path.join(wt.path, "moved.txt"))
    fs.writeFileSync(path.join(wt.path, "ignored.log"), "ignored\n")
    // Both indexes hold something staged, so "untouched" means something.
    f.git(wt.path, "add", "src/a.txt")
    fs.writeFileSync(path.join(f.repo, "README.md"), "# repo, staged in the main tree\n")
    f.git(f.repo, "add", "README.md")
    return wt
  })

describe("GitWorktrees: diff", () => {
  it.live("shows tracked, untracked, deleted, binary and renamed files against the merge-base; both indexes untouched", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const layer = layerOf(f)
        const wt = yield* changedWorktree(f, layer)
        const mainIndex = path.join(f.repo, ".git", "index")
        const ownIndex = f.git(wt.path, "rev-parse", "--path-format=absolute", "--git-path", "index")
        assert.notStrictEqual(ownIndex, mainIndex)
        const before = [indexBytes(mainIndex), indexBytes(ownIndex)]
        const tempBefore = fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("telemux-index-")).length

        const diff = yield* layer.diff(wt, { statOnly: false })

        assert.isTrue(indexBytes(mainIndex).equals(before[0]!), "the main repository's index changed")
        assert.isTrue(indexBytes(ownIndex).equals(before[1]!), "the worktree's index changed")
        assert.strictEqual(
          fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("telemux-index-")).length,
          tempBefore
        )
        assert.strictEqual(diff.mergeBase, f.git(f.repo, "rev-parse", "main"))
        const byPath = new Map(diff.files.map((file) => [file.path, file]))
        assert.deepStrictEqual([...byPath.keys()].sort(), [
          "README.md",
          "bin.dat",
          "committed.txt",
          "moved.txt",
          "new.txt",
          "src/a.txt"
        ])
        assert.deepInclude(byPath.get("src/a.txt"), { change: "modified", additions: 1, deletions: 1 })
        assert.deepInclude(byPath.get("new.txt"), { change: "added", additions: 1, deletions: 0 })
        assert.deepInclude(byPath.get("committed.txt"), { change: "added", additions: 1 })
        assert.deepInclude(byPath.get("README.md"), { change: "deleted", additions: 0, deletions: 1 })
        assert.deepInclude(byPath.get("bin.dat"), { change: "modified", additions: null, deletions: null })
        assert.deepInclude(byPath.get("moved.txt"), { change: "renamed", oldPath: "old.txt" })
        assert.strictEqual(diff.additions, 3)
        assert.strictEqual(diff.deletions, 2)
        assert.isFalse(diff.truncated)
        assert.include(diff.patch, "+new content")
        assert.include(diff.patch, "-line 3\n+line three")
        assert.include(diff.patch, "deleted file mode")
        assert.include(diff.patch, "Binary files a/bin.dat and b/bin.dat differ")
        assert.include(diff.patch, "rename from old.txt")
        assert.notInclude(diff.patch, "ignored.log")

        const stat = yield* layer.diff(wt, { statOnly: true })
        assert.isNull(stat.patch)
        assert.deepStrictEqual(stat.files, diff.files)
        assert.isTrue(indexBytes(mainIndex).equals(before[0]!))
        assert.isTrue(indexBytes(ownIndex).equals(before[1]!))
      })
    ))

  it.live("a patch past its bound is cut at a line with truncated set, not an error", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const small = layerOf(f, { patchMaxBytes: 4096 })
        const wt = yield* small.create(request(f, { request: { branch: "big" } }))
        fs.writeFileSync(path.join(wt.path, "big.txt"), "a line of text that repeats\n".repeat(150_000))
        const cut = yield* small.diff(wt, { statOnly: false })
        assert.isTrue(cut.truncated)
        assert.isAtMost(Buffer.byteLength(cut.patch ?? ""), 4096)
        assert.isTrue(cut.patch?.endsWith("\n"))
        assert.deepInclude(cut.files[0], { path: "big.txt", additions: 150_000 })
        // The real bound (2 MiB) against a 4 MB patch.
        const full = yield* layerOf(f).diff(wt, { statOnly: false })
        assert.isTrue(full.truncated)
        assert.isAbove(Buffer.byteLength(full.patch ?? ""), 2 * 1024 * 1024 - 100)
        assert.isAtMost(Buffer.byteLength(full.patch ?? ""), 2 * 1024 * 1024)
      })
    ))
})

const branchRef = (f: Fixture, branch: string) => f.git(f.repo, "rev-parse", `refs/heads/${branch}`)

describe("GitWorktrees: finish", () => {
  it.live("commits everything with a fallback identity when git has none; nothing to commit says so", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const layer = layerOf(f)
        const wt = yield* layer.create(request(f, { request: { branch: "c" } }))
        fs.writeFileSync(path.join(wt.path, "untracked.txt"), "u\n")
        fs.appendFileSync(path.join(wt.path, "src", "a.txt"), "more\n")
        const done = yield* layer.commit(wt, "agent work")
        assert.strictEqual(done.commit, branchRef(f, "c"))
        assert.strictEqual(
          f.git(wt.path, "log", "-1", "--format=%an <%ae>|%s"),
          "telemux <telemux@localhost>|agent work"
        )
        assert.strictEqual(f.git(wt.path, "status", "--porcelain"), "")
        const nothing = yield* layer.commit(wt, "again")
        assert.isNull(nothing.commit)
        assert.match(nothing.detail, /nothing to commit/)
        // A configured identity is the one used.
        f.git(f.repo, "config", "user.name", "Configured Person")
        f.git(f.repo, "config", "user.email", "configured@example.com")
        fs.writeFileSync(path.join(wt.path, "second.txt"), "2\n")
        yield* layer.commit(wt, "second")
        assert.strictEqual(
          f.git(wt.path, "log", "-1", "--format=%an <%ae>"),
          "Configured Person <configured@example.com>"
        )
      })
    ))

  it.live("pushes to the bare origin with an upstream; an unknown remote fails with git's stderr", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const layer = layerOf(f)
        const wt = yield* layer.create(request(f, { request: { branch: "feature/push" } }))
        fs.writeFileSync(path.join(wt.path, "p.txt"), "p\n")
        yield* layer.commit(wt, "to push")
        yield* layer.push(wt, undefined)
        assert.strictEqual(f.git(f.origin, "rev-parse", "refs/heads/feature/push"), branchRef(f, "feature/push"))
        assert.strictEqual(f.git(f.repo, "config", "branch.feature/push.remote"), "origin")
        const failed = yield* Effect.flip(layer.push(wt, "nowhere"))
        assert.strictEqual(failed._tag, "GitFailed")
        if (failed._tag === "GitFailed") assert.match(failed.stderr, /nowhere/)
      })
    ))

  it.live("merges fast-forward into a clean checkout of the base, updating its files", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const layer = layerOf(f)
        const wt = yield* layer.create(request(f, { request: { branch: "ff" } }))
        fs.writeFileSync(path.join(wt.path, "ff.txt"), "ff\n")
        const made = yield* layer.commit(wt, "ff work")
        const merged = yield* layer.merge(wt)
        assert.strictEqual(merged.commit, made.commit)
        assert.strictEqual(branchRef(f, "main"), made.commit)
        assert.strictEqual(fs.readFileSync(path.join(f.repo, "ff.txt"), "utf8"), "ff\n")
        assert.strictEqual(f.git(f.repo, "status", "--porcelain"), "")
        const again = yield* layer.merge(wt)
        assert.match(again.detail, /nothing to merge/)
      })
    ))

  it.live("merges diverged work with a merge commit; a base branch checked out nowhere moves by compare-and-swap", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const layer = layerOf(f)
        const wt = yield* layer.create(request(f, { request: { branch: "side" } }))
        fs.writeFileSync(path.join(wt.path, "side.txt"), "side\n")
        const side = (yield* layer.commit(wt, "side work")).commit!
        fs.writeFileSync(path.join(f.repo, "main.txt"), "main\n")
        f.git(f.repo, "add", "main.txt")
        f.git(f.repo, "commit", "-q", "-m", "main work")
        const mainBefore = branchRef(f, "main")
        const merged = yield* layer.merge(wt)
        assert.strictEqual(branchRef(f, "main"), merged.commit)
        assert.strictEqual(f.git(f.repo, "log", "-1", "--format=%P", "main"), `${mainBefore} ${side}`)
        assert.strictEqual(f.git(f.repo, "show", "main:side.txt"), "side")
        assert.strictEqual(fs.readFileSync(path.join(f.repo, "side.txt"), "utf8"), "side\n")
        assert.strictEqual(f.git(f.repo, "status", "--porcelain"), "")

        f.git(f.repo, "branch", "release", mainBefore)
        const wt2 = yield* layer.create(request(f, { request: { branch: "fix", base: "release" } }))
        fs.writeFileSync(path.join(wt2.path, "fix.txt"), "fix\n")
        const fix = (yield* layer.commit(wt2, "fix")).commit
        yield* layer.merge(wt2)
        assert.strictEqual(branchRef(f, "release"), fix)
        assert.strictEqual(branchRef(f, "main"), merged.commit)
      })
    ))

  it.live("a conflict or a dirty checkout of the base changes nothing", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const layer = layerOf(f)
        const wt = yield* layer.create(request(f, { request: { branch: "conflicting" } }))
        fs.writeFileSync(path.join(wt.path, "src", "a.txt"), "theirs\n")
        yield* layer.commit(wt, "theirs")
        fs.writeFileSync(path.join(f.repo, "src", "a.txt"), "ours\n")
        f.git(f.repo, "commit", "-q", "-am", "ours")
        const refs = () => f.git(f.repo, "for-each-ref", "--format=%(refname) %(objectname)")
        const before = [refs(), f.git(f.repo, "status", "--porcelain"), indexBytes(path.join(f.repo, ".git", "index"))]
        const conflict = yield* Effect.flip(layer.merge(wt))
        assert.strictEqual(conflict._tag, "MergeConflict")
        if (conflict._tag === "MergeConflict") assert.deepStrictEqual(conflict.files, ["src/a.txt"])
        assert.strictEqual(refs(), before[0])
        assert.strictEqual(f.git(f.repo, "status", "--porcelain"), before[1])
        assert.isTrue(indexBytes(path.join(f.repo, ".git", "index")).equals(before[2] as Buffer))

        const wt2 = yield* layer.create(request(f, { request: { branch: "clean-ff" } }))
        fs.writeFileSync(path.join(wt2.path, "clean.txt"), "c\n")
        yield* layer.commit(wt2, "clean")
        fs.writeFileSync(path.join(f.repo, "README.md"), "edited by the user, not committed\n")
        const refsBefore = refs()
        const dirty = yield* Effect.flip(layer.merge(wt2))
        assert.strictEqual(dirty._tag, "WorktreeHasWork")
        if (dirty._tag === "WorktreeHasWork") assert.strictEqual(dirty.path, f.repo)
        assert.strictEqual(refs(), refsBefore)
        assert.strictEqual(
          fs.readFileSync(path.join(f.repo, "README.md"), "utf8"),
          "edited by the user, not committed\n"
        )
      })
    ))
})

describe("GitWorktrees: remove and list", () => {
  it.live("refuses a dirty tree and unpushed commits; removes once pushed, deleting the branch it made", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const layer = layerOf(f)
        const wt = yield* layer.create(request(f, { request: { branch: "r" } }))
        const removeIt = (force: boolean) => layer.remove(wt, { force, deleteBranch: true })
        fs.writeFileSync(path.join(wt.path, "dirty.txt"), "dirty\n")
        const dirty = yield* Effect.flip(removeIt(false))
        assert.strictEqual(dirty._tag, "WorktreeHasWork")
        if (dirty._tag === "WorktreeHasWork") assert.deepInclude(dirty, { dirty: true, unpushed: 0 })
        yield* layer.commit(wt, "work")
        const unpushed = yield* Effect.flip(removeIt(false))
        assert.strictEqual(unpushed._tag, "WorktreeHasWork")
        if (unpushed._tag === "WorktreeHasWork") assert.deepInclude(unpushed, { dirty: false, unpushed: 1 })
        assert.isTrue(fs.existsSync(wt.path))

        const listed = yield* layer.list
        assert.deepStrictEqual(listed.map((w) => [w.repository, w.path, w.branch, w.dirty, w.unpushed]), [
          [f.repo, wt.path, "r", false, 1]
        ])

        yield* layer.push(wt, undefined)
        const removed = yield* removeIt(false)
        assert.isNull(removed.salvageRef)
        assert.isFalse(fs.existsSync(wt.path))
        assert.notInclude(f.git(f.repo, "worktree", "list"), wt.path)
        assert.notStrictEqual(f.gitStatus(f.repo, "show-ref", "--verify", "-q", "refs/heads/r"), 0)
        assert.deepStrictEqual(yield* layer.list, [])
      })
    ))

  it.live("a forced removal first writes a salvage ref whose tree holds the dirty files", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const layer = layerOf(f)
        const wt = yield* layer.create(request(f, { request: { branch: "feature/salvage" } }))
        fs.writeFileSync(path.join(wt.path, "committed.txt"), "committed\n")
        const committed = (yield* layer.commit(wt, "unpushed")).commit
        fs.writeFileSync(path.join(wt.path, "dirty.txt"), "only in the working tree\n")
        fs.rmSync(path.join(wt.path, "README.md"))
        const result = yield* layer.remove(wt, { force: true, deleteBranch: true })
        assert.match(result.salvageRef ?? "", new RegExp(`^${SALVAGE_REF_PREFIX}feature/salvage/\\d{8}T\\d{6}Z$`))
        const ref = result.salvageRef!
        assert.strictEqual(f.git(f.repo, "show", `${ref}:dirty.txt`), "only in the working tree")
        assert.strictEqual(f.git(f.repo, "show", `${ref}:committed.txt`), "committed")
        assert.notStrictEqual(f.gitStatus(f.repo, "cat-file", "-e", `${ref}:README.md`), 0)
        assert.strictEqual(f.git(f.repo, "rev-parse", `${ref}^`), committed)
        assert.isFalse(fs.existsSync(wt.path))
        assert.notStrictEqual(f.gitStatus(f.repo, "show-ref", "--verify", "-q", "refs/heads/feature/salvage"), 0)
      })
    ))

  it.live("never deletes the default branch, nor a branch it did not make, nor one checked out elsewhere", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const layer = layerOf(f)
        const mainBefore = branchRef(f, "main")
        const protectedMain = yield* Effect.flip(
          layer.remove({ repository: f.repo, path: path.join(f.root, "gone"), branch: "main", createdBranch: true }, {
            force: true,
            deleteBranch: true
          })
        )
        assert.strictEqual(protectedMain._tag, "DefaultBranchProtected")
        assert.strictEqual(branchRef(f, "main"), mainBefore)

        f.git(f.repo, "branch", "theirs")
        const existing = yield* layer.create(request(f, { request: { branch: "theirs", existing: true } }))
        yield* layer.remove(existing, { force: false, deleteBranch: true })
        assert.strictEqual(f.gitStatus(f.repo, "show-ref", "--verify", "-q", "refs/heads/theirs"), 0)

        // A branch it made, its worktree gone by hand and the branch checked out in the main tree since.
        const elsewhere = yield* layer.create(request(f, { request: { branch: "elsewhere" } }))
        fs.rmSync(elsewhere.path, { recursive: true, force: true })
        f.git(f.repo, "worktree", "prune")
        f.git(f.repo, "checkout", "-q", "elsewhere")
        const kept = yield* layer.remove(elsewhere, { force: false, deleteBranch: true })
        assert.match(kept.detail, /kept the branch elsewhere, checked out in/)
        assert.strictEqual(f.git(f.repo, "symbolic-ref", "--short", "HEAD"), "elsewhere")
        f.git(f.repo, "checkout", "-q", "main")

        // With no remote at all the default is main by name, and commits not on it count as unpushed.
        f.git(f.repo, "remote", "remove", "origin")
        const wt = yield* layer.create(request(f, { request: { branch: "local" } }))
        const clean = yield* layer.remove(wt, { force: false, deleteBranch: true })
        assert.match(clean.detail, /deleted the branch local/)
        const guarded = yield* Effect.flip(
          layer.remove({ repository: f.repo, path: path.join(f.root, "gone"), branch: "main", createdBranch: true }, {
            force: true,
            deleteBranch: true
          })
        )
        assert.strictEqual(guarded._tag, "DefaultBranchProtected")
      })
    ))

  it.live("lists worktrees of several repositories with branch, dirty and unpushed", () =>
    withFixture((f) =>
      Effect.gen(function*() {
        const layer = layerOf(f)
        const a = yield* layer.create(request(f, { request: { branch: "a" } }))
        const b = yield* layer.create(request(f, { request: { branch: "b" } }))
        fs.writeFileSync(path.join(b.path, "x.txt"), "x\n")
        const other = path.join(f.dir, "other")
        f.git(f.dir, "init", "-q", "-b", "main", other)
        fs.writeFileSync(path.join(other, "o.txt"), "o\n")
        f.git(other, "add", "o.txt")
        f.git(other, "commit", "-q", "-m", "o")
        const c: SessionWorktree = yield* layer.create(request(f, { projectDir: other, request: { branch: "c" } }))
        fs.mkdirSync(path.join(path.dirname(a.path), "stray-dir"))
        const listed = yield* layer.list
        const rows = listed.map((w) => [w.repository, w.path, w.branch, w.dirty, w.unpushed]).sort((x, y) =>
          String(x[1]).localeCompare(String(y[1]))
        )
        assert.deepStrictEqual(
          rows,
          [
            [f.repo, a.path, "a", false, 0],
            [f.repo, b.path, "b", true, 0],
            [other, c.path, "c", false, 0]
          ].sort((x, y) => String(x[1]).localeCompare(String(y[1])))
        )
      })
    ))
})
