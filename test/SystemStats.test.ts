import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as os from "node:os"
import * as NodeSystemStats from "../layers/NodeSystemStats.js"

describe("SystemStats", () => {
  it("computes CPU from the delta of two readings", () => {
    assert.strictEqual(NodeSystemStats.cpuPercentBetween({ idle: 100, total: 200 }, { idle: 150, total: 300 }), 50)
    assert.strictEqual(NodeSystemStats.cpuPercentBetween({ idle: 100, total: 200 }, { idle: 100, total: 200 }), 0)
    assert.strictEqual(NodeSystemStats.cpuPercentBetween({ idle: 0, total: 0 }, { idle: 0, total: 400 }), 100)
  })

  it.live("a snapshot answers at once with memory and disk of the state dir", () =>
    Effect.gen(function*() {
      const stats = yield* NodeSystemStats.make(os.tmpdir())
      const first = yield* stats.snapshot
      const second = yield* stats.snapshot
      assert.isAtLeast(first.cpuPercent, 0)
      assert.isAtMost(second.cpuPercent, 100)
      assert.isAbove(first.memory.totalGb, 0)
      assert.isNotNull(first.disk)
      assert.isAbove(first.disk!.totalGb, 0)
    }))
})
