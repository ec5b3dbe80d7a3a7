import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Option, PubSub, Queue } from "effect"
import * as MemoryOutputLog from "../layers/MemoryOutputLog.js"
import { SessionId } from "../src/domain/Session.js"

const A = SessionId.make("00000000-0000-4000-8000-00000000000a")
const B = SessionId.make("00000000-0000-4000-8000-00000000000b")
const at = DateTime.unsafeMake(0)

describe("OutputLog", () => {
  it.scoped("assigns rising seqs per session and publishes each update", () =>
    Effect.gen(function*() {
      const log = yield* MemoryOutputLog.make({ ringSize: 4 })
      const sub = yield* PubSub.subscribe(log.events)
      const a1 = yield* log.append(A, "a1", at)
      const a2 = yield* log.append(A, "a2", at)
      const b1 = yield* log.append(B, "b1", at)
      assert.strictEqual(a2.seq, a1.seq + 1)
      assert.strictEqual(b1.seq, a1.seq)
      assert.deepStrictEqual((yield* Queue.takeAll(sub)).pipe((c) => Array.from(c, (e) => e._tag)), [
        "OutputChanged",
        "OutputChanged",
        "OutputChanged"
      ])
      assert.strictEqual(Option.getOrThrow(yield* log.latest(A)).screen, "a2")
    }))

  it.scoped("since: exactly the missed updates while they are in the ring, resync once evicted", () =>
    Effect.gen(function*() {
      const log = yield* MemoryOutputLog.make({ ringSize: 4 })
      const first = yield* log.append(A, "s0", at)
      for (let i = 1; i <= 3; i++) yield* log.append(A, `s${i}`, at)
      const missed = yield* log.since(A, first.seq + 1)
      assert.strictEqual(missed._tag, "Missed")
      assert.deepStrictEqual(missed._tag === "Missed" ? missed.updates.map((u) => u.screen) : [], ["s2", "s3"])
      const none = yield* log.since(A, first.seq + 3)
      assert.deepStrictEqual(none, { _tag: "Missed", updates: [] })
      // three more push s0..s2 out of a ring of 4
      for (let i = 4; i <= 6; i++) yield* log.append(A, `s${i}`, at)
      const evicted = yield* log.since(A, first.seq)
      assert.strictEqual(evicted._tag, "Resync")
      assert.strictEqual(evicted._tag === "Resync" ? Option.getOrThrow(evicted.snapshot).screen : "", "s6")
      // one behind the oldest kept loses nothing
      const edge = yield* log.since(A, first.seq + 2)
      assert.deepStrictEqual(edge._tag === "Missed" ? edge.updates.map((u) => u.screen) : [], ["s3", "s4", "s5", "s6"])
      // a seq from before this daemon started (e.g. 0) is a resync, never a replay
      assert.strictEqual((yield* log.since(A, 0))._tag, "Resync")
      assert.strictEqual((yield* log.since(B, 5))._tag, "Resync")
      assert.strictEqual((yield* log.since(A, first.seq + 1000))._tag, "Resync")
    }))

  it.scoped("the ring is bounded and a removed session leaves nothing behind", () =>
    Effect.gen(function*() {
      const log = yield* MemoryOutputLog.make({ ringSize: 8 })
      for (let i = 0; i < 1000; i++) yield* log.append(A, `s${i}`, at)
      const all = yield* log.since(A, (Option.getOrThrow(yield* log.latest(A))).seq - 8)
      assert.strictEqual(all._tag === "Missed" ? all.updates.length : -1, 8)
      assert.strictEqual(yield* log.size, 1)
      yield* log.remove(A)
      assert.strictEqual(yield* log.size, 0)
      assert.isTrue(Option.isNone(yield* log.latest(A)))
    }))
})
