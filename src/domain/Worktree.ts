import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/**
 * Git worktrees per session (PRODUCT.md: sessions): a session may run in a worktree of its project's
 * repository, on a branch of its own, under `$TELEMUX_HOME/worktrees/` — never inside the user's
 * working tree. Its diff is read through a temporary index (the user's index is never touched);
 * finishing (commit, push, merge, discard) is always an explicit request, and removing a worktree
 * refuses what would lose work unless forced, writing a salvage ref first.
 */

/** Longest branch name accepted (git allows more; a name past this is a mistake). */
export const BRANCH_NAME_MAX = 200
/** Largest unified patch returned by a diff; past it the patch is cut and `truncated` is set. */
export const DIFF_PATCH_MAX_BYTES = 2 * 1024 * 1024
/** Most files listed in a diff's stats; past it `truncated` is set. */
export const DIFF_FILES_MAX = 20_000
/** Where forced removals keep what they removed: `refs/telemux/salvage/<branch>/<time>`. */
export const SALVAGE_REF_PREFIX = "refs/telemux/salvage/"
/** The per-project file of setup commands run in a new worktree (only in a trusted project). */
export const WORKTREE_SETUP_FILE = ".telemux/worktree-setup"

/** The worktree a session runs in. */
export class SessionWorktree extends Schema.Class<SessionWorktree>("SessionWorktree")({
  /** The main repository's top directory (the project). */
  repository: Schema.String,
  /** The worktree's directory (the session's working directory). */
  path: Schema.String,
  branch: Schema.String,
  /** The branch (or commit) it was made from: the diff is against the merge-base with it, merge goes into it. */
  base: Schema.String,
  /** telemux made the branch (discard may delete it); false for an existing branch checked out. */
  createdBranch: Schema.Boolean
}) {}

/**
 * What a create request asks for: a new branch (`branch`, or one derived from the title) from
 * `base` (default: the repository's current HEAD); or, with `existing`, the existing `branch`.
 */
export const WorktreeRequest = Schema.Struct({
  branch: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(BRANCH_NAME_MAX)), {
    exact: true
  }),
  base: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(BRANCH_NAME_MAX)), {
    exact: true
  }),
  existing: Schema.optionalWith(Schema.Boolean, { exact: true })
}).annotations({ parseOptions: { onExcessProperty: "error" }, identifier: "WorktreeRequest" })
export type WorktreeRequest = typeof WorktreeRequest.Type

export const FileChange = Schema.Literal("added", "modified", "deleted", "renamed", "copied", "typechange")
export type FileChange = typeof FileChange.Type

export class DiffFile extends Schema.Class<DiffFile>("DiffFile")({
  path: Schema.String,
  /** The path before a rename or copy. */
  oldPath: Schema.NullOr(Schema.String),
  change: FileChange,
  /** Lines added and deleted; null for a binary file. */
  additions: Schema.NullOr(Schema.NonNegative),
  deletions: Schema.NullOr(Schema.NonNegative)
}) {}

export class WorktreeDiff extends Schema.Class<WorktreeDiff>("WorktreeDiff")({
  branch: Schema.String,
  base: Schema.String,
  /** The commit the diff is against: the merge-base of the worktree's HEAD and `base`. */
  mergeBase: Schema.String,
  files: Schema.Array(DiffFile),
  additions: Schema.NonNegative,
  deletions: Schema.NonNegative,
  /** The unified patch (tracked, untracked and deleted files); null when only stats were asked for. */
  patch: Schema.NullOr(Schema.String),
  /** The patch (or the file list) was cut at its bound. */
  truncated: Schema.Boolean
}) {}

export const FinishAction = Schema.Literal("commit", "push", "merge", "discard")
export type FinishAction = typeof FinishAction.Type

export const FinishPayload = Schema.Struct({
  action: FinishAction,
  /** commit: the message; without one, a session running an agent is asked to commit. */
  message: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(10_000)), { exact: true }),
  /** push: the remote (default: the branch's configured remote, else `origin`). */
  remote: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(BRANCH_NAME_MAX)), {
    exact: true
  }),
  /** discard: remove even a dirty tree or unpushed commits (a salvage ref keeps them). */
  force: Schema.optionalWith(Schema.Boolean, { exact: true })
}).annotations({ parseOptions: { onExcessProperty: "error" }, identifier: "FinishPayload" })
export type FinishPayload = typeof FinishPayload.Type

export class FinishResult extends Schema.Class<FinishResult>("FinishResult")({
  action: FinishAction,
  /** What was done, for a person. */
  detail: Schema.String,
  /** The commit made (commit, merge), else null. */
  commit: Schema.NullOr(Schema.String),
  /** The ref that keeps what a forced removal removed, else null. */
  salvageRef: Schema.NullOr(Schema.String)
}) {}

/** A worktree under telemux's location, with its owner and what removing it would lose. */
export class WorktreeEntry extends Schema.Class<WorktreeEntry>("WorktreeEntry")({
  computer: Schema.String,
  repository: Schema.String,
  path: Schema.String,
  branch: Schema.NullOr(Schema.String),
  /** The session that runs in it (by its record), or null: none known. */
  sessionId: Schema.NullOr(Schema.String),
  /** `open`: its session runs; `closed`: its session ended; `orphaned`: no session owns it. */
  state: Schema.Literal("open", "closed", "orphaned"),
  /** Uncommitted changes (tracked or untracked). */
  dirty: Schema.Boolean,
  /** Commits on its branch not on any remote-tracking branch (null: unknown). */
  unpushed: Schema.NullOr(Schema.NonNegative)
}) {}

export const CleanupPayload = Schema.Struct({
  /** Only these worktree paths (default: every worktree whose session is closed or unknown). */
  paths: Schema.optionalWith(Schema.Array(Schema.String), { exact: true }),
  /** Remove dirty trees and unpushed work too, after writing a salvage ref for each. */
  force: Schema.optionalWith(Schema.Boolean, { exact: true })
}).annotations({ parseOptions: { onExcessProperty: "error" }, identifier: "CleanupPayload" })
export type CleanupPayload = typeof CleanupPayload.Type

export class CleanupReport extends Schema.Class<CleanupReport>("CleanupReport")({
  removed: Schema.Array(Schema.Struct({ path: Schema.String, salvageRef: Schema.NullOr(Schema.String) })),
  refused: Schema.Array(Schema.Struct({ path: Schema.String, reason: Schema.String }))
}) {}

// ---------------------------------------------------------------------------
// Errors (each says what to do next)

export class NotAGitRepository extends Schema.TaggedError<NotAGitRepository>()(
  "NotAGitRepository",
  { path: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

export class RepositoryHasNoCommits extends Schema.TaggedError<RepositoryHasNoCommits>()(
  "RepositoryHasNoCommits",
  { repository: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class BranchNameInvalid extends Schema.TaggedError<BranchNameInvalid>()(
  "BranchNameInvalid",
  { branch: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** A new branch's name is taken, or an existing one (or a base) is not there. */
export class BranchConflict extends Schema.TaggedError<BranchConflict>()(
  "BranchConflict",
  { branch: Schema.String, reason: Schema.Literal("exists", "missing"), message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class BranchCheckedOut extends Schema.TaggedError<BranchCheckedOut>()(
  "BranchCheckedOut",
  { branch: Schema.String, path: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** Removing (or discarding) would lose work: uncommitted changes or commits on no remote. */
export class WorktreeHasWork extends Schema.TaggedError<WorktreeHasWork>()(
  "WorktreeHasWork",
  {
    path: Schema.String,
    dirty: Schema.Boolean,
    unpushed: Schema.NonNegative,
    message: Schema.String
  },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class DefaultBranchProtected extends Schema.TaggedError<DefaultBranchProtected>()(
  "DefaultBranchProtected",
  { branch: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class MergeConflict extends Schema.TaggedError<MergeConflict>()(
  "MergeConflict",
  { branch: Schema.String, base: Schema.String, files: Schema.Array(Schema.String), message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class NoWorktree extends Schema.TaggedError<NoWorktree>()(
  "NoWorktree",
  { sessionId: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** git failed (or is missing) in a way the checks above did not foresee; `stderr` says how. */
export class GitFailed extends Schema.TaggedError<GitFailed>()(
  "GitFailed",
  { command: Schema.String, stderr: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

export class WorktreeSetupFailed extends Schema.TaggedError<WorktreeSetupFailed>()(
  "WorktreeSetupFailed",
  { file: Schema.String, output: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 422 })
) {}

export type WorktreeError =
  | NotAGitRepository
  | RepositoryHasNoCommits
  | BranchNameInvalid
  | BranchConflict
  | BranchCheckedOut
  | WorktreeHasWork
  | DefaultBranchProtected
  | MergeConflict
  | GitFailed
  | WorktreeSetupFailed

export const WorktreeErrors = [
  NotAGitRepository,
  RepositoryHasNoCommits,
  BranchNameInvalid,
  BranchConflict,
  BranchCheckedOut,
  WorktreeHasWork,
  DefaultBranchProtected,
  MergeConflict,
  GitFailed,
  WorktreeSetupFailed
] as const

/** The worktree errors as one schema, for an endpoint to declare them all (each keeps its own status). */
export const WorktreeErrorSchema = Schema.Union(...WorktreeErrors)
