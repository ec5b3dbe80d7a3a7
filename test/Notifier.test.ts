import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Layer, Logger, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as DaemonLogger from "../layers/DaemonLogger.js"
import * as Notifier from "../layers/Notifier.js"
import * as ConfigLive from "../layers/TelemuxConfigLive.js"
import { Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import type { Session, SessionId } from "../src/domain/Session.js"
import { parseTargets } from "../src/notify/NotifyTarget.js"
import { RateLimit } from "../src/notify/RateLimit.js"
import { SessionTransitions } from "../src/notify/SessionTransitions.js"
import { sessionsOnDoubles } from "./support/unitLayers.js"
import { startWebhookSink } from "./support/webhookSink.js"

const SECRET = "s3cret-for-tests"

/** A real HTTP server on loopback that records each request and answers what `answer` says. */
const sink = (answer?: (n: number) => number | "hang") =>
  Effect.acquireRelease(
    Effect.promise(() => startWebhookSink(SECRET, answer)),
    (target) => Effect.promise(target.close)
  )

const FAST: Notifier.NotifierTuning = {
  ...Notifier.DEFAULT_TUNING,
  firstRetry: Duration.millis(20),
  attemptTimeout: Duration.seconds(5)
}

/** Sessions on in-memory doubles, the notifier on them, its log lines in `lines`. */
const notifierOn = (notify: string, lines: Array<string>, tuning: Notifier.NotifierTuning = FAST) =>
  Notifier.layerWith(tuning).pipe(
    Layer.provideMerge(sessionsOnDoubles({ TELEMUX_NOTIFY: notify, TELEMUX_NOTIFY_SECRET: SECRET })),
    Layer.provide(Logger.replace(Logger.defaultLogger, DaemonLogger.makeLogger((line) => lines.push(line))))
  )

const until = (what: string, probe: () => boolean) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 10_000
    while (!probe()) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep(Duration.millis(10))
    }
  })

const newSession = (title: string, agent?: "claude") =>
  Effect.flatMap(
    Sessions,
    (sessions) => sessions.create({ projectDir: os.tmpdir(), title, ...(agent === undefined ? {} : { agent }) })
  )

const observe = (id: SessionId, status: "running" | "idle" | "waiting_input", lastOutput?: string) =>
  Effect.flatMap(
    Sessions,
    (sessions) => sessions.observe(id, { status, ...(lastOutput === undefined ? {} : { lastOutput }) })
  )

const messages = (lines: ReadonlyArray<string>) => lines.map((line) => JSON.parse(line) as { message: string })

describe("TELEMUX_NOTIFY targets", () => {
  it("reads ntfy, webhook (prefixed or bare) and desktop, each once", () => {
    const parsed = parseTargets(
      "ntfy:https://ntfy.sh/my-topic, https://hooks.example/t?k=1 webhook:http://h/x desktop desktop"
    )
    assert.deepStrictEqual(Either.getOrThrow(parsed), [
      { _tag: "Ntfy", server: "https://ntfy.sh/", topic: "my-topic" },
      { _tag: "Webhook", url: "https://hooks.example/t?k=1" },
      { _tag: "Webhook", url: "http://h/x" },
      { _tag: "Desktop" }
    ])
  })

  it("refuses a bad target with a typed error naming it and the forms that work", () => {
    for (const bad of ["mailto:me@x", "ntfy:https://ntfy.sh/", "ftp://x/y", "https://user:pw@h/x", "ntfy:nope"]) {
      const parsed = parseTargets(`desktop,${bad}`)
      assert.isTrue(Either.isLeft(parsed), bad)
      const error = Either.getLeft(parsed).pipe(Option.getOrThrow)
      assert.strictEqual(error._tag, "NotifyTargetInvalid")
      assert.include(error.message, `"${bad}"`)
      assert.include(error.message, "ntfy:https://host/topic")
    }
  })

  it.effect("configuration: a bad target or a webhook without a secret stops the daemon with ConfigInvalid", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.flip(
        Effect.provide(TelemuxConfig, ConfigLive.layerFromRecord({ TELEMUX_NOTIFY: "slack:#general" }))
      )
      assert.strictEqual(bad._tag, "ConfigInvalid")
      assert.include(bad.message, `"slack:#general"`)
      const unsigned = yield* Effect.flip(
        Effect.provide(TelemuxConfig, ConfigLive.layerFromRecord({ TELEMUX_NOTIFY: "https://h/x" }))
      )
      assert.include(unsigned.message, "TELEMUX_NOTIFY_SECRET")
      const good = yield* Effect.provide(
        TelemuxConfig,
        ConfigLive.layerFromRecord({ TELEMUX_NOTIFY: "desktop ntfy:http://127.0.0.1:1/t" })
      )
      assert.deepStrictEqual(good.notify.targets.map((t) => t._tag), ["Desktop", "Ntfy"])
    }))
})

describe("SessionTransitions and RateLimit", () => {
  it("a state is news once per entry into it; the first sight of a session is not news", () => {
    const transitions = new SessionTransitions(2)
    const base = { sessionId: "a", agent: "claude" } as const
    const at = (status: string, extra: Record<string, unknown> = {}) =>
      ({ ...base, status, ...extra }) as unknown as Session
    assert.isUndefined(transitions.upserted(at("waiting_input")))
    assert.isUndefined(transitions.upserted(at("waiting_input")))
    assert.strictEqual(transitions.upserted(at("running")), undefined)
    assert.strictEqual(transitions.upserted(at("waiting_input")), "waiting_input")
    assert.strictEqual(transitions.upserted(at("idle")), "turn_finished")
    assert.isUndefined(transitions.upserted(at("running", { agent: null })))
    assert.isUndefined(transitions.upserted(at("idle", { agent: null })))
    // bounded: a third session pushes out the least recently changed
    transitions.upserted(at("idle", { sessionId: "b" }))
    transitions.upserted(at("idle", { sessionId: "c" }))
    assert.strictEqual(transitions.size, 2)
    assert.isFalse(transitions.removed("a" as never))
    assert.isTrue(transitions.removed("c" as never))
  })

  it("a burst, then one per refill; the dropped are counted; the buckets are bounded", () => {
    const limit = new RateLimit(3, Duration.seconds(30), 2)
    const verdicts = Array.from({ length: 10 }, () => limit.take("s", 1_000)._tag)
    assert.deepStrictEqual(verdicts.filter((v) => v === "Allowed").length, 3)
    assert.deepStrictEqual(limit.take("s", 1_000 + 29_999), { _tag: "Limited", dropped: 8 })
    assert.deepStrictEqual(limit.take("s", 1_000 + 30_000), { _tag: "Allowed", droppedBefore: 8 })
    limit.take("t", 0)
    limit.take("u", 0)
    assert.strictEqual(limit.size, 2)
  })
})

describe("Notifier (sessions on in-memory doubles, a real HTTP sink)", () => {
  it.scopedLive("a session starting to wait for input reaches the webhook once, signed", () =>
    Effect.gen(function*() {
      const target = yield* sink()
      const lines: Array<string> = []
      yield* Effect.gen(function*() {
        const waiting = yield* newSession("asks")
        yield* observe(waiting.sessionId, "waiting_input", "Proceed? (y/n)")
        yield* observe(waiting.sessionId, "waiting_input", "Proceed? (y/n) — still")
        yield* until("the notification", () => target.received.length >= 1)
        // a later, different notification marks the point by which a repeat would have come
        const other = yield* newSession("other")
        yield* observe(other.sessionId, "waiting_input", "name?")
        yield* until("the second notification", () => target.received.length >= 2)
        const first = target.received[0]!
        assert.isTrue(first.signed, JSON.stringify(first.headers))
        assert.strictEqual(first.headers["x-telemux-event"], "waiting_input")
        assert.strictEqual(first.headers["x-telemux-delivery"], first.body.id)
        assert.strictEqual(first.body.event, "waiting_input")
        assert.strictEqual(first.body.sessionId, waiting.sessionId)
        assert.strictEqual(first.body.detail, "Proceed? (y/n)")
        assert.strictEqual(first.body.text, "asks waits for input (local): Proceed? (y/n)")
        assert.deepStrictEqual(target.received.map((r) => r.body.sessionId), [waiting.sessionId, other.sessionId])
      }).pipe(Effect.provide(notifierOn(`webhook:${target.url}/hook`, lines)))
    }))

  it.scopedLive("an agent's finished turn and a session that died are told; a user's close is not", () =>
    Effect.gen(function*() {
      const target = yield* sink()
      const lines: Array<string> = []
      yield* Effect.gen(function*() {
        const sessions = yield* Sessions
        const agent = yield* newSession("agent", "claude")
        yield* observe(agent.sessionId, "running")
        yield* observe(agent.sessionId, "idle", "done: 3 files changed")
        const closedByUser = yield* newSession("closed-by-user")
        yield* sessions.close(closedByUser.sessionId, "user")
        const dies = yield* newSession("dies")
        yield* sessions.close(dies.sessionId, "pane_dead")
        yield* until("two notifications", () => target.received.length >= 2)
        // ntfy: JSON to the server's root, naming the topic
        assert.deepStrictEqual(target.received.map((r) => r.path), ["/", "/"])
        assert.deepStrictEqual(target.received.map((r) => [r.body.topic, r.body.title]), [
          ["alerts", "agent finished its turn (local)"],
          ["alerts", "dies ended unexpectedly (local)"]
        ])
        assert.strictEqual(target.received[0]!.body.message, "done: 3 files changed")
        assert.strictEqual(target.received[1]!.body.message, "closed: pane_dead")
        assert.isFalse(target.received.some((r) => String(r.body.title).includes("closed-by-user")))
      }).pipe(Effect.provide(notifierOn(`ntfy:${target.url}/alerts`, lines)))
    }))

  it.scopedLive("a burst of 100 waits of one session: 3 go out (the burst), the rest are dropped with one log line", () =>
    Effect.gen(function*() {
      const target = yield* sink()
      const lines: Array<string> = []
      yield* Effect.gen(function*() {
        const busy = yield* newSession("busy")
        yield* observe(busy.sessionId, "running")
        for (let i = 0; i < 100; i++) {
          yield* observe(busy.sessionId, "waiting_input", `question ${i}`)
          yield* observe(busy.sessionId, "running")
        }
        // another session is not held back by the busy one's limit, and marks the end of the burst
        const calm = yield* newSession("calm")
        yield* observe(calm.sessionId, "waiting_input", "calm question")
        yield* until("the calm session's notification", () => target.received.some((r) => r.body.title === "calm"))
        const busyOnes = target.received.filter((r) => r.body.sessionId === busy.sessionId)
        assert.deepStrictEqual(busyOnes.map((r) => r.body.detail), ["question 0", "question 1", "question 2"])
        const limited = messages(lines).filter((l) => l.message.includes("rate-limited"))
        assert.strictEqual(limited.length, 1, lines.join("\n"))
        assert.include(limited[0]!.message, "3 at once, then 1 per 30s")
      }).pipe(Effect.provide(notifierOn(`${target.url}/hook`, lines)))
    }))

  it.scopedLive("a target that fails is retried with backoff, then the notification is dropped with a log line; sessions go on", () =>
    Effect.gen(function*() {
      const down = yield* sink(() => 503)
      const lines: Array<string> = []
      yield* Effect.gen(function*() {
        const sessions = yield* Sessions
        const s = yield* newSession("unlucky")
        yield* observe(s.sessionId, "waiting_input", "?")
        yield* until("the drop", () => lines.some((l) => l.includes("notification dropped")))
        assert.strictEqual(down.received.length, FAST.attempts)
        const dropped = messages(lines).find((l) => l.message.includes("notification dropped"))!
        assert.strictEqual(dropped.message, "notification dropped after 4 attempts: answered 503")
        // the session is untouched by it
        yield* observe(s.sessionId, "running")
        assert.strictEqual((yield* sessions.get(s.sessionId)).status, "running")
      }).pipe(Effect.provide(notifierOn(`${down.url}/hook`, lines)))

      // nothing listening at all: the same, from connection errors
      const refused: Array<string> = []
      yield* Effect.gen(function*() {
        const s = yield* newSession("nobody home")
        yield* observe(s.sessionId, "waiting_input", "?")
        yield* until("the drop", () => refused.some((l) => l.includes("notification dropped after 4 attempts")))
      }).pipe(Effect.provide(notifierOn("http://127.0.0.1:1/hook", refused)))
    }))

  it.scopedLive("a queue past its bound drops its oldest notifications, counting them in a log line", () =>
    Effect.gen(function*() {
      const stuck = yield* sink(() => "hang")
      const lines: Array<string> = []
      yield* Effect.gen(function*() {
        const created = yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => i), (i) => newSession(`s${i}`))
        yield* observe(created[0]!.sessionId, "waiting_input", "?")
        yield* until("the first request, which hangs", () => stuck.received.length === 1)
        for (const s of created.slice(1)) yield* observe(s.sessionId, "waiting_input", "?")
        // one is being sent (its request hangs), 5 wait, 2 of the oldest waiting were dropped
        yield* until("two drops", () => lines.filter((l) => l.includes("queue is full")).length >= 2)
        const drops = lines.map((l) => JSON.parse(l)).filter((l) => l.message.includes("queue is full"))
        assert.deepStrictEqual(drops.map((l) => l.annotations.droppedTotal), [1, 2])
        assert.strictEqual(stuck.received.length, 1)
      }).pipe(
        Effect.provide(
          notifierOn(`${stuck.url}/hook`, lines, { ...FAST, queueMax: 5, attemptTimeout: Duration.seconds(20) })
        )
      )
    }))

  it.scopedLive("desktop: notify-send gets the headline and the detail; without it, one attempt and a drop that says what to install", () =>
    Effect.gen(function*() {
      const bin = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-notify-send-"))
      const record = path.join(bin, "args")
      fs.writeFileSync(path.join(bin, "notify-send"), `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\n`, { mode: 0o755 })
      const savedPath = process.env.PATH
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          process.env.PATH = savedPath
          fs.rmSync(bin, { recursive: true, force: true })
        })
      )
      const lines: Array<string> = []
      process.env.PATH = `${bin}:${savedPath ?? ""}`
      yield* Effect.gen(function*() {
        const s = yield* newSession("desk")
        yield* observe(s.sessionId, "waiting_input", "Allow \u001b[31mrm\u001b[0m?")
        yield* until("notify-send ran", () => fs.existsSync(record))
        yield* until("its arguments written", () => fs.readFileSync(record, "utf8").split("\n").length >= 6)
        assert.deepStrictEqual(fs.readFileSync(record, "utf8").split("\n").slice(0, 5), [
          "--app-name=telemux",
          "--urgency=critical",
          "--",
          "desk waits for input (local)",
          "Allow rm?"
        ])
      }).pipe(Effect.provide(notifierOn("desktop", lines)))

      process.env.PATH = "/nonexistent"
      const missing: Array<string> = []
      yield* Effect.gen(function*() {
        const s = yield* newSession("no desktop")
        yield* observe(s.sessionId, "waiting_input", "?")
        yield* until("the drop", () => missing.some((l) => l.includes("notification dropped")))
        const dropped = messages(missing).find((l) => l.message.includes("notification dropped"))!
        assert.match(dropped.message, /^notification dropped after 1 attempt: could not start notify-send/)
        assert.include(dropped.message, "install notify-send (libnotify-bin) or drop the desktop target")
      }).pipe(Effect.provide(notifierOn("desktop", missing)))
    }))
})
