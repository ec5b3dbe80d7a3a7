import { NodeFileSystem } from "@effect/platform-node"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Layer, Option, Ref, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as HookOutboxLive from "../layers/HookOutbox.js"
import * as MemoryHookOutbox from "../layers/MemoryHookOutbox.js"
import {
  HookDeliveryFailed,
  HookEventHandler,
  HookOutbox,
  OUTBOX_DEAD_LETTERS_MAX,
  OUTBOX_DELIVERY_TIMEOUT,
  OUTBOX_MAX_ATTEMPTS,
  OUTBOX_POLL_INTERVAL,
  OUTBOX_ROWS_MAX,
  outboxRetryDelay,
  type SessionRef
} from "../services/AgentHooks.js"
import type { HookEvent, HookEventJson } from "../src/agents/HookEvent.js"
import type { OutboxInsert } from "../src/agents/OutboxSchema.js"
import { OUTBOX_BELL_FILE } from "../src/agents/StateDir.js"
import { PaneId, SessionId } from "../src/domain/Session.js"

const SESSION_A = "aaaaaaaa-0000-4000-8000-000000000001"
const SESSION_B = "bbbbbbbb-0000-4000-8000-000000000002"

const prompt = (text: string): HookEventJson => ({
  _tag: "PromptSubmitted",
  agent: "claude",
  at: "2025-06-01T12:00:00.000Z",
  prompt: text
})

const row = (sessionId: string | null, text: string, pane: string | null = null): OutboxInsert => ({
  sessionId,
  paneId: pane,
  tmuxSocket: pane === null ? null : "/tmp/tmux-1000/telemux",
  agent: "claude",
  event: "UserPromptSubmit",
  payload: JSON.stringify(prompt(text)),
  createdAt: 1_700_000_000_000
})

interface Delivery {
  readonly ref: SessionRef
  readonly text: string
  readonly at: number
  readonly ok: boolean
}

const textOf = (event: HookEvent) => event._tag === "PromptSubmitted" ? event.prompt ?? "" : event._tag

/**
 * A handler that records every call (time, outcome) and fails a call when `failing` says so,
 * given the event's text and how many times that text was handled before.
 */
const recordingHandler = (
  failing: (text: string, previousCalls: number) => HookDeliveryFailed | "die" | "hang" | undefined = () => undefined
) =>
  Effect.gen(function*() {
    const calls = yield* Ref.make<ReadonlyArray<Delivery>>([])
    const handler = HookEventHandler.of({
      handle: (ref, event) =>
        Effect.gen(function*() {
          const text = textOf(event)
          const at = yield* Clock.currentTimeMillis
          const previous = (yield* Ref.get(calls)).filter((c) => c.text === text).length
          const failure = failing(text, previous)
          yield* Ref.update(calls, (list) => [...list, { ref, text, at, ok: failure === undefined }])
          if (failure === "die") return yield* Effect.die("boom")
          if (failure === "hang") return yield* Effect.never
          if (failure !== undefined) return yield* Effect.fail(failure)
        })
    })
    return { handler, calls }
  })

const tempDirs: Array<string> = []
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})

const sqliteLayer = Layer.unwrapEffect(Effect.sync(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-outbox-"))
  tempDirs.push(dir)
  return HookOutboxLive.layerFile(path.join(dir, "outbox.db")).pipe(Layer.provide(NodeFileSystem.layer))
}))

const implementations = [["SQLite file", sqliteLayer], ["memory", MemoryHookOutbox.layer]] as const

/** Runs `body` with a fresh outbox and a recording handler built from `failing`. */
const withOutbox = <A, E>(
  layer: Layer.Layer<HookOutbox, unknown>,
  failing: Parameters<typeof recordingHandler>[0],
  body: (calls: Ref.Ref<ReadonlyArray<Delivery>>) => Effect.Effect<A, E, HookOutbox | HookEventHandler>
) =>
  Effect.gen(function*() {
    const { calls, handler } = yield* recordingHandler(failing)
    return yield* body(calls).pipe(Effect.provide(Layer.succeed(HookEventHandler, handler)))
  }).pipe(Effect.provide(layer))

const texts = (calls: ReadonlyArray<Delivery>, onlyOk = true) => calls.filter((c) => !onlyOk || c.ok).map((c) => c.text)

for (const [name, layer] of implementations) {
  describe(`hook outbox (${name})`, () => {
    it.effect("delivers rows once, in order, and deletes them", () =>
      withOutbox(layer, undefined, (calls) =>
        Effect.gen(function*() {
          const outbox = yield* HookOutbox
          for (const text of ["a1", "a2", "a3"]) yield* outbox.enqueue(row(SESSION_A, text))
          yield* outbox.enqueue(row(null, "p1", "%7"))
          // one row per session per round: a1 and p1 first, then a2, then a3
          assert.strictEqual(yield* HookOutboxLive.deliverDue, 2)
          assert.strictEqual(yield* HookOutboxLive.deliverDue, 1)
          assert.strictEqual(yield* HookOutboxLive.deliverDue, 1)
          assert.strictEqual(yield* HookOutboxLive.deliverDue, 0)
          const delivered = yield* Ref.get(calls)
          assert.deepStrictEqual(texts(delivered), ["a1", "p1", "a2", "a3"])
          assert.deepStrictEqual(delivered[1]!.ref, {
            _tag: "Pane",
            paneId: PaneId.make("%7"),
            tmuxSocket: "/tmp/tmux-1000/telemux"
          })
          assert.deepStrictEqual(delivered[0]!.ref, { _tag: "Session", sessionId: SessionId.make(SESSION_A) })
          assert.deepStrictEqual(yield* outbox.stats, { pending: 0, deadLetters: 0 })
        })))

    it.effect("a failing row holds back its session's later rows, not other sessions'", () =>
      withOutbox(
        layer,
        (text, previous) => text === "a1" && previous === 0 ? new HookDeliveryFailed({ message: "busy" }) : undefined,
        (calls) =>
          Effect.gen(function*() {
            const outbox = yield* HookOutbox
            yield* outbox.enqueue(row(SESSION_A, "a1"))
            yield* outbox.enqueue(row(SESSION_A, "a2"))
            yield* outbox.enqueue(row(SESSION_B, "b1"))
            yield* outbox.enqueue(row(SESSION_B, "b2"))
            while ((yield* HookOutboxLive.deliverDue) > 0) {
              // drain what is due now
            }
            assert.deepStrictEqual(texts(yield* Ref.get(calls)), ["b1", "b2"])
            assert.strictEqual((yield* outbox.stats).pending, 2)
            yield* TestClock.adjust(outboxRetryDelay(1))
            while ((yield* HookOutboxLive.deliverDue) > 0) {
              // the retry, then the row it held back
            }
            assert.deepStrictEqual(texts(yield* Ref.get(calls)), ["b1", "b2", "a1", "a2"])
            assert.strictEqual((yield* outbox.stats).pending, 0)
          })
      ))

    it.effect("retries with capped exponential backoff, then dead-letters with the error", () =>
      withOutbox(
        layer,
        (text) => text === "a1" ? new HookDeliveryFailed({ message: "daemon store locked" }) : undefined,
        (calls) =>
          Effect.gen(function*() {
            const outbox = yield* HookOutbox
            yield* outbox.enqueue(row(SESSION_A, "a1"))
            yield* outbox.enqueue(row(SESSION_A, "a2"))
            for (let failures = 0; failures < OUTBOX_MAX_ATTEMPTS; failures++) {
              assert.strictEqual(yield* HookOutboxLive.deliverDue, 1)
              // not due again a moment before its retry time
              if (failures + 1 < OUTBOX_MAX_ATTEMPTS) {
                yield* TestClock.adjust(Duration.subtract(outboxRetryDelay(failures + 1), Duration.millis(1)))
                assert.strictEqual(yield* HookOutboxLive.deliverDue, 0)
                yield* TestClock.adjust(Duration.millis(1))
              }
            }
            const attempts = (yield* Ref.get(calls)).filter((c) => c.text === "a1")
            assert.strictEqual(attempts.length, OUTBOX_MAX_ATTEMPTS)
            const gaps = attempts.slice(1).map((c, i) => c.at - attempts[i]!.at)
            assert.deepStrictEqual(
              gaps,
              [1000, 2000, 4000, 8000, 16000, 32000, 60000].slice(0, OUTBOX_MAX_ATTEMPTS - 1)
            )
            const [letter] = yield* outbox.deadLetters(10)
            assert.strictEqual(letter!.error, "daemon store locked")
            assert.strictEqual(letter!.attempts, OUTBOX_MAX_ATTEMPTS)
            assert.deepStrictEqual(letter!.ref, { _tag: "Session", sessionId: SessionId.make(SESSION_A) })
            assert.strictEqual(JSON.parse(letter!.payload).prompt, "a1")
            // the session moves on
            assert.strictEqual(yield* HookOutboxLive.deliverDue, 1)
            assert.deepStrictEqual(texts(yield* Ref.get(calls)), ["a2"])
            assert.deepStrictEqual(yield* outbox.stats, { pending: 0, deadLetters: 1 })
          })
      ))

    it.effect("a permanent failure is dead-lettered at once", () =>
      withOutbox(
        layer,
        () => new HookDeliveryFailed({ message: "no such session", permanent: true }),
        () =>
          Effect.gen(function*() {
            const outbox = yield* HookOutbox
            yield* outbox.enqueue(row(SESSION_A, "a1"))
            yield* HookOutboxLive.deliverDue
            assert.deepStrictEqual(yield* outbox.stats, { pending: 0, deadLetters: 1 })
            assert.strictEqual((yield* outbox.deadLetters(1))[0]!.attempts, 1)
          })
      ))

    it.effect("a handler that dies or hangs counts as a failure and is retried", () =>
      withOutbox(
        layer,
        (text, previous) => previous > 0 ? undefined : text === "a1" ? "die" : "hang",
        (calls) =>
          Effect.gen(function*() {
            const outbox = yield* HookOutbox
            yield* outbox.enqueue(row(SESSION_A, "a1"))
            yield* outbox.enqueue(row(SESSION_B, "b1"))
            const round = yield* Effect.fork(HookOutboxLive.deliverDue)
            yield* TestClock.adjust(OUTBOX_DELIVERY_TIMEOUT)
            assert.strictEqual(yield* round.await.pipe(Effect.flatten), 2)
            assert.deepStrictEqual(texts(yield* Ref.get(calls)), [])
            yield* TestClock.adjust(outboxRetryDelay(1))
            assert.strictEqual(yield* HookOutboxLive.deliverDue, 2)
            assert.deepStrictEqual(texts(yield* Ref.get(calls)), ["a1", "b1"])
          })
      ))

    it.effect("rows it cannot read are dead-lettered instead of blocking their session", () =>
      withOutbox(layer, undefined, (calls) =>
        Effect.gen(function*() {
          const outbox = yield* HookOutbox
          yield* outbox.enqueue({ ...row(SESSION_A, "x"), payload: "{not json" })
          yield* outbox.enqueue(row(SESSION_A, "a2"))
          yield* outbox.enqueue(row("not-a-uuid", "y"))
          while ((yield* HookOutboxLive.deliverDue) > 0) {
            // drain
          }
          assert.deepStrictEqual(texts(yield* Ref.get(calls)), ["a2"])
          const letters = yield* outbox.deadLetters(10)
          assert.strictEqual(letters.length, 2)
          assert.isTrue(letters.some((l) => l.error.startsWith("unreadable event")))
          assert.isTrue(letters.some((l) => l.error.includes("no valid session id")))
        })))

    it.effect("dead letters are capped, newest kept", () =>
      withOutbox(layer, undefined, () =>
        Effect.gen(function*() {
          const outbox = yield* HookOutbox
          const total = OUTBOX_DEAD_LETTERS_MAX + 5
          for (let i = 0; i < total; i++) {
            const id = yield* outbox.enqueue(row(SESSION_A, `d${i}`))
            yield* outbox.deadLetter(id, `failed ${i}`)
          }
          assert.deepStrictEqual(yield* outbox.stats, { pending: 0, deadLetters: OUTBOX_DEAD_LETTERS_MAX })
          const newest = yield* outbox.deadLetters(OUTBOX_DEAD_LETTERS_MAX + 10)
          assert.strictEqual(newest.length, OUTBOX_DEAD_LETTERS_MAX)
          assert.strictEqual(newest[0]!.error, `failed ${total - 1}`)
          assert.strictEqual(newest.at(-1)!.error, "failed 5")
        })))

    it.effect(
      "pending rows are capped, oldest dropped",
      () =>
        withOutbox(layer, undefined, (calls) =>
          Effect.gen(function*() {
            const outbox = yield* HookOutbox
            for (let i = 0; i < OUTBOX_ROWS_MAX + 3; i++) yield* outbox.enqueue(row(SESSION_A, `r${i}`))
            assert.strictEqual((yield* outbox.stats).pending, OUTBOX_ROWS_MAX)
            yield* HookOutboxLive.deliverDue
            assert.deepStrictEqual(texts(yield* Ref.get(calls)), ["r3"])
          })),
      60_000
    )

    it.scoped("the worker polls: a row written while it idles is delivered within one poll interval", () =>
      Effect.gen(function*() {
        const { calls, handler } = yield* recordingHandler()
        const context = yield* Layer.build(
          HookOutboxLive.workerLayer.pipe(
            Layer.provideMerge(Layer.merge(layer, Layer.succeed(HookEventHandler, handler)))
          )
        )
        const outbox = yield* HookOutbox.pipe(Effect.provide(context))
        yield* TestClock.adjust(Duration.seconds(5))
        yield* outbox.enqueue(row(SESSION_A, "late"))
        yield* Effect.repeatN(Effect.yieldNow(), 10)
        assert.deepStrictEqual(texts(yield* Ref.get(calls)), [])
        yield* TestClock.adjust(OUTBOX_POLL_INTERVAL)
        yield* Effect.repeatN(Effect.yieldNow(), 10)
        assert.deepStrictEqual(texts(yield* Ref.get(calls)), ["late"])
        assert.strictEqual((yield* outbox.stats).pending, 0)
      }))
  })
}

describe("retry delays", () => {
  it("double from one second and stop at a minute", () => {
    const seconds = [1, 2, 3, 4, 5, 6, 7, 8, 40].map((n) => Duration.toSeconds(outboxRetryDelay(n)))
    assert.deepStrictEqual(seconds, [1, 2, 4, 8, 16, 32, 60, 60, 60])
  })
})

describe("the outbox bell", () => {
  it.scopedLive("is created 0600 beside outbox.db, and touching it (as the hook command does) rings the outbox", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-bell-"))
      tempDirs.push(dir)
      const context = yield* Layer.build(
        HookOutboxLive.layerFile(path.join(dir, "outbox.db")).pipe(Layer.provide(NodeFileSystem.layer))
      )
      const outbox = Context.get(context, HookOutbox)
      const bell = path.join(dir, OUTBOX_BELL_FILE)
      assert.strictEqual(fs.statSync(bell).mode & 0o777, 0o600)
      // the watch starts in its own fiber: touch until it hears one (bounded), as the hook does after each row
      const touch = Effect.sync(() => fs.utimesSync(bell, new Date(), new Date())).pipe(
        Effect.zipRight(Effect.sleep(Duration.millis(50))),
        Effect.forever
      )
      const rang = yield* Effect.raceFirst(outbox.rung, touch).pipe(Effect.timeoutOption(Duration.seconds(5)))
      assert.isTrue(Option.isSome(rang), "the bell was heard")
    }))
})
