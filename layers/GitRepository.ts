import { Effect } from "effect"
import * as fs from "node:fs"
import { NotAGitRepository } from "../src/domain/Worktree.js"
import { parseWorktreeList } from "../src/git/GitOutput.js"
import type { Git } from "./GitCommand.js"

const notARepository = (dir: string) =>
  new NotAGitRepository({
    path: dir,
    message:
      `${dir} is not inside a git repository: run \`git init\` there and commit once, or choose a project that is one`
  })

/** What the worktree layer asks of a repository: reads only (`GIT_OPTIONAL_LOCKS=0`), no index refreshed. */
export const repositoryReads = (git: Git) => {
  /** The project's main worktree (its top directory), its current branch (null: detached). */
  const repositoryOf = (dir: string) =>
    Effect.gen(function*() {
      if (!fs.existsSync(dir)) return yield* notARepository(dir)
      const top = yield* git.run(["rev-parse", "--show-toplevel"], { cwd: dir, read: true })
      if (top.exitCode !== 0) return yield* notARepository(dir)
      const listed = parseWorktreeList(
        yield* git.ok(["worktree", "list", "--porcelain", "-z"], { cwd: dir, read: true })
      )
      const main = listed[0]
      const repository = main !== undefined && !main.bare ? main.path : top.stdout.trim()
      const current = yield* git.run(["symbolic-ref", "-q", "--short", "HEAD"], { cwd: dir, read: true })
      return { repository, top: top.stdout.trim(), current: current.exitCode === 0 ? current.stdout.trim() : null }
    })

  const hasCommits = (repository: string) =>
    git.ok(["rev-list", "-n", "1", "--all"], { cwd: repository, read: true }).pipe(
      Effect.map((out) => out.trim().length > 0)
    )

  const commitOf = (repository: string, rev: string) =>
    git.run(["rev-parse", "--verify", "-q", `${rev}^{commit}`], { cwd: repository, read: true }).pipe(
      Effect.map((result) => (result.exitCode === 0 ? result.stdout.trim() : null))
    )

  const branchExists = (repository: string, branch: string) =>
    git.run(["show-ref", "--verify", "-q", `refs/heads/${branch}`], { cwd: repository, read: true }).pipe(
      Effect.map((result) => result.exitCode === 0)
    )

  const worktreesOf = (repository: string) =>
    git.ok(["worktree", "list", "--porcelain", "-z"], { cwd: repository, read: true }).pipe(
      Effect.map(parseWorktreeList)
    )

  /** `-c user.*` for whatever identity git lacks: the daemon's commits must not fail on a fresh account. */
  const identity = (cwd: string) =>
    Effect.gen(function*() {
      const name = yield* git.run(["config", "user.name"], { cwd, read: true })
      const email = yield* git.run(["config", "user.email"], { cwd, read: true })
      return [
        ...(name.exitCode === 0 && name.stdout.trim() !== "" ? [] : ["-c", "user.name=telemux"]),
        ...(email.exitCode === 0 && email.stdout.trim() !== "" ? [] : ["-c", "user.email=telemux@localhost"])
      ]
    })

  /** Uncommitted changes: any tracked change or untracked file git does not ignore. */
  const isDirty = (cwd: string) =>
    git.ok(["status", "--porcelain=v1", "-z", "--untracked-files=normal", "--ignore-submodules=none"], {
      cwd,
      read: true
    }).pipe(Effect.map((out) => out.length > 0))

  /** origin/HEAD's target, else main, else master, else the main tree's current branch. */
  const defaultBranch = (repository: string) =>
    Effect.gen(function*() {
      const remoteHead = yield* git.run(["symbolic-ref", "-q", "refs/remotes/origin/HEAD"], {
        cwd: repository,
        read: true
      })
      if (remoteHead.exitCode === 0) return remoteHead.stdout.trim().replace(/^refs\/remotes\/origin\//, "")
      for (const candidate of ["main", "master"]) {
        if (yield* branchExists(repository, candidate)) return candidate
      }
      const main = (yield* worktreesOf(repository))[0]
      return main?.branch ?? null
    })

  /**
   * Commits on `branch` reachable from no remote-tracking ref; with no remote at all, those not
   * on the default branch (what deleting the branch would lose).
   */
  const unpushedCount = (repository: string, branch: string) =>
    Effect.gen(function*() {
      const remotes = (yield* git.ok(["remote"], { cwd: repository, read: true })).trim()
      let exclude: Array<string>
      if (remotes !== "") {
        exclude = ["--remotes"]
      } else {
        const fallback = yield* defaultBranch(repository)
        exclude = fallback === null || fallback === branch ? [] : [`refs/heads/${fallback}`]
        if (fallback === branch) return 0
      }
      const count = yield* git.line(["rev-list", "--count", `refs/heads/${branch}`, "--not", ...exclude], {
        cwd: repository,
        read: true
      })
      return Number(count)
    })

  return {
    branchExists,
    commitOf,
    defaultBranch,
    hasCommits,
    identity,
    isDirty,
    repositoryOf,
    unpushedCount,
    worktreesOf
  }
}
