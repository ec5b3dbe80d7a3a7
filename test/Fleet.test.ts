import { assert, describe, it } from "@effect/vitest"
import { Context, DateTime, Duration, Effect, Exit, Layer, Option, Redacted, Schema, Scope, TestClock } from "effect"
import * as os from "node:os"
import { FakeTerminal } from "../layers/FakeTerminalBridge.js"
import * as AgentsLive from "../layers/AgentsLive.js"
import * as FleetLive from "../layers/FleetLive.js"
import * as MemoryOutputLog from "../layers/MemoryOutputLog.js"
import * as MemoryTransport from "../layers/MemoryTransport.js"
import * as SqliteListeners from "../layers/SqliteListeners.js"
import * as SqliteStreamPositions from "../layers/SqliteStreamPositions.js"
import { Agents } from "../services/Agents.js"
import { HookEventHandler } from "../services/AgentHooks.js"
import { Cache } from "../services/Cache.js"
import { Fleet } from "../services/Fleet.js"
import { OutputLog } from "../services/OutputLog.js"
import { Sessions } from "../services/Sessions.js"
import { SystemStats } from "../services/SystemStats.js"
import { STREAM_START, Transport } from "../services/Transport.js"
import { MemoryStats, SystemStatsSnapshot } from "../src/domain/Computer.js"
import { TurnStopped } from "../src/agents/HookEvent.js"
import { ComputerName, SessionId } from "../src/domain/Session.js"
import { encode, sign } from "../src/fleet/Envelope.js"
import { FleetKeys, REQUEST_TIMEOUT, Reply, Request } from "../src/fleet/Protocol.js"
import { sessionsOnDoubles } from "./support/unitLayers.js"

const SECRET = "fleet-test-secret"
const A = ComputerName.make("alpha")
const B = ComputerName.make("beta")
const trusted = os.tmpdir()

const stats = Layer.succeed(
  SystemStats,
  SystemStats.of({
    snapshot: Effect.succeed(
      new SystemStatsSnapshot({
        cpuPercent: 1,
        memory: new MemoryStats({ totalGb: 8, availableGb: 4, percentUsed: 50 }),
        disk: null
      })
    )
  })
)

/** One computer of the fleet: its sessions on doubles, its fleet on the shared transport. */
const computer = (name: ComputerName, transport: Context.Context<Transport>, heartbeatInterval = "1 second") =>
  AgentsLive.fillFleetSlot.pipe(
    Layer.provideMerge(FleetLive.layer()),
    Layer.provideMerge(AgentsLive.layer),
    Layer.provideMerge(AgentsLive.fleetSlot),
    Layer.provideMerge(Layer.mergeAll(
      MemoryOutputLog.layer,
      SqliteStreamPositions.layerMemory,
      SqliteListeners.layerMemory,
      stats,
      Layer.succeedContext(transport)
    )),
    Layer.provideMerge(sessionsOnDoubles({
      TELEMUX_COMPUTER: name,
      TELEMUX_REDIS_URL: "redis://memory",
      TELEMUX_FLEET_SECRET: SECRET,
      TELEMUX_TRUSTED_DIRS: trusted,
      TELEMUX_HEARTBEAT_INTERVAL: heartbeatInterval
    }))
  )

/** Lets every runnable fiber run to its next wait. */
const settle = Effect.yieldNow().pipe(Effect.repeatN(50))
/** Moves the test clock on in small steps, letting the fleet's loops run between them. */
const advance = (d: Duration.DurationInput) =>
  Effect.gen(function*() {
    const steps = Math.ceil(Duration.toMillis(d) / 100)
    for (let i = 0; i < steps; i++) {
      yield* TestClock.adjust(Duration.millis(100))
      yield* settle
    }
  })

const world = Effect.gen(function*() {
  const { control, transport } = yield* MemoryTransport.makeControlled
  const transportContext = Context.make(Transport, transport)
  const start = (name: ComputerName, heartbeatInterval?: string) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(computer(name, transportContext, heartbeatInterval), scope)
      return {
        fleet: Context.get(context, Fleet),
        cache: Context.get(context, Cache),
        sessions: Context.get(context, Sessions),
        terminal: Context.get(context, FakeTerminal),
        agents: Context.get(context, Agents),
        hooks: Context.get(context, HookEventHandler),
        outputLog: Context.get(context, OutputLog),
        stop: Scope.close(scope, Exit.void)
      }
    })
  return { transport, control, start }
})

const signed = (from: ComputerName, to: ComputerName, kind: string, payload: unknown, sentAt: number, deadline: number) =>
  encode(sign(Redacted.make(SECRET), { v: 1, id: crypto.randomUUID(), kind, from, to, sentAt, deadline, payload }))

describe("Fleet on MemoryTransport (TestClock)", () => {
  it.scoped("computers find each other within a heartbeat; a stopped one is gone at once, a silent one within the TTL", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.start(A)
      const b = yield* w.start(B)
      yield* advance("1 second")
      assert.deepStrictEqual((yield* a.cache.getComputers).map((c) => c.name), [B])
      assert.deepStrictEqual((yield* b.cache.getComputers).map((c) => c.name), [A])

      yield* b.stop
      yield* advance("1 second")
      assert.deepStrictEqual(yield* a.cache.getComputers, [])

      // a computer that crashed: its last heartbeat is there until it expires (3 intervals)
      const ghost = ComputerName.make("ghost")
      const record = (yield* w.transport.get(FleetKeys.computer(A))).pipe(Option.getOrThrow)
      const envelope = JSON.parse(record)
      const now = yield* TestClock.currentTimeMillis
      yield* w.transport.put(
        FleetKeys.computer(ghost),
        signed(ghost, "*" as ComputerName, "heartbeat", { ...envelope.payload, name: ghost }, now, now + 3000),
        Duration.seconds(3)
      )
      yield* advance("1 second")
      assert.deepStrictEqual((yield* a.cache.getComputers).map((c) => c.name), [ghost])
      yield* advance("3 seconds")
      assert.deepStrictEqual(yield* a.cache.getComputers, [])
    }))

  it.scoped("with a heartbeat interval longer than the replay window, a record read late in its interval still counts", () =>
    Effect.gen(function*() {
      const w = yield* world
      // 40 s beats: B's record is 35 s old when A first reads it, past the 30 s replay window of one-shot messages
      // whole seconds at a time: nothing here happens between them
      const seconds = (n: number) => Effect.repeatN(Effect.zipRight(TestClock.adjust("1 second"), settle), n - 1)
      const b = yield* w.start(B, "40 seconds")
      yield* seconds(35)
      const a = yield* w.start(A, "40 seconds")
      yield* settle
      assert.deepStrictEqual((yield* a.cache.getComputers).map((c) => c.name), [B])
      yield* seconds(40)
      assert.deepStrictEqual((yield* a.cache.getComputers).map((c) => c.name), [B])
      assert.deepStrictEqual((yield* b.cache.getComputers).map((c) => c.name), [A])
    }))

  it.scoped("create, input, capture and close on another computer; its sessions appear in the local cache", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.start(A)
      const b = yield* w.start(B)
      yield* advance("1 second")

      const created = yield* Effect.fork(a.fleet.request(B, { _tag: "CreateSession", projectDir: trusted, title: "remote" }))
      yield* advance("200 millis")
      const session = yield* created.await.pipe(Effect.flatten)
      assert.strictEqual(session.computer, B)
      assert.strictEqual(session.title, "remote")
      // the owner's event reaches the other computer's cache
      yield* advance("200 millis")
      assert.isTrue(Option.isSome(yield* a.cache.getSession(session.sessionId)))

      const typed = yield* Effect.fork(a.fleet.request(B, { _tag: "SendText", sessionId: session.sessionId, text: "echo hi", enter: false }))
      yield* advance("200 millis")
      assert.isNull(yield* typed.await.pipe(Effect.flatten))
      assert.deepStrictEqual(
        b.terminal.calls().filter((c) => c.op === "paste").map((c) => (c.op === "paste" ? c.text : "")),
        ["echo hi"]
      )
      const captured = yield* Effect.fork(a.fleet.request(B, { _tag: "Capture", sessionId: session.sessionId, lines: 0 }))
      yield* advance("200 millis")
      assert.include(yield* captured.await.pipe(Effect.flatten), "echo hi")

      const closed = yield* Effect.fork(a.fleet.request(B, { _tag: "CloseSession", sessionId: session.sessionId }))
      yield* advance("200 millis")
      assert.strictEqual((yield* closed.await.pipe(Effect.flatten)).status, "closed")
      yield* advance("200 millis")
      assert.isTrue(Option.isNone(yield* a.cache.getSession(session.sessionId)))
    }))

  it.scoped("a session on one computer listens to an agent on another: the turn stop there is typed into its pane here", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.start(A)
      const b = yield* w.start(B)
      yield* advance("1 second")
      const boss = yield* a.sessions.create({ projectDir: trusted, title: "boss" })
      const worker = yield* b.sessions.create({ projectDir: trusted, agent: "claude" })
      yield* advance("200 millis")
      // asked on alpha, kept on beta (where the worker's hooks fire)
      const listening = yield* Effect.fork(a.agents.listen(worker.sessionId, { sessionId: boss.sessionId, computer: A }))
      yield* advance("200 millis")
      yield* listening.await.pipe(Effect.flatten)
      const stop = yield* Effect.fork(
        b.hooks.handle(
          { _tag: "Session", sessionId: worker.sessionId },
          new TurnStopped({ agent: "claude", at: DateTime.unsafeMake(0), lastMessage: "done: 3 files changed" })
        )
      )
      yield* advance("600 millis")
      yield* stop.await.pipe(Effect.flatten)
      const typed = a.terminal.calls().flatMap((c) => (c.op === "paste" && c.pane === boss.paneId ? [c.text] : []))
      assert.strictEqual(typed.length, 1)
      assert.include(typed[0]!, `on beta finished its turn: done: 3 files changed`)
      assert.strictEqual((yield* b.sessions.get(worker.sessionId)).status, "idle")
    }))

  it.scoped("typed errors come back typed; a dir outside the trusted dirs is refused", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.start(A)
      yield* w.start(B)
      yield* advance("1 second")
      const missing = SessionId.make("00000000-0000-4000-8000-0000000000ff")
      const notFound = yield* Effect.fork(a.fleet.request(B, { _tag: "Capture", sessionId: missing, lines: 0 }))
      const outside = yield* Effect.fork(a.fleet.request(B, { _tag: "CreateSession", projectDir: "/" }))
      yield* advance("200 millis")
      assert.strictEqual((yield* Effect.flip(notFound.await.pipe(Effect.flatten)))._tag, "SessionNotFound")
      const refused = yield* Effect.flip(outside.await.pipe(Effect.flatten))
      assert.strictEqual(refused._tag, "InvalidRequest")
      assert.include(refused.message, "not inside a trusted dir")
    }))

  it.scoped("a computer that never answers: RemoteTimeout at the deadline; an unknown one: ComputerUnreachable at once", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.start(A)
      yield* advance("1 second")
      // "mute" has a heartbeat but nothing reads its inbox
      const mute = ComputerName.make("mute")
      const envelope = JSON.parse(Option.getOrThrow(yield* w.transport.get(FleetKeys.computer(A))))
      const now = yield* TestClock.currentTimeMillis
      yield* w.transport.put(
        FleetKeys.computer(mute),
        signed(mute, "*" as ComputerName, "heartbeat", { ...envelope.payload, name: mute }, now, now + 60_000),
        Duration.minutes(1)
      )
      yield* advance("1 second")
      const pending = yield* Effect.fork(a.fleet.request(mute, { _tag: "ListSessions" }))
      yield* advance(Duration.subtract(REQUEST_TIMEOUT, Duration.millis(200)))
      assert.isNull(pending.unsafePoll())
      yield* advance("300 millis")
      const error = yield* Effect.flip(pending.await.pipe(Effect.flatten))
      assert.strictEqual(error._tag, "RemoteTimeout")
      const unknown = yield* Effect.flip(a.fleet.request(ComputerName.make("nobody"), { _tag: "ListSessions" }))
      assert.strictEqual(unknown._tag, "ComputerUnreachable")
    }))

  it.scoped("a watched remote session is mirrored while watched, and its mirror is dropped with the last watcher", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.start(A)
      const b = yield* w.start(B)
      yield* advance("1 second")
      const session = yield* b.sessions.create({ projectDir: trusted })
      yield* advance("200 millis")
      const watching = yield* Scope.make()
      yield* Scope.extend(a.fleet.watchOutput(session), watching)
      yield* advance("200 millis")
      yield* b.outputLog.append(session.sessionId, "remote screen", DateTime.unsafeMake(yield* TestClock.currentTimeMillis))
      yield* advance("200 millis")
      const mirrored = yield* a.outputLog.latest(session.sessionId)
      assert.strictEqual(Option.map(mirrored, (u) => u.screen).pipe(Option.getOrNull), "remote screen")
      yield* Scope.close(watching, Exit.void)
      // a mirror nobody renews would be served as the session's screen long after it changed
      assert.isTrue(Option.isNone(yield* a.outputLog.latest(session.sessionId)))
    }))

  it.scoped("queued requests: expired ones get an error reply and never run; a repeated one runs once; forged, unsigned, stale, malformed and wrong-schema ones are dropped", () =>
    Effect.gen(function*() {
      const w = yield* world
      yield* TestClock.adjust(Duration.days(1))
      const now = yield* TestClock.currentTimeMillis
      const b = yield* w.start(B)
      yield* settle
      const session = yield* b.sessions.create({ projectDir: trusted })
      const input = (text: string) => Schema.encodeSync(Request)({ _tag: "SendText", sessionId: session.sessionId, text, enter: false })
      const inbox = FleetKeys.inbox(B)
      const put = (raw: string) => w.transport.append(inbox, raw, { maxLen: 100, ttl: Duration.hours(1) })
      const expired = signed(A, B, "request", input("expired"), now, now - 1)
      const fresh = signed(A, B, "request", input("fresh"), now, now + 10_000)
      yield* put(expired)
      yield* put(fresh)
      yield* put(fresh) // the same envelope delivered twice
      yield* put("not json")
      yield* put(JSON.stringify({ ...JSON.parse(fresh), sig: undefined }))
      yield* put(JSON.stringify({ ...JSON.parse(signed(A, B, "request", input("forged"), now, now + 10_000)), sig: "0".repeat(64) }))
      yield* put(signed(A, B, "request", input("stale"), now - 120_000, now + 10_000))
      yield* put(signed(A, B, "request", { _tag: "Rm", path: "/" }, now, now + 10_000))
      yield* put(signed(A, B, "request", input("last"), now, now + 10_000))
      yield* advance("300 millis")
      const pasted = b.terminal.calls().flatMap((c) => (c.op === "paste" ? [c.text] : []))
      assert.deepStrictEqual(pasted, ["fresh", "last"])
      // replies to alpha (in any order): the expired one failed typed, the wrong-schema one refused, the two runs answered
      const replies = yield* w.transport.reader.pipe(
        Effect.flatMap((reader) => reader.read([{ stream: FleetKeys.replies(A), after: STREAM_START }], { count: 100, block: Duration.zero }))
      )
      const decoded = replies.map((e) => Schema.decodeUnknownSync(Reply)(JSON.parse(e.payload).payload))
      assert.deepStrictEqual(decoded.map((r) => (r._tag === "Failed" ? r.error._tag : "Ok")).sort(), [
        "InvalidRequest",
        "Ok",
        "Ok",
        "RemoteTimeout"
      ])
    }))
})
