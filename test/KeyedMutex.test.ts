import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { KeyedMutex } from "../src/concurrency/KeyedMutex.js"

describe("KeyedMutex", () => {
  it.effect("serialises work on one key and runs different keys side by side", () =>
    Effect.gen(function*() {
      const mutex = new KeyedMutex<string>(16)
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const step = (key: string, name: string, wait: boolean) =>
        mutex.withLock(key)(Effect.gen(function*() {
          log.push(`${name}:start`)
          if (wait) yield* Deferred.await(gate)
          log.push(`${name}:end`)
        }))
      const a1 = yield* Effect.fork(step("a", "a1", true))
      yield* Effect.yieldNow()
      const a2 = yield* Effect.fork(step("a", "a2", false))
      yield* step("b", "b1", false)
      yield* Effect.yieldNow()
      assert.deepStrictEqual(log, ["a1:start", "b1:start", "b1:end"])
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(a1)
      yield* Fiber.join(a2)
      assert.deepStrictEqual(log.slice(3), ["a1:end", "a2:start", "a2:end"])
      assert.strictEqual(mutex.size, 0)
    }))

  it.effect("prunes every entry when work ends, including interrupted waiters", () =>
    Effect.gen(function*() {
      const mutex = new KeyedMutex<number>(20_000)
      yield* Effect.forEach(Array.from({ length: 10_000 }, (_, i) => i), (i) => mutex.withLock(i)(Effect.void), {
        concurrency: 64
      })
      assert.strictEqual(mutex.size, 0)
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(mutex.withLock(1)(Deferred.await(gate)))
      yield* Effect.yieldNow()
      const waiter = yield* Effect.fork(mutex.withLock(1)(Effect.void))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(waiter)
      assert.strictEqual(mutex.size, 1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      assert.strictEqual(mutex.size, 0)
    }))

  it.effect("refuses a new key past its capacity with a typed error", () =>
    Effect.gen(function*() {
      const mutex = new KeyedMutex<number>(3)
      const gate = yield* Deferred.make<void>()
      const holders = yield* Effect.forEach([1, 2, 3], (i) => Effect.fork(mutex.withLock(i)(Deferred.await(gate))))
      yield* Effect.yieldNow()
      assert.strictEqual(mutex.size, 3)
      const refused = yield* mutex.withLock(4)(Effect.succeed("ran")).pipe(Effect.flip)
      assert.strictEqual(refused._tag, "LockTableFull")
      // a held key still queues
      const queued = yield* Effect.fork(mutex.withLock(2)(Effect.succeed("queued")))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.joinAll(holders)
      assert.strictEqual(yield* Fiber.join(queued), "queued")
      assert.strictEqual(mutex.size, 0)
      assert.strictEqual(yield* mutex.withLock(4)(Effect.succeed("ran")), "ran")
    }))
})
