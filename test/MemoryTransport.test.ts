import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Either, Fiber, Option, Stream, TestClock } from "effect"
import * as MemoryTransport from "../layers/MemoryTransport.js"
import { KEY_PREFIX, STREAM_START, Transport } from "../services/Transport.js"
import { transportContract } from "./Transport.contract.js"

transportContract({
  name: "MemoryTransport",
  test: (name, body) => it.scoped(name, () => body(`${KEY_PREFIX}test:`).pipe(Effect.provide(MemoryTransport.layer))),
  elapse: (duration) => TestClock.adjust(duration),
  trimSlack: 0
})

describe("MemoryTransport", () => {
  it.effect("expiry runs on the Clock: nothing expires until TestClock moves", () =>
    Effect.gen(function*() {
      const t = yield* Transport
      yield* t.put("k", "v", Duration.hours(1))
      yield* t.append("s", "e", { maxLen: 5, ttl: Duration.hours(1) })
      yield* TestClock.adjust(Duration.minutes(59))
      assert.deepStrictEqual(yield* t.get("k"), Option.some("v"))
      assert.notStrictEqual(yield* t.lastId("s"), STREAM_START)
      yield* TestClock.adjust(Duration.minutes(1))
      assert.deepStrictEqual(yield* t.get("k"), Option.none())
      assert.strictEqual(yield* t.lastId("s"), STREAM_START)
      assert.deepStrictEqual(yield* t.scan("*"), [])
    }).pipe(Effect.provide(MemoryTransport.layer)))

  it.effect("ids are <ms>-<seq>: the Clock's ms, with seq rising within one ms", () =>
    Effect.gen(function*() {
      const t = yield* Transport
      yield* TestClock.setTime(1_700_000_000_000)
      const a = yield* t.append("s", "a", { maxLen: 10, ttl: Duration.hours(1) })
      const b = yield* t.append("s", "b", { maxLen: 10, ttl: Duration.hours(1) })
      yield* TestClock.adjust(Duration.millis(5))
      const c = yield* t.append("s", "c", { maxLen: 10, ttl: Duration.hours(1) })
      assert.deepStrictEqual([a, b, c], ["1700000000000-0", "1700000000000-1", "1700000000005-0"])
    }).pipe(Effect.provide(MemoryTransport.layer)))

  it.effect("a value and a stream share the key space: using one as the other fails like WRONGTYPE", () =>
    Effect.gen(function*() {
      const t = yield* Transport
      yield* t.put("k", "v", Duration.hours(1))
      yield* t.append("s", "e", { maxLen: 5, ttl: Duration.hours(1) })
      assert.strictEqual(
        (yield* Effect.flip(t.append("k", "e", { maxLen: 5, ttl: Duration.hours(1) })))._tag,
        "TransportError"
      )
      assert.strictEqual((yield* Effect.flip(t.get("s")))._tag, "TransportError")
      assert.deepStrictEqual((yield* t.getMany(["s", "k"])).map(Option.map((v) => v.value)), [
        Option.none(),
        Option.some("v")
      ])
    }).pipe(Effect.provide(MemoryTransport.layer)))

  it.effect("an infinite TTL is refused: every key must expire", () =>
    Effect.gen(function*() {
      const t = yield* Transport
      const error = yield* Effect.flip(t.put("k", "v", Duration.infinity))
      assert.strictEqual(error._tag, "TransportError")
      assert.deepStrictEqual(yield* t.get("k"), Option.none())
    }).pipe(Effect.provide(MemoryTransport.layer)))

  it.scoped("a forced outage fails every operation, wakes blocked readers, is reported, and keeps the data", () =>
    Effect.gen(function*() {
      const t = yield* Transport
      const control = yield* MemoryTransport.MemoryTransportControl
      const changes = yield* Effect.fork(Stream.runCollect(Stream.take(t.linkChanges, 3)))
      yield* Effect.yieldNow()
      yield* t.put("k", "v", Duration.hours(1))
      const after = yield* t.lastId("s")
      const reader = yield* t.reader
      const blocked = yield* Effect.fork(
        reader.read([{ stream: "s", after }], { count: 1, block: Duration.seconds(5) })
      )
      yield* Effect.yieldNow()

      yield* control.linkDown("redis went away")
      const readFailure = yield* Effect.flip(Fiber.join(blocked))
      assert.strictEqual(readFailure._tag, "TransportError")
      const link = yield* t.link
      assert.strictEqual(link.state, "down")
      assert.strictEqual(link.lastError, "redis went away")
      const failures = yield* Effect.all([
        Effect.either(t.put("k", "w", Duration.hours(1))),
        Effect.either(t.get("k")),
        Effect.either(t.getMany(["k"])),
        Effect.either(t.remove("k")),
        Effect.either(t.scan("*")),
        Effect.either(t.append("s", "e", { maxLen: 5, ttl: Duration.hours(1) })),
        Effect.either(t.lastId("s")),
        Effect.either(reader.read([{ stream: "s", after }], { count: 1, block: Duration.seconds(5) }))
      ])
      for (const result of failures as ReadonlyArray<Either.Either<unknown, { readonly _tag: string }>>) {
        assert.isTrue(Either.isLeft(result) && result.left._tag === "TransportError")
      }

      yield* control.linkUp
      assert.deepStrictEqual(yield* t.get("k"), Option.some("v"))
      const states = Chunk.toReadonlyArray(yield* Fiber.join(changes)).map((s) => s.state)
      assert.deepStrictEqual(states, ["up", "down", "up"])
    }).pipe(Effect.provide(MemoryTransport.layerControlled)))

  it.effect("setLink reports any status, e.g. a reconnect attempt counter", () =>
    Effect.gen(function*() {
      const t = yield* Transport
      const control = yield* MemoryTransport.MemoryTransportControl
      yield* control.setLink({ state: "connecting", attempt: 3, lastError: "ECONNREFUSED" })
      const link = yield* t.link
      assert.deepStrictEqual([link.state, link.attempt, link.lastError], ["connecting", 3, "ECONNREFUSED"])
      assert.strictEqual((yield* Effect.flip(t.get("k"))).operation, "get")
    }).pipe(Effect.provide(MemoryTransport.layerControlled)))

  it.effect("out of memory: writes fail typed (out-of-memory, advice without Redis's text), reads and removes work, the link stays up", () =>
    Effect.gen(function*() {
      const t = yield* Transport
      const control = yield* MemoryTransport.MemoryTransportControl
      yield* t.put("k", "v", Duration.hours(1))
      yield* control.outOfMemory(true)
      const refused = [
        yield* Effect.flip(t.put("k", "w", Duration.hours(1))),
        yield* Effect.flip(t.append("s", "e", { maxLen: 5, ttl: Duration.hours(1) }))
      ]
      for (const error of refused) {
        assert.strictEqual(error.failure, "out-of-memory")
        assert.include(error.message, "OOM")
        assert.notInclude(error.advice, "OOM")
        assert.include(error.advice, "maxmemory")
      }
      assert.deepStrictEqual(yield* t.get("k"), Option.some("v"))
      assert.strictEqual((yield* t.link).state, "up")
      yield* t.remove("k")
      yield* control.outOfMemory(false)
      yield* t.put("k", "back", Duration.hours(1))
      assert.deepStrictEqual(yield* t.get("k"), Option.some("back"))
    }).pipe(Effect.provide(MemoryTransport.layerControlled)))

  it.effect("lease steps: all fail while the link is down; at maxmemory claim and a fenced write are refused, renew and release work (as Redis's)", () =>
    Effect.gen(function*() {
      const t = yield* Transport
      const control = yield* MemoryTransport.MemoryTransportControl
      yield* t.claim("lease", "a", Duration.seconds(10))
      yield* control.linkDown()
      const down = [
        yield* Effect.flip(t.claim("other", "a", Duration.seconds(10))),
        yield* Effect.flip(t.renewIfHeld("lease", "a", Duration.seconds(10))),
        yield* Effect.flip(t.releaseIfHeld("lease", "a")),
        yield* Effect.flip(t.putIfHeld({ key: "lease", value: "a" }, "k", "v", Duration.seconds(10)))
      ]
      assert.deepStrictEqual(down.map((e) => e.failure), ["unavailable", "unavailable", "unavailable", "unavailable"])
      yield* control.linkUp
      yield* control.outOfMemory(true)
      assert.strictEqual((yield* Effect.flip(t.claim("other", "a", Duration.seconds(10)))).failure, "out-of-memory")
      const write = yield* Effect.flip(t.putIfHeld({ key: "lease", value: "a" }, "k", "v", Duration.seconds(10)))
      assert.strictEqual(write.failure, "out-of-memory")
      assert.isFalse(
        yield* t.putIfHeld({ key: "lease", value: "b" }, "k", "v", Duration.seconds(10)),
        "not held: no write tried"
      )
      assert.isTrue(yield* t.renewIfHeld("lease", "a", Duration.seconds(10)))
      assert.isTrue(yield* t.releaseIfHeld("lease", "a"))
      assert.deepStrictEqual(yield* t.get("k"), Option.none())
    }).pipe(Effect.provide(MemoryTransport.layerControlled)))

  it.effect("appendWithId writes a chosen id (only above the stream's last); the stream's ids continue after it until it is removed", () =>
    Effect.gen(function*() {
      const t = yield* Transport
      const control = yield* MemoryTransport.MemoryTransportControl
      yield* TestClock.setTime(1_700_000_000_000)
      yield* t.append("s", "a", { maxLen: 10, ttl: Duration.hours(1) })
      yield* control.appendWithId("s", "99999999999999-0", "far")
      assert.strictEqual((yield* Effect.flip(control.appendWithId("s", "5-0", "past"))).failure, "refused")
      assert.strictEqual(yield* t.append("s", "b", { maxLen: 10, ttl: Duration.hours(1) }), "99999999999999-1")
      assert.deepStrictEqual(yield* t.lastGeneratedIds(["s"]), ["99999999999999-1"])
      yield* t.remove("s")
      assert.deepStrictEqual(yield* t.lastGeneratedIds(["s"]), [STREAM_START])
      assert.strictEqual(yield* t.append("s", "c", { maxLen: 10, ttl: Duration.hours(1) }), "1700000000000-0")
    }).pipe(Effect.provide(MemoryTransport.layerControlled)))

  it("globToRegExp follows Redis's glob", () => {
    const matches = (pattern: string, key: string) => MemoryTransport.globToRegExp(pattern).test(key)
    assert.isTrue(matches("telemux:v1:computer:*", "telemux:v1:computer:alpha"))
    assert.isFalse(matches("telemux:v1:computer:*", "telemux:v1:computers"))
    assert.isTrue(matches("a?c", "abc"))
    assert.isFalse(matches("a?c", "ac"))
    assert.isTrue(matches("h[ae]llo", "hello"))
    assert.isFalse(matches("h[ae]llo", "hillo"))
    assert.isTrue(matches("h[^e]llo", "hallo"))
    assert.isFalse(matches("h[^e]llo", "hello"))
    assert.isTrue(matches("h[a-b]llo", "hbllo"))
    assert.isTrue(matches("h[b-a]llo", "hallo"))
    assert.isTrue(matches("a\\*b", "a*b"))
    assert.isFalse(matches("a\\*b", "axb"))
    assert.isTrue(matches("a.b(c)+", "a.b(c)+"))
    assert.isFalse(matches("a.b", "axb"))
    assert.isTrue(matches("x*y*z", "x__y__z"))
    assert.isTrue(matches("multi\nline", "multi\nline"))
  })
})
