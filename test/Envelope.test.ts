import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import { ComputerName } from "../src/domain/Session.js"
import {
  canonicalJson,
  encode,
  ENVELOPE_VERSION,
  EnvelopeRejected,
  open,
  REPLAY_WINDOW,
  sign,
  type UnsignedEnvelope
} from "../src/fleet/Envelope.js"

const secret = Redacted.make("fleet-secret-for-tests")
const NOW = 1_750_000_000_000
const window = { replayWindow: REPLAY_WINDOW }

const unsigned = (overrides: Partial<UnsignedEnvelope> = {}): UnsignedEnvelope => ({
  v: ENVELOPE_VERSION,
  id: "6f1c2b0a-8d3e-4f5a-9b7c-1d2e3f4a5b6c",
  kind: "request.sessions.list",
  from: ComputerName.make("alpha"),
  to: ComputerName.make("beta"),
  sentAt: NOW,
  deadline: NOW + 10_000,
  payload: { status: "idle", filters: { computer: "beta", limit: 50 }, tags: ["a", "b"] },
  ...overrides
})

const reasonOf = (raw: string, now = NOW) =>
  open(secret, raw, now, window).pipe(
    Effect.flip,
    Effect.map((e) => {
      assert.instanceOf(e, EnvelopeRejected)
      assert.isAbove(e.message.length, 0)
      return e.reason
    })
  )

/** Re-serialises `raw` with its top-level fields changed. */
const edit = (raw: string, change: (fields: Record<string, unknown>) => void) => {
  const fields = JSON.parse(raw) as Record<string, unknown>
  change(fields)
  return JSON.stringify(fields)
}

describe("Envelope", () => {
  it.effect("round trip: what is signed opens to the same envelope", () =>
    Effect.gen(function*() {
      const envelope = sign(secret, unsigned())
      assert.match(envelope.sig, /^[0-9a-f]{64}$/)
      const opened = yield* open(secret, encode(envelope), NOW, window)
      assert.deepStrictEqual(opened, envelope)
      const broadcast = sign(secret, unsigned({ to: "*", kind: "event.heartbeat", payload: null }))
      assert.deepStrictEqual(yield* open(secret, encode(broadcast), NOW, window), broadcast)
    }))

  it.effect("a signature made with another secret is forged", () =>
    Effect.gen(function*() {
      const other = sign(Redacted.make("not-the-fleet-secret"), unsigned())
      assert.strictEqual(yield* reasonOf(encode(other)), "forged")
      const garbled = edit(encode(sign(secret, unsigned())), (f) => void (f.sig = "0".repeat(64)))
      assert.strictEqual(yield* reasonOf(garbled), "forged")
      const short = edit(encode(sign(secret, unsigned())), (f) => void (f.sig = "abcd"))
      assert.notStrictEqual(yield* reasonOf(short), "unsigned")
    }))

  it.effect("a message without a signature, or with an empty one, is unsigned", () =>
    Effect.gen(function*() {
      const signed = encode(sign(secret, unsigned()))
      assert.strictEqual(yield* reasonOf(edit(signed, (f) => void delete f.sig)), "unsigned")
      assert.strictEqual(yield* reasonOf(edit(signed, (f) => void (f.sig = ""))), "unsigned")
    }))

  it.effect("sentAt outside the replay window, on either side, is stale; inside it is accepted", () =>
    Effect.gen(function*() {
      const windowMs = Duration.toMillis(REPLAY_WINDOW)
      const raw = encode(sign(secret, unsigned()))
      assert.strictEqual(yield* reasonOf(raw, NOW + windowMs + 1), "stale")
      assert.strictEqual(yield* reasonOf(raw, NOW - windowMs - 1), "stale")
      const atEdges = yield* Effect.all([
        open(secret, raw, NOW + windowMs, window),
        open(secret, raw, NOW - windowMs, window)
      ])
      assert.strictEqual(atEdges.length, 2)
      // a narrower window is honoured
      const narrow = yield* open(secret, raw, NOW + 2_000, { replayWindow: Duration.seconds(1) }).pipe(Effect.flip)
      assert.strictEqual(narrow.reason, "stale")
    }))

  it.effect("text that is not JSON is malformed", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* reasonOf("{not json"), "malformed")
      assert.strictEqual(yield* reasonOf(""), "malformed")
    }))

  it.effect("JSON that is not a v1 envelope fails the schema", () =>
    Effect.gen(function*() {
      const signed = encode(sign(secret, unsigned()))
      assert.strictEqual(yield* reasonOf("[1,2,3]"), "schema")
      assert.strictEqual(yield* reasonOf("null"), "schema")
      assert.strictEqual(yield* reasonOf(edit(signed, (f) => void (f.v = 2))), "schema")
      assert.strictEqual(yield* reasonOf(edit(signed, (f) => void (f.id = "not-a-uuid"))), "schema")
      assert.strictEqual(yield* reasonOf(edit(signed, (f) => void (f.from = "bad name!"))), "schema")
      assert.strictEqual(yield* reasonOf(edit(signed, (f) => void (f.sentAt = "yesterday"))), "schema")
      assert.strictEqual(yield* reasonOf(edit(signed, (f) => void delete f.kind)), "schema")
      // nothing unsigned may ride along
      assert.strictEqual(yield* reasonOf(edit(signed, (f) => void (f.extra = "smuggled"))), "schema")
    }))

  it.effect("changing any signed field after signing is detected", () =>
    Effect.gen(function*() {
      const signed = encode(sign(secret, unsigned()))
      const tampered = [
        edit(signed, (f) => void ((f.payload as { status: string }).status = "running")),
        edit(signed, (f) => void (f.payload = { ...(f.payload as object), extra: true })),
        edit(signed, (f) => void (f.to = "gamma")),
        edit(signed, (f) => void (f.from = "gamma")),
        edit(signed, (f) => void (f.kind = "request.sessions.close")),
        edit(signed, (f) => void (f.deadline = NOW + 999_999)),
        edit(signed, (f) => void (f.sentAt = NOW + 1)),
        edit(signed, (f) => void (f.id = "00000000-0000-4000-8000-000000000000"))
      ]
      for (const raw of tampered) assert.strictEqual(yield* reasonOf(raw), "forged")
    }))

  it.effect("the payload's key order does not change the signature", () =>
    Effect.gen(function*() {
      const a = sign(secret, unsigned({ payload: { b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } } }))
      const b = sign(secret, unsigned({ payload: { a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 } }))
      assert.strictEqual(a.sig, b.sig)
      // a receiver that re-orders keys while re-encoding still verifies
      const reordered = JSON.stringify({
        sig: a.sig,
        payload: { a: { d: [1, { x: 1, y: 2 }], c: null }, b: 1 },
        deadline: a.deadline,
        sentAt: a.sentAt,
        to: a.to,
        from: a.from,
        kind: a.kind,
        id: a.id,
        v: a.v
      })
      assert.deepStrictEqual((yield* open(secret, reordered, NOW, window)).payload, a.payload)
      // but array order is meaning, not presentation
      const c = sign(secret, unsigned({ payload: { b: 1, a: { d: [{ y: 2, x: 1 }, 1], c: null } } }))
      assert.notStrictEqual(a.sig, c.sig)
    }))

  it("canonicalJson sorts keys at every depth and drops what JSON drops", () => {
    assert.strictEqual(canonicalJson({ b: [3, { d: 1, c: undefined }], a: "x" }), "{\"a\":\"x\",\"b\":[3,{\"d\":1}]}")
    assert.strictEqual(canonicalJson([undefined]), "[null]")
    assert.strictEqual(canonicalJson(undefined), "null")
    assert.strictEqual(canonicalJson({ "10": 1, "9": 2, a: 3 }), "{\"10\":1,\"9\":2,\"a\":3}")
    const value = { z: { y: [1, "two", { x: true }] }, a: 1.5 }
    assert.strictEqual(canonicalJson(JSON.parse(JSON.stringify(value))), canonicalJson(value))
  })
})
