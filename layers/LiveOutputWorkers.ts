import { Chunk, Clock, DateTime, Duration, Effect, FiberHandle, Layer, Option, PubSub, Queue } from "effect"
import { Cache } from "../services/Cache.js"
import { OUTPUT_EVENTS_CAPACITY, type OutputChanged, type OutputEvent, OutputLog } from "../services/OutputLog.js"
import { OutputPoller } from "../services/OutputPoller.js"
import { PaneProcesses } from "../services/PaneProcesses.js"
import { Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { TerminalBridge } from "../services/TerminalBridge.js"
import { TmuxControl } from "../services/TmuxControl.js"
import { consumeBursts, every, takeWithin } from "../src/concurrency/Workers.js"
import { isShell, screenTailOfLines } from "../src/domain/Screen.js"
import type { Session, SessionId } from "../src/domain/Session.js"

/** lastOutput / lastOutputAt are written at most this often per session (the latest wins). */
export const ACTIVITY_FLUSH_INTERVAL = Duration.seconds(2)
/** Sessions written per turn of the event loop during a flush. */
export const ACTIVITY_FLUSH_SLICE = 20
/** A shell session whose screen has not changed for this long, at its prompt, is idle. */
export const SHELL_QUIET = Duration.seconds(3)
/** How often sessions that have gone quiet are looked at (while there are any to look at). */
export const STATUS_TICK = Duration.millis(250)
/**
 * A shell back in the foreground, its screen quiet for SHELL_QUIET already, is looked at no sooner
 * than this: the prompt it redraws may still be on its way (captured after tmux named the shell),
 * and would make the session running again right after an idle.
 */
export const PROMPT_GRACE = Duration.seconds(1)

/**
 * Ties live output to sessions: local open sessions are watched while they exist; what the
 * watcher sees updates their status and last output; exits and a reconnected control channel
 * trigger a reconciliation with tmux.
 *
 * Status of a shell session: `running` as soon as its screen changes or a program other than its
 * shell takes the foreground; `idle` once the screen has been still for SHELL_QUIET and the pane's
 * shell holds the terminal (at its prompt). An agent's session is driven by its hooks; its pane
 * back at the shell (the agent exited) makes it `idle`.
 */
export const make = Effect.gen(function*() {
  const cache = yield* Cache
  const poller = yield* OutputPoller
  const log = yield* OutputLog
  const sessions = yield* Sessions
  const control = yield* TmuxControl
  const config = yield* TelemuxConfig
  const bridge = yield* TerminalBridge
  const processes = yield* PaneProcesses

  const follow = (session: Session) =>
    session.computer === config.computer && session.paneId !== null && session.status !== "closed"
      ? poller.watch(session.sessionId, session.paneId)
      : Effect.void

  /** Latest unwritten output per session; bounded by the open sessions, pruned on removal. */
  const pending = new Map<SessionId, OutputChanged>()
  /** The other output events, for a fiber (they touch sessions); as bounded as a PubSub subscriber. */
  const outputEvents = yield* Queue.sliding<Exclude<OutputEvent, OutputChanged>>(OUTPUT_EVENTS_CAPACITY)
  /** Sessions whose screen changed since the status fiber last looked; bounded by the open sessions. */
  const changed = new Set<SessionId>()
  /** When each session is next looked at to settle its status (idle or not); pruned on removal. */
  const settleAt = new Map<SessionId, number>()
  /**
   * This computer's shell sessions the cache says are running, kept from its events: another screen
   * change of one only moves the moment it settles, and needs no look by the status fiber (with 500
   * busy sessions that look was a wake and two cache reads per screen update).
   */
  const runningShells = new Set<SessionId>()
  const noteStatus = (session: Session) => {
    if (session.computer === config.computer && session.agent === null && session.status === "running") {
      runningShells.add(session.sessionId)
    } else runningShells.delete(session.sessionId)
  }
  /** Wakes the status fiber (sliding: any number of wakes make one look). */
  const statusWake = yield* Queue.sliding<void>(1)
  const wakeStatus = Queue.offer(statusWake, undefined).pipe(Effect.asVoid)

  /**
   * A running session of this computer that nothing will settle yet (new, or loaded at start with
   * the status it had) is looked at once SHELL_QUIET has passed.
   */
  const armSettle = (session: Session) =>
    session.computer === config.computer && session.status === "running" && !settleAt.has(session.sessionId)
      ? Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.zipRight(
          Effect.sync(() => settleAt.set(session.sessionId, now + Duration.toMillis(SHELL_QUIET))),
          wakeStatus
        ))
      : Effect.void

  // Subscribe before reading the current sessions, so none slips between the two.
  const cacheEvents = yield* PubSub.subscribe(cache.events)
  // A screen update only replaces the session's pending one: noted in place, not handed to a fiber.
  yield* log.listen((event) => {
    if (event._tag === "OutputChanged") {
      pending.set(event.sessionId, event)
      settleAt.set(event.sessionId, DateTime.toEpochMillis(event.changedAt) + Duration.toMillis(SHELL_QUIET))
      if (!runningShells.has(event.sessionId)) {
        changed.add(event.sessionId)
        Queue.unsafeOffer(statusWake, undefined)
      }
    } else Queue.unsafeOffer(outputEvents, event)
  })
  const controlEvents = yield* control.subscribe
  yield* Effect.forEach(
    yield* cache.getSessionsForComputer(config.computer),
    (session) =>
      Effect.zipRight(Effect.sync(() => noteStatus(session)), Effect.zipRight(follow(session), armSettle(session))),
    { discard: true }
  )

  const reconciling = yield* FiberHandle.make()
  const reconcileSoon = FiberHandle.run(
    reconciling,
    sessions.reconcile.pipe(Effect.catchAllCause((cause) => Effect.logWarning("reconciliation failed", cause))),
    { onlyIfMissing: true }
  ).pipe(Effect.asVoid)

  yield* Effect.forkScoped(consumeBursts("follow-sessions", cacheEvents, (event) => {
    switch (event._tag) {
      case "SessionUpserted":
        noteStatus(event.session)
        return Effect.zipRight(follow(event.session), armSettle(event.session))
      case "SessionRemoved":
        runningShells.delete(event.sessionId)
        pending.delete(event.sessionId)
        changed.delete(event.sessionId)
        settleAt.delete(event.sessionId)
        return poller.unwatch(event.sessionId)
      default:
        return Effect.void
    }
  }))

  yield* Effect.forkScoped(consumeBursts("session-activity", outputEvents, (event) => {
    switch (event._tag) {
      case "CommandChanged":
        return Effect.flatMap(
          cache.getSession(event.sessionId),
          (session) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => {
              if (Option.isNone(session)) return Effect.void
              const shell = isShell(event.command)
              // an agent's turns are reported by its hooks; its pane back at the shell (checked) means it exited
              if (session.value.agent !== null) {
                return Effect.sync(() => shell && settleAt.set(event.sessionId, now)).pipe(Effect.zipRight(wakeStatus))
              }
              if (!shell) {
                settleAt.set(event.sessionId, now + Duration.toMillis(SHELL_QUIET))
                return sessions.observe(event.sessionId, { status: "running" })
              }
              // A program's end is idle once the screen has gone quiet, counted from its last change (which
              // already set the settle), not from this event: tmux tells a pane's command once a second, and
              // counting from it made idle come up to a second late. No change since the last look: quiet already.
              settleAt.set(
                event.sessionId,
                Math.max(settleAt.get(event.sessionId) ?? 0, now + Duration.toMillis(PROMPT_GRACE))
              )
              return wakeStatus
            })
        )
      case "ProcessExited":
        return reconcileSoon
      case "DirectoryChanged":
      case "AgentActivity":
        return Effect.void
    }
  }))

  /**
   * One look: the shell sessions whose screen changed are running; those due (quiet for
   * SHELL_QUIET, or an agent's pane that seems back at its shell) are settled by what holds their
   * pane's terminal — one listing of the panes for all of them.
   */
  const statusRound = Effect.gen(function*() {
    const fresh = Array.from(changed)
    changed.clear()
    for (const id of fresh) {
      const session = yield* cache.getSession(id)
      if (Option.isNone(session) || session.value.agent !== null || session.value.computer !== config.computer) {
        settleAt.delete(id)
        continue
      }
      yield* sessions.observe(id, { status: "running" })
    }
    const now = yield* Clock.currentTimeMillis
    const due: Array<SessionId> = []
    for (const [id, at] of settleAt) if (at <= now) due.push(id)
    if (due.length === 0) return
    const listed = yield* Effect.either(bridge.listPanes)
    if (listed._tag === "Left") {
      // tmux does not answer: the statuses stay as they are, and are looked at again later
      for (const id of due) settleAt.set(id, now + Duration.toMillis(SHELL_QUIET))
      return yield* Effect.logWarning("could not list the panes to settle session statuses", listed.left)
    }
    const panes = new Map(listed.right.map((pane) => [pane.paneId, pane] as const))
    for (const id of due) {
      settleAt.delete(id)
      const session = yield* cache.getSession(id)
      if (Option.isNone(session) || session.value.computer !== config.computer) continue
      const pane = session.value.paneId === null ? undefined : panes.get(session.value.paneId)
      if (pane === undefined) continue
      const atShell = yield* processes.atShell(pane)
      if (session.value.agent === null) yield* sessions.observe(id, { status: atShell ? "idle" : "running" })
      else if (atShell) yield* sessions.observe(id, { status: "idle" })
    }
  })
  yield* Effect.forkScoped(
    Effect.suspend(() => settleAt.size === 0 ? Queue.take(statusWake) : takeWithin(statusWake, STATUS_TICK)).pipe(
      Effect.zipRight(
        statusRound.pipe(Effect.catchAllCause((cause) => Effect.logError("session-status failed", cause)))
      ),
      Effect.forever,
      Effect.annotateLogs({ worker: "session-status" })
    )
  )

  // The control channel's events (a pane's fields, layouts, the link going up or down), taken in batches: only a Connected counts.
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
          lastOutput: screenTailOfLines(update.lines),
          lastOutputAt: update.changedAt
        })))
      ), { discard: true })
  })
  yield* Effect.forkScoped(every("activity-flush", ACTIVITY_FLUSH_INTERVAL, flush))
  yield* Effect.addFinalizer(() => flush.pipe(Effect.ignore))
  /** Entries the status rules hold (for tests that prove them bounded by the open sessions). */
  return { statusStateSize: Effect.sync(() => changed.size + settleAt.size + runningShells.size) } as const
})

export const layer = Layer.scopedDiscard(make)
