import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, TestClock } from "effect"
import {
  BUSY_UPDATES_PER_SECOND,
  HEAP_GROWING_BUSY,
  HEAP_GROWING_QUIET,
  HEAP_POLICY_INTERVAL,
  heapGrowingPercent,
  make,
  QUIET_UPDATES_PER_SECOND
} from "../layers/HeapPolicy.js"
import * as MemoryOutputLog from "../layers/MemoryOutputLog.js"
import { OutputLog } from "../services/OutputLog.js"
import { SessionId } from "../src/domain/Session.js"

const session = SessionId.make("00000000-0000-4000-8000-000000000001")

describe("HeapPolicy", () => {
  it("busy from BUSY_UPDATES_PER_SECOND, quiet below QUIET_UPDATES_PER_SECOND, unchanged between", () => {
    assert.strictEqual(heapGrowingPercent(BUSY_UPDATES_PER_SECOND, HEAP_GROWING_QUIET), HEAP_GROWING_BUSY)
    assert.strictEqual(heapGrowingPercent(QUIET_UPDATES_PER_SECOND - 1, HEAP_GROWING_BUSY), HEAP_GROWING_QUIET)
    assert.strictEqual(heapGrowingPercent(1000, HEAP_GROWING_BUSY), HEAP_GROWING_BUSY)
    assert.strictEqual(heapGrowingPercent(1000, HEAP_GROWING_QUIET), HEAP_GROWING_QUIET)
    assert.isAbove(HEAP_GROWING_BUSY, HEAP_GROWING_QUIET)
  })

  it.scoped("follows the output log's update rate: busy under a flood, quiet once it stops; set only on a change", () =>
    Effect.gen(function*() {
      const set: Array<number> = []
      yield* make((percent) => set.push(percent))
      const log = yield* OutputLog
      const seconds = Duration.toSeconds(HEAP_POLICY_INTERVAL)
      const flood = (perSecond: number) =>
        Effect.forEach(
          Array.from({ length: perSecond * seconds }, (_, i) => `screen ${set.length} ${i}`),
          (screen) => log.append(session, screen, DateTime.unsafeMake(0)),
          { discard: true }
        )
      yield* flood(BUSY_UPDATES_PER_SECOND)
      yield* TestClock.adjust(HEAP_POLICY_INTERVAL)
      assert.deepStrictEqual(set, [HEAP_GROWING_BUSY])
      // still busy, then between the two: no change
      yield* flood(BUSY_UPDATES_PER_SECOND + 100)
      yield* TestClock.adjust(HEAP_POLICY_INTERVAL)
      yield* flood(1000)
      yield* TestClock.adjust(HEAP_POLICY_INTERVAL)
      assert.deepStrictEqual(set, [HEAP_GROWING_BUSY])
      // quiet
      yield* TestClock.adjust(HEAP_POLICY_INTERVAL)
      assert.deepStrictEqual(set, [HEAP_GROWING_BUSY, HEAP_GROWING_QUIET])
      yield* TestClock.adjust(HEAP_POLICY_INTERVAL)
      assert.deepStrictEqual(set, [HEAP_GROWING_BUSY, HEAP_GROWING_QUIET])
    }).pipe(Effect.provide(MemoryOutputLog.layer)))
})
