import { Effect, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import { makeSlicedScheduler } from "../src/concurrency/SlicedScheduler.js"

/** A clock the tasks move: each task says how long it "took". */
const fakeClock = () => {
  let at = 0
  return { now: () => at, spend: (ms: number) => (at += ms) }
}

const nextImmediate = () => new Promise<void>((resolve) => setImmediate(resolve))

describe("SlicedScheduler", () => {
  it("runs tasks in the order they were scheduled", async () => {
    const scheduler = makeSlicedScheduler()
    const ran: Array<number> = []
    for (let i = 0; i < 50; i++) scheduler.scheduleTask(() => ran.push(i), 0)
    await nextImmediate()
    await nextImmediate()
    expect(ran).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })

  it("within the turn's slice, runs a task before Node turns to its next macrotask", async () => {
    const scheduler = makeSlicedScheduler(3, fakeClock().now)
    const order: Array<string> = []
    setImmediate(() => order.push("macrotask"))
    scheduler.scheduleTask(() => order.push("task"), 0)
    await nextImmediate()
    await nextImmediate()
    expect(order).toEqual(["task", "macrotask"])
  })

  it("once the turn's slice is spent, leaves the rest to a later macrotask, and each of those to a slice", async () => {
    const clock = fakeClock()
    const scheduler = makeSlicedScheduler(3, clock.now)
    const order: Array<string> = []
    // registered first: the loop's other work, which the tasks must let through once they used their slice
    setImmediate(() => order.push("io"))
    for (let i = 0; i < 6; i++) {
      scheduler.scheduleTask(() => {
        order.push(`t${i}`)
        clock.spend(2)
      }, 0)
    }
    for (let i = 0; i < 5; i++) await nextImmediate()
    // 2 ms each against a 3 ms slice: two tasks per slice, the loop's own work after the first slice
    expect(order).toEqual(["t0", "t1", "io", "t2", "t3", "t4", "t5"])
  })

  it("a new turn of the loop starts with a fresh slice", async () => {
    const clock = fakeClock()
    const scheduler = makeSlicedScheduler(3, clock.now)
    const order: Array<string> = []
    scheduler.scheduleTask(() => clock.spend(5), 0)
    await nextImmediate()
    await nextImmediate()
    // the turn that spent 5 ms is over: a task now runs before an earlier-registered macrotask again
    setImmediate(() => order.push("macrotask"))
    scheduler.scheduleTask(() => order.push("task"), 0)
    await nextImmediate()
    await nextImmediate()
    expect(order).toEqual(["task", "macrotask"])
  })

  it("runs Effect fibers to completion, a thousand of them yielding", async () => {
    const scheduler = makeSlicedScheduler()
    const fibers = Array.from(
      { length: 1000 },
      (_, i) => Effect.runFork(Effect.yieldNow().pipe(Effect.as(i), Effect.withScheduler(scheduler)))
    )
    const results = await Effect.runPromise(Fiber.joinAll(fibers))
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i))
  })
})
