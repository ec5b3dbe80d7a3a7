import { Context, Duration, type Effect } from "effect"
import type {
  FinishResult,
  SessionWorktree,
  WorktreeDiff,
  WorktreeError,
  WorktreeRequest
} from "../src/domain/Worktree.js"

/** Each git command gets this long; a hung git (a lock, a network remote) fails the operation. */
export const GIT_TIMEOUT = Duration.seconds(30)
/** push talks to a remote: it gets longer. */
export const GIT_PUSH_TIMEOUT = Duration.minutes(2)
/** The project's setup commands (WORKTREE_SETUP_FILE) get this long in all. */
export const WORKTREE_SETUP_TIMEOUT = Duration.minutes(5)

export interface CreateWorktree {
  /** The project directory (inside the repository; its top directory is found). */
  readonly projectDir: string
  /** Used to derive a branch name when none is asked for. */
  readonly title: string
  /** Makes a derived name unique (`telemux/<slug>-<first 8 of the id>`). */
  readonly sessionId: string
  readonly request: WorktreeRequest
  /** The project is trusted (inside the configured trusted dirs): only then do its setup commands run. */
  readonly trusted: boolean
}

/** A worktree found under telemux's location, as git sees it (owners are the caller's to add). */
export interface FoundWorktree {
  readonly repository: string
  readonly path: string
  readonly branch: string | null
  readonly dirty: boolean
  readonly unpushed: number | null
}

/**
 * Git worktrees for sessions on this computer, under `$TELEMUX_HOME/worktrees/<repo>-<hash>/<branch>`.
 * Reads never touch a user's index or working tree; every change is one the caller asked for.
 */
export class Worktrees extends Context.Tag("telemux/Worktrees")<Worktrees, {
  /** Makes the worktree (and its branch), runs the project's setup commands when trusted. */
  readonly create: (request: CreateWorktree) => Effect.Effect<SessionWorktree, WorktreeError>
  /**
   * Changes against the merge-base with the base, untracked files included, through a temporary
   * index; the patch bounded by DIFF_PATCH_MAX_BYTES (`truncated` past it), none with `statOnly`.
   */
  readonly diff: (
    worktree: SessionWorktree,
    options: { readonly statOnly: boolean }
  ) => Effect.Effect<WorktreeDiff, WorktreeError>
  /** Commits every change (tracked and untracked) with `message`. */
  readonly commit: (worktree: SessionWorktree, message: string) => Effect.Effect<FinishResult, WorktreeError>
  /** Pushes the branch to `remote` (default: its configured remote, else `origin`), setting upstream. */
  readonly push: (worktree: SessionWorktree, remote: string | undefined) => Effect.Effect<FinishResult, WorktreeError>
  /** Merges the branch into its base without touching a dirty checkout of the base; conflicts change nothing. */
  readonly merge: (worktree: SessionWorktree) => Effect.Effect<FinishResult, WorktreeError>
  /**
   * Removes the worktree, and the branch when telemux made it and it is not the default branch.
   * Refused (WorktreeHasWork) when dirty or with unpushed commits unless `force`; a forced removal
   * writes a salvage ref first.
   */
  readonly remove: (
    worktree: {
      readonly repository: string
      readonly path: string
      readonly branch: string | null
      readonly createdBranch: boolean
    },
    options: { readonly force: boolean; readonly deleteBranch: boolean }
  ) => Effect.Effect<FinishResult, WorktreeError>
  /** Every worktree under telemux's location, with what removing it would lose. */
  readonly list: Effect.Effect<ReadonlyArray<FoundWorktree>, WorktreeError>
}>() {}
