import { Effect } from "effect"
import { Idempotency, type IdempotencyKey } from "../services/Idempotency.js"
import { type InputError, type OperationError, Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { type FoundWorktree, Worktrees } from "../services/Worktrees.js"
import { InvalidRequest } from "../src/domain/Errors.js"
import type { Session, SessionId } from "../src/domain/Session.js"
import {
  type CleanupPayload,
  CleanupReport,
  type FinishPayload,
  FinishResult,
  NoWorktree,
  type SessionWorktree,
  WorktreeEntry,
  type WorktreeError
} from "../src/domain/Worktree.js"
import { fingerprintOf } from "./IdempotencyLive.js"

/** What a session's agent is asked when `commit` comes without a message. */
export const COMMIT_REQUEST =
  "Please commit all the changes in this worktree (tracked and untracked files) with a message that says what changed and why."

/** Most sessions read when the worktrees are matched with their owners. */
const OWNERS_SCAN_MAX = 10_000

/**
 * The worktree operations this computer runs on its own sessions — for the HTTP API
 * (SessionRouting) and for other computers (FleetServer) alike: a session's diff, its finish
 * (commit, push, merge, discard: each at most once per Idempotency-Key), and the worktrees of
 * this computer with their owners, cleaned by the same rules as a discard.
 */
export const make = Effect.gen(function*() {
  const sessions = yield* Sessions
  const worktrees = yield* Worktrees
  const idempotency = yield* Idempotency
  const { computer: me } = yield* TelemuxConfig

  const worktreeOf = (id: SessionId) =>
    Effect.flatMap(sessions.get(id), (session) =>
      session.worktree === undefined
        ? Effect.fail(
          new NoWorktree({
            sessionId: id,
            message: `session ${id} does not run in a git worktree: start one with a worktree ` +
              "(`telemux new --worktree`, or `worktree` in POST /v1/sessions) to see and finish its changes"
          })
        )
        : Effect.succeed({ session, worktree: session.worktree }))

  const diff = (id: SessionId, statOnly: boolean) =>
    Effect.flatMap(worktreeOf(id), ({ worktree }) => worktrees.diff(worktree, { statOnly }))

  /** commit without a message: the agent writes it, asked in its pane; a shell has nobody to ask. */
  const askAgentToCommit = (session: Session) =>
    session.agent === null || session.status === "closed"
      ? Effect.fail(
        new InvalidRequest({
          message: session.agent === null
            ? "commit needs a message: this session runs no agent to write one"
            : "commit needs a message: the session is closed, so its agent cannot be asked to write one"
        })
      )
      : Effect.as(
        sessions.sendText(session.sessionId, COMMIT_REQUEST, true),
        new FinishResult({
          action: "commit",
          detail: `asked ${session.agent} to commit its changes; see the session for its commit`,
          commit: null,
          salvageRef: null
        })
      )

  /** discard: the worktree goes (refused if it would lose work, unless forced), then its session closes. */
  const discard = (session: Session, worktree: SessionWorktree, force: boolean) =>
    Effect.gen(function*() {
      const removed = yield* worktrees.remove(worktree, { force, deleteBranch: true })
      if (session.status !== "closed") {
        yield* sessions.close(session.sessionId, "user").pipe(
          Effect.catchAll((error) =>
            Effect.logWarning("the worktree was discarded but its session could not be closed", error).pipe(
              Effect.annotateLogs({ sessionId: session.sessionId })
            )
          )
        )
      }
      return removed
    })

  const finish = (id: SessionId, payload: FinishPayload, key?: IdempotencyKey) =>
    idempotency.run(
      { key, fingerprint: fingerprintOf("finish", id, payload), success: FinishResult },
      Effect.flatMap(worktreeOf(id), ({ session, worktree }): Effect.Effect<
        FinishResult,
        WorktreeError | InputError | InvalidRequest | OperationError
      > => {
        switch (payload.action) {
          case "commit":
            return payload.message === undefined
              ? askAgentToCommit(session)
              : worktrees.commit(worktree, payload.message)
          case "push":
            return worktrees.push(worktree, payload.remote)
          case "merge":
            return worktrees.merge(worktree)
          case "discard":
            return discard(session, worktree, payload.force === true)
        }
      })
    )

  /** This computer's sessions by the path of their worktree (the latest session of a path wins). */
  const owners = Effect.map(
    Effect.suspend(() => sessions.list({ computer: me, status: "all", limit: OWNERS_SCAN_MAX })),
    (all) => {
      const byPath = new Map<string, Session>()
      for (const session of all) {
        if (session.worktree === undefined) continue
        const known = byPath.get(session.worktree.path)
        if (known === undefined || known.status === "closed") byPath.set(session.worktree.path, session)
      }
      return byPath
    }
  )

  const entryOf = (found: FoundWorktree, owner: Session | undefined) =>
    new WorktreeEntry({
      computer: me,
      repository: found.repository,
      path: found.path,
      branch: found.branch,
      sessionId: owner?.sessionId ?? null,
      state: owner === undefined ? "orphaned" : owner.status === "closed" ? "closed" : "open",
      dirty: found.dirty,
      unpushed: found.unpushed
    })

  const listWithOwners = Effect.gen(function*() {
    const found = yield* worktrees.list
    const byPath = yield* owners
    return found.map((f) => ({ found: f, owner: byPath.get(f.path) }))
  })

  const list = Effect.map(listWithOwners, (all) => all.map(({ found, owner }) => entryOf(found, owner)))

  /**
   * Removes worktrees whose session ended or is unknown (only `paths`, when given), by a discard's
   * rules: a dirty tree or unpushed commits are refused unless `force`, which writes a salvage ref
   * first. A running session's worktree is never removed here.
   */
  const cleanup = (payload: CleanupPayload) =>
    Effect.gen(function*() {
      const all = yield* listWithOwners
      const wanted = payload.paths === undefined ? undefined : new Set(payload.paths)
      const removed: Array<{ path: string; salvageRef: string | null }> = []
      const refused: Array<{ path: string; reason: string }> = []
      for (const path of wanted ?? []) {
        if (!all.some(({ found }) => found.path === path)) {
          refused.push({ path, reason: "no worktree of telemux is there (`telemux worktree list` shows them)" })
        }
      }
      for (const { found, owner } of all) {
        if (wanted !== undefined && !wanted.has(found.path)) continue
        if (owner !== undefined && owner.status !== "closed") {
          if (wanted !== undefined) {
            refused.push({
              path: found.path,
              reason: `session ${owner.sessionId} runs in it: discard it from the session, or close the session first`
            })
          }
          continue
        }
        const outcome = yield* worktrees.remove({
          repository: found.repository,
          path: found.path,
          branch: found.branch,
          createdBranch: owner?.worktree?.createdBranch ?? false
        }, { force: payload.force === true, deleteBranch: owner?.worktree?.createdBranch ?? false }).pipe(Effect.either)
        if (outcome._tag === "Right") removed.push({ path: found.path, salvageRef: outcome.right.salvageRef })
        else refused.push({ path: found.path, reason: outcome.left.message })
      }
      if (removed.length > 0) {
        yield* Effect.logInfo("worktrees removed").pipe(
          Effect.annotateLogs({ removed: removed.map((r) => r.path).join(", ") })
        )
      }
      return new CleanupReport({ removed, refused })
    })

  /**
   * Worktrees whose session ended (a session that died, a daemon that was killed) stay until a
   * person decides: said in the log at start, with what to do, never removed silently.
   */
  const reportLeftOver = Effect.flatMap(list, (entries) => {
    const left = entries.filter((entry) => entry.state !== "open")
    return left.length === 0 ? Effect.void : Effect.logWarning(
      `${left.length} git worktree${left.length === 1 ? "" : "s"} of sessions that ended ` +
        "are kept: `telemux worktree list` shows them, `telemux worktree clean` removes the ones with no unsaved work"
    ).pipe(Effect.annotateLogs({ worktrees: left.map((entry) => entry.path).join(", ") }))
  })

  return { diff, finish, list, cleanup, reportLeftOver } as const
})
