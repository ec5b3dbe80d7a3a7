import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as TelegramLive from "../layers/TelegramLive.js"
import * as TelegramOutbox from "../layers/TelegramOutbox.js"
import { OutputLog } from "../services/OutputLog.js"
import { Sessions } from "../services/Sessions.js"
import { TelegramNetworkError } from "../services/Telegram.js"
import { CHAT_BURST, CHAT_REFILL, ChatBudget, TAIL_EDIT_INTERVAL } from "../src/telegram/Pacing.js"
import { type FakeBotApi, startFakeBotApi, TOO_MANY } from "./support/fakeBotApi.js"
import { telegramOnDoubles } from "./support/telegramLayers.js"

/** Real time for the fake Bot API's answers to come back (the front-end's own waits are on the TestClock). */
const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 150)))

const tailCalls = (fake: FakeBotApi) =>
  fake.calls.filter((c) =>
    (c.method === "sendMessage" || c.method === "editMessageText") && String(c.payload.text).includes("<pre>")
  )

const onFake = <A, E>(body: (fake: FakeBotApi) => Effect.Effect<A, E, Sessions | OutputLog>) =>
  Effect.gen(function*() {
    const fake = yield* Effect.acquireRelease(Effect.promise(() => startFakeBotApi()), (f) => Effect.promise(f.close))
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "telemux-tg-"))),
      (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
    )
    const tuning = { ...TelegramLive.DEFAULT_TUNING, pollTimeoutSeconds: 1 }
    return yield* body(fake).pipe(
      Effect.provide(telegramOnDoubles({ apiRoot: fake.apiRoot, projectDir: dir, tuning, lines: [] }))
    )
  })

const newSession = Effect.flatMap(Sessions, (sessions) => sessions.create({ projectDir: os.tmpdir(), title: "paced" }))

const show = (id: Parameters<OutputLog["Type"]["append"]>[0], screen: string) =>
  Effect.flatMap(OutputLog, (log) => Effect.flatMap(DateTime.now, (now) => log.append(id, screen, now)))

describe("Telegram pacing (TestClock)", () => {
  it.scoped("100 screen changes in 1 s: the tail is edited within the limits, the last edit shows the final screen", () =>
    onFake((fake) =>
      Effect.gen(function*() {
        const session = yield* newSession
        yield* Effect.promise(() => fake.waitFor("the topic", () => fake.callsOf("createForumTopic").length === 1))
        for (let i = 1; i <= 100; i++) {
          yield* show(session.sessionId, `$ step ${i}\n`)
          yield* TestClock.adjust(Duration.millis(10))
          if (i === 1) {
            yield* Effect.promise(() => fake.waitFor("the first tail", () => tailCalls(fake).length === 1))
          }
        }
        yield* settle
        // within the first second: the first screen only (one edit per TAIL_EDIT_INTERVAL)
        assert.strictEqual(tailCalls(fake).length, 1)
        assert.strictEqual(tailCalls(fake)[0]!.payload.text, "<pre>$ step 1</pre>")
        yield* TestClock.adjust(Duration.subtract(TAIL_EDIT_INTERVAL, Duration.seconds(1)))
        yield* Effect.promise(() => fake.waitFor("the edit", () => tailCalls(fake).length === 2))
        const last = tailCalls(fake)[1]!
        assert.strictEqual(last.method, "editMessageText")
        assert.include(last.payload.text, "step 100")
        // nothing changed since: nothing more is sent, however long
        yield* TestClock.adjust(Duration.seconds(30))
        yield* settle
        assert.strictEqual(tailCalls(fake).length, 2)
      })
    ))

  it.scoped("429 retry_after: nothing is sent to the chat before it has passed, then the latest screen", () =>
    onFake((fake) =>
      Effect.gen(function*() {
        const session = yield* newSession
        yield* Effect.promise(() => fake.waitFor("the topic", () => fake.callsOf("createForumTopic").length === 1))
        yield* show(session.sessionId, "one")
        yield* Effect.promise(() => fake.waitFor("the first tail", () => tailCalls(fake).length === 1))
        fake.refuse("editMessageText", TOO_MANY(20))
        yield* TestClock.adjust(TAIL_EDIT_INTERVAL)
        yield* show(session.sessionId, "two")
        yield* Effect.promise(() =>
          fake.waitFor("the refused edit", () => fake.callsOf("editMessageText").length === 1)
        )
        yield* settle
        yield* show(session.sessionId, "three")
        yield* TestClock.adjust(Duration.seconds(19))
        yield* settle
        assert.strictEqual(fake.callsOf("editMessageText").length, 1, "nothing within retry_after")
        yield* TestClock.adjust(Duration.seconds(2))
        yield* Effect.promise(() =>
          fake.waitFor("the edit after retry_after", () => fake.callsOf("editMessageText").length === 2)
        )
        assert.include(fake.callsOf("editMessageText")[1]!.payload.text, "three")
      })
    ))

  it("the chat's budget: never more than 20 sends in any minute; a 429 closes it for retry_after", () => {
    const budget = new ChatBudget(CHAT_BURST, CHAT_REFILL, 0)
    const sent: Array<number> = []
    for (let now = 0; now < 300_000; now += 10) {
      if (budget.waitFor(now) === 0) {
        budget.take(now)
        sent.push(now)
      }
    }
    for (const start of sent) assert.isAtMost(sent.filter((t) => t >= start && t < start + 60_000).length, 20)
    assert.isAtLeast(sent.length, 70, "the budget is used, not starved")
    budget.closeFor(300_000, Duration.seconds(30))
    assert.strictEqual(budget.waitFor(300_000), 30_000)
    assert.strictEqual(budget.waitFor(329_999), 1)
    assert.strictEqual(budget.waitFor(330_000), 0)
  })
})

describe("Telegram outbox (TestClock)", () => {
  const recorder = () => {
    const sent: Array<string> = []
    const job = (key: string, text: string, extra: Partial<TelegramOutbox.Job> = {}): TelegramOutbox.Job => ({
      key,
      readyAt: 0,
      run: Effect.sync(() => void sent.push(text)),
      ...extra
    })
    return { sent, job }
  }

  it.scoped("bounded: past its bound the oldest waiting job is dropped; a job replaces the waiting one with its key", () =>
    Effect.gen(function*() {
      const outbox = yield* TelegramOutbox.make({ budget: new ChatBudget(1, Duration.seconds(1), 0), max: 3 })
      const { job, sent } = recorder()
      // nothing is sent before the sender runs: fill the outbox past its bound first
      for (let i = 1; i <= 5; i++) yield* outbox.enqueue(job(`reply:${i}`, `reply ${i}`))
      yield* outbox.enqueue(job("tail:s", "tail 1"))
      yield* outbox.enqueue(job("tail:s", "tail 2"))
      assert.strictEqual(yield* outbox.size, 3)
      yield* Effect.forkScoped(outbox.run)
      for (let i = 0; i < 5; i++) {
        yield* Effect.yieldNow()
        yield* TestClock.adjust(Duration.seconds(1))
      }
      assert.deepStrictEqual(sent, ["reply 4", "reply 5", "tail 2"])
      assert.strictEqual(yield* outbox.size, 0)
    }))

  it.scoped("a session's waiting jobs are dropped with it; a network error is retried with growing delays, then dropped", () =>
    Effect.gen(function*() {
      const outbox = yield* TelegramOutbox.make({ budget: new ChatBudget(100, Duration.millis(1), 0) })
      const { job, sent } = recorder()
      const session = "s1" as never
      yield* outbox.enqueue(job("tail:s1", "tail", { sessionId: session, readyAt: 10_000 }))
      yield* outbox.enqueue(job("title:s1", "title", { sessionId: session, readyAt: 10_000 }))
      yield* outbox.dropSession(session)
      assert.strictEqual(yield* outbox.size, 0)
      let attempts = 0
      yield* outbox.enqueue({
        key: "flaky",
        readyAt: 0,
        run: Effect.suspend(() => {
          attempts += 1
          return Effect.fail(new TelegramNetworkError({ method: "sendMessage", reason: "ECONNRESET" }))
        })
      })
      yield* Effect.forkScoped(outbox.run)
      yield* Effect.yieldNow()
      assert.strictEqual(attempts, 1)
      for (let i = 0; i < 120; i++) {
        yield* TestClock.adjust(Duration.seconds(1))
        yield* Effect.yieldNow()
      }
      assert.strictEqual(attempts, TelegramOutbox.ATTEMPTS)
      assert.strictEqual(yield* outbox.size, 0)
      assert.deepStrictEqual(sent, [])
    }))
})
