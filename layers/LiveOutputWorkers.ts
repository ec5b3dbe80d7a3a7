import { Chunk, Duration, Effect, FiberHandle, Layer, Option, PubSub, Queue } from "effect"
import { Cache } from "../services/Cache.js"
import { OUTPUT_EVENTS_CAPACITY, type OutputChanged, type OutputEvent, OutputLog } from "../services/OutputLog.js"
import { OutputPoller } from "../services/OutputPoller.js"
import { Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { TmuxControl } from "../services/TmuxControl.js"
import { consume, every } from "../src/concurrency/Workers.js"
import { isShell, screenTail } from "../src/domain/Screen.js"
import type { Session, SessionId } from "../src/domain/Session.js"

/** lastOutput / lastOutputAt are written at most this often per session (the latest wins). */
export const ACTIVITY_FLUSH_INTERVAL = Duration.seconds(2)
/** Sessions written per turn of the event loop during a flush. */
export const ACTIVITY_FLUSH_SLICE = 20

/**
 * Ties live output to sessions: local open sessions are watched while they exist; what the
 * watcher sees updates their status (running ⇄ idle) and last output; exits and a reconnected
 * control channel trigger a reconciliation with tmux.
 */
export const layer = Layer.scopedDiscard(Effect.gen(function*() {
  const cache = yield* Cache
  const poller = yield* OutputPoller
  const log = yield* OutputLog
  const sessions = yield* Sessions
  const control = yield* TmuxControl
  const config = yield* TelemuxConfig

  const follow = (session: Session) =>
    session.computer === config.computer && session.paneId !== null && session.status !== "closed"
      ? poller.watch(session.sessionId, session.paneId)
      : Effect.void

  /** Latest unwritten output per session; bounded by the open sessions, pruned on removal. */
  const pending = new Map<SessionId, OutputChanged>()
  /** The other output events, for a fiber (they touch sessions); as bounded as a PubSub subscriber. */
  const outputEvents = yield* Queue.sliding<Exclude<OutputEvent, OutputChanged>>(OUTPUT_EVENTS_CAPACITY)

  // Subscribe before reading the current sessions, so none slips between the two.
  const cacheEvents = yield* PubSub.subscribe(cache.events)
  // A screen update only replaces the session's pending one: noted in place, not handed to a fiber.
  yield* log.listen((event) => {
    if (event._tag === "OutputChanged") pending.set(event.sessionId, event)
    else Queue.unsafeOffer(outputEvents, event)
  })
  const controlEvents = yield* control.subscribe
  yield* Effect.forEach(yield* cache.getSessionsForComputer(config.computer), follow, { discard: true })

  const reconciling = yield* FiberHandle.make()
  const reconcileSoon = FiberHandle.run(
    reconciling,
    sessions.reconcile.pipe(Effect.catchAllCause((cause) => Effect.logWarning("reconciliation failed", cause))),
    { onlyIfMissing: true }
  ).pipe(Effect.asVoid)

  yield* Effect.forkScoped(consume("follow-sessions", cacheEvents, (event) => {
    switch (event._tag) {
      case "SessionUpserted":
        return follow(event.session)
      case "SessionRemoved":
        pending.delete(event.sessionId)
        return poller.unwatch(event.sessionId)
      default:
        return Effect.void
    }
  }))

  yield* Effect.forkScoped(consume("session-activity", outputEvents, (event) => {
    switch (event._tag) {
      case "CommandChanged":
        return Effect.flatMap(cache.getSession(event.sessionId), (session) => {
          const shell = isShell(event.command)
          // an agent's turns are reported by its hooks; its pane going back to the shell means it exited
          if (Option.isSome(session) && session.value.agent !== null && !shell) return Effect.void
          return sessions.observe(event.sessionId, { status: shell ? "idle" : "running" })
        })
      case "ProcessExited":
        return reconcileSoon
      case "DirectoryChanged":
      case "AgentActivity":
        return Effect.void
    }
  }))

  // Every pane's output signal comes through here too: taken in batches, only a Connected counts.
  yield* Effect.forkScoped(
    Queue.takeBetween(controlEvents, 1, Number.MAX_SAFE_INTEGER).pipe(
      Effect.flatMap((
        events
      ) => (Chunk.some(events, (event) => event._tag === "Connected") ? reconcileSoon : Effect.void)),
      Effect.forever,
      Effect.annotateLogs({ worker: "control-link" })
    )
  )

  /**
   * Writes the latest output of every session that had some, ACTIVITY_FLUSH_SLICE sessions at a
   * time (one transaction each) with the event loop let go between slices: written in one go, 500 busy sessions held it
   * for 150–250 ms every flush, and every screen update waited behind them.
   */
  const flush = Effect.suspend(() => {
    const batch = Array.from(pending.values())
    pending.clear()
    const slices = Array.from(
      { length: Math.ceil(batch.length / ACTIVITY_FLUSH_SLICE) },
      (_, i) => batch.slice(i * ACTIVITY_FLUSH_SLICE, (i + 1) * ACTIVITY_FLUSH_SLICE)
    )
    return Effect.forEach(slices, (slice, i) =>
      Effect.zipRight(
        i === 0 ? Effect.void : Effect.sleep(Duration.zero),
        sessions.recordOutput(slice.map((update) => ({
          id: update.sessionId,
          lastOutput: screenTail(update.screen),
          lastOutputAt: update.changedAt
        })))
      ), { discard: true })
  })
  yield* Effect.forkScoped(every("activity-flush", ACTIVITY_FLUSH_INTERVAL, flush))
  yield* Effect.addFinalizer(() => flush.pipe(Effect.ignore))
}))
