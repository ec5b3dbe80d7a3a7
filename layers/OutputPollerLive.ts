import { Clock, DateTime, Duration, Effect, FiberMap, Layer, Metric, Option, Queue, Schedule } from "effect"
import { OutputLog } from "../services/OutputLog.js"
import { EXIT_CONFIRMATIONS, OutputPoller, WATCH_HISTORY_LINES } from "../services/OutputPoller.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { TerminalBridge, type TmuxError } from "../services/TerminalBridge.js"
import { type ControlEvent, TmuxControl } from "../services/TmuxControl.js"
import { every } from "../src/concurrency/Workers.js"
import type { PaneId, SessionId } from "../src/domain/Session.js"

const captures = Metric.counter("telemux_output_captures_total")
const captureFailures = Metric.counter("telemux_output_capture_failures_total")
const screensAppended = Metric.counter("telemux_output_updates_total")

export interface OutputPollerOptions {
  /** Jitter on the capture-failure backoff (on in the daemon; tests turn it off for exact times). */
  readonly jitter?: boolean
}

/** Per-session state; lives exactly as long as the session is watched. */
interface Watched {
  readonly sessionId: SessionId
  readonly paneId: PaneId
  /** Sliding(1): any number of signals before the next capture collapse into one. */
  readonly wake: Queue.Queue<void>
  /** A signal came since the last capture began. */
  dirty: boolean
  /** The last screen captured (compared as is: cheaper than hashing it). */
  lastScreen: string | undefined
  lastAttemptAt: number
  /** Clock time of the last output signal seen for the pane (-Infinity before the first). */
  lastSignalAt: number
  command: string | undefined
  path: string | undefined
  /** Consecutive probes saying the process is gone (dead signals, not-found captures, dead listings). */
  exitEvidence: number
  /** tmux reported the pane dead and has not taken it back. */
  reportedDead: boolean
  exited: boolean
}

/**
 * The poller, plus a view of its per-session state for tests that prove it is bounded.
 * Needs a Scope: the event router and every session's fiber belong to it.
 */
export const make = (options: OutputPollerOptions = {}) =>
  Effect.gen(function*() {
    const control = yield* TmuxControl
    const bridge = yield* TerminalBridge
    const log = yield* OutputLog
    const { pollIntervals } = yield* TelemuxConfig
    const minMillis = Duration.toMillis(pollIntervals.min)
    const defaultMillis = Duration.toMillis(pollIntervals.default)

    const watched = new Map<SessionId, Watched>()
    const sessionOfPane = new Map<PaneId, SessionId>()
    const fibers = yield* FiberMap.make<SessionId>()
    const lock = yield* Effect.makeSemaphore(1)
    // Without the control channel no signal arrives, so idle sessions are polled at the default interval.
    let connected = yield* control.isConnected

    const exponential = Schedule.exponential(pollIntervals.min)
    const backoff = (options.jitter ?? true ? Schedule.jittered(exponential) : exponential).pipe(
      Schedule.union(Schedule.spaced(pollIntervals.max))
    )

    const wake = (w: Watched) =>
      Effect.sync(() => {
        w.dirty = true
        Queue.unsafeOffer(w.wake, undefined)
      })
    const wakeAll = Effect.suspend(() => Effect.forEach(Array.from(watched.values()), wake, { discard: true }))

    const addExitEvidence = (w: Watched) =>
      Effect.suspend(() => {
        if (w.exited) return Effect.void
        w.exitEvidence += 1
        if (w.exitEvidence < EXIT_CONFIRMATIONS) return Effect.void
        w.exited = true
        return log.publish({ _tag: "ProcessExited", sessionId: w.sessionId }).pipe(
          Effect.zipRight(Effect.logInfo("pane process exited (confirmed)")),
          Effect.annotateLogs({ sessionId: w.sessionId, paneId: w.paneId })
        )
      })

    const clearExitEvidence = (w: Watched) => {
      w.reportedDead = false
      w.exitEvidence = 0
    }

    /** A dead signal is confirmed by tmux's own listing: the pane gone or still dead. */
    const confirmDead = (w: Watched) =>
      bridge.listPanes.pipe(
        Effect.flatMap((panes) => {
          const pane = panes.find((p) => p.paneId === w.paneId)
          if (pane === undefined || pane.dead) return addExitEvidence(w)
          return Effect.sync(() => clearExitEvidence(w))
        }),
        Effect.catchAll((error) => Effect.logWarning("could not confirm the pane's exit", error))
      )

    const noteFailure = (w: Watched, error: TmuxError) =>
      Metric.increment(captureFailures).pipe(
        Effect.zipRight(error._tag === "TmuxSessionNotFound" ? addExitEvidence(w) : Effect.void),
        Effect.zipRight(Effect.logWarning("capture failed", error))
      )

    const captured = (w: Watched, screen: string, at: number) => {
      if (!w.reportedDead) w.exitEvidence = 0
      const append = screen === w.lastScreen
        ? Effect.void
        : Effect.suspend(() => {
          w.lastScreen = screen
          screensAppended.unsafeUpdate(1, [])
          return log.append(w.sessionId, screen, DateTime.unsafeMake(at))
        })
      return w.reportedDead && !w.exited ? Effect.zipRight(append, confirmDead(w)) : Effect.asVoid(append)
    }

    /** One capture, answering every signal so far; appended when the screen changed. */
    const attempt = (w: Watched) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => {
        w.lastAttemptAt = at
        w.dirty = false
        captures.unsafeUpdate(1, [])
        return Effect.matchEffect(bridge.capture(w.paneId, WATCH_HISTORY_LINES), {
          onFailure: (error) => Effect.zipRight(noteFailure(w, error), Effect.fail(error)),
          onSuccess: (screen) => captured(w, screen, at)
        })
      })

    /**
     * A capture, retried on the backoff while it fails. The schedule is made only on a failure (it
     * is the costly part of a round otherwise) and fresh each time: the backoff starts over from
     * `min` after every success.
     */
    const round = (w: Watched) =>
      attempt(w).pipe(
        Effect.catchAll(() =>
          Effect.flatMap(Schedule.driver(backoff), (driver) => {
            const retry: Effect.Effect<void> = driver.next(undefined).pipe(
              Effect.zipRight(attempt(w)),
              Effect.catchAll(() => (w.exited ? Effect.void : retry))
            )
            return w.exited ? Effect.void : retry
          })
        ),
        Effect.catchAll(() => Effect.void)
      )

    /**
     * Returns on a signal, no earlier than `min` after the last attempt. While the channel is
     * down no signal comes, so the wait also ends when the default interval runs out; while it
     * is up the safety net is the sweep below, not a timer per session.
     */
    const awaitSignal = (w: Watched) =>
      Effect.gen(function*() {
        // (a wake token left by a signal the last capture already answered is no signal)
        while (!w.dirty) {
          if (connected) {
            yield* Queue.take(w.wake)
            continue
          }
          const left = w.lastAttemptAt + defaultMillis - (yield* Clock.currentTimeMillis)
          if (left <= 0 || Option.isNone(yield* Effect.timeoutOption(Queue.take(w.wake), Duration.millis(left)))) return
        }
        const wait = w.lastAttemptAt + minMillis - (yield* Clock.currentTimeMillis)
        if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
      })

    const loop = (w: Watched) =>
      Effect.gen(function*() {
        yield* round(w).pipe(Effect.catchAllCause(Effect.logError))
        while (!w.exited) {
          yield* awaitSignal(w).pipe(Effect.zipRight(round(w)), Effect.catchAllCause(Effect.logError))
        }
      }).pipe(Effect.annotateLogs({ sessionId: w.sessionId, paneId: w.paneId }))

    /**
     * The safety net against a lost signal, for every watched pane in one listing: a pane tmux
     * saw output in since its last capture and later than the second of its last signal (tmux
     * keeps activity to the second), one that is dead or one that is gone is woken. Idle panes,
     * and panes whose every output was signalled, are not captured at all.
     */
    const sweep = Effect.suspend(() => {
      if (!connected || watched.size === 0) return Effect.void
      return Effect.flatMap(bridge.listPanes, (panes) => {
        const activityAt = new Map(panes.map((pane) => [pane.paneId, pane.dead ? Infinity : pane.activityAt]))
        const missed = Array.from(watched.values()).filter((w) => {
          const activity = activityAt.get(w.paneId) ?? Infinity
          return activity + 1000 > w.lastAttemptAt && activity > Math.floor(w.lastSignalAt / 1000) * 1000
        })
        return Effect.forEach(missed, wake, { discard: true })
      })
    })
    yield* Effect.forkScoped(every("output-sweep", pollIntervals.max, sweep, { delayed: true }))

    const watchedPane = (paneId: PaneId) => {
      const sessionId = sessionOfPane.get(paneId)
      return sessionId === undefined ? undefined : watched.get(sessionId)
    }

    const paneChanged = (event: Extract<ControlEvent, { _tag: "PaneChanged" }>) =>
      Effect.suspend(() => {
        const w = watchedPane(event.paneId)
        if (w === undefined) return Effect.void
        switch (event.field) {
          case "command": {
            if (w.command === event.value) return Effect.void
            w.command = event.value
            return log.publish({ _tag: "CommandChanged", sessionId: w.sessionId, command: event.value })
          }
          case "path": {
            if (w.path === event.value) return Effect.void
            w.path = event.value
            return log.publish({ _tag: "DirectoryChanged", sessionId: w.sessionId, path: event.value })
          }
          case "dead": {
            if (event.value !== "1") return Effect.sync(() => clearExitEvidence(w))
            w.reportedDead = true
            // one signal is a probe, not a verdict: the woken fiber takes the confirming look
            return addExitEvidence(w).pipe(Effect.zipRight(wake(w)))
          }
        }
      })

    const route = (event: Exclude<ControlEvent, { _tag: "Output" }>): Effect.Effect<void> => {
      switch (event._tag) {
        case "PaneChanged":
          return paneChanged(event)
        case "Connected":
          return Effect.suspend(() => {
            connected = true
            return wakeAll
          })
        case "Disconnected":
          return Effect.suspend(() => {
            connected = false
            // output written just before the drop may never have been signalled
            return Effect.logWarning("tmux control channel down; polling watched panes").pipe(
              Effect.annotateLogs({ reason: event.reason }),
              Effect.zipRight(wakeAll)
            )
          })
      }
    }

    /**
     * Takes the events in batches: an output signal (most of them, one per pane per chunk tmux
     * writes) only marks its pane, in place; the others are routed one by one.
     */
    const routeBatch = (events: Iterable<ControlEvent>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        for (const event of events) {
          if (event._tag !== "Output") {
            yield* route(event).pipe(Effect.catchAllCause((cause) => Effect.logError("output-router failed", cause)))
            continue
          }
          const w = watchedPane(event.paneId)
          if (w === undefined) continue
          w.lastSignalAt = now
          w.dirty = true
          Queue.unsafeOffer(w.wake, undefined)
        }
      })
    const controlEvents = yield* control.subscribe
    yield* Effect.forkScoped(
      Queue.takeBetween(controlEvents, 1, Number.MAX_SAFE_INTEGER).pipe(
        Effect.flatMap(routeBatch),
        Effect.forever,
        Effect.annotateLogs({ worker: "output-router" })
      )
    )

    const forget = (sessionId: SessionId) =>
      Effect.gen(function*() {
        yield* FiberMap.remove(fibers, sessionId)
        const w = watched.get(sessionId)
        if (w === undefined) return
        watched.delete(sessionId)
        if (sessionOfPane.get(w.paneId) === sessionId) sessionOfPane.delete(w.paneId)
      })

    const watch = Effect.fn("OutputPoller.watch")(function*(sessionId: SessionId, paneId: PaneId) {
      const existing = watched.get(sessionId)
      if (existing?.paneId === paneId) return
      // the session moved to another pane: start over there, keeping its history
      if (existing !== undefined) yield* forget(sessionId)
      const w: Watched = {
        sessionId,
        paneId,
        wake: yield* Queue.sliding<void>(1),
        dirty: false,
        lastScreen: undefined,
        lastAttemptAt: yield* Clock.currentTimeMillis,
        lastSignalAt: -Infinity,
        command: undefined,
        path: undefined,
        exitEvidence: 0,
        reportedDead: false,
        exited: false
      }
      watched.set(sessionId, w)
      sessionOfPane.set(paneId, sessionId)
      yield* FiberMap.run(fibers, sessionId, loop(w), { onlyIfMissing: true })
    })

    const unwatch = Effect.fn("OutputPoller.unwatch")(function*(sessionId: SessionId) {
      yield* forget(sessionId)
      yield* log.remove(sessionId)
    })

    const poller = OutputPoller.of({
      watch: (sessionId, paneId) => lock.withPermits(1)(watch(sessionId, paneId)),
      unwatch: (sessionId) => lock.withPermits(1)(unwatch(sessionId)),
      watching: Effect.sync(() => watched.size)
    })

    const stateSizes = Effect.map(FiberMap.size(fibers), (fiberCount) => ({
      sessions: watched.size,
      panes: sessionOfPane.size,
      fibers: fiberCount
    }))

    return { poller, stateSizes } as const
  })

export const layer: Layer.Layer<OutputPoller, never, TmuxControl | TerminalBridge | OutputLog | TelemuxConfig> =
  Layer.scoped(OutputPoller, Effect.map(make(), ({ poller }) => poller))
