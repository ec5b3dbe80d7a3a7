import { DateTime, Effect, Layer } from "effect"
import { PRUNE_INTERVAL, REAP_INTERVAL, RECONCILE_INTERVAL, Sessions } from "../services/Sessions.js"
import { SessionStore } from "../services/SessionStore.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { every } from "../src/concurrency/Workers.js"
import * as WorktreeOperations from "./WorktreeOperations.js"

/**
 * The daemon's session housekeeping: one reconciliation with tmux at start (before the API
 * serves), then periodic reconciliation, a word in the log about worktrees whose session ended, the inactivity reaper and the closed-row pruner,
 * each a fiber owned by this layer's scope.
 */
export const layer = Layer.scopedDiscard(Effect.gen(function*() {
  const sessions = yield* Sessions
  const store = yield* SessionStore
  const config = yield* TelemuxConfig

  const startup = yield* sessions.reconcile.pipe(
    Effect.tapErrorCause((cause) => Effect.logError("startup reconciliation failed", cause)),
    Effect.option
  )
  if (startup._tag === "Some") {
    yield* Effect.logInfo("reconciled with tmux").pipe(Effect.annotateLogs({
      adopted: startup.value.adopted,
      closed: startup.value.closed.length,
      spared: startup.value.spared,
      orphansRemoved: startup.value.orphansRemoved
    }))
  }

  // worktrees of sessions that ended while the daemon was away are said, not removed
  const worktrees = yield* WorktreeOperations.make
  yield* Effect.forkScoped(
    worktrees.reportLeftOver.pipe(
      Effect.catchAll((error) => Effect.logWarning("could not list the sessions' worktrees", error))
    )
  )

  const prune = DateTime.now.pipe(
    Effect.map((now) => DateTime.subtractDuration(now, config.closedRetention)),
    Effect.flatMap(store.pruneClosed),
    Effect.tap((count) =>
      count > 0 ? Effect.logInfo("pruned closed sessions").pipe(Effect.annotateLogs({ count })) : Effect.void
    )
  )

  yield* Effect.forkScoped(every("reconcile", RECONCILE_INTERVAL, sessions.reconcile, { delayed: true }))
  yield* Effect.forkScoped(every("reaper", REAP_INTERVAL, sessions.reapInactive, { delayed: true }))
  yield* Effect.forkScoped(every("pruner", PRUNE_INTERVAL, prune, { delayed: true }))
}))
