import { assert, describe, it } from "@effect/vitest"
import {
  Context,
  DateTime,
  Duration,
  Effect,
  Exit,
  type Fiber,
  Layer,
  Logger,
  Option,
  PubSub,
  Queue,
  Redacted,
  Scope,
  TestClock
} from "effect"
import { FakeTerminal } from "../layers/FakeTerminalBridge.js"
import * as FleetLive from "../layers/FleetLive.js"
import * as MemoryTransport from "../layers/MemoryTransport.js"
import * as SessionRouting from "../layers/SessionRouting.js"
import * as SqliteStreamPositions from "../layers/SqliteStreamPositions.js"
import { HookEventHandler } from "../services/AgentHooks.js"
import { Agents } from "../services/Agents.js"
import { Cache } from "../services/Cache.js"
import { Fleet, type FleetClient } from "../services/Fleet.js"
import { OutputLog } from "../services/OutputLog.js"
import { Sessions } from "../services/Sessions.js"
import { StreamPositions } from "../services/StreamPositions.js"
import { STREAM_START, Transport } from "../services/Transport.js"
import { TurnStopped } from "../src/agents/HookEvent.js"
import { ComputerName, Session, SessionId } from "../src/domain/Session.js"
import { encode, sign } from "../src/fleet/Envelope.js"
import { FleetKeys, Kinds, REQUEST_TIMEOUT } from "../src/fleet/Protocol.js"
import { FLEET_TEST_SECRET, fleetComputer, trustedDir } from "./support/fleetComputer.js"
import { severable } from "./support/severableTransport.js"

const SECRET = FLEET_TEST_SECRET
const A = ComputerName.make("alpha")
const B = ComputerName.make("beta")
const trusted = trustedDir

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

interface StartOptions {
  readonly heartbeatInterval?: string
  /** The computer's saved stream positions (its database), kept across its restarts. */
  readonly positions?: StreamPositions["Type"]
}

const world = Effect.gen(function*() {
  const { control, transport } = yield* MemoryTransport.makeControlled
  const start = (name: ComputerName, options: StartOptions = {}) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const own = severable(transport)
      const positions = options.positions ?? (yield* memoryPositions)
      const context = yield* Layer.buildWithScope(
        fleetComputer(
          name,
          Layer.succeed(Transport, own.transport),
          Layer.succeed(StreamPositions, positions),
          options.heartbeatInterval
        ),
        scope
      )
      return {
        fleet: Context.get(context, Fleet),
        routing: yield* SessionRouting.make.pipe(Effect.provide(context)),
        positions,
        crash: own.sever,
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

/** Two computers that have found each other, and a session on B. */
const pairWithSession = Effect.gen(function*() {
  const w = yield* world
  const a = yield* w.start(A)
  const b = yield* w.start(B)
  yield* advance("1 second")
  const session = yield* b.sessions.create({ projectDir: trusted })
  yield* advance("200 millis")
  return { w, a, b, session }
})

const memoryPositions = Effect.map(
  Layer.build(SqliteStreamPositions.layerMemory).pipe(Effect.scoped),
  (context) => Context.get(context, StreamPositions)
)

const signed = (
  from: ComputerName,
  to: ComputerName,
  kind: string,
  payload: unknown,
  sentAt: number,
  deadline: number
) => encode(sign(Redacted.make(SECRET), { v: 1, id: crypto.randomUUID(), kind, from, to, sentAt, deadline, payload }))

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
      const b = yield* w.start(B, { heartbeatInterval: "40 seconds" })
      yield* seconds(35)
      const a = yield* w.start(A, { heartbeatInterval: "40 seconds" })
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

      const created = yield* Effect.fork(
        a.fleet.call(B, (c) => c.CreateSession({ projectDir: trusted, title: "remote" }))
      )
      yield* advance("200 millis")
      const session = yield* created.await.pipe(Effect.flatten)
      assert.strictEqual(session.computer, B)
      assert.strictEqual(session.title, "remote")
      // the owner's event reaches the other computer's cache
      yield* advance("200 millis")
      assert.isTrue(Option.isSome(yield* a.cache.getSession(session.sessionId)))

      const typed = yield* Effect.fork(
        a.fleet.call(B, (c) => c.SendText({ sessionId: session.sessionId, text: "echo hi", enter: false }))
      )
      yield* advance("200 millis")
      assert.isUndefined(yield* typed.await.pipe(Effect.flatten))
      assert.deepStrictEqual(
        b.terminal.calls().filter((c) => c.op === "paste").map((c) => (c.op === "paste" ? c.text : "")),
        ["echo hi"]
      )
      const captured = yield* Effect.fork(a.fleet.call(B, (c) => c.Capture({ sessionId: session.sessionId, lines: 0 })))
      yield* advance("200 millis")
      assert.include(yield* captured.await.pipe(Effect.flatten), "echo hi")

      const closed = yield* Effect.fork(a.fleet.call(B, (c) => c.CloseSession({ sessionId: session.sessionId })))
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
      const listening = yield* Effect.fork(
        a.agents.listen(worker.sessionId, { sessionId: boss.sessionId, computer: A })
      )
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
      const notFound = yield* Effect.fork(a.fleet.call(B, (c) => c.Capture({ sessionId: missing, lines: 0 })))
      const outside = yield* Effect.fork(a.fleet.call(B, (c) => c.CreateSession({ projectDir: "/" })))
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
      const pending = yield* Effect.fork(a.fleet.call(mute, (c) => c.ListSessions()))
      yield* advance(Duration.subtract(REQUEST_TIMEOUT, Duration.millis(200)))
      assert.isNull(pending.unsafePoll())
      yield* advance("300 millis")
      const error = yield* Effect.flip(pending.await.pipe(Effect.flatten))
      assert.strictEqual(error._tag, "RemoteTimeout")
      // a request that timed out may have run there: the message says so, and what to do
      assert.match(error.message, /may still have happened there: look .* before asking again/)
      const unknown = yield* Effect.flip(a.fleet.call(ComputerName.make("nobody"), (c) => c.ListSessions()))
      assert.strictEqual(unknown._tag, "ComputerUnreachable")
    }))

  it.scoped("a watched remote session is mirrored while watched, and its mirror is dropped with the last watcher", () =>
    Effect.gen(function*() {
      const { a, b, session } = yield* pairWithSession
      const watching = yield* Scope.make()
      yield* Scope.extend(a.fleet.watchOutput(session), watching)
      yield* advance("200 millis")
      yield* b.outputLog.append(
        session.sessionId,
        "remote screen",
        DateTime.unsafeMake(yield* TestClock.currentTimeMillis)
      )
      yield* advance("200 millis")
      const mirrored = yield* a.outputLog.latest(session.sessionId)
      assert.strictEqual(Option.map(mirrored, (u) => u.screen).pipe(Option.getOrNull), "remote screen")
      yield* Scope.close(watching, Exit.void)
      // a mirror nobody renews would be served as the session's screen long after it changed
      assert.isTrue(Option.isNone(yield* a.outputLog.latest(session.sessionId)))
    }))

  it.scoped("a watched remote session's finished turn comes with its whole reply (for the Telegram poller elsewhere)", () =>
    Effect.gen(function*() {
      const { a, b, session } = yield* pairWithSession
      const seen = yield* PubSub.subscribe(a.outputLog.events)
      yield* Scope.extend(a.fleet.watchOutput(session), yield* Scope.make())
      yield* advance("200 millis")
      const reply = "Done.\n" + "- a line of the reply\n".repeat(40)
      yield* b.outputLog.publish({
        _tag: "AgentActivity",
        sessionId: session.sessionId,
        event: "turn",
        ok: true,
        detail: "Done.",
        text: reply
      })
      yield* advance("200 millis")
      const turns = Array.from(yield* Queue.takeAll(seen)).filter((e) => e._tag === "AgentActivity")
      assert.deepStrictEqual(
        turns.map((e) => e._tag === "AgentActivity" ? [e.sessionId, e.event, e.text] : []),
        [[session.sessionId, "turn", reply]]
      )
    }))

  it.scoped("a watched session its computer no longer has is not asked for again every second", () => {
    const logged: Array<string> = []
    const collect = Logger.make(({ message }) => void logged.push(String(message)))
    return Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.start(A)
      const b = yield* w.start(B)
      yield* advance("1 second")
      const real = yield* b.sessions.create({ projectDir: trusted })
      const gone = new Session({ ...real, sessionId: SessionId.make(crypto.randomUUID()) })
      yield* Scope.extend(a.fleet.watchOutput(gone), yield* Scope.make())
      yield* advance("10 seconds")
      const retries = logged.filter((line) => line.includes("starting it again")).length
      const given = logged.filter((line) => line.includes("no longer followed")).length
      assert.deepStrictEqual({ retries, given }, { retries: 0, given: 1 })
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, collect)))
  })

  /** How many answers (envelopes) wait in a computer's reply stream. */
  const repliesTo = (w: Effect.Effect.Success<typeof world>, computer: ComputerName) =>
    w.transport.reader.pipe(
      Effect.flatMap((reader) =>
        reader.read([{ stream: FleetKeys.replies(computer), after: STREAM_START }], {
          count: 100_000,
          block: Duration.zero
        })
      ),
      Effect.map((entries) => entries.length),
      Effect.scoped
    )

  it.scoped("a watch is an rpc stream: it ends on the owner when the watcher goes away, and when the watcher crashes (once forgotten)", () =>
    Effect.gen(function*() {
      const { w, a, b, session } = yield* pairWithSession
      const screen = (text: string) =>
        Effect.flatMap(
          TestClock.currentTimeMillis,
          (now) => b.outputLog.append(session.sessionId, text, DateTime.unsafeMake(now))
        )

      const watching = yield* Scope.make()
      yield* Scope.extend(a.fleet.watchOutput(session), watching)
      yield* advance("200 millis")
      yield* screen("one")
      yield* advance("200 millis")
      assert.strictEqual(
        Option.map(yield* a.outputLog.latest(session.sessionId), (u) => u.screen).pipe(Option.getOrNull),
        "one"
      )
      // the watcher goes away: the owner is told (an interruption) and stops sending
      yield* Scope.close(watching, Exit.void)
      yield* advance("200 millis")
      const afterClose = yield* repliesTo(w, A)
      yield* screen("two")
      yield* advance("1 second")
      assert.strictEqual(yield* repliesTo(w, A), afterClose, "no screen is sent to a watcher that left")

      // a watcher that crashes tells nobody: the owner stops once it has forgotten the watcher
      const c = yield* w.start(ComputerName.make("gamma"))
      yield* advance("1 second")
      yield* Scope.extend(c.fleet.watchOutput(session), yield* Scope.make())
      yield* advance("200 millis")
      assert.strictEqual(
        Option.map(yield* c.outputLog.latest(session.sessionId), (u) => u.screen).pipe(Option.getOrNull),
        "two"
      )
      yield* c.crash
      yield* advance("5 seconds")
      const afterForgotten = yield* repliesTo(w, ComputerName.make("gamma"))
      yield* screen("three")
      yield* advance("1 second")
      assert.strictEqual(
        yield* repliesTo(w, ComputerName.make("gamma")),
        afterForgotten,
        "nothing is sent to a forgotten watcher"
      )
    }))

  it.scoped("an answer is taken only from the computer the request went to; a forged one is ignored", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.start(A)
      yield* advance("1 second")
      const mute = ComputerName.make("mute")
      const envelope = JSON.parse(Option.getOrThrow(yield* w.transport.get(FleetKeys.computer(A))))
      const now = yield* TestClock.currentTimeMillis
      yield* w.transport.put(
        FleetKeys.computer(mute),
        signed(mute, "*" as ComputerName, "heartbeat", { ...envelope.payload, name: mute }, now, now + 60_000),
        Duration.minutes(1)
      )
      yield* advance("1 second")
      const pending = yield* Effect.fork(a.fleet.call(mute, (c) => c.ListSessions()))
      yield* advance("200 millis")
      // the requests as they sit in mute's inbox (alpha also loads mute's sessions): answer them as
      // another computer (a forged answer) …
      const requests = yield* w.transport.reader.pipe(
        Effect.flatMap((reader) =>
          reader.read([{ stream: FleetKeys.inbox(mute), after: STREAM_START }], { count: 10, block: Duration.zero })
        ),
        Effect.scoped
      )
      const answer = (from: ComputerName) =>
        Effect.forEach(requests, (request) =>
          w.transport.append(
            FleetKeys.replies(A),
            signed(
              from,
              A,
              Kinds.reply,
              {
                _tag: "Exit",
                requestId: JSON.parse(request.payload).payload.id,
                exit: { _tag: "Success", value: [] }
              },
              now,
              now + 60_000
            ),
            { maxLen: 100, ttl: Duration.hours(1) }
          ), { discard: true })
      yield* answer(ComputerName.make("intruder"))
      yield* advance("200 millis")
      assert.isNull(pending.unsafePoll(), "an answer from another computer is no answer")
      // … then as mute itself
      yield* answer(mute)
      yield* advance("200 millis")
      assert.deepStrictEqual(yield* pending.await.pipe(Effect.flatten), [])
    }))

  it.scoped("queued requests: expired ones get an error reply and never run; a repeated one runs once; forged, unsigned, stale, malformed and wrong-schema ones are dropped", () =>
    Effect.gen(function*() {
      const w = yield* world
      yield* TestClock.adjust(Duration.days(1))
      const now = yield* TestClock.currentTimeMillis
      const b = yield* w.start(B)
      yield* settle
      const session = yield* b.sessions.create({ projectDir: trusted })
      let nextId = 1
      /** A call as a caller's rpc client writes it (src/fleet/Rpcs.ts, layers/FleetRpcTransport.ts). */
      const call = (tag: string, payload: unknown) => ({
        _tag: "Request",
        id: String(nextId++),
        tag,
        payload,
        headers: []
      })
      const input = (text: string) => call("SendText", { sessionId: session.sessionId, text, enter: false })
      const inbox = FleetKeys.inbox(B)
      const put = (raw: string) => w.transport.append(inbox, raw, { maxLen: 100, ttl: Duration.hours(1) })
      const expired = signed(A, B, Kinds.request, input("expired"), now, now - 1)
      const fresh = signed(A, B, Kinds.request, input("fresh"), now, now + 10_000)
      yield* put(expired)
      yield* put(fresh)
      yield* put(fresh) // the same envelope delivered twice
      yield* put("not json")
      yield* put(JSON.stringify({ ...JSON.parse(fresh), sig: undefined }))
      yield* put(
        JSON.stringify({
          ...JSON.parse(signed(A, B, Kinds.request, input("forged"), now, now + 10_000)),
          sig: "0".repeat(64)
        })
      )
      yield* put(signed(A, B, Kinds.request, input("stale"), now - 120_000, now + 10_000))
      yield* put(signed(A, B, Kinds.request, call("Rm", { path: "/" }), now, now + 10_000))
      yield* put(
        signed(A, B, Kinds.request, call("SendText", { sessionId: session.sessionId, text: 42 }), now, now + 10_000)
      )
      yield* put(signed(A, B, Kinds.request, { _tag: "Shell", command: "rm -rf /" }, now, now + 10_000))
      yield* put(signed(A, B, Kinds.request, input("last"), now, now + 10_000))
      yield* advance("300 millis")
      const pasted = b.terminal.calls().flatMap((c) => (c.op === "paste" ? [c.text] : []))
      assert.deepStrictEqual(pasted, ["fresh", "last"])
      // answers to alpha (in any order): the expired one failed typed, the unknown procedure and the
      // wrong payload refused, the two runs answered; the message that is no call at all got nothing
      const replies = yield* w.transport.reader.pipe(
        Effect.flatMap((reader) =>
          reader.read([{ stream: FleetKeys.replies(A), after: STREAM_START }], { count: 100, block: Duration.zero })
        )
      )
      const outcomes = replies.map((e) => {
        const exit = JSON.parse(e.payload).payload.exit
        if (exit._tag === "Success") return "Ok"
        return exit.cause._tag === "Fail" ? exit.cause.error._tag : exit.cause._tag
      })
      assert.deepStrictEqual(outcomes.sort(), ["ComputerUnreachable", "Die", "Ok", "Ok", "RemoteTimeout"])
    }))
})

describe("Fleet hardening: read positions, link health, who is gone (TestClock)", () => {
  const far = "99999999999999-0"
  const echo = (sessionId: SessionId) => (c: FleetClient) => c.SendText({ sessionId, text: "echo hi", enter: false })
  const linkOf = (c: { readonly fleet: Fleet["Type"] }) => Effect.map(c.fleet.link, Option.getOrThrow)
  /** The fiber's outcome now; a test fails at once (instead of hanging) when it is still waiting. */
  const outcome = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
    Effect.flatMap(
      fiber.poll,
      Option.match({
        onNone: () => Effect.dieMessage("still waiting for an answer"),
        onSome: (exit): Effect.Effect<A, E> => exit
      })
    )

  it.scoped("a poisoned inbox (a far-future id, then the stream deleted) is found within an interval and reset; requests flow again", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.start(A)
      const b = yield* w.start(B)
      yield* advance("1 second")
      const session = yield* b.sessions.create({ projectDir: trusted })
      yield* w.control.appendWithId(FleetKeys.inbox(B), far, "not an envelope")
      yield* advance("200 millis")
      // B read the entry (and dropped it): its saved position is now beyond anything Redis will generate once the stream is gone
      assert.deepStrictEqual(yield* b.positions.get("fleet.inbox"), Option.some(far))
      yield* w.transport.remove(FleetKeys.inbox(B))

      const sent = yield* Effect.fork(a.fleet.call(B, echo(session.sessionId)))
      yield* advance("1200 millis")
      assert.isUndefined(yield* outcome(sent))
      assert.deepStrictEqual(b.terminal.calls().flatMap((c) => (c.op === "paste" ? [c.text] : [])), ["echo hi"])
      const link = yield* linkOf(b)
      assert.strictEqual(link.state, "up")
      assert.strictEqual(link.lastReset?.stream, FleetKeys.inbox(B))
      assert.strictEqual(link.lastReset?.from, far)
      assert.strictEqual(link.lastReset?.to, STREAM_START)
      // A's request recreated the stream: its id, not the far one, is the stream's last
      assert.notStrictEqual(link.lastReset?.lastGenerated, far)
      const saved = Option.getOrThrow(yield* b.positions.get("fleet.inbox"))
      assert.notStrictEqual(saved, far)
      assert.notStrictEqual(saved, STREAM_START)
    }))

  it.scoped("a saved position beyond its stream no longer survives a restart: the reader resets it as it starts", () =>
    Effect.gen(function*() {
      const w = yield* world
      const positions = yield* memoryPositions
      yield* positions.set("fleet.inbox", far)
      yield* positions.set("fleet.events", far)
      const a = yield* w.start(A)
      const b = yield* w.start(B, { positions })
      yield* advance("1 second")
      const session = yield* b.sessions.create({ projectDir: trusted })
      const sent = yield* Effect.fork(a.fleet.call(B, echo(session.sessionId)))
      yield* advance("200 millis")
      assert.isUndefined(yield* outcome(sent))
      // B's events position was reset too: A's session events reach it
      yield* a.sessions.create({ projectDir: trusted, title: "on-a" })
      yield* advance("200 millis")
      assert.deepStrictEqual((yield* b.cache.getSessionsForComputer(A)).map((s) => s.title), ["on-a"])
      assert.isNotNull((yield* linkOf(b)).lastReset)
    }))

  it.scoped("a reader that cannot read shows the link degraded with its error (not Redis's text), and up after its next good read", () =>
    Effect.gen(function*() {
      const w = yield* world
      const b = yield* w.start(B)
      yield* advance("1 second")
      assert.strictEqual((yield* linkOf(b)).state, "up")
      // the inbox key taken by a plain value: every XREAD (and XINFO) on it fails with WRONGTYPE
      yield* w.transport.put(FleetKeys.inbox(B), "not a stream", Duration.hours(1))
      yield* advance("1 second")
      const degraded = yield* linkOf(b)
      assert.strictEqual(degraded.state, "degraded")
      assert.include(degraded.lastError ?? "", "the fleet reader cannot read")
      assert.notInclude(degraded.lastError ?? "", "WRONGTYPE")
      yield* w.transport.remove(FleetKeys.inbox(B))
      yield* advance("1 second")
      const healed = yield* linkOf(b)
      assert.deepStrictEqual([healed.state, healed.lastError], ["up", null])
    }))

  it.scoped("Redis out of memory: the link is degraded, requests fail 503 without Redis's text, nobody is forgotten; all heals after", () =>
    Effect.gen(function*() {
      const { w, a, session } = yield* pairWithSession
      assert.isTrue(Option.isSome(yield* a.cache.getSession(session.sessionId)))

      yield* w.control.outOfMemory(true)
      yield* advance("1 second")
      const degraded = yield* linkOf(a)
      assert.strictEqual(degraded.state, "degraded")
      assert.include(degraded.lastError ?? "", "out of memory")
      assert.notInclude(degraded.lastError ?? "", "OOM command")
      const refused = yield* Effect.flip(a.fleet.call(B, echo(session.sessionId)))
      assert.strictEqual(refused._tag, "ComputerUnreachable")
      assert.include(refused.message, "the fleet link failed")
      assert.include(refused.message, "maxmemory")
      assert.notInclude(refused.message, "OOM")
      assert.notInclude(refused.message, "EXECABORT")

      // far past every record's TTL: the records are gone, but so is any way to write them
      yield* advance("10 seconds")
      assert.deepStrictEqual((yield* a.cache.getComputers).map((c) => c.name), [B])
      assert.include(yield* a.routing.getJson(session.sessionId), session.sessionId)

      yield* w.control.outOfMemory(false)
      yield* advance("1500 millis")
      assert.strictEqual((yield* linkOf(a)).state, "up")
      const sent = yield* Effect.fork(a.fleet.call(B, echo(session.sessionId)))
      yield* advance("200 millis")
      assert.isUndefined(yield* outcome(sent))
      assert.deepStrictEqual((yield* a.cache.getComputers).map((c) => c.name), [B])
    }))

  it.scoped("a request Redis did not confirm in time (it stalled, then ran the write) is not told 'not done': the call waits for its answer", () =>
    Effect.gen(function*() {
      const { w, a, b, session } = yield* pairWithSession
      const pasted = () => b.terminal.calls().flatMap((c) => (c.op === "paste" ? [c.text] : []))

      // the request is stored in B's inbox, but A's append reports no reply: it timed out, or its
      // connection ended before Redis answered
      for (const failure of ["timeout", "lost"] as const) {
        yield* w.control.unansweredAppends(FleetKeys.inbox(B), true, failure)
        const sent = yield* Effect.fork(a.fleet.call(B, echo(session.sessionId)))
        yield* advance("500 millis")
        // B ran it, and A has its answer: no "not reachable" for what was done
        assert.strictEqual(pasted().length, failure === "timeout" ? 1 : 2)
        yield* outcome(sent)
      }

      // not stored (the write never ran): nobody can tell A, and A says it does not know at the deadline
      yield* w.control.unansweredAppends(FleetKeys.inbox(B), false)
      // a read is no harm asked again: it fails at once, as it did
      const read = yield* Effect.fork(
        Effect.flip(a.fleet.call(B, (c) => c.Capture({ sessionId: session.sessionId, lines: 0 })))
      )
      yield* settle
      assert.strictEqual((yield* outcome(read))._tag, "ComputerUnreachable")
      const lost = yield* Effect.fork(Effect.flip(a.fleet.call(B, echo(session.sessionId))))
      yield* advance("500 millis")
      assert.isUndefined(yield* lost.poll.pipe(Effect.map(Option.getOrUndefined)), "still waiting for an answer")
      yield* advance(REQUEST_TIMEOUT)
      const unknown = yield* outcome(lost)
      assert.strictEqual(unknown._tag, "RemoteTimeout")
      assert.include(unknown.message, "may still have happened there")
      // through the routing a person uses, that is an unknown outcome, never "not done"
      const routed = yield* Effect.fork(Effect.flip(a.routing.sendText(session.sessionId, "echo again", false)))
      yield* advance(REQUEST_TIMEOUT)
      yield* advance("500 millis")
      assert.deepStrictEqual(pasted(), ["echo hi", "echo hi"])
      assert.strictEqual((yield* outcome(routed))._tag, "OutcomeUnknown")
    }))

  it.scoped("Redis restarted empty (every record gone at once): nobody is forgotten, sessions stay listed, emptied positions reset", () =>
    Effect.gen(function*() {
      const { w, a, session } = yield* pairWithSession

      yield* w.control.linkDown("connection refused")
      yield* advance("2 seconds")
      yield* w.control.linkUp
      // before any fiber runs again: the restarted server has nothing
      for (const key of yield* w.transport.scan("*")) yield* w.transport.remove(key)
      for (let i = 0; i < 50; i++) {
        yield* advance("100 millis")
        assert.deepStrictEqual((yield* a.cache.getComputers).map((c) => c.name), [B], `B listed ${i * 100} ms after`)
        assert.isTrue(Option.isSome(yield* a.cache.getSession(session.sessionId)), `session listed ${i * 100} ms after`)
      }
      const sent = yield* Effect.fork(a.fleet.call(B, echo(session.sessionId)))
      yield* advance("200 millis")
      assert.isUndefined(yield* outcome(sent))
      // A had read B's session events, answers and (as a server) its inbox: those positions were beyond the emptied streams
      const reset = (yield* linkOf(a)).lastReset
      assert.include([FleetKeys.events, FleetKeys.replies(A), FleetKeys.inbox(A)], reset?.stream)
      assert.strictEqual(reset?.lastGenerated, STREAM_START)
    }))

  it.scoped("a crashed computer is forgotten once its record expires; its sessions then answer 503 (offline since), never 404", () =>
    Effect.gen(function*() {
      const { w, a, b, session } = yield* pairWithSession
      assert.include(yield* a.routing.getJson(session.sessionId), session.sessionId)

      yield* b.crash
      yield* advance("2 seconds")
      assert.deepStrictEqual((yield* a.cache.getComputers).map((c) => c.name), [B], "not before its record expires")
      yield* advance("2200 millis")
      assert.deepStrictEqual(yield* a.cache.getComputers, [])
      assert.deepStrictEqual(yield* a.cache.getSessionsForComputer(B), [])

      for (
        const lookup of [a.routing.getJson(session.sessionId), Effect.map(a.routing.get(session.sessionId), String)]
      ) {
        const error = yield* Effect.flip(lookup)
        assert.strictEqual(error._tag, "ComputerUnreachable")
        assert.match(
          error.message,
          /computer beta is offline since \d{4}-\d\d-\d\dT.*; its sessions come back when it does/
        )
      }
      const offline = yield* Effect.flip(a.routing.listJson({ computer: B }))
      assert.strictEqual(offline._tag, "ComputerUnreachable")
      const nobody = yield* Effect.flip(a.routing.listJson({ computer: ComputerName.make("nobody") }))
      assert.strictEqual(nobody._tag, "ComputerUnreachable")
      assert.include(nobody.message, "not online in the fleet")
      assert.strictEqual(yield* a.routing.listJson({ computer: A }), "[]")
      assert.strictEqual(yield* a.routing.listJson({}), "[]")
      const unknown = SessionId.make("00000000-0000-4000-8000-00000000abcd")
      assert.strictEqual((yield* Effect.flip(a.routing.getJson(unknown)))._tag, "SessionNotFound")
      const asked = yield* Effect.flip(a.fleet.call(B, (c) => c.ListSessions()))
      assert.strictEqual(asked._tag, "ComputerUnreachable")
      assert.include(asked.message, "offline since")

      // back (a fresh process with an empty store here): once its sessions are loaded, the old id is simply unknown
      yield* w.start(B)
      yield* advance("1500 millis")
      assert.strictEqual(yield* a.routing.listJson({ computer: B }), "[]")
      assert.strictEqual((yield* Effect.flip(a.routing.getJson(session.sessionId)))._tag, "SessionNotFound")
    }))

  it.scoped("an orderly leave forgets at once, and its sessions answer 503 too", () =>
    Effect.gen(function*() {
      const { a, b, session } = yield* pairWithSession
      yield* b.stop
      yield* advance("200 millis")
      assert.deepStrictEqual(yield* a.cache.getComputers, [])
      assert.strictEqual((yield* Effect.flip(a.routing.getJson(session.sessionId)))._tag, "ComputerUnreachable")
    }))

  it.effect("without a fleet, a list of another computer's sessions is 503 and lookups add nothing", () =>
    Effect.gen(function*() {
      const fleet = yield* Fleet
      assert.strictEqual((yield* Effect.flip(fleet.requireOnline(B)))._tag, "ComputerUnreachable")
      assert.isTrue(Option.isNone(yield* fleet.whereabouts(SessionId.make("00000000-0000-4000-8000-00000000abcd"))))
    }).pipe(Effect.provide(FleetLive.layerAlone)))
})
