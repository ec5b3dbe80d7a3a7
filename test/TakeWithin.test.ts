import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Queue, TestClock } from "effect"
import { takeWithin } from "../src/concurrency/Workers.js"

/** Lets every runnable fiber run to its next wait. */
const settle = Effect.yieldNow().pipe(Effect.repeatN(20))

describe("takeWithin", () => {
  it.effect("a wake-up already queued is taken at once, with no time passing", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.sliding<void>(1)
      yield* Queue.offer(queue, undefined)
      const waiter = yield* Effect.fork(takeWithin(queue, Duration.seconds(10)))
      yield* settle
      assert.isTrue((yield* Fiber.poll(waiter))._tag === "Some", "returned without the clock moving")
      assert.strictEqual(yield* Queue.size(queue), 0, "the wake-up was taken")
    }))

  it.effect("without a wake-up it returns once the time is up, not before", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.sliding<void>(1)
      const waiter = yield* Effect.fork(takeWithin(queue, Duration.millis(50)))
      yield* settle
      yield* TestClock.adjust(Duration.millis(49))
      yield* settle
      assert.isTrue((yield* Fiber.poll(waiter))._tag === "None", "still waiting at 49 ms")
      yield* TestClock.adjust(Duration.millis(1))
      yield* Fiber.join(waiter)
    }))

  it.effect("a wake-up before the time ends the wait, and the sleeper is gone: no late wake-up", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.sliding<void>(1)
      const waiter = yield* Effect.fork(takeWithin(queue, Duration.millis(50)))
      yield* settle
      yield* Queue.offer(queue, undefined)
      yield* Fiber.join(waiter)
      yield* settle
      yield* TestClock.adjust(Duration.seconds(1))
      yield* settle
      assert.strictEqual(yield* Queue.size(queue), 0, "nothing woke the queue after the wait")
    }))

  it.effect("no time, or an infinite one, is a look or a plain take", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.sliding<void>(1)
      yield* takeWithin(queue, Duration.zero)
      const forever = yield* Effect.fork(takeWithin(queue, Duration.infinity))
      yield* settle
      yield* TestClock.adjust(Duration.days(1))
      yield* settle
      assert.isTrue((yield* Fiber.poll(forever))._tag === "None", "an infinite wait waits for a wake-up")
      yield* Queue.offer(queue, undefined)
      yield* Fiber.join(forever)
    }))

  it.effect("interrupted while it waits, it leaves no sleeper to wake the queue later", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.sliding<void>(1)
      const waiter = yield* Effect.fork(takeWithin(queue, Duration.millis(50)))
      yield* settle
      yield* Fiber.interrupt(waiter)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* settle
      assert.strictEqual(yield* Queue.size(queue), 0)
    }))
})
