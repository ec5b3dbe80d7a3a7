import { type Duration, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { type CreateWorktree, type FoundWorktree, GIT_PUSH_TIMEOUT, Worktrees } from "../services/Worktrees.js"
import {
  BranchCheckedOut,
  BranchConflict,
  BranchNameInvalid,
  DefaultBranchProtected,
  FinishResult,
  GitFailed,
  MergeConflict,
  RepositoryHasNoCommits,
  SALVAGE_REF_PREFIX,
  SessionWorktree,
  WorktreeHasWork
} from "../src/domain/Worktree.js"
import { branchNameProblem, derivedBranchName, repositoryWorktreesDir, worktreeDirOf } from "../src/git/BranchName.js"
import { parseMergeTree } from "../src/git/GitOutput.js"
import { gitFailed, makeGit } from "./GitCommand.js"
import { withTemporaryIndex, worktreeDiff } from "./GitDiff.js"
import { repositoryReads } from "./GitRepository.js"
import { runSetup } from "./WorktreeSetup.js"

/**
 * Worktrees on this computer, driven through the git command line (services/Worktrees.ts says what
 * each operation promises). Decisions worth knowing:
 * - the repository of a project is its main worktree (so a session started in a telemux worktree
 *   gets a sibling, not a worktree of a worktree);
 * - new branches are made `--no-track`: their upstream is what `push` sets, not the base;
 * - submodules are initialised in the new worktree; in a trusted project with
 *   `protocol.file.allow=always` (local-path submodules are refused by git's default since 2.38);
 * - `commit` with nothing to commit is not an error: the result says so and `commit` is null;
 * - `merge` never touches a checkout with uncommitted changes: the base moves by compare-and-swap
 *   (`update-ref <new> <old>`), or, when checked out in a clean tree, by `merge --ff-only` there;
 * - an identity (`telemux <telemux@localhost>`) is supplied only when git has none configured.
 */

export interface GitWorktreesOptions {
  /** Where worktrees are made: `<root>/<repo>-<hash>/<branch>`. */
  readonly root: string
  /** Over git's environment (tests: a HOME of their own). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Bounds, for tests (defaults: DIFF_PATCH_MAX_BYTES, DIFF_FILES_MAX). */
  readonly patchMaxBytes?: number
  readonly filesMax?: number
  /** All of a setup file's commands together (default WORKTREE_SETUP_TIMEOUT). */
  readonly setupTimeout?: Duration.DurationInput
}

export const make = (options: GitWorktreesOptions) => {
  const git = makeGit(options.env)

  const {
    branchExists,
    commitOf,
    defaultBranch,
    hasCommits,
    identity,
    isDirty,
    repositoryOf,
    unpushedCount,
    worktreesOf
  } = repositoryReads(git)

  /** Removes a worktree telemux just made (and its branch), for a create that failed after it. */
  const rollback = (repository: string, dir: string, branch: string, createdBranch: boolean) =>
    Effect.gen(function*() {
      yield* git.run(["worktree", "remove", "--force", "--force", dir], { cwd: repository })
      yield* Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
      yield* git.run(["worktree", "prune"], { cwd: repository })
      if (createdBranch) yield* git.run(["branch", "-D", branch], { cwd: repository })
    }).pipe(Effect.ignore)

  const create = (request: CreateWorktree) =>
    Effect.gen(function*() {
      const project = yield* repositoryOf(request.projectDir)
      const repository = project.repository
      if (!(yield* hasCommits(repository))) {
        return yield* new RepositoryHasNoCommits({
          repository,
          message: `${repository} has no commits yet: a worktree needs one to start from (commit something first)`
        })
      }
      const existing = request.request.existing === true
      if (existing && request.request.branch === undefined) {
        return yield* new BranchNameInvalid({ branch: "", message: "an existing branch must be named" })
      }
      const branch = request.request.branch ?? derivedBranchName(request.title, request.sessionId)
      const problem = branchNameProblem(branch)
      if (problem !== null) {
        return yield* new BranchNameInvalid({ branch, message: `'${branch}' is not a valid branch name: ${problem}` })
      }
      const base = request.request.base ?? project.current ?? (yield* commitOf(project.top, "HEAD"))
      if (base === null || (yield* commitOf(repository, base)) === null) {
        const name = base ?? "HEAD"
        return yield* new BranchConflict({
          branch: name,
          reason: "missing",
          message: `the base ${name} is not a branch or commit of ${repository}`
        })
      }
      const exists = yield* branchExists(repository, branch)
      if (existing && !exists) {
        return yield* new BranchConflict({
          branch,
          reason: "missing",
          message: `there is no branch ${branch} in ${repository} (leave out 'existing' to make it)`
        })
      }
      if (!existing && exists) {
        return yield* new BranchConflict({
          branch,
          reason: "exists",
          message: `the branch ${branch} exists already in ${repository}: name another, or ask for the existing one`
        })
      }
      if (existing) {
        const holder = (yield* worktreesOf(repository)).find((tree) => tree.branch === branch)
        if (holder !== undefined) {
          return yield* new BranchCheckedOut({
            branch,
            path: holder.path,
            message: `${branch} is checked out in ${holder.path}: a branch can be in one worktree at a time`
          })
        }
      }
      const dir = yield* Effect.try({
        try: () => {
          fs.mkdirSync(repositoryWorktreesDir(options.root, repository), { recursive: true })
          return worktreeDirOf(fs.realpathSync(options.root), repository, branch)
        },
        catch: (cause) =>
          new GitFailed({ command: "mkdir", stderr: "", message: `cannot make ${options.root}: ${String(cause)}` })
      })
      if (fs.existsSync(dir)) {
        return yield* new BranchConflict({
          branch,
          reason: "exists",
          message: `the worktree directory ${dir} is taken (a branch of a similar name?): name another branch`
        })
      }
      yield* git.ok(
        existing
          ? ["worktree", "add", dir, branch]
          : ["worktree", "add", "--no-track", "-b", branch, dir, base],
        { cwd: repository }
      )
      const finishSetup = Effect.gen(function*() {
        if (fs.existsSync(path.join(dir, ".gitmodules"))) {
          const args = [
            ...(request.trusted ? ["-c", "protocol.file.allow=always"] : []),
            "submodule",
            "update",
            "--init",
            "--recursive"
          ]
          const result = yield* git.run(args, { cwd: dir, timeout: GIT_PUSH_TIMEOUT })
          if (result.exitCode !== 0) {
            return yield* gitFailed(args, result, "initialising the submodules of the new worktree")
          }
        }
        if (request.trusted) yield* runSetup(dir, options.setupTimeout)
      })
      yield* finishSetup.pipe(Effect.onError(() => rollback(repository, dir, branch, !existing)))
      return new SessionWorktree({ repository, path: dir, branch, base, createdBranch: !existing })
    })

  const commit = (worktree: SessionWorktree, message: string) =>
    Effect.gen(function*() {
      const cwd = worktree.path
      yield* git.ok(["add", "-A"], { cwd })
      const staged = yield* git.run(["diff", "--cached", "--quiet"], { cwd })
      if (staged.exitCode === 0) {
        return new FinishResult({
          action: "commit",
          detail: `nothing to commit: ${worktree.branch} has no uncommitted changes`,
          commit: null,
          salvageRef: null
        })
      }
      yield* git.ok([...(yield* identity(cwd)), "commit", "-q", "-m", message], { cwd })
      const head = yield* git.line(["rev-parse", "HEAD"], { cwd, read: true })
      return new FinishResult({
        action: "commit",
        detail: `committed ${head.slice(0, 12)} on ${worktree.branch}`,
        commit: head,
        salvageRef: null
      })
    })

  const push = (worktree: SessionWorktree, remote: string | undefined) =>
    Effect.gen(function*() {
      const cwd = worktree.path
      const configured = yield* git.run(["config", `branch.${worktree.branch}.remote`], { cwd, read: true })
      const target = remote ?? (configured.exitCode === 0 && configured.stdout.trim() !== "" ?
        configured.stdout.trim() :
        "origin")
      const ref = `refs/heads/${worktree.branch}`
      yield* git.ok(["push", "-u", target, `${ref}:${ref}`], { cwd, timeout: GIT_PUSH_TIMEOUT })
      const head = yield* git.line(["rev-parse", ref], { cwd, read: true })
      return new FinishResult({
        action: "push",
        detail: `pushed ${worktree.branch} (${head.slice(0, 12)}) to ${target}`,
        commit: null,
        salvageRef: null
      })
    })

  const merge = (worktree: SessionWorktree) =>
    Effect.gen(function*() {
      const repository = worktree.repository
      const baseRef = `refs/heads/${worktree.base}`
      const old = yield* commitOf(repository, baseRef)
      if (old === null) {
        return yield* new BranchConflict({
          branch: worktree.base,
          reason: "missing",
          message: `the base ${worktree.base} is not a local branch of ${repository}: there is nothing to merge into`
        })
      }
      const tip = yield* git.line(["rev-parse", `refs/heads/${worktree.branch}`], { cwd: repository, read: true })
      const isAncestor = (a: string, b: string) =>
        git.run(["merge-base", "--is-ancestor", a, b], { cwd: repository, read: true }).pipe(
          Effect.map((result) => result.exitCode === 0)
        )
      if (yield* isAncestor(tip, old)) {
        return new FinishResult({
          action: "merge",
          detail: `${worktree.base} already contains ${worktree.branch}: nothing to merge`,
          commit: old,
          salvageRef: null
        })
      }
      const fastForward = yield* isAncestor(old, tip)
      let next = tip
      if (!fastForward) {
        const args = ["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", old, tip]
        const result = yield* git.run(args, { cwd: repository, read: true })
        if (result.exitCode === 1) {
          const { conflicts } = parseMergeTree(result.stdout)
          return yield* new MergeConflict({
            branch: worktree.branch,
            base: worktree.base,
            files: conflicts,
            message: `${worktree.branch} conflicts with ${worktree.base} in ${conflicts.length} file(s): ${
              conflicts.slice(0, 10).join(", ")
            }; nothing was changed (merge ${worktree.base} into the branch and resolve them there)`
          })
        }
        if (result.exitCode !== 0) return yield* gitFailed(args, result)
        const tree = parseMergeTree(result.stdout).tree
        next = yield* git.line([
          ...(yield* identity(repository)),
          "commit-tree",
          tree,
          "-p",
          old,
          "-p",
          tip,
          "-m",
          `Merge branch '${worktree.branch}' into ${worktree.base}`
        ], { cwd: repository })
      }
      const holder = (yield* worktreesOf(repository)).find((tree) => tree.branch === worktree.base)
      if (holder === undefined) {
        yield* git.ok(["update-ref", "-m", `telemux: merge ${worktree.branch}`, baseRef, next, old], {
          cwd: repository
        })
      } else {
        const tracked = yield* git.ok(["status", "--porcelain=v1", "-z", "--untracked-files=no"], {
          cwd: holder.path,
          read: true
        })
        if (tracked.length > 0) {
          return yield* new WorktreeHasWork({
            path: holder.path,
            dirty: true,
            unpushed: 0,
            message:
              `${worktree.base} is checked out in ${holder.path} with uncommitted changes: commit or stash them there, then merge again (nothing was changed)`
          })
        }
        yield* git.ok(["merge", "--ff-only", "-q", next], { cwd: holder.path })
      }
      return new FinishResult({
        action: "merge",
        detail: fastForward ?
          `fast-forwarded ${worktree.base} to ${worktree.branch} (${next.slice(0, 12)})` :
          `merged ${worktree.branch} into ${worktree.base} (${next.slice(0, 12)})`,
        commit: next,
        salvageRef: null
      })
    })

  /** A commit holding the worktree's dirty state on top of HEAD, or HEAD itself when clean. */
  const salvageCommit = (dir: string, dirty: boolean) =>
    Effect.gen(function*() {
      const head = yield* git.line(["rev-parse", "HEAD"], { cwd: dir, read: true })
      if (!dirty) return head
      const who = yield* identity(dir)
      return yield* withTemporaryIndex(git, dir, (env) =>
        Effect.gen(function*() {
          const tree = yield* git.line(["write-tree"], { cwd: dir, env })
          return yield* git.line([...who, "commit-tree", tree, "-p", head, "-m", `telemux salvage of ${dir}`], {
            cwd: dir
          })
        }))
    })

  const utcStamp = () => new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")

  const remove: Worktrees["Type"]["remove"] = (worktree, removeOptions) =>
    Effect.gen(function*() {
      const repository = worktree.repository
      const present = fs.existsSync(worktree.path)
      const branch = worktree.branch
      const branchThere = branch !== null && (yield* branchExists(repository, branch))
      const deleting = removeOptions.deleteBranch && worktree.createdBranch && branch !== null && branchThere
      if (deleting && branch === (yield* defaultBranch(repository))) {
        return yield* new DefaultBranchProtected({
          branch,
          message: `${branch} is the repository's default branch: it is never deleted (nothing was changed)`
        })
      }
      const dirty = present ? yield* isDirty(worktree.path) : false
      const unpushed = branchThere ? yield* unpushedCount(repository, branch) : 0
      let salvageRef: string | null = null
      if (dirty || unpushed > 0) {
        if (!removeOptions.force) {
          return yield* new WorktreeHasWork({
            path: worktree.path,
            dirty,
            unpushed,
            message: `${worktree.path} has ${
              [dirty ? "uncommitted changes" : null, unpushed > 0 ? `${unpushed} unpushed commit(s)` : null]
                .filter((part) => part !== null).join(" and ")
            }: commit and push, or force (a salvage ref keeps them)`
          })
        }
        const kept = present ? yield* salvageCommit(worktree.path, dirty) : yield* git.line(
          ["rev-parse", `refs/heads/${branch}`],
          { cwd: repository, read: true }
        )
        const name = branch ?? `detached-${path.basename(worktree.path)}`
        salvageRef = `${SALVAGE_REF_PREFIX}${name}/${utcStamp()}`
        yield* git.ok(["update-ref", salvageRef, kept, ""], { cwd: repository })
      }
      if (present) yield* git.ok(["worktree", "remove", "--force", worktree.path], { cwd: repository })
      yield* git.ok(["worktree", "prune"], { cwd: repository })
      let detail = `removed ${worktree.path}`
      if (deleting) {
        const holder = (yield* worktreesOf(repository)).find((tree) => tree.branch === branch)
        if (holder === undefined) {
          yield* git.ok(["branch", "-D", branch], { cwd: repository })
          detail += ` and deleted the branch ${branch}`
        } else {
          detail += `; kept the branch ${branch}, checked out in ${holder.path}`
        }
      }
      if (salvageRef !== null) detail += `; its work is kept in ${salvageRef}`
      return new FinishResult({ action: "discard", detail, commit: null, salvageRef })
    })

  const list = Effect.gen(function*() {
    const found: Array<FoundWorktree> = []
    const readDir = (dir: string) => {
      try {
        return fs.readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory())
      } catch {
        return []
      }
    }
    for (const repoDir of readDir(options.root)) {
      for (const entry of readDir(path.join(options.root, repoDir.name))) {
        const dir = path.join(options.root, repoDir.name, entry.name)
        if (!fs.existsSync(path.join(dir, ".git"))) continue
        const common = yield* git.run(["rev-parse", "--path-format=absolute", "--git-common-dir"], {
          cwd: dir,
          read: true
        })
        if (common.exitCode !== 0) continue
        const repository = path.dirname(common.stdout.trim())
        const real = yield* Effect.sync(() => fs.realpathSync(dir))
        const known = (yield* worktreesOf(repository).pipe(Effect.orElseSucceed(() => []))).find((tree) =>
          tree.path === real
        )
        if (known === undefined) continue
        const dirty = yield* isDirty(dir).pipe(Effect.orElseSucceed(() => false))
        const unpushed = known.branch === null ? null : yield* unpushedCount(repository, known.branch).pipe(
          Effect.orElseSucceed(() => null)
        )
        found.push({ repository, path: known.path, branch: known.branch, dirty, unpushed })
      }
    }
    return found
  })

  return Worktrees.of({
    create,
    diff: (worktree, diffOptions) =>
      worktreeDiff(git, worktree, {
        statOnly: diffOptions.statOnly,
        ...(options.patchMaxBytes === undefined ? {} : { patchMaxBytes: options.patchMaxBytes }),
        ...(options.filesMax === undefined ? {} : { filesMax: options.filesMax })
      }),
    commit,
    push,
    merge,
    remove,
    list
  })
}

/** Worktrees under `$TELEMUX_HOME/worktrees`. */
export const layer: Layer.Layer<Worktrees, never, TelemuxConfig> = Layer.effect(
  Worktrees,
  Effect.map(TelemuxConfig, (config) => make({ root: path.join(config.home, "worktrees") }))
)
