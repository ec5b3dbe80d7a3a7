import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Queue } from "effect"
import { consume, consumeBursts } from "../src/concurrency/Workers.js"

/** Lets every runnable fiber run to its next wait. */
const settle = Effect.yieldNow().pipe(Effect.repeatN(20))

describe("consumeBursts", () => {
  it.effect("takes a burst at once and handles it in order; a failing item is logged and the next handled", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.sliding<number>(16)
      const handled: Array<number> = []
      const gate = yield* Deferred.make<void>()
      const worker = yield* Effect.fork(consumeBursts("test-bursts", queue, (n) =>
        Effect.gen(function*() {
          if (n === 1) yield* Deferred.await(gate)
          if (n === 3) return yield* Effect.fail("three failed")
          handled.push(n)
        })))
      yield* Queue.offerAll(queue, [1, 2, 3, 4, 5])
      yield* settle
      // item 1 holds the worker: the rest of its burst is out of the queue already, waiting in order
      assert.strictEqual(yield* Queue.size(queue), 0)
      assert.deepStrictEqual(handled, [])
      yield* Deferred.succeed(gate, undefined)
      yield* settle
      assert.deepStrictEqual(handled, [1, 2, 4, 5])
      // the worker goes on after the failure
      yield* Queue.offer(queue, 6)
      yield* settle
      assert.deepStrictEqual(handled, [1, 2, 4, 5, 6])
      yield* Fiber.interrupt(worker)
    }))

  it.effect("consume, for queues that push back, takes one item at a time", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.bounded<number>(16)
      const gate = yield* Deferred.make<void>()
      const worker = yield* Effect.fork(consume("test-one", queue, () => Deferred.await(gate)))
      yield* Queue.offerAll(queue, [1, 2, 3])
      yield* settle
      assert.strictEqual(yield* Queue.size(queue), 2, "the two behind the held one still count against the bound")
      yield* Fiber.interrupt(worker)
    }))
})
