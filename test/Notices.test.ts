import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, TestClock } from "effect"
import * as os from "node:os"
import * as AgentsLive from "../layers/AgentsLive.js"
import { FakeTerminal } from "../layers/FakeTerminalBridge.js"
import * as FleetLive from "../layers/FleetLive.js"
import * as MemoryOutputLog from "../layers/MemoryOutputLog.js"
import * as SqliteListeners from "../layers/SqliteListeners.js"
import { HookEventHandler } from "../services/AgentHooks.js"
import { Agents } from "../services/Agents.js"
import { Sessions } from "../services/Sessions.js"
import { InputRequested, TurnStopped } from "../src/agents/HookEvent.js"
import { findPasteMarker } from "../src/domain/InputText.js"
import { ComputerName } from "../src/domain/Session.js"
import { makeSession } from "./support/fixtures.js"
import { sessionsOnDoubles } from "./support/unitLayers.js"

const ESC = "\u001b"
// eslint-disable-next-line no-control-regex -- looking for control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const local = ComputerName.make("local")

const agentsOnDoubles = () =>
  AgentsLive.layer.pipe(
    Layer.provideMerge(FleetLive.layerAlone),
    Layer.provideMerge(Layer.mergeAll(MemoryOutputLog.layer, SqliteListeners.layerMemory)),
    Layer.provideMerge(sessionsOnDoubles())
  )

/** Runs to completion an effect that may type a notice, forked, with the test clock moved on past any wait in it. */
const settle = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* Effect.yieldNow().pipe(Effect.repeatN(10))
    yield* TestClock.adjust(Duration.millis(200))
    return yield* fiber.await.pipe(Effect.flatten)
  })

/** What an agent's last message would need to leave the paste in bash: end it, erase the line, type a command. */
const ESCAPE = `done${ESC}[201~\u0015touch /tmp/pwned; #\r${"\u009b"}201~${ESC}]0;owned\u0007`

describe("notices the daemon types into listeners' panes", () => {
  it("noticeFor: hostile title and detail give one printable line that still says how to read it", () => {
    const target = makeSession({ title: `t${ESC}[201~\n${"x".repeat(500)}` })
    const notice = AgentsLive.noticeFor(target, "finished its turn", ESCAPE)
    assert.notMatch(notice, CONTROL)
    assert.isUndefined(findPasteMarker(notice))
    assert.include(notice, "done touch /tmp/pwned; #")
    assert.isTrue(notice.endsWith(`— read it: telemux tail ${target.sessionId}`), notice)
  })

  it.scoped("a turn stop and a question carrying escape sequences are typed as plain text", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const agents = yield* Agents
      const hooks = yield* HookEventHandler
      const terminal = yield* FakeTerminal
      const worker = yield* sessions.create({ projectDir: os.tmpdir(), agent: "claude", title: `w${ESC}[201~\u0003` })
      const boss = yield* sessions.create({ projectDir: os.tmpdir(), title: "boss" })
      yield* agents.listen(worker.sessionId, { sessionId: boss.sessionId, computer: local })

      const ref = { _tag: "Session", sessionId: worker.sessionId } as const
      yield* settle(
        hooks.handle(ref, new TurnStopped({ agent: "claude", at: DateTime.unsafeMake(0), lastMessage: ESCAPE }))
      )
      yield* settle(
        hooks.handle(ref, new InputRequested({ agent: "claude", at: DateTime.unsafeMake(0), message: ESCAPE }))
      )

      const typed = terminal.calls().flatMap((c) => (c.op === "paste" && c.pane === boss.paneId ? [c.text] : []))
      assert.strictEqual(typed.length, 2)
      for (const line of typed) {
        assert.notMatch(line, CONTROL, JSON.stringify(line))
        assert.isUndefined(findPasteMarker(line))
        assert.include(line, "done touch /tmp/pwned; #")
      }
    }).pipe(Effect.provide(agentsOnDoubles())))

  it.scoped("notify (how another computer's notice arrives) sanitises what it types, and types nothing for an empty line", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const agents = yield* Agents
      const terminal = yield* FakeTerminal
      const boss = yield* sessions.create({ projectDir: os.tmpdir(), title: "boss" })
      const before = terminal.calls().length

      yield* settle(agents.notify(boss.sessionId, `[telemux] peer: ${ESCAPE}`))
      yield* settle(agents.notify(boss.sessionId, `${ESC}[201~\r\n\u0000`))

      const calls = terminal.calls().slice(before).filter((c) => "pane" in c && c.pane === boss.paneId)
      const pasted = calls.flatMap((c) => (c.op === "paste" ? [c.text] : []))
      assert.deepStrictEqual(pasted, ["[telemux] peer: done touch /tmp/pwned; #"])
      // one Enter, for the one line typed
      assert.strictEqual(calls.filter((c) => c.op === "keys").length, 1)
    }).pipe(Effect.provide(agentsOnDoubles())))
})
