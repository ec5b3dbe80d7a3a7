import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  BranchConflict,
  DIFF_FILES_MAX,
  DIFF_PATCH_MAX_BYTES,
  DiffFile,
  GitFailed,
  type SessionWorktree,
  WorktreeDiff
} from "../src/domain/Worktree.js"
import { cutAtLine, parseNameStatus, parseNumstat } from "../src/git/GitOutput.js"
import type { Git } from "./GitCommand.js"

/**
 * The worktree's whole state (tracked edits, deletions, untracked non-ignored files) as a tree,
 * read through a temporary index in the OS temp dir: the worktree's own index and the main
 * repository's are only read. The temporary index starts as a copy of the worktree's (with its
 * times, so git's racy-entry check still holds) so `git add -A` rehashes only what changed; without
 * one it starts from HEAD. The directory goes when the scope closes, failure or not.
 */
export const withTemporaryIndex = <A>(
  git: Git,
  worktree: string,
  use: (env: { readonly GIT_INDEX_FILE: string }) => Effect.Effect<A, GitFailed>
): Effect.Effect<A, GitFailed> =>
  Effect.scoped(
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.try({
          try: () => fs.mkdtempSync(path.join(os.tmpdir(), "telemux-index-")),
          catch: (cause) =>
            new GitFailed({ command: "mkdtemp", stderr: "", message: `no temporary index: ${String(cause)}` })
        }),
        (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
      )
      const index = path.join(dir, "index")
      const env = { GIT_INDEX_FILE: index }
      const own = yield* git.line(["rev-parse", "--path-format=absolute", "--git-path", "index"], {
        cwd: worktree,
        read: true
      })
      const copied = yield* Effect.sync(() => {
        try {
          const stat = fs.statSync(own)
          fs.copyFileSync(own, index)
          fs.utimesSync(index, stat.atime, stat.mtime)
          return true
        } catch {
          return false
        }
      })
      if (!copied) yield* git.ok(["read-tree", "HEAD"], { cwd: worktree, env })
      yield* git.ok(["add", "-A"], { cwd: worktree, env })
      return yield* use(env)
    })
  )

export interface DiffOptions {
  readonly statOnly: boolean
  readonly patchMaxBytes?: number
  readonly filesMax?: number
}

/** Room for the file lists: DIFF_FILES_MAX entries of long paths, cut (not failed) past it. */
const LIST_MAX_BYTES = 16 * 1024 * 1024

export const worktreeDiff = (git: Git, worktree: SessionWorktree, options: DiffOptions) =>
  Effect.gen(function*() {
    const cwd = worktree.path
    const patchMax = options.patchMaxBytes ?? DIFF_PATCH_MAX_BYTES
    const filesMax = options.filesMax ?? DIFF_FILES_MAX
    const base = yield* git.run(["rev-parse", "--verify", "-q", `${worktree.base}^{commit}`], { cwd, read: true })
    if (base.exitCode !== 0) {
      return yield* new BranchConflict({
        branch: worktree.base,
        reason: "missing",
        message:
          `the base ${worktree.base} of ${worktree.branch} is not there any more: the diff has nothing to compare with`
      })
    }
    const mergeBase = yield* git.line(["merge-base", "HEAD", base.stdout.trim()], { cwd, read: true })
    return yield* withTemporaryIndex(git, cwd, (env) =>
      Effect.gen(function*() {
        const common = ["diff", "--cached", "-z", "-M", "--no-ext-diff", "--no-textconv", mergeBase]
        const read = { cwd, env, read: true, maxOutputBytes: LIST_MAX_BYTES, truncate: true }
        const [numstat, nameStatus, patch] = yield* Effect.all([
          git.run([...common, "--numstat"], read),
          git.run([...common, "--name-status"], read),
          options.statOnly
            ? Effect.succeed(null)
            : git.run(
              [
                "diff",
                "--cached",
                "-M",
                "--no-color",
                "--no-ext-diff",
                "--no-textconv",
                "--src-prefix=a/",
                "--dst-prefix=b/",
                mergeBase
              ],
              { cwd, env, read: true, maxOutputBytes: patchMax, truncate: true }
            )
        ], { concurrency: "unbounded" })
        for (const result of [numstat, nameStatus, patch]) {
          if (result !== null && result.stdoutTruncated !== true && result.exitCode !== 0) {
            return yield* new GitFailed({ command: "git diff --cached", stderr: result.stderr, message: result.stderr })
          }
        }
        const counts = new Map(parseNumstat(numstat.stdout).map((entry) => [entry.path, entry]))
        const changes = parseNameStatus(nameStatus.stdout)
        const files = changes.slice(0, filesMax).map((change) => {
          const count = counts.get(change.path)
          return new DiffFile({
            path: change.path,
            oldPath: change.oldPath,
            change: change.change,
            additions: count === undefined ? null : count.additions,
            deletions: count === undefined ? null : count.deletions
          })
        })
        const truncated = changes.length > filesMax || numstat.stdoutTruncated === true ||
          nameStatus.stdoutTruncated === true || patch?.stdoutTruncated === true
        return new WorktreeDiff({
          branch: worktree.branch,
          base: worktree.base,
          mergeBase,
          files,
          additions: files.reduce((sum, file) => sum + (file.additions ?? 0), 0),
          deletions: files.reduce((sum, file) => sum + (file.deletions ?? 0), 0),
          patch: patch === null ? null : patch.stdoutTruncated === true ? cutAtLine(patch.stdout) : patch.stdout,
          truncated
        })
      }))
  })
