import { assert, describe } from "@effect/vitest"
import { Duration, Effect, Fiber, Option, type Scope } from "effect"
import { STREAM_START, type StreamEntry, Transport } from "../services/Transport.js"

/** What the shared suite needs to know about one implementation. */
export interface TransportSubject {
  readonly name: string
  /** Registers one test; `body` gets a fresh transport (and a scope) and the key prefix of this test. */
  readonly test: (name: string, body: (prefix: string) => Effect.Effect<void, unknown, Transport | Scope.Scope>) => void
  /** Lets `duration` pass on the clock the transport measures TTLs and blocks with. */
  readonly elapse: (duration: Duration.DurationInput) => Effect.Effect<void>
  /** How far above `maxLen` a trimmed stream may stay (Redis's `~` trims whole nodes only). */
  readonly trimSlack: number
}

const ttl = Duration.millis(300)
const longTtl = Duration.minutes(5)

const isIncreasing = (ids: ReadonlyArray<string>) =>
  ids.every((id, i) => {
    if (i === 0) return true
    const [ms, seq] = id.split("-").map(Number)
    const [pms, pseq] = ids[i - 1]!.split("-").map(Number)
    return ms! > pms! || (ms === pms && seq! > pseq!)
  })

const readAll = (stream: string) =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const reader = yield* transport.reader
    return yield* reader.read([{ stream, after: STREAM_START }], { count: 100_000, block: Duration.zero })
  })

/** The behaviour every `Transport` promises, run against each implementation. */
export const transportContract = (subject: TransportSubject) =>
  describe(`Transport contract: ${subject.name}`, () => {
    const { elapse, test } = subject

    test("the link is up once the layer is built", () =>
      Effect.gen(function*() {
        const transport = yield* Transport
        assert.strictEqual((yield* transport.link).state, "up")
      }))

    test("put, get and remove; a missing key is None", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        yield* t.put(`${p}a`, "one", longTtl)
        assert.deepStrictEqual(yield* t.get(`${p}a`), Option.some("one"))
        yield* t.put(`${p}a`, "two", longTtl)
        assert.deepStrictEqual(yield* t.get(`${p}a`), Option.some("two"))
        assert.deepStrictEqual(yield* t.get(`${p}missing`), Option.none())
        yield* t.remove(`${p}a`)
        assert.deepStrictEqual(yield* t.get(`${p}a`), Option.none())
        yield* t.remove(`${p}a`)
      }))

    test("a value expires after its TTL, not before", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        yield* t.put(`${p}short`, "v", ttl)
        yield* t.put(`${p}long`, "v", longTtl)
        yield* elapse(Duration.millis(100))
        assert.deepStrictEqual(yield* t.get(`${p}short`), Option.some("v"))
        yield* elapse(Duration.millis(350))
        assert.deepStrictEqual(yield* t.get(`${p}short`), Option.none())
        assert.deepStrictEqual(yield* t.get(`${p}long`), Option.some("v"))
        assert.deepStrictEqual(yield* t.scan(`${p}*`), [`${p}long`])
      }))

    test("claim sets a key only when it is absent; an expired claim can be taken again", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        const lease = `${p}lease`
        assert.isTrue(yield* t.claim(lease, "a", ttl))
        assert.isFalse(yield* t.claim(lease, "b", longTtl))
        assert.deepStrictEqual(yield* t.get(lease), Option.some("a"))
        yield* elapse(Duration.millis(350))
        assert.deepStrictEqual(yield* t.get(lease), Option.none())
        assert.isTrue(yield* t.claim(lease, "b", longTtl))
        assert.deepStrictEqual(yield* t.get(lease), Option.some("b"))
      }))

    test("renewIfHeld extends the key only for its holder", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        const lease = `${p}lease`
        yield* t.claim(lease, "a", ttl)
        yield* elapse(Duration.millis(200))
        assert.isFalse(yield* t.renewIfHeld(lease, "b", longTtl), "not b's to renew")
        assert.isTrue(yield* t.renewIfHeld(lease, "a", ttl))
        yield* elapse(Duration.millis(200))
        assert.deepStrictEqual(yield* t.get(lease), Option.some("a"), "alive 400 ms after a 300 ms claim: renewed")
        yield* elapse(Duration.millis(200))
        assert.deepStrictEqual(yield* t.get(lease), Option.none(), "b's attempt did not extend it")
        assert.isFalse(yield* t.renewIfHeld(lease, "a", ttl), "an expired key is renewed by nobody")
        assert.deepStrictEqual(yield* t.get(lease), Option.none())
        yield* t.append(`${p}stream`, "e", { maxLen: 10, ttl: longTtl })
        assert.strictEqual((yield* Effect.flip(t.renewIfHeld(`${p}stream`, "a", ttl)))._tag, "TransportError")
      }))

    test("releaseIfHeld removes the key only for its holder", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        const lease = `${p}lease`
        yield* t.claim(lease, "a", longTtl)
        assert.isFalse(yield* t.releaseIfHeld(lease, "b"))
        assert.deepStrictEqual(yield* t.get(lease), Option.some("a"))
        assert.isTrue(yield* t.releaseIfHeld(lease, "a"))
        assert.deepStrictEqual(yield* t.get(lease), Option.none())
        assert.isFalse(yield* t.releaseIfHeld(lease, "a"))
        assert.isTrue(yield* t.claim(lease, "b", longTtl), "free for the next holder at once")
      }))

    test("putIfHeld writes only while the fence holds the holder's value", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        const lease = `${p}lease`
        const key = `${p}offset`
        yield* t.claim(lease, "a", longTtl)
        assert.isTrue(yield* t.putIfHeld({ key: lease, value: "a" }, key, "1", ttl))
        assert.deepStrictEqual(yield* t.get(key), Option.some("1"))
        assert.isFalse(yield* t.putIfHeld({ key: lease, value: "b" }, key, "stale", longTtl))
        assert.deepStrictEqual(yield* t.get(key), Option.some("1"), "the stale holder wrote nothing")
        yield* elapse(Duration.millis(350))
        assert.deepStrictEqual(yield* t.get(key), Option.none(), "written with its TTL")
        yield* t.releaseIfHeld(lease, "a")
        assert.isFalse(yield* t.putIfHeld({ key: lease, value: "a" }, key, "2", longTtl), "no lease, no write")
        assert.deepStrictEqual(yield* t.get(key), Option.none())
      }))

    test("getMany answers in the order asked, None for missing keys and streams, with each value's remaining life", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        yield* t.put(`${p}x`, "X", longTtl)
        yield* t.put(`${p}z`, "Z", Duration.seconds(30))
        yield* t.append(`${p}s`, "entry", { maxLen: 10, ttl: longTtl })
        yield* elapse(Duration.millis(100))
        const found = yield* t.getMany([`${p}z`, `${p}y`, `${p}x`, `${p}s`])
        assert.deepStrictEqual(found.map(Option.map((v) => v.value)), [
          Option.some("Z"),
          Option.none(),
          Option.some("X"),
          Option.none()
        ])
        const lives = found.flatMap((v) => (Option.isSome(v) ? [Duration.toMillis(v.value.expiresIn)] : []))
        assert.isAtMost(lives[0]!, 30_000 - 100)
        assert.isAbove(lives[0]!, 30_000 - 2_000)
        assert.isAtMost(lives[1]!, Duration.toMillis(longTtl))
        assert.isAbove(lives[1]!, Duration.toMillis(longTtl) - 2_000)
        assert.deepStrictEqual(yield* t.getMany([]), [])
      }))

    test("lastGeneratedIds: the last id a stream ever generated, 0-0 when it is missing, one answer per stream", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        const [a, b, gone] = [`${p}a`, `${p}b`, `${p}gone`]
        yield* t.append(a, "1", { maxLen: 1, ttl: longTtl })
        const second = yield* t.append(a, "2", { maxLen: 1, ttl: longTtl })
        yield* t.append(gone, "x", { maxLen: 10, ttl: longTtl })
        yield* t.remove(gone)
        assert.deepStrictEqual(yield* t.lastGeneratedIds([a, b, gone]), [second, STREAM_START, STREAM_START])
        assert.deepStrictEqual(yield* t.lastGeneratedIds([]), [])
        // a value where a stream is expected is the caller's problem to see, not a stream that generated nothing
        yield* t.put(b, "not a stream", longTtl)
        assert.strictEqual((yield* Effect.flip(t.lastGeneratedIds([a, b])))._tag, "TransportError")
      }))

    test("scan finds exactly the keys matching the glob, each once", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        const computers = Array.from({ length: 1200 }, (_, i) => `${p}computer:node-${i}`)
        yield* Effect.forEach(computers, (key) => t.put(key, "hb", longTtl), { concurrency: 50, discard: true })
        yield* Effect.forEach(
          Array.from({ length: 300 }, (_, i) => `${p}session:${i}`),
          (key) => t.put(key, "s", longTtl),
          { concurrency: 50, discard: true }
        )
        yield* t.append(`${p}computer:inbox`, "m", { maxLen: 10, ttl: longTtl })

        const found = yield* t.scan(`${p}computer:node-*`)
        assert.strictEqual(new Set(found).size, found.length, "no duplicates")
        assert.deepStrictEqual([...found].sort(), [...computers].sort())
        assert.deepStrictEqual([...(yield* t.scan(`${p}computer:node-1?`))].sort(), computers.slice(10, 20).sort())
        assert.deepStrictEqual(
          [...(yield* t.scan(`${p}computer:node-[2-3]`))].sort(),
          [`${p}computer:node-2`, `${p}computer:node-3`]
        )
        assert.deepStrictEqual(
          [...(yield* t.scan(`${p}computer:node-[^0-8]`))].sort(),
          [`${p}computer:node-9`]
        )
        assert.deepStrictEqual(yield* t.scan(`${p}computer:i*`), [`${p}computer:inbox`])
        assert.deepStrictEqual(yield* t.scan(`${p}nothing:*`), [])
      }))

    test("lastId is STREAM_START for a missing stream, then the newest entry's id", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        assert.strictEqual(yield* t.lastId(`${p}inbox`), STREAM_START)
        const first = yield* t.append(`${p}inbox`, "1", { maxLen: 100, ttl: longTtl })
        const second = yield* t.append(`${p}inbox`, "2", { maxLen: 100, ttl: longTtl })
        assert.isTrue(isIncreasing([STREAM_START, first, second]))
        assert.strictEqual(yield* t.lastId(`${p}inbox`), second)
      }))

    test("append trims the stream to about maxLen and keeps the newest entries", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        const stream = `${p}capped`
        const ids: Array<string> = []
        for (let i = 0; i < 600; i++) ids.push(yield* t.append(stream, `m${i}`, { maxLen: 50, ttl: longTtl }))
        assert.isTrue(isIncreasing(ids))
        const kept = yield* readAll(stream)
        assert.isAtLeast(kept.length, 50)
        assert.isAtMost(kept.length, 50 + subject.trimSlack)
        assert.deepStrictEqual(
          kept.map((e) => e.payload),
          Array.from({ length: kept.length }, (_, i) => `m${600 - kept.length + i}`)
        )
        assert.deepStrictEqual(kept.map((e) => e.id), ids.slice(600 - kept.length))
      }))

    test("a stream expires after its TTL; each append renews it", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        const stream = `${p}ephemeral`
        yield* t.append(stream, "a", { maxLen: 10, ttl })
        yield* elapse(Duration.millis(200))
        yield* t.append(stream, "b", { maxLen: 10, ttl })
        yield* elapse(Duration.millis(200))
        assert.deepStrictEqual((yield* readAll(stream)).map((e) => e.payload), ["a", "b"])
        yield* elapse(Duration.millis(250))
        assert.strictEqual(yield* t.lastId(stream), STREAM_START)
        assert.deepStrictEqual(yield* readAll(stream), [])
      }))

    test("a blocked read returns the entry another fiber appends", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        const stream = `${p}inbox`
        yield* t.append(stream, "old", { maxLen: 100, ttl: longTtl })
        const after = yield* t.lastId(stream)
        const reader = yield* t.reader
        const blocked = yield* Effect.fork(reader.read([{ stream, after }], { count: 10, block: Duration.seconds(4) }))
        yield* elapse(Duration.millis(100))
        assert.isTrue(Option.isNone(yield* Fiber.poll(blocked)), "still waiting")
        const id = yield* t.append(stream, "new", { maxLen: 100, ttl: longTtl })
        const entries = yield* Fiber.join(blocked)
        assert.deepStrictEqual(entries, [{ stream, id, payload: "new" }])
      }))

    test("a read with nothing to return waits for block, then returns []", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        const stream = `${p}quiet`
        yield* t.append(stream, "seen", { maxLen: 100, ttl: longTtl })
        const reader = yield* t.reader
        const after = yield* t.lastId(stream)
        const blocked = yield* Effect.fork(
          reader.read([{ stream, after }, { stream: `${p}missing`, after: STREAM_START }], {
            count: 10,
            block: Duration.millis(400)
          })
        )
        yield* elapse(Duration.millis(200))
        assert.isTrue(Option.isNone(yield* Fiber.poll(blocked)), "still blocked halfway")
        yield* elapse(Duration.millis(250))
        assert.deepStrictEqual(yield* Fiber.join(blocked), [])
      }))

    test("one read covers several streams, oldest first and at most count per stream", (p) =>
      Effect.gen(function*() {
        const t = yield* Transport
        const [a, b, c] = [`${p}a`, `${p}b`, `${p}c`]
        const aIds: Array<string> = []
        for (let i = 0; i < 5; i++) aIds.push(yield* t.append(a, `a${i}`, { maxLen: 100, ttl: longTtl }))
        const b0 = yield* t.append(b, "b0", { maxLen: 100, ttl: longTtl })
        const reader = yield* t.reader
        const positions = [
          { stream: a, after: aIds[1]! },
          { stream: b, after: STREAM_START },
          { stream: c, after: STREAM_START }
        ]
        const entries: ReadonlyArray<StreamEntry> = yield* reader.read(positions, {
          count: 2,
          block: Duration.seconds(1)
        })
        assert.deepStrictEqual(entries, [
          { stream: a, id: aIds[2]!, payload: "a2" },
          { stream: a, id: aIds[3]!, payload: "a3" },
          { stream: b, id: b0, payload: "b0" }
        ])
        const rest = yield* reader.read(
          [{ stream: a, after: aIds[3]! }, { stream: b, after: b0 }],
          { count: 10, block: Duration.seconds(1) }
        )
        assert.deepStrictEqual(rest, [{ stream: a, id: aIds[4]!, payload: "a4" }])
      }))
  })
