import { Cause, Clock, DateTime, Duration, Effect, Either, Fiber, Layer, Metric, Queue } from "effect"
import { type NewScreen, OutputLog } from "../services/OutputLog.js"
import { EXIT_CONFIRMATIONS, OutputPoller, WATCH_HISTORY_LINES } from "../services/OutputPoller.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { TerminalBridge, type TmuxError } from "../services/TerminalBridge.js"
import { type ControlEvent, TmuxControl } from "../services/TmuxControl.js"
import { every, takeWithin } from "../src/concurrency/Workers.js"
import { sameLines } from "../src/domain/ScreenPatch.js"
import type { PaneId, SessionId } from "../src/domain/Session.js"

const captures = Metric.counter("telemux_output_captures_total", {
  description: "screens captured from watched panes",
  incremental: true
})
const captureFailures = Metric.counter("telemux_output_capture_failures_total", {
  description: "captures of watched panes that failed",
  incremental: true
})
const screensAppended = Metric.counter("telemux_output_updates_total", {
  description: "captured screens that had changed, handed to the output log and its stream clients",
  incremental: true
})
const screensUnchanged = Metric.counter("telemux_output_unchanged_total", {
  description: "captured screens identical to the previous one, dropped (deduplicated)",
  incremental: true
})

/** Captures sent to tmux as one command list at most (the list's reply is parsed in one go). */
export const CAPTURE_BATCH_MAX = 64
/** Capture batches out at once (see the scheduler). */
export const CAPTURE_BATCHES_IN_FLIGHT = 2
/**
 * Under load, a batch goes no sooner than this after the one before: a batch's cost is mostly
 * fixed (the list to tmux and its reply, the recording, a write to every stream client), so 500
 * busy panes captured ~20 at a time cost a third more daemon CPU per update than ~30 at a time
 * (bench `busy`). A 24 ms gap (~60 at a time) cost 6–11 % less CPU again, but the updates' tails
 * grew by as much as that saved: side by side (two daemons of 250 busy sessions, three pairs),
 * command → output p99 371 / 594 / 300 ms at 12 ms against 520 / 571 / 605 ms at 24.
 */
export const CAPTURE_BATCH_GAP = Duration.millis(12)
/**
 * Under load means: the last batch held at least this many panes. Lighter, batches go as soon as
 * they are due (100 panes printing every 200 ms make batches of a few; a gap there only made an
 * echo wait, +5 ms p50 in bench `output`).
 */
export const CAPTURE_BATCH_LOADED = 8
/** A full batch of due panes goes at once, gap or not: a backlog is never made to wait. */
export const CAPTURE_BATCH_FULL = CAPTURE_BATCH_MAX
/**
 * Captures of one pane in a row that go as soon as it signals, before the rest wait for
 * `TELEMUX_POLL_INTERVAL_MIN` (a rate of one per interval, with a burst of this many). What a
 * person typed comes back in parts a few milliseconds apart — the echo of the command, its output,
 * the next prompt — and with one capture at once (the burst of 1 before) the output waited out the
 * interval behind the echo's capture: 50 ms for a command answering in 2. A flood still costs one
 * capture per interval once the burst is spent.
 */
export const CAPTURE_BURST = 3
/** A pane not captured for this long goes at once, gap or not: a quiet session someone types into is not made to wait. */
export const QUIET_PANE = Duration.seconds(1)

export interface OutputPollerOptions {
  /** Jitter on the capture-failure backoff (on in the daemon; tests turn it off for exact times). */
  readonly jitter?: boolean
}

/** Per-session state; lives exactly as long as the session is watched. */
interface Watched {
  readonly sessionId: SessionId
  readonly paneId: PaneId
  /** A signal came since the last capture began: any number of them ask for one capture. */
  dirty: boolean
  /** Its capture is out (in a batch not yet answered and recorded): not put in another batch meanwhile. */
  capturing: boolean
  /** The last screen captured, as the output log keeps it (compared line by line: cheaper than hashing it). */
  lastLines: ReadonlyArray<string> | undefined
  lastAttemptAt: number
  /**
   * The rate's clock (the generic cell rate algorithm's theoretical arrival time): each capture
   * moves it `min` past itself or past now, whichever is later; a signalled pane is due at it less
   * the burst's allowance ((CAPTURE_BURST - 1) × min).
   */
  rateAt: number
  /** Captures failed in a row; while above zero the pane is captured again at `retryAt`, signal or not. */
  failures: number
  retryAt: number
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
 * Needs a Scope: the event router and the capture scheduler belong to it.
 *
 * One scheduler fiber captures every pane that is due in one command list (CAPTURE_BATCH_MAX at
 * most): a busy server's panes cost one round trip per batch, not a fiber hop, a timer and a round
 * trip per pane. A pane is due on a signal, no earlier than `min` after its last capture; after a
 * failed capture, on the exponential backoff from `min` (capped at `max`) whatever the signals;
 * while the control channel is down (no signals), every `default` as well.
 */
export const make = (options: OutputPollerOptions = {}) =>
  Effect.gen(function*() {
    const control = yield* TmuxControl
    const bridge = yield* TerminalBridge
    const log = yield* OutputLog
    const { metrics: measure, pollIntervals } = yield* TelemuxConfig
    const minMillis = Duration.toMillis(pollIntervals.min)
    const burstMillis = (CAPTURE_BURST - 1) * minMillis
    const defaultMillis = Duration.toMillis(pollIntervals.default)

    const watched = new Map<SessionId, Watched>()
    const sessionOfPane = new Map<PaneId, SessionId>()
    /** Wakes the scheduler: a pane became due (sliding: any number of wakes make one look). */
    const kick = yield* Queue.sliding<void>(1)
    const lock = yield* Effect.makeSemaphore(1)
    // Without the control channel no signal arrives, so idle sessions are polled at the default interval.
    let connected = yield* control.isConnected

    const maxMillis = Duration.toMillis(pollIntervals.max)
    const jitter = options.jitter ?? true
    /** The wait before the next try after `failures` failed captures in a row: min, 2·min, 4·min… up to max (jittered ±20 %). */
    const backoffMillis = (failures: number) => {
      const exponential = minMillis * 2 ** (failures - 1)
      return Math.min(jitter ? exponential * (0.8 + Math.random() * 0.4) : exponential, maxMillis)
    }

    /** Wakes the scheduler out of a batch gap: a quiet pane was signalled (sliding, as `kick`). */
    const urgent = yield* Queue.sliding<void>(1)
    const gapMillis = Duration.toMillis(CAPTURE_BATCH_GAP)
    const quietMillis = Duration.toMillis(QUIET_PANE)
    const clock = yield* Effect.clock
    /**
     * The panes that may be due: signalled, or failing (retried on the backoff). The scheduler looks
     * at these, not at every watched pane (with the control channel down, it looks at all).
     */
    const pending = new Set<Watched>()
    const signal = (w: Watched) => {
      w.dirty = true
      pending.add(w)
      Queue.unsafeOffer(kick, undefined)
      if (w.lastAttemptAt <= clock.unsafeCurrentTimeMillis() - quietMillis) Queue.unsafeOffer(urgent, undefined)
    }
    const wake = (w: Watched) => Effect.sync(() => signal(w))
    const wakeAll = Effect.sync(() => {
      for (const w of watched.values()) signal(w)
    })

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

    const failed = (w: Watched, error: TmuxError, at: number) =>
      Effect.suspend(() => {
        if (measure) captureFailures.unsafeUpdate(1, [])
        w.failures += 1
        pending.add(w)
        w.retryAt = at + backoffMillis(w.failures)
        return error._tag === "TmuxSessionNotFound" ? addExitEvidence(w) : Effect.void
      })

    /** When the pane is next to be captured (Infinity: not until something asks). */
    const dueAt = (w: Watched): number => {
      if (w.exited || w.capturing) return Infinity
      if (w.failures > 0) return w.retryAt
      if (w.dirty) return w.rateAt - burstMillis
      return connected ? Infinity : w.lastAttemptAt + defaultMillis
    }

    /**
     * One list of captures, answering every signal of those panes so far. A refusal ends a tmux
     * list: the panes after it were not captured and are due again at once. No answer at all (a
     * timeout, the channel lost mid-list) is a failure of every pane in the batch.
     */
    const sendBatch = (batch: ReadonlyArray<Watched>, at: number) => {
      for (const w of batch) {
        w.lastAttemptAt = at
        w.rateAt = Math.max(w.rateAt, at) + minMillis
        w.dirty = false
        w.capturing = true
      }
      if (measure) captures.unsafeUpdate(batch.length, [])
      // each pane's last screen: the lines still on it are read back as the strings kept, not decoded again
      return Effect.either(
        bridge.captureEach(batch.map((w) => w.paneId), WATCH_HISTORY_LINES, batch.map((w) => w.lastLines))
      )
    }

    const recordBatch = (
      batch: ReadonlyArray<Watched>,
      at: number,
      answered: Either.Either<ReadonlyArray<Either.Either<ReadonlyArray<string>, TmuxError>>, TmuxError>
    ) =>
      Effect.gen(function*() {
        for (const w of batch) w.capturing = false
        // a session unwatched (or moved) while its capture was out is not recorded
        const current = (w: Watched) => watched.get(w.sessionId) === w
        if (Either.isLeft(answered)) {
          yield* Effect.logWarning("capture failed", answered.left).pipe(Effect.annotateLogs({ panes: batch.length }))
          for (const w of batch) if (current(w)) yield* failed(w, answered.left, at)
          return
        }
        const results = answered.right
        // the batch's changed screens are recorded together; the rare follow-ups (a failure, a dead pane) after them
        const changed: Array<NewScreen> = []
        const changedOf: Array<Watched> = []
        const after: Array<Effect.Effect<void>> = []
        const changedAt = DateTime.unsafeMake(at)
        let unchanged = 0
        for (let i = 0; i < batch.length; i++) {
          const w = batch[i]!
          const result = results[i]
          if (!current(w)) continue
          if (result === undefined) {
            // skipped after a refusal: not tried, so due again at once (as a quiet pane, gap or not)
            w.dirty = true
            pending.add(w)
            w.lastAttemptAt = at - Math.max(minMillis, quietMillis)
            w.rateAt -= minMillis
          } else if (Either.isRight(result)) {
            w.failures = 0
            if (!w.reportedDead) w.exitEvidence = 0
            if (w.lastLines === undefined || !sameLines(result.right, w.lastLines)) {
              changed.push({ sessionId: w.sessionId, lines: result.right, changedAt })
              changedOf.push(w)
            } else {
              unchanged++
            }
            if (w.reportedDead && !w.exited) after.push(confirmDead(w))
          } else {
            after.push(
              failed(w, result.left, at).pipe(
                Effect.zipRight(Effect.logWarning("capture failed", result.left)),
                Effect.annotateLogs({ sessionId: w.sessionId, paneId: w.paneId })
              )
            )
          }
        }
        if (measure) {
          screensUnchanged.unsafeUpdate(unchanged, [])
          screensAppended.unsafeUpdate(changed.length, [])
        }
        if (changed.length > 0) {
          const updates = yield* log.appendAll(changed)
          // the log's lines, not the capture's: the lines it shares with the update before are kept once
          for (let i = 0; i < updates.length; i++) changedOf[i]!.lastLines = updates[i]!.lines
        }
        for (const effect of after) yield* effect
      })

    /**
     * Batches out at once: tmux captures the next batch while the last one's screens are recorded
     * (one at a time, the daemon and tmux took turns idling). Recorded in the order sent.
     */
    const inFlight = yield* Effect.makeSemaphore(CAPTURE_BATCHES_IN_FLIGHT)
    const outstanding = yield* Queue.unbounded<{
      readonly batch: ReadonlyArray<Watched>
      readonly at: number
      readonly reply: Fiber.Fiber<
        Either.Either<ReadonlyArray<Either.Either<ReadonlyArray<string>, TmuxError>>, TmuxError>
      >
    }>()
    const recorder = Queue.take(outstanding).pipe(
      Effect.flatMap(({ at, batch, reply }) =>
        Fiber.join(reply).pipe(
          Effect.flatMap((answered) => recordBatch(batch, at, answered)),
          Effect.catchAllCause((cause) =>
            Effect.zipRight(
              Effect.sync(() => batch.forEach((w) => (w.capturing = false))),
              // a batch cut short by the daemon's shutdown (its sender interrupted) is not a failure
              Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("capture batch failed", cause)
            )
          ),
          Effect.ensuring(Effect.zipRight(inFlight.release(1), Queue.offer(kick, undefined)))
        )
      ),
      Effect.forever
    )
    yield* Effect.forkScoped(recorder.pipe(Effect.annotateLogs({ worker: "output-recorder" })))

    /**
     * Sends what is due as a batch (while one is free), then sleeps until the next pane is due or a
     * signal comes; forever. Under load (the last batch held CAPTURE_BATCH_LOADED panes or more and
     * went less than CAPTURE_BATCH_GAP ago) the panes due wait for the gap's end, unless they fill a
     * batch or one of them was quiet.
     */
    const scheduler = Effect.gen(function*() {
      let lastSentAt = -Infinity
      let lastSize = 0
      while (true) {
        yield* inFlight.take(1)
        const now = yield* Clock.currentTimeMillis
        let batch: Array<Watched> = []
        let next = Infinity
        let quiet = false
        for (const w of connected ? pending : watched.values()) {
          // nothing asked of it (a capture answered, no failure to retry): out of the look
          if ((!w.dirty && w.failures === 0) || w.exited) {
            pending.delete(w)
            if (connected) continue
          }
          const at = dueAt(w)
          if (at <= now) {
            batch.push(w)
            if (w.lastAttemptAt <= now - quietMillis) quiet = true
          } else if (at < next) next = at
        }
        const gapEnds = lastSentAt + gapMillis
        const loaded = lastSize >= CAPTURE_BATCH_LOADED
        if (batch.length > 0 && loaded && now < gapEnds && !quiet && batch.length < CAPTURE_BATCH_FULL) {
          yield* inFlight.release(1)
          yield* takeWithin(urgent, gapEnds - now)
          continue
        }
        if (batch.length > CAPTURE_BATCH_MAX) {
          // more are due than one list takes: those captured longest ago first, so none waits behind the others
          batch = batch.sort((a, b) => a.lastAttemptAt - b.lastAttemptAt).slice(0, CAPTURE_BATCH_MAX)
        }
        if (batch.length > 0) {
          lastSentAt = now
          lastSize = batch.length
          const reply = yield* Effect.fork(sendBatch(batch, now))
          yield* Queue.offer(outstanding, { batch, at: now, reply })
          continue
        }
        yield* inFlight.release(1)
        if (next === Infinity) yield* Queue.take(kick)
        else yield* takeWithin(kick, next - now)
      }
    })
    yield* Effect.forkScoped(scheduler.pipe(Effect.annotateLogs({ worker: "output-scheduler" })))

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

    const route = (event: ControlEvent): Effect.Effect<void> => {
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
        case "LayoutChanged":
          // a resize redraws the pane, and its output signals that
          return Effect.void
      }
    }

    // An output signal (most of what tmux reports: one per pane per write) only marks its pane, in
    // place, as the control client reads it; the other events are routed one by one.
    yield* control.onOutput((paneId) => {
      const w = watchedPane(paneId)
      if (w === undefined) return
      w.lastSignalAt = clock.unsafeCurrentTimeMillis()
      signal(w)
    })
    const controlEvents = yield* control.subscribe
    yield* Effect.forkScoped(
      Queue.take(controlEvents).pipe(
        Effect.flatMap((event) =>
          route(event).pipe(Effect.catchAllCause((cause) => Effect.logError("output-router failed", cause)))
        ),
        Effect.forever,
        Effect.annotateLogs({ worker: "output-router" })
      )
    )

    const forget = (sessionId: SessionId) =>
      Effect.sync(() => {
        const w = watched.get(sessionId)
        if (w === undefined) return
        watched.delete(sessionId)
        pending.delete(w)
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
        // the first capture at once
        dirty: true,
        capturing: false,
        lastLines: undefined,
        lastAttemptAt: -Infinity,
        rateAt: -Infinity,
        failures: 0,
        retryAt: 0,
        lastSignalAt: -Infinity,
        command: undefined,
        path: undefined,
        exitEvidence: 0,
        reportedDead: false,
        exited: false
      }
      watched.set(sessionId, w)
      sessionOfPane.set(paneId, sessionId)
      signal(w)
    })

    const unwatch = Effect.fn("OutputPoller.unwatch")(function*(sessionId: SessionId) {
      yield* forget(sessionId)
      yield* log.remove(sessionId)
    })

    const poller = OutputPoller.of({
      // watching already (every upsert of a session asks again): answered without the lock
      watch: (sessionId, paneId) =>
        Effect.suspend(() =>
          watched.get(sessionId)?.paneId === paneId ? Effect.void : lock.withPermits(1)(watch(sessionId, paneId))
        ),
      unwatch: (sessionId) => lock.withPermits(1)(unwatch(sessionId)),
      watching: Effect.sync(() => watched.size)
    })

    const stateSizes = Effect.sync(() => ({ sessions: watched.size, panes: sessionOfPane.size, pending: pending.size }))

    return { poller, stateSizes } as const
  })

export const layer: Layer.Layer<OutputPoller, never, TmuxControl | TerminalBridge | OutputLog | TelemuxConfig> = Layer
  .scoped(OutputPoller, Effect.map(make(), ({ poller }) => poller))
