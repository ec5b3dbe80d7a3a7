import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, TestClock } from "effect"
import * as os from "node:os"
import * as AgentsLive from "../layers/AgentsLive.js"
import { FakeTerminal } from "../layers/FakeTerminalBridge.js"
import * as FleetLive from "../layers/FleetLive.js"
import * as MemoryOutputLog from "../layers/MemoryOutputLog.js"
import * as SqliteListeners from "../layers/SqliteListeners.js"
import { HookEventHandler } from "../services/AgentHooks.js"
import { Agents, STOP_DEBOUNCE, STOP_DEBOUNCE_MAX } from "../services/Agents.js"
import { Listeners, LISTENERS_PER_SESSION_MAX } from "../services/Listeners.js"
import { Sessions } from "../services/Sessions.js"
import { InputRequested, PromptSubmitted, TurnStopped } from "../src/agents/HookEvent.js"
import { ComputerName, type SessionId } from "../src/domain/Session.js"
import { sessionsOnDoubles } from "./support/unitLayers.js"

const dir = os.tmpdir()
const local = ComputerName.make("local")

const agentsOnDoubles = () =>
  AgentsLive.layer.pipe(
    Layer.provideMerge(FleetLive.layerAlone),
    Layer.provideMerge(Layer.mergeAll(MemoryOutputLog.layer, SqliteListeners.layerMemory)),
    Layer.provideMerge(sessionsOnDoubles())
  )

/** A turn stop as the hook saw it, `atMs` after the epoch (debouncing goes by when hooks ran). */
const stopped = (lastMessage: string, atMs = 0) =>
  new TurnStopped({ agent: "claude", at: DateTime.unsafeMake(atMs), lastMessage })

/** Runs a hook to completion, forked, with the test clock moved on past any wait in it (200 ms pass). */
const deliver = <E>(handling: Effect.Effect<void, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(handling)
    yield* Effect.yieldNow().pipe(Effect.repeatN(10))
    yield* TestClock.adjust(Duration.millis(200))
    yield* fiber.await.pipe(Effect.flatten)
  })

const pastes = (terminal: FakeTerminal["Type"], pane: string | null) =>
  terminal.calls().flatMap((c) => (c.op === "paste" && c.pane === pane ? [c.text] : []))

describe("Agents on doubles", () => {
  it.scoped("a turn stop makes the session idle with the last message and tells each listener once per debounce window", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const agents = yield* Agents
      const hooks = yield* HookEventHandler
      const terminal = yield* FakeTerminal
      const worker = yield* sessions.create({ projectDir: dir, agent: "claude", agentMode: "fast" })
      const boss = yield* sessions.create({ projectDir: dir, title: "boss" })
      yield* agents.listen(worker.sessionId, { sessionId: boss.sessionId, computer: local })

      yield* deliver(hooks.handle({ _tag: "Session", sessionId: worker.sessionId }, stopped("all tests pass")))
      const idle = yield* sessions.get(worker.sessionId)
      assert.strictEqual(idle.status, "idle")
      assert.strictEqual(idle.lastOutput, "all tests pass")
      const told = pastes(terminal, boss.paneId)
      assert.strictEqual(told.length, 1)
      assert.match(
        told[0]!,
        /^\[telemux\] .* \(\w{8}\) on local finished its turn: all tests pass — read it: telemux tail /
      )

      // the agent's repeated stop inside the window (its hook ran 1999 ms after the first) is the same stop
      const window = Duration.toMillis(STOP_DEBOUNCE)
      yield* deliver(hooks.handle({ _tag: "Session", sessionId: worker.sessionId }, stopped("again", window - 1)))
      assert.strictEqual(pastes(terminal, boss.paneId).length, 1)
      // a hook that ran a full window after the first: a new turn
      yield* deliver(hooks.handle({ _tag: "Session", sessionId: worker.sessionId }, stopped("next turn", window)))
      assert.strictEqual(pastes(terminal, boss.paneId).length, 2)
      // a prompt in between makes the next stop a new turn, however soon it comes
      yield* deliver(hooks.handle(
        { _tag: "Session", sessionId: worker.sessionId },
        new PromptSubmitted({ agent: "claude", at: DateTime.unsafeMake(window + 5), prompt: "quick one" })
      ))
      assert.strictEqual((yield* sessions.get(worker.sessionId)).status, "running")
      yield* deliver(
        hooks.handle({ _tag: "Session", sessionId: worker.sessionId }, stopped("quick answer", window + 10))
      )
      assert.strictEqual(pastes(terminal, boss.paneId).length, 3)

      // input requested: waiting_input with its message, listener told
      yield* deliver(hooks.handle(
        { _tag: "Session", sessionId: worker.sessionId },
        new InputRequested({ agent: "claude", at: DateTime.unsafeMake(0), message: "May I run rm?" })
      ))
      const waiting = yield* sessions.get(worker.sessionId)
      assert.strictEqual(waiting.status, "waiting_input")
      assert.strictEqual(waiting.lastOutput, "May I run rm?")
      assert.include(pastes(terminal, boss.paneId)[3]!, "asks for input: May I run rm?")

      // after the listener closes, nothing is typed for it and its pair is gone
      yield* sessions.close(boss.sessionId, "user")
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      yield* deliver(hooks.handle({ _tag: "Session", sessionId: worker.sessionId }, stopped("after close", 3 * window)))
      assert.strictEqual(pastes(terminal, boss.paneId).length, 4)
      assert.strictEqual(yield* (yield* Listeners).count, 0)
    }).pipe(Effect.provide(agentsOnDoubles())))

  it.scoped("a hook for no open session fails permanently; a closed session leaves no debounce entry", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const hooks = yield* HookEventHandler
      const agents = yield* Agents
      const gone = yield* Effect.flip(
        hooks.handle({ _tag: "Session", sessionId: "00000000-0000-4000-8000-000000000001" as SessionId }, stopped("x"))
      )
      assert.isTrue(gone.permanent)
      const worker = yield* sessions.create({ projectDir: dir, agent: "codex" })
      yield* hooks.handle({ _tag: "Session", sessionId: worker.sessionId }, stopped("done"))
      assert.strictEqual(yield* agents.debounceSize, 1)
      yield* sessions.close(worker.sessionId, "user")
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      assert.strictEqual(yield* agents.debounceSize, 0)
    }).pipe(Effect.provide(agentsOnDoubles())))

  it.scoped("the debounce map stays within its bound however many sessions stop", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const hooks = yield* HookEventHandler
      const agents = yield* Agents
      const n = STOP_DEBOUNCE_MAX + 50
      for (let i = 0; i < n; i++) {
        const s = yield* sessions.create({ projectDir: dir, agent: "claude" })
        yield* hooks.handle({ _tag: "Session", sessionId: s.sessionId }, stopped(`turn ${i}`))
      }
      assert.strictEqual(yield* agents.debounceSize, STOP_DEBOUNCE_MAX)
    }).pipe(Effect.provide(agentsOnDoubles())), 60_000)

  it.scoped("listeners per session are bounded; listening to oneself or a closed session is refused", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const agents = yield* Agents
      const target = yield* sessions.create({ projectDir: dir, agent: "claude" })
      for (let i = 0; i < LISTENERS_PER_SESSION_MAX; i++) {
        const l = yield* sessions.create({ projectDir: dir })
        yield* agents.listen(target.sessionId, { sessionId: l.sessionId, computer: local })
      }
      const extra = yield* sessions.create({ projectDir: dir })
      const full = yield* Effect.flip(agents.listen(target.sessionId, { sessionId: extra.sessionId, computer: local }))
      assert.strictEqual(full._tag, "InvalidRequest")
      assert.strictEqual(yield* (yield* Listeners).count, LISTENERS_PER_SESSION_MAX)
      const self = yield* Effect.flip(agents.listen(target.sessionId, { sessionId: target.sessionId, computer: local }))
      assert.strictEqual(self._tag, "InvalidRequest")
      yield* sessions.close(target.sessionId, "user")
      const closed = yield* Effect.flip(
        agents.listen(target.sessionId, { sessionId: extra.sessionId, computer: local })
      )
      assert.strictEqual(closed._tag, "InvalidRequest")
    }).pipe(Effect.provide(agentsOnDoubles())))
})
