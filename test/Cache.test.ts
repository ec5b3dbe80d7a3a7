import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Option, PubSub, Queue } from "effect"
import * as IndexedCache from "../layers/IndexedCache.js"
import { Cache } from "../services/Cache.js"
import { ComputerName, type Session, type SessionStatus } from "../src/domain/Session.js"
import { makeSession } from "./support/fixtures.js"

const STATUSES: ReadonlyArray<SessionStatus> = ["creating", "running", "idle", "waiting_input"]
const COMPUTERS = ["a", "b", "c", "d"].map((c) => ComputerName.make(c))

/** Deterministic pseudo-random numbers, so a failing sequence can be replayed. */
const rng = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed / 0x7fffffff
}

const ids = (sessions: ReadonlyArray<Session>) => sessions.map((s) => s.sessionId).sort()

describe("SessionIndex", () => {
  it("keeps both indexes equal to a linear filter through inserts, status and computer changes, removals", () => {
    const index = new IndexedCache.SessionIndex()
    const oracle = new Map<string, Session>()
    const random = rng(42)
    for (let step = 0; step < 5000; step++) {
      const n = Math.floor(random() * 300)
      const roll = random()
      if (roll < 0.15) {
        const existing = oracle.get(makeSession({}, n).sessionId)
        if (existing !== undefined) index.remove(existing.sessionId)
        oracle.delete(makeSession({}, n).sessionId)
      } else {
        const session = makeSession({
          status: STATUSES[Math.floor(random() * STATUSES.length)]!,
          computer: COMPUTERS[Math.floor(random() * COMPUTERS.length)]!,
          title: `v${step}`
        }, n)
        index.upsert(session)
        oracle.set(session.sessionId, session)
      }
      if (step % 250 === 0 || step === 4999) {
        const all = Array.from(oracle.values())
        for (const computer of COMPUTERS) {
          assert.deepStrictEqual(ids(index.select({ computer })), ids(all.filter((s) => s.computer === computer)))
        }
        for (const status of STATUSES) {
          assert.deepStrictEqual(ids(index.select({ status })), ids(all.filter((s) => s.status === status)))
          assert.deepStrictEqual(
            ids(index.select({ status, computer: COMPUTERS[0]! })),
            ids(all.filter((s) => s.status === status && s.computer === COMPUTERS[0]))
          )
        }
        assert.strictEqual(index.size, oracle.size)
        assert.strictEqual(index.indexSizes().entries, oracle.size)
      }
    }
    for (const id of Array.from(oracle.keys())) index.remove(id as Session["sessionId"])
    assert.deepStrictEqual(index.indexSizes(), { computers: 0, statuses: 0, entries: 0 })
  })

  it("encodes a session once per version, however many reads", () => {
    const index = new IndexedCache.SessionIndex()
    const session = makeSession({}, 1)
    index.upsert(session)
    const first = index.json(session.sessionId)
    for (let i = 0; i < 100; i++) index.json(session.sessionId)
    index.selectJson()
    index.selectJson({ computer: session.computer })
    assert.strictEqual(index.encodes, 1)
    assert.strictEqual(index.json(session.sessionId), first)
    assert.strictEqual(JSON.parse(first!).sessionId, session.sessionId)

    index.upsert(makeSession({ title: "renamed" }, 1))
    assert.strictEqual(JSON.parse(index.json(session.sessionId)!).title, "renamed")
    assert.strictEqual(index.encodes, 2)

    // an identical upsert is no new version: nothing to re-encode
    assert.isUndefined(index.upsert(makeSession({ title: "renamed" }, 1)))
    index.json(session.sessionId)
    assert.strictEqual(index.encodes, 2)
  })

  it("answers newest first and honours limit", () => {
    const index = new IndexedCache.SessionIndex()
    for (let n = 0; n < 10; n++) index.upsert(makeSession({}, n))
    const listed = index.select({ limit: 3 })
    assert.deepStrictEqual(
      listed.map((s) => s.createdAt.epochMillis),
      [9, 8, 7].map((n) => 1_700_000_000_000 + n * 1000)
    )
    assert.strictEqual(JSON.parse(index.selectJson({ limit: 2 })).length, 2)
  })
})

describe("Cache layer", () => {
  it.scoped("publishes a change event per real change, none for a no-op", () =>
    Effect.gen(function*() {
      const cache = yield* Cache
      const subscription = yield* PubSub.subscribe(cache.events)
      const session = makeSession({}, 7)
      yield* cache.upsertSession(session)
      yield* cache.upsertSession(session)
      yield* cache.upsertSession(makeSession({ status: "idle" }, 7))
      yield* cache.removeSession(session.sessionId)
      yield* cache.removeSession(session.sessionId)
      const events = Chunk.toReadonlyArray(yield* Queue.takeAll(subscription))
      assert.deepStrictEqual(events.map((e) => e._tag), ["SessionUpserted", "SessionUpserted", "SessionRemoved"])
      assert.isTrue(Option.isNone(yield* cache.getSession(session.sessionId)))
      assert.deepStrictEqual(yield* cache.getSessionsByStatus("idle"), [])
    }).pipe(Effect.provide(IndexedCache.layer)))

  it.effect("serves lookups by computer and status from the indexes", () =>
    Effect.gen(function*() {
      const cache = yield* Cache
      yield* cache.upsertSession(makeSession({ computer: COMPUTERS[1]!, status: "idle" }, 1))
      yield* cache.upsertSession(makeSession({ computer: COMPUTERS[1]!, status: "running" }, 2))
      yield* cache.upsertSession(makeSession({ computer: COMPUTERS[2]!, status: "idle" }, 3))
      assert.strictEqual((yield* cache.getSessionsForComputer(COMPUTERS[1]!)).length, 2)
      assert.strictEqual((yield* cache.getSessionsByStatus("idle")).length, 2)
      assert.strictEqual((yield* cache.getSessionsForComputer(COMPUTERS[3]!)).length, 0)
      const json = JSON.parse(yield* cache.getSessionsJson({ status: "idle", computer: COMPUTERS[2]! }))
      assert.strictEqual(json.length, 1)
      assert.strictEqual(json[0].computer, "c")
    }).pipe(Effect.provide(IndexedCache.layer)))
})
