import { assert, describe, it } from "@effect/vitest"
import {
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Layer,
  Logger,
  Option,
  PubSub,
  Queue,
  Scope,
  TestClock
} from "effect"
import * as FakeTerminalBridge from "../layers/FakeTerminalBridge.js"
import { FakeTerminal } from "../layers/FakeTerminalBridge.js"
import * as MemoryOutputLog from "../layers/MemoryOutputLog.js"
import * as OutputPollerLive from "../layers/OutputPollerLive.js"
import * as ConfigLive from "../layers/TelemuxConfigLive.js"
import { type OutputEvent, OutputLog } from "../services/OutputLog.js"
import { OutputPoller } from "../services/OutputPoller.js"
import { TerminalBridge } from "../services/TerminalBridge.js"
import { type ControlEvent, type PaneOutputListener, TmuxControl } from "../services/TmuxControl.js"
import { type PaneId, SessionId, TmuxName } from "../src/domain/Session.js"

const MIN = Duration.millis(50)
const MAX = Duration.seconds(30)
const DEFAULT = Duration.seconds(1)

/**
 * The test's end of the control channel: what it offers on `events` the poller reads from
 * `subscribe`; `output` tells the poller's output listeners of a pane's write.
 */
class ControlFeed extends Context.Tag("test/ControlFeed")<ControlFeed, {
  readonly events: Queue.Queue<ControlEvent>
  readonly output: (paneId: PaneId) => void
}>() {}

const testControl = Layer.effectContext(Effect.gen(function*() {
  const events = yield* Queue.unbounded<ControlEvent>()
  const listeners = new Set<PaneOutputListener>()
  const feed = {
    events,
    output: (paneId: PaneId) => listeners.forEach((listener) => listener(paneId, { data: "x", hasEscape: false }))
  }
  const control = TmuxControl.of({
    run: () => Effect.dieMessage("TmuxControl.run is not used by the poller"),
    runList: () => Effect.dieMessage("TmuxControl.runList is not used by the poller"),
    subscribe: Effect.succeed(events),
    onOutput: (listener) =>
      Effect.acquireRelease(
        Effect.sync(() => void listeners.add(listener)),
        () => Effect.sync(() => void listeners.delete(listener))
      ),
    isConnected: Effect.succeed(true),
    isResponsive: () => Effect.succeed(true),
    watchWindowOf: () => Effect.dieMessage("TmuxControl.watchWindowOf is not used by the poller"),
    clientPid: Effect.succeed(Option.none())
  })
  return Context.make(TmuxControl, control).pipe(Context.add(ControlFeed, feed))
}))

const dependencies = () =>
  Layer.mergeAll(
    FakeTerminalBridge.layer,
    MemoryOutputLog.layer,
    testControl,
    ConfigLive.layerFromRecord({
      TELEMUX_COMPUTER: "local",
      TELEMUX_HOME: "/nonexistent/telemux",
      TELEMUX_POLL_INTERVAL_MIN: "50 millis",
      TELEMUX_POLL_INTERVAL_MAX: "30 seconds",
      TELEMUX_POLL_INTERVAL: "1 second"
    })
  )

/** The poller without jitter (exact backoff times), its state sizes, and the doubles around it. */
const harness = Effect.gen(function*() {
  const { poller, stateSizes } = yield* OutputPollerLive.make({ jitter: false })
  const fake = yield* FakeTerminal
  const bridge = yield* TerminalBridge
  const log = yield* OutputLog
  const feed = yield* ControlFeed
  const events = yield* PubSub.subscribe(log.events)
  let panes = 0
  const newPane = () => fake.adopt(TmuxName.make(`tmx_${(panes++).toString(16).padStart(8, "0")}`), "/tmp")
  return {
    poller,
    stateSizes,
    fake,
    log,
    newPane,
    signal: (paneId: PaneId) => Effect.sync(() => feed.output(paneId)),
    send: (event: ControlEvent) => Queue.offer(feed.events, event),
    type: (paneId: PaneId, text: string) => bridge.paste(paneId, text),
    /** Times of capture attempts on the pane, failed ones included. */
    attempts: (paneId: PaneId) => fake.captureAttempts().filter((a) => a.pane === paneId),
    drainEvents: Effect.map(Queue.takeAll(events), (chunk): ReadonlyArray<OutputEvent> => Array.from(chunk))
  }
})

const sessionId = (n: number) => SessionId.make(`00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`)
const A = sessionId(0xa)
const B = sessionId(0xb)

/** Lets every runnable fiber (router, session loops) run to its next wait. */
const settle = Effect.yieldNow().pipe(Effect.repeatN(30))
const now = TestClock.currentTimeMillis

/** A harness and a pane of session A, watched and then quiet for a second (its first snapshot taken). */
const watchedQuiet = Effect.gen(function*() {
  const h = yield* harness
  const pane = h.newPane()
  yield* h.poller.watch(A, pane)
  yield* settle
  yield* TestClock.adjust(Duration.seconds(1))
  return { h, pane }
})
const tags = (events: ReadonlyArray<OutputEvent>, tag: OutputEvent["_tag"]) => events.filter((e) => e._tag === tag)

describe("OutputPoller", () => {
  it.scoped("watch appends the initial snapshot once; watching again is a no-op", () =>
    Effect.gen(function*() {
      const poller = yield* OutputPoller
      const fake = yield* FakeTerminal
      const log = yield* OutputLog
      const pane = fake.adopt(TmuxName.make("tmx_0000000a"), "/tmp")
      yield* poller.watch(A, pane)
      yield* settle
      yield* poller.watch(A, pane)
      yield* settle
      assert.strictEqual(yield* poller.watching, 1)
      assert.strictEqual(fake.captureAttempts().length, 1)
      const latest = Option.getOrThrow(yield* log.latest(A))
      assert.strictEqual(latest.screen, "$ ")
      assert.strictEqual(latest.sessionId, A)
    }).pipe(Effect.provide(OutputPollerLive.layer.pipe(Layer.provideMerge(dependencies())))))

  it.scoped("leading edge: a signal after a quiet spell is captured at once", () =>
    Effect.gen(function*() {
      const { h, pane } = yield* watchedQuiet
      yield* h.type(pane, "hello")
      yield* h.signal(pane)
      yield* settle
      assert.deepStrictEqual(h.attempts(pane).map((a) => a.at), [0, 1000])
      assert.strictEqual(Option.getOrThrow(yield* h.log.latest(A)).screen, "$ hello")
    }).pipe(Effect.provide(dependencies())))

  it.scoped("a command's echo, its output and the prompt after it, a few ms apart, are each captured at once", () =>
    Effect.gen(function*() {
      const { h, pane } = yield* watchedQuiet
      const before = h.attempts(pane).length
      for (const part of ["echo $((6*7))", " 42", " $ "]) {
        yield* h.type(pane, part)
        yield* h.signal(pane)
        yield* settle
        yield* TestClock.adjust(Duration.millis(2))
      }
      // all three at once: the output did not wait out the min interval behind the echo's capture
      assert.deepStrictEqual(h.attempts(pane).slice(before).map((a) => a.at), [1000, 1002, 1004])
      assert.isTrue(Option.getOrThrow(yield* h.log.latest(A)).screen.endsWith("echo $((6*7)) 42 $ "))
      // the burst spent, the next signal waits for the rate: min after the first of the three
      yield* h.type(pane, "x")
      yield* h.signal(pane)
      yield* settle
      assert.strictEqual(h.attempts(pane).length - before, 3)
      yield* TestClock.adjust(Duration.millis(1050 - (yield* now)))
      assert.deepStrictEqual(h.attempts(pane).slice(before).map((a) => a.at), [1000, 1002, 1004, 1050])
    }).pipe(Effect.provide(dependencies())))

  it.scoped("coalescing: 100 signals within one min interval cost a burst of captures and one trailing capture", () =>
    Effect.gen(function*() {
      const { h, pane } = yield* watchedQuiet
      const before = h.attempts(pane).length
      for (let i = 0; i < 100; i++) {
        yield* h.type(pane, ` ${i}`)
        yield* h.signal(pane)
        yield* settle
        if (i % 10 === 9) yield* TestClock.adjust(Duration.millis(4))
      }
      assert.strictEqual(yield* now, 1040)
      assert.strictEqual(h.attempts(pane).length - before, OutputPollerLive.CAPTURE_BURST)
      yield* TestClock.adjust(Duration.millis(10))
      assert.deepStrictEqual(
        h.attempts(pane).slice(before).map((a) => a.at),
        [...Array.from({ length: OutputPollerLive.CAPTURE_BURST }, () => 1000), 1050]
      )
      yield* TestClock.adjust(Duration.seconds(5))
      assert.strictEqual(h.attempts(pane).length - before, OutputPollerLive.CAPTURE_BURST + 1)
      const screen = h.fake.panes().find((p) => p.paneId === pane)!.screen
      assert.isTrue(screen.endsWith(" 98 99"))
      assert.strictEqual(Option.getOrThrow(yield* h.log.latest(A)).screen, screen)
      // the first snapshot, one per capture of the burst, the trailing one
      assert.strictEqual(tags(yield* h.drainEvents, "OutputChanged").length, OutputPollerLive.CAPTURE_BURST + 2)
    }).pipe(Effect.provide(dependencies())))

  it.scoped("idle costs nothing; the safety-net sweep at max captures only panes tmux saw output in", () =>
    Effect.gen(function*() {
      const h = yield* harness
      // the sweep runs every MAX from the poller's start (0); the panes' last output is older than their first capture
      yield* TestClock.adjust(Duration.seconds(2))
      const pane = h.newPane()
      const quiet = h.newPane()
      const signalled = h.newPane()
      yield* h.poller.watch(A, pane)
      yield* h.poller.watch(B, quiet)
      yield* h.poller.watch(sessionId(0xc), signalled)
      yield* settle
      const initial = Option.getOrThrow(yield* h.log.latest(A))
      const lists = () => h.fake.calls().filter((c) => c.op === "list").length

      // output whose signal is lost: nothing is captured until the sweep
      yield* TestClock.adjust(Duration.seconds(5))
      yield* h.type(pane, "missed")
      // output that was signalled is captured at once, and the sweep leaves it alone
      yield* h.type(signalled, "seen")
      yield* h.signal(signalled)
      yield* settle
      yield* TestClock.adjust(Duration.millis(22_999))
      assert.deepStrictEqual([h.attempts(pane).length, h.attempts(quiet).length, lists()], [1, 1, 0])

      yield* TestClock.adjust(Duration.millis(1))
      yield* settle
      assert.strictEqual(lists(), 1)
      assert.deepStrictEqual(h.attempts(pane).map((a) => a.at), [2000, 30_000])
      assert.deepStrictEqual(h.attempts(quiet).map((a) => a.at), [2000])
      assert.deepStrictEqual(h.attempts(signalled).map((a) => a.at), [2000, 7000])
      assert.strictEqual(Option.getOrThrow(yield* h.log.latest(A)).screen, "$ missed")

      // nothing new: the next sweep is one listing and no capture
      yield* TestClock.adjust(MAX)
      yield* settle
      assert.strictEqual(lists(), 2)
      assert.deepStrictEqual([h.attempts(pane).length, h.attempts(quiet).length], [2, 1])
      const events = tags(yield* h.drainEvents, "OutputChanged")
      assert.deepStrictEqual(events.map((e) => e.sessionId), [A, B, sessionId(0xc), sessionId(0xc), A])
      assert.strictEqual(Option.getOrThrow(yield* h.log.latest(A)).seq, initial.seq + 1)
    }).pipe(Effect.provide(dependencies())))

  it.scoped("only a changed screen is appended", () =>
    Effect.gen(function*() {
      const h = yield* harness
      const pane = h.newPane()
      yield* h.poller.watch(A, pane)
      yield* settle
      for (const text of ["", "", "x", "", "y"]) {
        yield* TestClock.adjust(Duration.seconds(1))
        if (text !== "") yield* h.type(pane, text)
        yield* h.signal(pane)
        yield* settle
      }
      assert.strictEqual(h.attempts(pane).length, 6)
      const screens = tags(yield* h.drainEvents, "OutputChanged").map((e) => e._tag === "OutputChanged" ? e.screen : "")
      assert.deepStrictEqual(screens, ["$ ", "$ x", "$ xy"])
    }).pipe(Effect.provide(dependencies())))

  it.scoped("failed captures back off exponentially, emit nothing, and the backoff resets after a success", () =>
    Effect.gen(function*() {
      const h = yield* harness
      const pane = h.newPane()
      yield* h.poller.watch(A, pane)
      yield* settle
      const initial = Option.getOrThrow(yield* h.log.latest(A))
      yield* TestClock.adjust(Duration.seconds(1))
      h.fake.setHung(true)
      yield* h.type(pane, "lost?").pipe(Effect.ignore)
      yield* h.signal(pane)
      yield* settle
      yield* TestClock.adjust(Duration.millis(750))
      const failed = h.attempts(pane).slice(1)
      assert.deepStrictEqual(failed.map((a) => a.at), [1000, 1050, 1150, 1350, 1750])
      assert.isTrue(failed.every((a) => a.outcome === "TmuxTimeout"))
      // signals during the backoff do not bring the next attempt forward
      yield* h.signal(pane)
      yield* settle
      assert.strictEqual(h.attempts(pane).length, 6)
      assert.strictEqual(Option.getOrThrow(yield* h.log.latest(A)).seq, initial.seq)

      h.fake.setHung(false)
      yield* h.type(pane, "back")
      yield* TestClock.adjust(Duration.millis(800))
      const recovered = h.attempts(pane).at(-1)!
      assert.deepStrictEqual([recovered.at, recovered.outcome], [2550, "ok"])
      assert.strictEqual(Option.getOrThrow(yield* h.log.latest(A)).screen, "$ back")

      yield* TestClock.adjust(Duration.millis(2450))
      h.fake.setHung(true)
      yield* h.signal(pane)
      yield* settle
      yield* TestClock.adjust(Duration.millis(49))
      assert.deepStrictEqual(h.attempts(pane).slice(7).map((a) => a.at), [5000])
      yield* TestClock.adjust(Duration.millis(1))
      assert.deepStrictEqual(h.attempts(pane).slice(7).map((a) => a.at), [5000, 5050])
    }).pipe(Effect.provide(dependencies())))

  it.scoped("the backoff is capped at max", () =>
    Effect.gen(function*() {
      const h = yield* harness
      const pane = h.newPane()
      h.fake.setHung(true)
      yield* h.poller.watch(A, pane)
      yield* settle
      yield* TestClock.adjust(Duration.minutes(5))
      const times = h.attempts(pane).map((a) => a.at)
      const gaps = times.slice(1).map((t, i) => t - times[i]!)
      assert.deepStrictEqual(gaps.slice(0, 11), [50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000])
      assert.isTrue(gaps.slice(10).every((gap) => gap === 30_000))
      assert.isTrue(Option.isNone(yield* h.log.latest(A)))
    }).pipe(Effect.provide(dependencies())))

  it.scoped("one dead signal is only a probe: a live listing takes it back, a dead one confirms it", () =>
    Effect.gen(function*() {
      const { h, pane } = yield* watchedQuiet
      yield* h.send({ _tag: "PaneChanged", paneId: pane, field: "dead", value: "1" })
      yield* settle
      assert.strictEqual(h.attempts(pane).length, 2)
      assert.isTrue(h.fake.calls().some((c) => c.op === "list"))
      assert.lengthOf(tags(yield* h.drainEvents, "ProcessExited"), 0)

      yield* TestClock.adjust(Duration.seconds(1))
      h.fake.markDead(pane)
      yield* h.send({ _tag: "PaneChanged", paneId: pane, field: "dead", value: "1" })
      yield* settle
      assert.deepStrictEqual(tags(yield* h.drainEvents, "ProcessExited"), [{ _tag: "ProcessExited", sessionId: A }])
      // nothing left to watch on an exited pane
      yield* TestClock.adjust(Duration.seconds(1))
      yield* h.signal(pane)
      yield* TestClock.adjust(MAX)
      assert.strictEqual(h.attempts(pane).length, 3)
      assert.lengthOf(tags(yield* h.drainEvents, "ProcessExited"), 0)
    }).pipe(Effect.provide(dependencies())))

  it.scoped("a vanished pane is exited only after a second not-found look", () =>
    Effect.gen(function*() {
      const { h, pane } = yield* watchedQuiet
      h.fake.vanish(TmuxName.make("tmx_00000000"))
      yield* h.signal(pane)
      yield* settle
      assert.strictEqual(h.attempts(pane).at(-1)?.outcome, "TmuxSessionNotFound")
      assert.lengthOf(tags(yield* h.drainEvents, "ProcessExited"), 0)
      yield* TestClock.adjust(MIN)
      assert.deepStrictEqual(h.attempts(pane).slice(1).map((a) => a.outcome), [
        "TmuxSessionNotFound",
        "TmuxSessionNotFound"
      ])
      assert.deepStrictEqual(tags(yield* h.drainEvents, "ProcessExited"), [{ _tag: "ProcessExited", sessionId: A }])
    }).pipe(Effect.provide(dependencies())))

  it.scoped("panes due together are captured in one list; after a refusal the panes it skipped are captured at once", () =>
    Effect.gen(function*() {
      // the harness's pieces around a poller of our own (two pollers would share the test's one feed)
      const bridge = yield* TerminalBridge
      const fake = yield* FakeTerminal
      const log = yield* OutputLog
      const feed = yield* ControlFeed
      let count = 0
      const h = {
        fake,
        log,
        newPane: () => fake.adopt(TmuxName.make(`tmx_${(count++).toString(16).padStart(8, "0")}`), "/tmp"),
        type: (paneId: PaneId, text: string) => bridge.paste(paneId, text),
        attempts: (paneId: PaneId) => fake.captureAttempts().filter((a) => a.pane === paneId)
      }
      const lists: Array<ReadonlyArray<PaneId>> = []
      const seen = TerminalBridge.of({
        ...bridge,
        captureEach: (panes, lines) =>
          Effect.zipRight(Effect.sync(() => lists.push(panes)), bridge.captureEach(panes, lines))
      })
      const { poller } = yield* OutputPollerLive.make({ jitter: false }).pipe(
        Effect.provideService(TerminalBridge, seen)
      )
      const panes = [h.newPane(), h.newPane(), h.newPane()]
      yield* Effect.forEach(panes, (pane, i) => poller.watch(sessionId(i + 1), pane))
      yield* settle
      assert.deepStrictEqual(lists, [panes], "the three first captures in one list")

      yield* TestClock.adjust(Duration.seconds(1))
      for (const pane of panes) yield* h.type(pane, "x")
      h.fake.vanish(TmuxName.make("tmx_00000001"))
      // every pane due at once (a reconnect marks them all in one go)
      yield* Queue.offer(feed.events, { _tag: "Connected" })
      yield* settle
      // tmux stops a list at the refused capture: the third pane goes in the next list, at once
      assert.deepStrictEqual(lists.slice(1), [panes, [panes[2]]])
      assert.deepStrictEqual(h.attempts(panes[2]!).map((a) => [a.at, a.outcome]), [[0, "ok"], [1000, "ok"]])
      assert.strictEqual(Option.getOrThrow(yield* h.log.latest(sessionId(3))).screen, "$ x")
      assert.strictEqual(h.attempts(panes[1]!).at(-1)?.outcome, "TmuxSessionNotFound")
    }).pipe(Effect.provide(dependencies())))

  it.scoped("under load batches go CAPTURE_BATCH_GAP apart; a light load, a quiet pane and a full batch of due panes go at once", () =>
    Effect.gen(function*() {
      const h = yield* harness
      const { CAPTURE_BATCH_FULL, CAPTURE_BATCH_GAP, CAPTURE_BATCH_LOADED } = OutputPollerLive
      const loaded = CAPTURE_BATCH_LOADED
      const panes = Array.from({ length: 2 * loaded + 3 + CAPTURE_BATCH_FULL + 1 }, () => h.newPane())
      yield* Effect.forEach(panes, (pane, i) => h.poller.watch(sessionId(i + 1), pane))
      yield* settle
      const touch = (some: ReadonlyArray<PaneId>) =>
        Effect.zipRight(
          Effect.forEach(some, (pane) => Effect.zipRight(h.type(pane, "x"), h.signal(pane)), { discard: true }),
          settle
        )
      /** The panes captured at `at` (ms). */
      const capturedAt = (at: number) => h.fake.captureAttempts().filter((a) => a.at === at).map((a) => a.pane)
      const gap = Duration.toMillis(CAPTURE_BATCH_GAP)
      const first = panes.slice(0, loaded)
      const waiting = panes.slice(loaded, loaded + 2)
      const light = panes[loaded + 2]!
      const second = panes.slice(loaded + 3, 2 * loaded + 3)
      const full = panes.slice(2 * loaded + 3, 2 * loaded + 3 + CAPTURE_BATCH_FULL)
      const quiet = panes.at(-1)!

      // quiet panes go at once, together
      yield* TestClock.adjust(Duration.seconds(2))
      yield* touch(panes.slice(0, -1))
      assert.strictEqual(capturedAt(2000).length, panes.length - 1)
      // a loaded batch, the last batch long gone: at once
      yield* TestClock.adjust(Duration.millis(60))
      yield* touch(first)
      assert.sameMembers(capturedAt(2060), first)
      // 5 ms after a loaded batch, busy panes wait for the gap's end, then go in one list
      yield* TestClock.adjust(Duration.millis(5))
      yield* touch(waiting)
      assert.deepStrictEqual(capturedAt(2065), [])
      yield* TestClock.adjust(Duration.millis(gap - 5 - 1))
      yield* settle
      assert.deepStrictEqual(capturedAt(2060 + gap - 1), [])
      yield* TestClock.adjust(Duration.millis(1))
      yield* settle
      assert.sameMembers(capturedAt(2060 + gap), waiting)
      // that batch was light: the next pane due goes at once, 2 ms after it
      let now = 2060 + gap + 2
      yield* TestClock.adjust(Duration.millis(2))
      yield* touch([light])
      assert.deepStrictEqual(capturedAt(now), [light])
      // loaded again (at once: the batch before was light)…
      now += 2
      yield* TestClock.adjust(Duration.millis(2))
      yield* touch(second)
      assert.sameMembers(capturedAt(now), second)
      // …and within its gap a full batch of due panes goes at once
      now += 1
      yield* TestClock.adjust(Duration.millis(1))
      yield* touch(full)
      assert.sameMembers(capturedAt(now), full)
      // and so does a pane quiet for QUIET_PANE (its last capture at 0), 1 ms after that batch
      now += 1
      yield* TestClock.adjust(Duration.millis(1))
      yield* touch([quiet])
      assert.deepStrictEqual(capturedAt(now), [quiet])
    }).pipe(Effect.provide(dependencies())))

  it.scoped("two capture lists out at once, the next once the first is recorded; a pane out is in no other list", () =>
    Effect.gen(function*() {
      const bridge = yield* TerminalBridge
      const fake = yield* FakeTerminal
      const feed = yield* ControlFeed
      const log = yield* OutputLog
      let count = 0
      const newPane = () => fake.adopt(TmuxName.make(`tmx_${(count++).toString(16).padStart(8, "0")}`), "/tmp")
      const lists: Array<{ readonly panes: ReadonlyArray<PaneId>; readonly answer: Deferred.Deferred<void> }> = []
      const held = TerminalBridge.of({
        ...bridge,
        captureEach: (panes, lines) =>
          Effect.gen(function*() {
            const answer = yield* Deferred.make<void>()
            lists.push({ panes, answer })
            yield* Deferred.await(answer)
            return yield* bridge.captureEach(panes, lines)
          })
      })
      const { poller } = yield* OutputPollerLive.make({ jitter: false }).pipe(
        Effect.provideService(TerminalBridge, held)
      )
      const panes = Array.from({ length: OutputPollerLive.CAPTURE_BATCH_MAX * 3 }, newPane)
      yield* Effect.forEach(panes, (pane, i) => poller.watch(sessionId(i + 1), pane))
      yield* settle
      assert.strictEqual(lists.length, OutputPollerLive.CAPTURE_BATCHES_IN_FLIGHT, "two lists out, the third waits")
      // a pane whose capture is out gets a signal: it waits for that capture, in no other list
      const first = lists[0]!.panes[0]!
      feed.output(first)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* settle
      assert.strictEqual(lists.length, 2)
      yield* Deferred.succeed(lists[0]!.answer, undefined)
      yield* settle
      assert.strictEqual(lists.length, 3, "the first recorded, the third goes out")
      assert.isTrue(Option.isSome(yield* log.latest(sessionId(1))), "the first list's screens are recorded")
      const third = lists[2]!.panes
      assert.deepStrictEqual(new Set(third), new Set(panes.slice(2 * OutputPollerLive.CAPTURE_BATCH_MAX)))
      for (const list of lists.slice(1)) yield* Deferred.succeed(list.answer, undefined)
      yield* settle
      // then the signalled pane, captured again on its own
      assert.deepStrictEqual(lists[3]?.panes, [first])
      // signalled again while that capture is out, with a list free: it waits for the capture out
      feed.output(first)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* settle
      assert.strictEqual(lists.length, 4, "no second capture of a pane whose capture is out")
      yield* Deferred.succeed(lists[3]!.answer, undefined)
      yield* settle
      assert.deepStrictEqual(lists[4]?.panes, [first])
    }).pipe(Effect.provide(dependencies())))

  it.scoped("closing the poller while a capture list is out logs no failure (the daemon's shutdown under load)", () => {
    const logged: Array<unknown> = []
    return Effect.gen(function*() {
      const bridge = yield* TerminalBridge
      const fake = yield* FakeTerminal
      const feed = yield* ControlFeed
      let lists = 0
      const held = TerminalBridge.of({
        ...bridge,
        captureEach: () => Effect.zipRight(Effect.sync(() => lists++), Effect.never)
      })
      const scope = yield* Scope.make()
      const { poller } = yield* OutputPollerLive.make({ jitter: false }).pipe(
        Effect.provideService(TerminalBridge, held),
        Scope.extend(scope)
      )
      const pane = fake.adopt(TmuxName.make("tmx_0000000a"), "/tmp")
      yield* poller.watch(A, pane)
      feed.output(pane)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* settle
      assert.isAtLeast(lists, 1, "a list is out")
      yield* Scope.close(scope, Exit.void)
      yield* settle
      assert.deepStrictEqual(logged, [])
    }).pipe(
      Effect.provide(dependencies()),
      Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void logged.push(message))))
    )
  })

  it.scoped("a dead signal plus a not-found capture confirm; timeouts never do", () =>
    Effect.gen(function*() {
      const h = yield* harness
      const gone = h.newPane()
      const hung = h.newPane()
      yield* h.poller.watch(A, gone)
      yield* h.poller.watch(B, hung)
      yield* settle
      yield* TestClock.adjust(Duration.seconds(1))

      h.fake.vanish(TmuxName.make("tmx_00000000"))
      yield* h.send({ _tag: "PaneChanged", paneId: gone, field: "dead", value: "1" })
      yield* settle
      assert.deepStrictEqual(tags(yield* h.drainEvents, "ProcessExited"), [{ _tag: "ProcessExited", sessionId: A }])

      h.fake.vanish(TmuxName.make("tmx_00000001"))
      h.fake.setHung(true)
      yield* h.send({ _tag: "PaneChanged", paneId: hung, field: "dead", value: "1" })
      for (let i = 0; i < 10; i++) {
        yield* h.signal(hung)
        yield* TestClock.adjust(Duration.minutes(1))
      }
      const attempts = h.attempts(hung).slice(1)
      assert.isAbove(attempts.length, 10)
      assert.isTrue(attempts.every((a) => a.outcome === "TmuxTimeout"))
      assert.lengthOf(tags(yield* h.drainEvents, "ProcessExited"), 0)
    }).pipe(Effect.provide(dependencies())))

  it.scoped("command and directory changes are published once per new value, only for watched panes", () =>
    Effect.gen(function*() {
      const h = yield* harness
      const pane = h.newPane()
      const stranger = h.newPane()
      yield* h.poller.watch(A, pane)
      yield* settle
      yield* h.drainEvents
      const change = (paneId: PaneId, field: "command" | "path", value: string) =>
        h.send({ _tag: "PaneChanged", paneId, field, value })
      yield* change(pane, "command", "bash")
      yield* change(pane, "command", "vim")
      yield* change(pane, "command", "vim")
      yield* change(pane, "path", "/a")
      yield* change(pane, "path", "/a")
      yield* change(pane, "command", "bash")
      yield* change(pane, "path", "/b")
      yield* change(stranger, "command", "top")
      yield* settle
      assert.deepStrictEqual(yield* h.drainEvents, [
        { _tag: "CommandChanged", sessionId: A, command: "bash" },
        { _tag: "CommandChanged", sessionId: A, command: "vim" },
        { _tag: "DirectoryChanged", sessionId: A, path: "/a" },
        { _tag: "CommandChanged", sessionId: A, command: "bash" },
        { _tag: "DirectoryChanged", sessionId: A, path: "/b" }
      ])
    }).pipe(Effect.provide(dependencies())))

  it.scoped("unwatch frees the session's state and history, and stops its captures", () =>
    Effect.gen(function*() {
      const h = yield* harness
      const a = h.newPane()
      const b = h.newPane()
      yield* h.poller.watch(A, a)
      yield* h.poller.watch(B, b)
      yield* settle
      yield* h.poller.unwatch(A)
      assert.strictEqual(yield* h.poller.watching, 1)
      assert.deepInclude(yield* h.stateSizes, { sessions: 1, panes: 1 })
      assert.isAtMost((yield* h.stateSizes).pending, 1)
      assert.strictEqual(yield* h.log.size, 1)
      assert.isTrue(Option.isNone(yield* h.log.latest(A)))
      yield* TestClock.adjust(Duration.seconds(1))
      yield* h.type(a, "a")
      yield* h.type(b, "b")
      yield* h.signal(a)
      yield* h.signal(b)
      yield* TestClock.adjust(MAX)
      assert.strictEqual(h.attempts(a).length, 1)
      assert.strictEqual(Option.getOrThrow(yield* h.log.latest(B)).screen, "$ b")
      yield* h.poller.unwatch(B)
      yield* h.poller.unwatch(B)
      assert.deepStrictEqual(yield* h.stateSizes, { sessions: 0, panes: 0, pending: 0 })
      assert.strictEqual(yield* h.log.size, 0)
    }).pipe(Effect.provide(dependencies())))

  it.scoped("watching and unwatching 1000 sessions leaves every map empty", () =>
    Effect.gen(function*() {
      const h = yield* harness
      const watched = Array.from({ length: 1000 }, (_, i) => ({ id: sessionId(i + 1), pane: h.newPane() }))
      for (const { id, pane } of watched) yield* h.poller.watch(id, pane)
      yield* settle
      for (const { pane } of watched) {
        yield* h.send({ _tag: "PaneChanged", paneId: pane, field: "command", value: "vim" })
      }
      yield* settle
      assert.strictEqual(yield* h.poller.watching, 1000)
      assert.deepInclude(yield* h.stateSizes, { sessions: 1000, panes: 1000 })
      assert.isAtMost((yield* h.stateSizes).pending, 1000)
      assert.strictEqual(yield* h.log.size, 1000)
      for (const { id } of watched) yield* h.poller.unwatch(id)
      assert.strictEqual(yield* h.poller.watching, 0)
      assert.deepStrictEqual(yield* h.stateSizes, { sessions: 0, panes: 0, pending: 0 })
      assert.strictEqual(yield* h.log.size, 0)
      const captured = h.fake.captureAttempts().length
      for (const { pane } of watched.slice(0, 10)) yield* h.signal(pane)
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual(h.fake.captureAttempts().length, captured)
    }).pipe(Effect.provide(dependencies())))

  it.scoped("Connected marks every watched session dirty", () =>
    Effect.gen(function*() {
      const h = yield* harness
      const panes = [h.newPane(), h.newPane(), h.newPane()]
      for (const [i, pane] of panes.entries()) yield* h.poller.watch(sessionId(i + 1), pane)
      yield* settle
      yield* TestClock.adjust(Duration.seconds(1))
      for (const pane of panes) yield* h.type(pane, "missed")
      yield* h.send({ _tag: "Connected" })
      yield* settle
      for (const [i, pane] of panes.entries()) {
        assert.deepStrictEqual(h.attempts(pane).map((a) => a.at), [0, 1000])
        assert.strictEqual(Option.getOrThrow(yield* h.log.latest(sessionId(i + 1))).screen, "$ missed")
      }
    }).pipe(Effect.provide(dependencies())))

  it.scoped("while the control channel is down, idle panes are polled at the default interval", () =>
    Effect.gen(function*() {
      const h = yield* harness
      const pane = h.newPane()
      yield* h.poller.watch(A, pane)
      yield* settle
      yield* TestClock.adjust(Duration.seconds(5))
      yield* h.send({ _tag: "Disconnected", reason: "test" })
      yield* settle
      yield* TestClock.adjust(Duration.subtract(DEFAULT, Duration.millis(1)))
      assert.deepStrictEqual(h.attempts(pane).map((a) => a.at), [0, 5000])
      yield* TestClock.adjust(Duration.millis(1))
      yield* TestClock.adjust(DEFAULT)
      assert.deepStrictEqual(h.attempts(pane).map((a) => a.at), [0, 5000, 6000, 7000])
      yield* h.send({ _tag: "Connected" })
      yield* settle
      yield* TestClock.adjust(Duration.seconds(29))
      // one capture for the reconnect (at once: polls a second apart spent none of the burst), then quiet until max
      assert.deepStrictEqual(h.attempts(pane).map((a) => a.at), [0, 5000, 6000, 7000, 7000])
    }).pipe(Effect.provide(dependencies())))
})
