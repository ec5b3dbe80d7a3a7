import { afterAll, assert, describe, it } from "@effect/vitest"
import { Clock, DateTime, Duration, Effect, Layer, PubSub, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { FakeTerminal } from "../layers/FakeTerminalBridge.js"
import * as LiveOutputWorkers from "../layers/LiveOutputWorkers.js"
import * as MemoryOutputLog from "../layers/MemoryOutputLog.js"
import { OutputLog } from "../services/OutputLog.js"
import { OutputPoller } from "../services/OutputPoller.js"
import { RECONCILE_CONFIRM_DELAY, Sessions } from "../services/Sessions.js"
import { type ControlEvent, TmuxControl } from "../services/TmuxControl.js"
import { isShell, screenTail } from "../src/domain/Screen.js"
import type { PaneId, SessionId } from "../src/domain/Session.js"
import { eventsOnlyControl } from "./support/fixtures.js"
import { sessionsOnDoubles } from "./support/unitLayers.js"

/** Lets the worker fibers drain what is queued (each event is a few steps of theirs). */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

const projectDir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-live-"))
afterAll(() => fs.rmSync(projectDir, { recursive: true, force: true }))

/** A poller double that records what it was asked to watch. */
const recordingPoller = Effect.sync(() => {
  const watched = new Map<SessionId, PaneId>()
  const calls: Array<string> = []
  const service = OutputPoller.of({
    watch: (id, pane) =>
      Effect.sync(() => {
        if (!watched.has(id)) calls.push(`watch:${id}`)
        watched.set(id, pane)
      }),
    unwatch: (id) =>
      Effect.sync(() => {
        calls.push(`unwatch:${id}`)
        watched.delete(id)
      }),
    watching: Effect.sync(() => watched.size)
  })
  return { service, watched, calls }
})

const controlEvents = Effect.runSync(PubSub.unbounded<ControlEvent>())
const testControl = Layer.succeed(TmuxControl, eventsOnlyControl(controlEvents))

const withWorkers = <A, E, R>(
  body: (poller: Effect.Effect.Success<typeof recordingPoller>) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const poller = yield* recordingPoller
    return yield* Effect.scoped(Effect.gen(function*() {
      yield* Layer.buildWithScope(LiveOutputWorkers.layer, yield* Effect.scope)
      return yield* body(poller)
    })).pipe(Effect.provide(Layer.succeed(OutputPoller, poller.service)))
  }).pipe(
    Effect.provide(Layer.mergeAll(sessionsOnDoubles(), MemoryOutputLog.layer, testControl))
  )

/** A new session (a shell, or the agent's), the services a status test drives it with, and its status. */
const newSession = (agent?: "claude") =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const session = yield* sessions.create(agent === undefined ? { projectDir } : { projectDir, agent })
    const id = session.sessionId
    return {
      sessions,
      log: yield* OutputLog,
      fake: yield* FakeTerminal,
      session,
      id,
      status: Effect.map(sessions.get(id), (s) => s.status)
    }
  })

describe("live output workers", () => {
  it.effect("watch sessions while open, unwatch when closed", () =>
    withWorkers((poller) =>
      Effect.gen(function*() {
        const sessions = yield* Sessions
        const session = yield* sessions.create({ projectDir })
        yield* settle
        assert.strictEqual(poller.watched.get(session.sessionId), session.paneId)
        yield* sessions.close(session.sessionId, "user")
        yield* settle
        assert.isFalse(poller.watched.has(session.sessionId))
        assert.deepStrictEqual(poller.calls, [`watch:${session.sessionId}`, `unwatch:${session.sessionId}`])
      })
    ))

  it.effect("a program in the foreground is running; back at a prompt quiet all along, idle once the prompt has had PROMPT_GRACE to show", () =>
    withWorkers(() =>
      Effect.gen(function*() {
        const { fake, id, log, session, sessions, status } = yield* newSession()
        fake.setForeground(session.paneId!, "sleep")
        yield* log.publish({ _tag: "CommandChanged", sessionId: id, command: "sleep" })
        yield* settle
        assert.strictEqual(yield* status, "running")
        // a silent program stays running however long it takes
        yield* TestClock.adjust(Duration.times(LiveOutputWorkers.SHELL_QUIET, 3))
        yield* settle
        assert.strictEqual(yield* status, "running")

        // back at the prompt, the screen quiet all along: idle once its prompt has had time to be seen
        fake.setForeground(session.paneId!, "bash")
        yield* log.publish({ _tag: "CommandChanged", sessionId: id, command: "bash" })
        yield* settle
        assert.strictEqual(yield* status, "running", "back at the prompt, its redraw not yet seen")
        yield* TestClock.adjust(Duration.subtract(LiveOutputWorkers.PROMPT_GRACE, LiveOutputWorkers.STATUS_TICK))
        yield* settle
        assert.strictEqual(yield* status, "running", "back at the prompt, its redraw not yet seen")
        yield* TestClock.adjust(Duration.times(LiveOutputWorkers.STATUS_TICK, 2))
        yield* settle
        assert.strictEqual(yield* status, "idle")

        const at = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
        yield* log.append(id, "$ echo hi\nhi\n$ \n\n", at)
        yield* settle
        assert.strictEqual(yield* status, "running", "a screen change is activity")
        assert.isNull((yield* sessions.get(id)).lastOutput)
        yield* TestClock.adjust(LiveOutputWorkers.ACTIVITY_FLUSH_INTERVAL)
        const updated = yield* sessions.get(id)
        assert.strictEqual(updated.lastOutput, "$ echo hi ⏎ hi ⏎ $")
        assert.strictEqual(updated.lastOutputAt?.epochMillis, at.epochMillis)
      })
    ))

  it.effect("a running shell's screen changes wake nothing; once anything makes it idle, the next change makes it running again", () =>
    withWorkers(() =>
      Effect.gen(function*() {
        const { fake, id, log, session, sessions, status } = yield* newSession()
        fake.setForeground(session.paneId!, "bash")
        const change = (n: number) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => log.append(id, `$ tick ${n}\n$ `, DateTime.unsafeMake(now)))
        yield* change(0)
        yield* settle
        assert.strictEqual(yield* status, "running")
        // changes keep postponing the settle: still running after more than SHELL_QUIET of them
        for (let i = 1; i <= 8; i++) {
          yield* TestClock.adjust(Duration.millis(500))
          yield* change(i)
          yield* settle
        }
        assert.strictEqual(yield* status, "running")
        // another party says idle (as the settle would): the next change is activity again
        yield* sessions.observe(id, { status: "idle" })
        yield* settle
        assert.strictEqual(yield* status, "idle")
        yield* change(9)
        yield* settle
        assert.strictEqual(yield* status, "running")
        yield* TestClock.adjust(LiveOutputWorkers.SHELL_QUIET)
        yield* settle
        assert.strictEqual(yield* status, "idle")
      })
    ))

  it.effect("a program's end is idle SHELL_QUIET after the screen's last change, however late tmux names the shell", () =>
    withWorkers(() =>
      Effect.gen(function*() {
        const { fake, id, log, session, status } = yield* newSession()
        fake.setForeground(session.paneId!, "sleep")
        yield* log.publish({ _tag: "CommandChanged", sessionId: id, command: "sleep" })
        yield* settle
        assert.strictEqual(yield* status, "running")
        // Ctrl-C: the prompt is on the screen at once; tmux tells the command up to a second later
        fake.setForeground(session.paneId!, "bash")
        yield* log.append(id, "$ sleep 60\n^C\n$ ", DateTime.unsafeMake(yield* Clock.currentTimeMillis))
        yield* TestClock.adjust(Duration.millis(900))
        yield* log.publish({ _tag: "CommandChanged", sessionId: id, command: "bash" })
        yield* settle
        yield* TestClock.adjust(Duration.millis(2000))
        yield* settle
        assert.strictEqual(yield* status, "running", "quiet for 2.9 s only")
        yield* TestClock.adjust(LiveOutputWorkers.STATUS_TICK)
        yield* settle
        assert.strictEqual(yield* status, "idle", "quiet for SHELL_QUIET: not counted again from the command's news")
      })
    ))

  it.effect("a shell named before its prompt is captured stays running until the prompt has been quiet: no idle between", () =>
    withWorkers(() =>
      Effect.gen(function*() {
        const { fake, id, log, session, status } = yield* newSession()
        fake.setForeground(session.paneId!, "sleep")
        yield* log.publish({ _tag: "CommandChanged", sessionId: id, command: "sleep" })
        yield* TestClock.adjust(Duration.times(LiveOutputWorkers.SHELL_QUIET, 2))
        yield* settle
        assert.strictEqual(yield* status, "running")
        const seen = new Set<string>()
        const look = Effect.flatMap(status, (s) => Effect.sync(() => seen.add(s)))
        fake.setForeground(session.paneId!, "bash")
        yield* log.publish({ _tag: "CommandChanged", sessionId: id, command: "bash" })
        for (let t = 0; t < 3300; t += 100) {
          if (t === 300) {
            yield* log.append(id, "$ sleep 60\n^C\n$ ", DateTime.unsafeMake(yield* Clock.currentTimeMillis))
          }
          yield* settle
          yield* look
          yield* TestClock.adjust(Duration.millis(100))
        }
        assert.deepStrictEqual([...seen], ["running"])
        yield* TestClock.adjust(LiveOutputWorkers.STATUS_TICK)
        yield* settle
        assert.strictEqual(yield* status, "idle")
      })
    ))

  it.effect("a shell loop that keeps printing stays running, its foreground flipping between the shell and its programs; idle once it stops", () =>
    withWorkers(() =>
      Effect.gen(function*() {
        const { fake, id, log, session, status } = yield* newSession()
        yield* TestClock.adjust(LiveOutputWorkers.SHELL_QUIET)
        yield* settle
        assert.strictEqual(yield* status, "idle", "a new shell is idle once quiet")
        // `while true; do date; sleep 0.5; done`: the loop is the shell's own; tmux sees bash most of the time
        for (let tick = 0; tick < 16; tick++) {
          const foreground = ["date", "bash", "sleep", "bash"][tick % 4]!
          fake.setForeground(session.paneId!, foreground)
          yield* log.publish({ _tag: "CommandChanged", sessionId: id, command: foreground })
          yield* log.append(
            id,
            `$ loop\n${"tick\n".repeat(tick + 1)}`,
            DateTime.unsafeMake(yield* Clock.currentTimeMillis)
          )
          yield* settle
          assert.strictEqual(yield* status, "running", `tick ${tick}`)
          yield* TestClock.adjust(Duration.millis(500))
          yield* settle
        }
        assert.strictEqual(yield* status, "running")
        yield* TestClock.adjust(Duration.subtract(LiveOutputWorkers.SHELL_QUIET, Duration.millis(600)))
        yield* settle
        assert.strictEqual(yield* status, "running", "not idle before the quiet time")
        yield* TestClock.adjust(Duration.millis(600))
        yield* settle
        assert.strictEqual(yield* status, "idle")
        assert.strictEqual(fake.panes().length, 1)
      })
    ))

  it.effect("sessions open before the workers start (a daemon restart) are settled too", () =>
    Effect.gen(function*() {
      const poller = yield* recordingPoller
      const sessions = yield* Sessions
      const session = yield* sessions.create({ projectDir })
      assert.strictEqual(session.status, "running")
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.buildWithScope(LiveOutputWorkers.layer, yield* Effect.scope)
        yield* settle
        assert.strictEqual(poller.watched.get(session.sessionId), session.paneId)
        yield* TestClock.adjust(LiveOutputWorkers.SHELL_QUIET)
        yield* settle
        assert.strictEqual((yield* sessions.get(session.sessionId)).status, "idle")
      })).pipe(Effect.provide(Layer.succeed(OutputPoller, poller.service)))
    }).pipe(Effect.provide(Layer.mergeAll(sessionsOnDoubles(), MemoryOutputLog.layer, testControl))))

  it.effect("the status rules hold nothing for sessions that are settled or closed", () =>
    Effect.gen(function*() {
      const poller = yield* recordingPoller
      const sessions = yield* Sessions
      const log = yield* OutputLog
      yield* Effect.scoped(Effect.gen(function*() {
        const workers = yield* LiveOutputWorkers.make
        const open = []
        for (let i = 0; i < 40; i++) open.push(yield* sessions.create({ projectDir }))
        for (const s of open) yield* log.append(s.sessionId, `screen ${s.sessionId}`, DateTime.unsafeMake(0))
        yield* settle
        // per running session: when it settles, and that it is known to run
        assert.strictEqual(yield* workers.statusStateSize, 80)
        for (const s of open.slice(0, 20)) yield* sessions.close(s.sessionId, "user")
        yield* settle
        assert.strictEqual(yield* workers.statusStateSize, 40)
        yield* TestClock.adjust(LiveOutputWorkers.SHELL_QUIET)
        yield* settle
        assert.strictEqual(yield* workers.statusStateSize, 0)
      })).pipe(Effect.provide(Layer.succeed(OutputPoller, poller.service)))
    }).pipe(Effect.provide(Layer.mergeAll(sessionsOnDoubles(), MemoryOutputLog.layer, testControl))))

  it.effect("an agent's status is its hooks': screen changes leave it; its pane back at the shell makes it idle", () =>
    withWorkers(() =>
      Effect.gen(function*() {
        const { fake, id, log, session, sessions, status } = yield* newSession("claude")
        fake.setForeground(session.paneId!, "claude")
        yield* sessions.observe(id, { status: "waiting_input" })
        yield* log.append(id, "claude> which branch?", DateTime.unsafeMake(yield* Clock.currentTimeMillis))
        yield* TestClock.adjust(Duration.times(LiveOutputWorkers.SHELL_QUIET, 2))
        yield* settle
        assert.strictEqual(yield* status, "waiting_input")
        // tmux names a wrapper script's interpreter: a shell's name while the agent still runs
        yield* log.publish({ _tag: "CommandChanged", sessionId: id, command: "sh" })
        yield* TestClock.adjust(LiveOutputWorkers.STATUS_TICK)
        yield* settle
        assert.strictEqual(yield* status, "waiting_input")
        fake.setForeground(session.paneId!, "bash")
        yield* log.publish({ _tag: "CommandChanged", sessionId: id, command: "bash" })
        yield* TestClock.adjust(LiveOutputWorkers.STATUS_TICK)
        yield* settle
        assert.strictEqual(yield* status, "idle")
      })
    ))

  it.effect("a reconnected control channel triggers a reconciliation", () =>
    withWorkers(() =>
      Effect.gen(function*() {
        const sessions = yield* Sessions
        const fake = yield* FakeTerminal
        const session = yield* sessions.create({ projectDir })
        fake.vanish(session.tmuxName)
        yield* PubSub.publish(controlEvents, { _tag: "Connected" })
        yield* settle
        yield* TestClock.adjust(RECONCILE_CONFIRM_DELAY)
        yield* settle
        assert.strictEqual((yield* sessions.get(session.sessionId)).closeReason, "tmux_gone")
      })
    ))
})

describe("screen helpers", () => {
  it("knows shells from other commands", () => {
    assert.isTrue(isShell("bash"))
    assert.isTrue(isShell("-zsh"))
    assert.isTrue(isShell("/usr/bin/fish"))
    assert.isFalse(isShell("claude"))
    assert.isFalse(isShell("sleep"))
  })

  it("keeps the end of the screen within 200 characters", () => {
    assert.strictEqual(screenTail("a\n\nb  \n   \n"), "a ⏎ b")
    const long = screenTail(`${"x".repeat(150)}\n${"y".repeat(150)}`)
    assert.strictEqual(long, "y".repeat(150))
    const huge = screenTail("z".repeat(500))
    assert.strictEqual(huge.length, 200)
    assert.isTrue(huge.startsWith("…"))
  })
})
