/**
 * An error reply means "not done"; an outcome that is really unknown has its own error; a failure
 * to record what happened is logged, not answered; a retry with the same Idempotency-Key never
 * runs twice. On the Sessions and Idempotency services over doubles (TestClock).
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Option, Schema, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { FakeTerminal } from "../layers/FakeTerminalBridge.js"
import * as IdempotencyLive from "../layers/IdempotencyLive.js"
import * as MemorySessionStore from "../layers/MemorySessionStore.js"
import { Idempotency, IDEMPOTENCY_KEYS_MAX, IdempotencyKey, IdempotencyStore } from "../services/Idempotency.js"
import { RECONCILE_CONFIRM_DELAY, Sessions } from "../services/Sessions.js"
import { SessionStore, StoreError } from "../services/SessionStore.js"
import { OutcomeUnknown, TerminalUnavailable } from "../src/domain/Errors.js"
import { TmuxName } from "../src/domain/Session.js"
import { sessionsOnDoubles } from "./support/unitLayers.js"

const projectDir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-outcomes-"))
afterAll(() => fs.rmSync(projectDir, { recursive: true, force: true }))

/** A store whose updates fail while `refusing` is set: a full disk after the row was created. */
let refusing = false
const flakyStore = Layer.effect(
  SessionStore,
  Effect.map(MemorySessionStore.make, (store) =>
    SessionStore.of({
      ...store,
      update: (id, patch) =>
        refusing
          ? Effect.fail(new StoreError({ operation: "update", cause: "SQLITE_FULL: database or disk is full" }))
          : store.update(id, patch)
    }))
)

const onFlakyStore = sessionsOnDoubles().pipe(Layer.provide(flakyStore))

describe("honest outcomes (Sessions on doubles)", () => {
  it.effect("input and keys that reached the pane succeed even when recording them fails (disk full)", () =>
    Effect.gen(function*() {
      refusing = false
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      refusing = true
      const sent = yield* Effect.exit(sessions.sendText(session.sessionId, "echo kept", true))
      assert.isTrue(Exit.isSuccess(sent), "delivered input is answered as done")
      yield* sessions.sendKeys(session.sessionId, [{ key: "Up", repeat: 2 }])
      refusing = false
      assert.include(fake.panes()[0]!.screen, "echo kept")
    }).pipe(Effect.provide(onFlakyStore)))

  it.effect("a session tmux started is answered as created even when recording it as running fails", () =>
    Effect.gen(function*() {
      refusing = true
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      refusing = false
      assert.strictEqual(session.status, "running")
      assert.strictEqual(fake.panes().length, 1)
      assert.strictEqual((yield* sessions.get(session.sessionId)).status, "running", "served from memory")
    }).pipe(Effect.provide(onFlakyStore)))

  it.effect("tmux hung before anything was typed: TerminalUnavailable (not done), nothing pasted", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      fake.setHung(true)
      const error = yield* Effect.flip(sessions.sendText(session.sessionId, "never", true))
      assert.instanceOf(error, TerminalUnavailable)
      assert.isFalse(fake.calls().some((c) => c.op === "paste"))
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("tmux stops answering after the paste: OutcomeUnknown, never a plain 503", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      fake.hangAfterNextPaste()
      const error = yield* Effect.flip(sessions.sendText(session.sessionId, "half", true))
      assert.instanceOf(error, OutcomeUnknown)
      assert.include(error.message, "may have happened")
      assert.isTrue(fake.calls().some((c) => c.op === "paste" && c.text === "half"))
      assert.isFalse(fake.calls().some((c) => c.op === "keys"))
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("keys go to tmux as one command; a hung tmux makes them unknown, not half-sent-and-failed", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      yield* sessions.sendKeys(session.sessionId, [{ key: "Up", repeat: 3 }, { key: "C-c", repeat: 1 }, {
        key: "Enter",
        repeat: 1
      }])
      assert.strictEqual(fake.calls().filter((c) => c.op === "keys").length, 1)
      fake.setHung(true)
      const error = yield* Effect.flip(sessions.sendKeys(session.sessionId, [{ key: "Enter", repeat: 1 }]))
      assert.instanceOf(error, OutcomeUnknown)
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("a create tmux did not answer is 'not done': the row is closed, and a tmux session that appears late is removed", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const store = yield* SessionStore
      fake.setHung(true)
      const error = yield* Effect.flip(sessions.create({ projectDir }))
      assert.instanceOf(error, TerminalUnavailable)
      assert.include(error.message, "removes it")
      fake.setHung(false)
      const [row] = yield* store.getSessions({ status: "all" })
      assert.strictEqual(row!.status, "closed")
      assert.strictEqual(row!.closeReason, "error")
      // tmux, unfrozen, makes the session after all; a tmux session of someone else's naming is left alone
      fake.adopt(row!.tmuxName, projectDir)
      fake.adopt(TmuxName.make("tmx_0badc0de"), projectDir)
      const mine = yield* sessions.create({ projectDir })
      const other = "user-session" as TmuxName
      fake.adopt(other, projectDir)
      const reconciling = yield* Effect.fork(sessions.reconcile)
      yield* TestClock.adjust(RECONCILE_CONFIRM_DELAY)
      const report = yield* Fiber.join(reconciling)
      assert.strictEqual(report.orphansRemoved, 2)
      const names = fake.panes().map((p) => p.name)
      assert.notInclude(names, row!.tmuxName)
      assert.notInclude(names, TmuxName.make("tmx_0badc0de"))
      assert.include(names, mine.tmuxName, "an open session's tmux session stays")
      assert.include(names, other, "a session not named by telemux is never touched")
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("nothing is killed on one look: an orphan gone by the second look is left to tmux", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      fake.adopt(TmuxName.make("tmx_00000001"), projectDir)
      const reconciling = yield* Effect.fork(sessions.reconcile)
      yield* Effect.yieldNow()
      fake.vanish(TmuxName.make("tmx_00000001"))
      yield* TestClock.adjust(RECONCILE_CONFIRM_DELAY)
      assert.strictEqual((yield* Fiber.join(reconciling)).orphansRemoved, 0)
    }).pipe(Effect.provide(sessionsOnDoubles())))
})

// ---------------------------------------------------------------------------

const key = (k: string) => IdempotencyKey.make(k)

describe("Idempotency (memory store)", () => {
  const counted = Effect.gen(function*() {
    let runs = 0
    return {
      runs: () => runs,
      op: <A>(a: A) => Effect.sync(() => (runs++, a))
    }
  })

  it.effect("a retry with the same key gets the first outcome without running again; no key always runs", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency
      const c = yield* counted
      const req = { key: key("k1"), fingerprint: "input:a:ls", success: Schema.String }
      assert.strictEqual(yield* idem.run(req, c.op("first")), "first")
      assert.strictEqual(yield* idem.run(req, c.op("second")), "first")
      assert.strictEqual(c.runs(), 1)
      yield* idem.run({ ...req, key: undefined }, c.op("x"))
      yield* idem.run({ ...req, key: undefined }, c.op("x"))
      assert.strictEqual(c.runs(), 3)
    }).pipe(Effect.provide(IdempotencyLive.layerMemory)))

  it.effect("the same key with another request is refused (422) and runs nothing", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency
      const c = yield* counted
      yield* idem.run({ key: key("k"), fingerprint: "input:a:ls", success: Schema.Void }, c.op(undefined))
      const error = yield* Effect.flip(
        idem.run({ key: key("k"), fingerprint: "input:a:rm", success: Schema.Void }, c.op(undefined))
      )
      assert.strictEqual(error._tag, "IdempotencyKeyReused")
      assert.strictEqual(c.runs(), 1)
    }).pipe(Effect.provide(IdempotencyLive.layerMemory)))

  it.effect("'not done' forgets the key (the retry runs); 'unknown' is kept and replayed", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency
      const c = yield* counted
      const req = (k: string) => ({ key: key(k), fingerprint: k, success: Schema.Void })
      const failing = <E>(error: E): Effect.Effect<void, E> => Effect.zipRight(c.op(undefined), Effect.fail(error))
      const notDone = yield* Effect.flip(idem.run(req("a"), failing(new TerminalUnavailable({ message: "busy" }))))
      assert.strictEqual(notDone._tag, "TerminalUnavailable")
      yield* idem.run(req("a"), c.op(undefined))
      assert.strictEqual(c.runs(), 2, "the retry after 'not done' ran")
      yield* Effect.flip(idem.run(req("b"), failing(new OutcomeUnknown({ message: "tmux went quiet" }))))
      yield* idem.run(req("c"), c.op(undefined))
      yield* idem.run(req("c"), c.op(undefined))
      assert.strictEqual(c.runs(), 4, "a void success is replayed too")
      const replayed = yield* Effect.flip(idem.run(req("b"), c.op(undefined)))
      assert.strictEqual(replayed._tag, "OutcomeUnknown")
      assert.strictEqual(replayed.message, "tmux went quiet")
      assert.strictEqual(c.runs(), 4, "an unknown outcome is never run again")
    }).pipe(Effect.provide(IdempotencyLive.layerMemory)))

  it.effect("two requests with one key at once: one run, both get its outcome", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency
      const c = yield* counted
      const req = { key: key("same"), fingerprint: "f", success: Schema.Number }
      const slow = Effect.zipRight(Effect.sleep(Duration.seconds(1)), c.op(42))
      const both = yield* Effect.fork(Effect.all([idem.run(req, slow), idem.run(req, slow)], { concurrency: 2 }))
      yield* TestClock.adjust(Duration.seconds(2))
      assert.deepStrictEqual(yield* Fiber.join(both), [42, 42])
      assert.strictEqual(c.runs(), 1)
    }).pipe(Effect.provide(IdempotencyLive.layerMemory)))

  it.effect("a claim left without an outcome (the daemon died mid-run) answers OutcomeUnknown, runs nothing", () =>
    Effect.gen(function*() {
      const store = yield* IdempotencyStore
      const idem = yield* Idempotency
      const c = yield* counted
      yield* store.claim(key("crashed"), "f", 0)
      const error = yield* Effect.flip(
        idem.run({ key: key("crashed"), fingerprint: "f", success: Schema.Void }, c.op(undefined))
      )
      assert.strictEqual(error._tag, "OutcomeUnknown")
      assert.strictEqual(c.runs(), 0)
    }).pipe(Effect.provide(IdempotencyLive.layer.pipe(Layer.provideMerge(IdempotencyLive.layerMemoryStore)))))

  it.effect("the run is not cut short when its caller goes away: the outcome is kept for the retry", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency
      const c = yield* counted
      const req = { key: key("abandoned"), fingerprint: "f", success: Schema.Number }
      const caller = yield* Effect.fork(idem.run(req, Effect.zipRight(Effect.sleep(Duration.seconds(1)), c.op(7))))
      yield* Effect.yieldNow()
      const interrupting = yield* Effect.fork(Fiber.interrupt(caller))
      yield* TestClock.adjust(Duration.seconds(1))
      yield* Fiber.join(interrupting)
      assert.strictEqual(yield* idem.run(req, c.op(8)), 7)
      assert.strictEqual(c.runs(), 1)
    }).pipe(Effect.provide(IdempotencyLive.layerMemory)))

  it.effect("keys are bounded: past IDEMPOTENCY_KEYS_MAX the oldest are forgotten; expired ones too", () =>
    Effect.gen(function*() {
      const store = yield* IdempotencyStore
      for (let i = 0; i < IDEMPOTENCY_KEYS_MAX + 500; i++) yield* store.claim(key(`k${i}`), "f", i)
      yield* store.prune(0)
      assert.isTrue(Option.isNone(yield* store.claim(key("k0"), "g", 1)), "the oldest was forgotten")
      assert.isTrue(
        Option.isSome(yield* store.claim(key(`k${IDEMPOTENCY_KEYS_MAX + 499}`), "f", 1)),
        "the newest is kept"
      )
      yield* store.prune(Number.MAX_SAFE_INTEGER)
      assert.isTrue(Option.isNone(yield* store.claim(key(`k${IDEMPOTENCY_KEYS_MAX + 499}`), "f", 1)), "expired keys go")
    }).pipe(Effect.provide(IdempotencyLive.layerMemoryStore)))
})
