/**
 * The CLI's and TUI's reconnect loop (keepConnected) on TestClock: only the connect step is
 * retried, on a fresh backoff per outage — a long outage stays at the cap, the next one starts
 * from the minimum again.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Data, Duration, Effect, Fiber, Option, Ref, TestClock } from "effect"
import { keepConnected, RECONNECT_DELAY_MAX, RECONNECT_DELAY_MIN } from "../src/cli/StreamConnection.js"

class Refused extends Data.TaggedError("Refused")<{ readonly fatal: boolean }> {}

const MIN = Duration.toMillis(RECONNECT_DELAY_MIN)
const MAX = Duration.toMillis(RECONNECT_DELAY_MAX)
/** Longer than the 10 s after which `Schedule.resetAfter` started the backoff over. */
const LONG_OUTAGE = 60_000
const SHORT_LINK = 1_000
const SECOND_OUTAGE = 3_000

/** Delays between consecutive attempts. */
const gaps = (times: ReadonlyArray<number>) => times.slice(1).map((t, i) => Math.round(t - times[i]!))

/**
 * A daemon down for LONG_OUTAGE, then up for SHORT_LINK, then down for SECOND_OUTAGE, then up
 * until the served connection finishes. Returns the time of every connect attempt, per outage.
 */
const script = Effect.gen(function*() {
  const failUntil = yield* Ref.make(LONG_OUTAGE)
  const links = yield* Ref.make(0)
  const attempts = yield* Ref.make<ReadonlyArray<{ readonly at: number; readonly link: number }>>([])
  const lost = yield* Ref.make<ReadonlyArray<string>>([])
  const endedAt = yield* Ref.make(0)

  const loop = keepConnected({
    connect: Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const link = yield* Ref.get(links)
      yield* Ref.update(attempts, (all) => [...all, { at: now, link }])
      if (now < (yield* Ref.get(failUntil))) return yield* new Refused({ fatal: false })
      return yield* Ref.updateAndGet(links, (n) => n + 1)
    }),
    serve: (link) =>
      Effect.gen(function*() {
        if (link === 2) return Option.some("done")
        yield* Effect.sleep(SHORT_LINK)
        const now = yield* Clock.currentTimeMillis
        yield* Ref.set(endedAt, now)
        yield* Ref.set(failUntil, now + SECOND_OUTAGE)
        return Option.none()
      }),
    isFatal: (error) => error.fatal,
    onLost: (reason) => Ref.update(lost, (all) => [...all, Option.isSome(reason) ? "failed" : "ended"])
  })
  const fiber = yield* Effect.fork(loop)
  yield* Effect.yieldNow()
  yield* TestClock.adjust(Duration.millis(LONG_OUTAGE + SHORT_LINK + SECOND_OUTAGE + 4 * MAX))
  const result = yield* Fiber.join(fiber)
  const all = yield* Ref.get(attempts)
  return {
    result,
    first: all.filter((a) => a.link === 0).map((a) => a.at),
    second: all.filter((a) => a.link === 1).map((a) => a.at),
    endedAt: yield* Ref.get(endedAt),
    lost: yield* Ref.get(lost)
  }
})

describe("keepConnected", () => {
  it.effect("a long outage backs off to the cap and stays there; after a good link the next outage starts at the minimum", () =>
    Effect.gen(function*() {
      const { endedAt, first, lost, result, second } = yield* script
      assert.strictEqual(result, "done")

      // one long outage: the waits only grow (jitter included) and end at the cap, never back at the minimum
      const during = gaps(first)
      assert.isAbove(first.at(-1)!, LONG_OUTAGE - 1, "connected only once the daemon was back")
      assert.isAbove(during.length, 12)
      during.forEach((gap, i) => {
        if (i > 0) assert.isAtLeast(gap, during[i - 1]!, `wait ${i} (${gap} ms) after ${during[i - 1]} ms`)
      })
      assert.isAtMost(during[0]!, MIN * 1.2)
      assert.strictEqual(Math.max(...during), MAX)
      const atCap = during.findIndex((gap) => gap === MAX)
      assert.isBelow(first[atCap]!, 10_000, "the cap is reached early")
      assert.deepStrictEqual(
        during.slice(atCap),
        during.slice(atCap).map(() => MAX),
        "and held to the end of the outage"
      )

      // the link lasted one second (less than resetAfter's 10 s): the next outage still starts over
      assert.strictEqual(Math.round(second[0]! - endedAt), MIN, "the pause after a link ends")
      assert.isAtMost(gaps(second)[0]!, MIN * 1.2)
      assert.isBelow(gaps(second).at(-1)!, MAX)

      // each failed attempt and the ended link were reported
      assert.strictEqual(lost.filter((l) => l === "ended").length, 1)
      assert.strictEqual(lost.filter((l) => l === "failed").length, first.length - 1 + second.length - 1)
    }))

  it.effect("a fatal error ends the loop at once, from connect or from serve", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const lost = yield* Ref.make(0)
      const fromConnect = yield* keepConnected({
        connect: Effect.zipRight(Ref.update(attempts, (n) => n + 1), Effect.fail(new Refused({ fatal: true }))),
        serve: () => Effect.succeed(Option.some("never")),
        isFatal: (error: Refused) => error.fatal,
        onLost: () => Ref.update(lost, (n) => n + 1)
      }).pipe(Effect.flip)
      assert.isTrue(fromConnect.fatal)
      assert.strictEqual(yield* Ref.get(attempts), 1)

      const fromServe = yield* keepConnected({
        connect: Effect.zipRight(Ref.update(attempts, (n) => n + 1), Effect.void),
        serve: () => Effect.fail(new Refused({ fatal: true })),
        isFatal: (error: Refused) => error.fatal,
        onLost: () => Ref.update(lost, (n) => n + 1)
      }).pipe(Effect.flip)
      assert.isTrue(fromServe.fatal)
      assert.strictEqual(yield* Ref.get(attempts), 2)
      assert.strictEqual(yield* Ref.get(lost), 0, "a fatal error is not a lost link")
    }))

  it.effect("a link that breaks is reconnected after the minimum pause, with its connection's scope closed", () =>
    Effect.gen(function*() {
      const open = yield* Ref.make(0)
      const rounds = yield* Ref.make(0)
      const fiber = yield* keepConnected({
        connect: Effect.acquireRelease(Ref.updateAndGet(open, (n) => n + 1), () => Ref.update(open, (n) => n - 1)),
        serve: () =>
          Effect.gen(function*() {
            const round = yield* Ref.updateAndGet(rounds, (n) => n + 1)
            assert.strictEqual(yield* Ref.get(open), 1, "one connection open at a time")
            return round < 3 ? yield* new Refused({ fatal: false }) : Option.some(round)
          }),
        isFatal: (error) => error.fatal,
        onLost: () => Effect.void
      }).pipe(Effect.fork)
      yield* Effect.yieldNow()
      assert.strictEqual(yield* Ref.get(rounds), 1)
      yield* TestClock.adjust(Duration.millis(MIN - 1))
      assert.strictEqual(yield* Ref.get(rounds), 1, "not before the pause")
      yield* TestClock.adjust(Duration.millis(1 + MIN))
      assert.strictEqual(yield* Fiber.join(fiber), 3)
      assert.strictEqual(yield* Ref.get(open), 0)
    }))
})
