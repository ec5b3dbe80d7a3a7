import { afterAll, assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Fiber, Option, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { FakeTerminal } from "../layers/FakeTerminalBridge.js"
import { Cache } from "../services/Cache.js"
import { RECONCILE_CONFIRM_DELAY, Sessions } from "../services/Sessions.js"
import { SessionStore } from "../services/SessionStore.js"
import { SessionId } from "../src/domain/Session.js"
import { sessionsOnDoubles } from "./support/unitLayers.js"

const projectDir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-sessions-"))
afterAll(() => fs.rmSync(projectDir, { recursive: true, force: true }))

describe("Sessions on test doubles", () => {
  it.effect("create: row goes creating → running with the pane id, in store and cache", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir, title: "work" })
      assert.strictEqual(session.status, "running")
      assert.strictEqual(session.title, "work")
      assert.match(session.paneId ?? "", /^%\d+$/)
      assert.strictEqual(session.tmuxName, `tmx_${session.sessionId.replace(/-/g, "").slice(0, 8)}`)
      const created = fake.calls().find((c) => c.op === "create")
      assert.deepStrictEqual(created?.op === "create" ? created.env : undefined, {
        TELEMUX_SESSION_ID: session.sessionId,
        TELEMUX_HOME: "/nonexistent/telemux",
        TELEMUX_TMUX_SOCKET: "telemux"
      })
      const stored = yield* (yield* SessionStore).getSession(session.sessionId)
      assert.strictEqual(Option.getOrThrow(stored).status, "running")
      const cached = yield* (yield* Cache).getSession(session.sessionId)
      assert.strictEqual(Option.getOrThrow(cached).paneId, session.paneId)
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("create with a bad directory fails typed and changes nothing", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const file = path.join(projectDir, "a-file")
      fs.writeFileSync(file, "")
      for (const dir of ["relative/dir", "", path.join(projectDir, "missing"), file]) {
        const error = yield* sessions.create({ projectDir: dir }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "InvalidRequest")
      }
      assert.strictEqual(fake.calls().length, 0)
      assert.strictEqual((yield* (yield* SessionStore).getSessions({ status: "all" })).length, 0)
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("input from two senders never interleaves: each text is followed by its own Enter, without a fixed wait", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      fake.setPasteDelay(Duration.millis(100))
      const a = yield* Effect.fork(sessions.sendText(session.sessionId, "first", true))
      const b = yield* Effect.fork(sessions.sendText(session.sessionId, "second", true))
      yield* TestClock.adjust(Duration.millis(100))
      // the first text and its Enter are in as soon as the paste is; the second sender waits for both
      const afterPaste = fake.calls().filter((c) => c.op === "paste" || c.op === "keys")
      assert.deepStrictEqual(afterPaste.map((c) => c.op), ["paste", "keys"])
      yield* TestClock.adjust(Duration.millis(100))
      yield* Fiber.join(a)
      yield* Fiber.join(b)
      const order = fake.calls().flatMap((c) =>
        c.op === "paste" ? [`paste:${c.text}`] : c.op === "keys" ? [`keys:${c.keys.map((k) => k.key).join(",")}`] : []
      )
      assert.deepStrictEqual(order, ["paste:first", "keys:Enter", "paste:second", "keys:Enter"])
      const updated = yield* sessions.get(session.sessionId)
      assert.isNotNull(updated.lastActivityAt)
      assert.isTrue(updated.lastInput === "first" || updated.lastInput === "second")
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("text and its Enter are one typing: with the paste at a shell, after the paste has landed in any other program", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      const pane = session.paneId!
      const typed = () =>
        fake.calls().flatMap((c) => (c.op === "paste" || c.op === "keys" || c.op === "awaitLanded" ? [c.op] : []))
      yield* sessions.sendText(session.sessionId, "ls", true)
      assert.deepStrictEqual(typed(), ["paste", "keys"])
      fake.setForeground(pane, "node")
      yield* sessions.sendText(session.sessionId, "a prompt", true)
      assert.deepStrictEqual(typed().slice(2), ["paste", "awaitLanded", "keys"])
      yield* sessions.sendText(session.sessionId, "no enter", false)
      assert.deepStrictEqual(typed().slice(5), ["paste"])
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("keystrokes record the session's activity at most once per KEYSTROKE_ACTIVITY_INTERVAL, and every key is sent", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      const activity = () => Effect.map(sessions.get(session.sessionId), (s) => s.lastActivityAt)
      yield* TestClock.adjust(Duration.seconds(10))
      yield* sessions.sendBytes(session.sessionId, new Uint8Array([0x61]))
      const first = yield* activity()
      assert.deepStrictEqual(first, DateTime.unsafeMake(10_000))
      yield* TestClock.adjust(Duration.millis(999))
      yield* sessions.sendBytes(session.sessionId, new Uint8Array([0x62]))
      assert.deepStrictEqual(yield* activity(), first)
      yield* TestClock.adjust(Duration.millis(1))
      yield* sessions.sendBytes(session.sessionId, new Uint8Array([0x63]))
      assert.deepStrictEqual(yield* activity(), DateTime.unsafeMake(11_000))
      const sent = fake.calls().flatMap((c) => (c.op === "bytes" ? [Array.from(c.bytes)] : []))
      assert.deepStrictEqual(sent, [[0x61], [0x62], [0x63]])
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("recordOutput writes open sessions' last output to the store and the cache; a closed one keeps its row", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const store = yield* SessionStore
      const cache = yield* Cache
      const open = yield* sessions.create({ projectDir })
      const closed = yield* sessions.create({ projectDir })
      yield* sessions.close(closed.sessionId, "user")
      const at = DateTime.unsafeMake(1_700_000_000_000)
      yield* sessions.recordOutput([
        { id: open.sessionId, lastOutput: "built ok", lastOutputAt: at },
        { id: closed.sessionId, lastOutput: "late", lastOutputAt: at }
      ])
      const stored = Option.getOrThrow(yield* store.getSession(open.sessionId))
      const cached = Option.getOrThrow(yield* cache.getSession(open.sessionId))
      for (const row of [stored, cached]) {
        assert.deepStrictEqual([row.lastOutput, row.lastOutputAt, row.status], ["built ok", at, open.status])
      }
      const closedRow = Option.getOrThrow(yield* store.getSession(closed.sessionId))
      assert.deepStrictEqual([closedRow.status, closedRow.lastOutput], ["closed", closed.lastOutput])
      assert.isTrue(
        Option.isNone(yield* cache.getSession(closed.sessionId)) ||
          Option.getOrThrow(yield* cache.getSession(closed.sessionId)).status === "closed"
      )
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("a pane in copy-mode is taken out of it before the paste", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      fake.enterMode(session.paneId!)
      yield* sessions.sendText(session.sessionId, "echo hi", false)
      const ops = fake.calls().map((c) => c.op).filter((op) => op === "cancelMode" || op === "paste")
      assert.deepStrictEqual(ops, ["cancelMode", "paste"])
      assert.include(fake.panes()[0]!.screen, "echo hi")
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("close kills tmux, marks the row closed, empties the cache; later input is refused", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      const closed = yield* sessions.close(session.sessionId, "user")
      assert.strictEqual(closed.status, "closed")
      assert.strictEqual(closed.closeReason, "user")
      assert.isNotNull(closed.closedAt)
      assert.strictEqual(fake.panes().length, 0)
      assert.isTrue(Option.isNone(yield* (yield* Cache).getSession(session.sessionId)))
      assert.strictEqual((yield* sessions.list({})).length, 0)
      assert.strictEqual((yield* sessions.list({ status: "closed" })).length, 1)
      const again = yield* sessions.close(session.sessionId, "inactive")
      assert.strictEqual(again.closeReason, "user")
      const refused = yield* sessions.sendText(session.sessionId, "x", true).pipe(Effect.flip)
      assert.strictEqual(refused._tag, "SessionClosed")
      const unknown = yield* sessions.get(SessionId.make("00000000-0000-4000-8000-000000000000")).pipe(Effect.flip)
      assert.strictEqual(unknown._tag, "SessionNotFound")
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("a session gone from tmux is closed as tmux_gone only after the confirming look", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const gone = yield* sessions.create({ projectDir })
      const kept = yield* sessions.create({ projectDir })
      fake.vanish(gone.tmuxName)
      const run = yield* Effect.fork(sessions.reconcile)
      yield* Effect.yieldNow()
      assert.strictEqual((yield* sessions.get(gone.sessionId)).status, "running")
      yield* TestClock.adjust(RECONCILE_CONFIRM_DELAY)
      const report = yield* Fiber.join(run)
      assert.deepStrictEqual(report.closed, [gone.sessionId])
      const closed = yield* sessions.get(gone.sessionId)
      assert.strictEqual(closed.status, "closed")
      assert.strictEqual(closed.closeReason, "tmux_gone")
      assert.strictEqual((yield* sessions.get(kept.sessionId)).status, "running")
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("a timed-out probe is never read as gone: failed first or second look closes nothing", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      fake.vanish(session.tmuxName)

      fake.failNextLists(1)
      const first = yield* sessions.reconcile.pipe(Effect.flip)
      assert.strictEqual(first._tag, "TerminalUnavailable")

      const run = yield* Effect.fork(sessions.reconcile)
      yield* Effect.yieldNow()
      fake.failNextLists(1)
      yield* TestClock.adjust(RECONCILE_CONFIRM_DELAY)
      const report = yield* Fiber.join(run)
      assert.deepStrictEqual(report.closed, [])
      assert.strictEqual(report.spared, 1)
      assert.strictEqual((yield* sessions.get(session.sessionId)).status, "running")

      fake.setHung(true)
      const input = yield* sessions.sendText(session.sessionId, "x", true).pipe(Effect.flip)
      assert.strictEqual(input._tag, "TerminalUnavailable")
      assert.strictEqual((yield* sessions.get(session.sessionId)).status, "running")
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("a session back on the second look is spared", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      fake.vanish(session.tmuxName)
      const run = yield* Effect.fork(sessions.reconcile)
      yield* Effect.yieldNow()
      fake.adopt(session.tmuxName, projectDir)
      yield* TestClock.adjust(RECONCILE_CONFIRM_DELAY)
      const report = yield* Fiber.join(run)
      assert.strictEqual(report.spared, 1)
      assert.strictEqual((yield* sessions.get(session.sessionId)).status, "running")
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("input to a pane tmux no longer has closes the session after a confirming listing", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const fake = yield* FakeTerminal
      const session = yield* sessions.create({ projectDir })
      fake.vanish(session.tmuxName)
      const error = yield* sessions.sendText(session.sessionId, "x", true).pipe(Effect.flip)
      assert.strictEqual(error._tag, "SessionClosed")
      assert.strictEqual((yield* sessions.get(session.sessionId)).closeReason, "tmux_gone")
    }).pipe(Effect.provide(sessionsOnDoubles())))

  it.effect("the reaper closes sessions with no input for the inactivity timeout, and only those", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const stale = yield* sessions.create({ projectDir })
      const busy = yield* sessions.create({ projectDir })
      yield* TestClock.adjust(Duration.minutes(50))
      yield* Effect.fork(sessions.sendText(busy.sessionId, "still here", false))
      yield* Effect.yieldNow()
      yield* TestClock.adjust(Duration.minutes(20))
      const reaped = yield* sessions.reapInactive
      assert.deepStrictEqual(reaped, [stale.sessionId])
      assert.strictEqual((yield* sessions.get(stale.sessionId)).closeReason, "inactive")
      assert.strictEqual((yield* sessions.get(busy.sessionId)).status, "running")
    }).pipe(Effect.provide(sessionsOnDoubles({ TELEMUX_INACTIVITY_TIMEOUT: "1 hour" }))))

  it.effect("list and listJson agree, filter by status and computer, honour limit", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      for (let i = 0; i < 3; i++) yield* sessions.create({ projectDir })
      const listed = yield* sessions.list({ limit: 2 })
      const json = JSON.parse(yield* sessions.listJson({ limit: 2 }))
      assert.deepStrictEqual(json.map((s: { sessionId: string }) => s.sessionId), listed.map((s) => s.sessionId))
      assert.strictEqual((yield* sessions.list({ status: "idle" })).length, 0)
      assert.strictEqual((yield* sessions.list({ status: "running" })).length, 3)
      assert.strictEqual((yield* sessions.list({ status: "all" })).length, 3)
      const one = JSON.parse(yield* sessions.getJson(listed[0]!.sessionId))
      assert.strictEqual(one.sessionId, listed[0]!.sessionId)
      assert.strictEqual(typeof one.createdAt, "string")
    }).pipe(Effect.provide(sessionsOnDoubles())))
})
