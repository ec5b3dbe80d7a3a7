import { HttpClient, HttpClientRequest, HttpServer } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import {
  Data,
  DateTime,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  Layer,
  Logger,
  LogLevel,
  Metric,
  Queue,
  Redacted,
  Scope
} from "effect"
import WebSocket from "ws"
import * as FleetLive from "../layers/FleetLive.js"
import * as HttpServerLayer from "../layers/HttpServer.js"
import * as IdempotencyLive from "../layers/IdempotencyLive.js"
import * as IndexedCache from "../layers/IndexedCache.js"
import * as MemoryOutputLog from "../layers/MemoryOutputLog.js"
import {
  STREAM_AUTH_DEADLINE,
  STREAM_CLIENT_QUEUE_MAX,
  STREAM_FRAME_MAX_BYTES,
  STREAM_PREAUTH_MAX_BYTES,
  STREAM_SOCKET_HIGH_WATER,
  streamClients,
  streamLagResyncs,
  streamOverflows,
  streamQueueDepth,
  streamSocketBuffered
} from "../layers/StreamRoute.js"
import { AuthToken } from "../services/AuthToken.js"
import { Cache } from "../services/Cache.js"
import { OUTPUT_RING_SIZE, OutputLog } from "../services/OutputLog.js"
import { Projects } from "../services/Projects.js"
import { Sessions } from "../services/Sessions.js"
import { SystemStats } from "../services/SystemStats.js"
import { TelemuxConfig, type TelemuxSettings } from "../services/TelemuxConfig.js"
import { CLOSE_UNAUTHORIZED, decodeServerMessage, STREAM_SUBSCRIPTIONS_MAX } from "../src/api/StreamProtocol.js"
import { applySplices, screenLines } from "../src/domain/ScreenPatch.js"
import type { SessionId } from "../src/domain/Session.js"
import { makeSession } from "./support/fixtures.js"
import { testSettings } from "./support/settings.js"
import { agentsUnused, worktreesUnused } from "./support/unitLayers.js"

const TOKEN = "c".repeat(64)
const at = DateTime.unsafeMake(1_700_000_000_000)

const settings = testSettings

/** The real OutputLog and Cache; stubs for what the stream never calls. */
const testLayer = (
  config: Partial<TelemuxSettings> = {},
  outputLog: Layer.Layer<OutputLog> = MemoryOutputLog.layer
) =>
  HttpServerLayer.layerTest.pipe(
    Layer.provideMerge(Layer.mergeAll(
      outputLog,
      IndexedCache.layer,
      FleetLive.layerAlone,
      agentsUnused,
      worktreesUnused,
      IdempotencyLive.layerMemory,
      Layer.succeed(Sessions, {} as Sessions["Type"]),
      Layer.succeed(SystemStats, {} as SystemStats["Type"]),
      Layer.succeed(Projects, Projects.of({ list: Effect.succeed([]) })),
      Layer.succeed(TelemuxConfig, settings(config)),
      Layer.succeed(
        AuthToken,
        AuthToken.of({
          current: Effect.succeed(Redacted.make(TOKEN)),
          verify: (candidate) => Effect.succeed(candidate === TOKEN)
        })
      )
    )),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
  )

// ---------------------------------------------------------------------------
// A WebSocket client on the `ws` package
// ---------------------------------------------------------------------------

class ClientTimeout extends Data.TaggedError("ClientTimeout")<{ readonly waitingFor: string }> {}

interface Client {
  readonly ws: WebSocket
  /** Every message received so far, decoded. */
  readonly received: Array<any>
  readonly send: (message: unknown) => Effect.Effect<void>
  /** The next message, in order of arrival. */
  readonly next: (within?: Duration.DurationInput) => Effect.Effect<any, ClientTimeout>
  /** Skips messages until one matches; returns the skipped ones and the match. */
  readonly until: (
    predicate: (message: any) => boolean,
    within?: Duration.DurationInput
  ) => Effect.Effect<{ readonly skipped: ReadonlyArray<any>; readonly match: any }, ClientTimeout>
  readonly closed: Effect.Effect<{ readonly code: number; readonly reason: string }, ClientTimeout>
}

type Connected =
  | { readonly _tag: "Open"; readonly client: Client }
  | { readonly _tag: "Refused"; readonly status: number; readonly body: string }

const portOf = Effect.map(
  HttpServer.HttpServer,
  (server) => server.address._tag === "TcpAddress" ? server.address.port : 0
)

const connect = (
  options: { readonly path?: string; readonly token?: string; readonly headers?: Record<string, string> } = {}
): Effect.Effect<Connected, never, HttpServer.HttpServer | Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* portOf
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    const ws = yield* Effect.acquireRelease(
      Effect.sync(() => new WebSocket(`ws://127.0.0.1:${port}${options.path ?? "/v1/stream"}`, { headers })),
      (ws) => Effect.sync(() => ws.terminate())
    )
    const inbox = yield* Queue.unbounded<any>()
    const received: Array<any> = []
    const closed = yield* Deferred.make<{ code: number; reason: string }>()
    ws.on("message", (data) => {
      const text = data.toString()
      const decoded = decodeServerMessage(text)
      const message = Either.isRight(decoded) ? JSON.parse(text) : { undecodable: text, error: String(decoded.left) }
      received.push(message)
      Queue.unsafeOffer(inbox, message)
    })
    ws.on("close", (code, reason) => Deferred.unsafeDone(closed, Effect.succeed({ code, reason: reason.toString() })))
    const opened = yield* Effect.async<Connected>((resume) => {
      ws.once("open", () => resume(Effect.succeed({ _tag: "Open", client: undefined as unknown as Client })))
      ws.once("unexpected-response", (_request, response) => {
        let body = ""
        response.on("data", (chunk: Buffer) => body += chunk.toString())
        response.on("end", () => resume(Effect.succeed({ _tag: "Refused", status: response.statusCode ?? 0, body })))
      })
      ws.once("error", (error) => resume(Effect.succeed({ _tag: "Refused", status: 0, body: String(error) })))
    })
    if (opened._tag === "Refused") return opened
    const within = (waitingFor: string, d: Duration.DurationInput = "5 seconds") =>
      Effect.timeoutFail({ duration: d, onTimeout: () => new ClientTimeout({ waitingFor }) })
    const next = (d?: Duration.DurationInput) => Queue.take(inbox).pipe(within("a message", d))
    const client: Client = {
      ws,
      received,
      send: (message) => Effect.sync(() => ws.send(typeof message === "string" ? message : JSON.stringify(message))),
      next,
      until: (predicate, d) =>
        Effect.gen(function*() {
          const skipped: Array<any> = []
          while (true) {
            const message = yield* Queue.take(inbox)
            if (predicate(message)) return { skipped, match: message }
            skipped.push(message)
          }
        }).pipe(within("a matching message", d)),
      closed: Deferred.await(closed).pipe(within("close", "10 seconds"))
    }
    return { _tag: "Open", client } as const
  })

const open = (options: Parameters<typeof connect>[0] = { token: TOKEN }) =>
  Effect.flatMap(connect(options), (connected) =>
    connected._tag === "Open"
      ? Effect.succeed(connected.client)
      : Effect.dieMessage(`refused: ${connected.status} ${connected.body}`))

/** Connected with the header and past `ready`. */
const ready = (options?: Parameters<typeof connect>[0]) =>
  Effect.gen(function*() {
    const client = yield* open(options)
    assert.deepStrictEqual(yield* client.next(), { type: "ready" })
    return client
  })

/** Everything sent before this point has been handled: requests are handled in order. */
const roundTrip = (client: Client) =>
  Effect.flatMap(client.send({ type: "ping" }), () => client.until((m) => m.type === "pong"))

const gaugeValue = Effect.map(Metric.value(streamClients), (state) => state.value)
const waitForNoClients = Effect.gen(function*() {
  const deadline = Date.now() + 5000
  while ((yield* gaugeValue) !== 0 && Date.now() < deadline) yield* Effect.sleep("10 millis")
  assert.strictEqual(yield* gaugeValue, 0, "every stream client was released")
})

const session1 = makeSession({ title: "one" }, 1)
const session2 = makeSession({ title: "two" }, 2)
const S = session1.sessionId

const outputs = (messages: ReadonlyArray<any>, sessionId: SessionId = S) =>
  messages.filter((m) => m.type === "output" && m.sessionId === sessionId)

// ---------------------------------------------------------------------------

describe("stream auth", () => {
  it.live("refuses a missing, wrong or URL-borne token, and accepts the header or a first auth message", () =>
    Effect.gen(function*() {
      // no header: the first message must authenticate
      const anonymous = yield* open({})
      yield* anonymous.send({ type: "subscribe", sessions: true })
      const closedAnon = yield* anonymous.closed
      assert.strictEqual(closedAnon.code, CLOSE_UNAUTHORIZED)
      assert.include(closedAnon.reason, "first message must be")
      assert.deepStrictEqual(anonymous.received, [], "nothing is sent before auth")

      const wrongMessage = yield* open({})
      yield* wrongMessage.send({ type: "auth", token: "d".repeat(64) })
      const closedWrong = yield* wrongMessage.closed
      assert.strictEqual(closedWrong.code, CLOSE_UNAUTHORIZED)
      assert.match(closedWrong.reason, /^invalid API token/)
      assert.deepStrictEqual(wrongMessage.received, [])

      const wrongHeader = yield* connect({ token: "d".repeat(64) })
      assert.strictEqual(wrongHeader._tag, "Refused")
      assert.strictEqual(wrongHeader._tag === "Refused" && wrongHeader.status, 401)

      const basic = yield* connect({ headers: { authorization: `Basic ${TOKEN}` } })
      assert.strictEqual(basic._tag === "Refused" && basic.status, 401)

      for (const param of ["token", "access_token", "Token"]) {
        const inUrl = yield* connect({ path: `/v1/stream?${param}=${TOKEN}` })
        assert.strictEqual(inUrl._tag === "Refused" && inUrl.status, 401, `?${param}=`)
        assert.include(inUrl._tag === "Refused" ? inUrl.body : "", "not accepted in URLs")
      }
      // even beside a valid header: a URL token is refused, not ignored
      const both = yield* connect({ path: `/v1/stream?token=${TOKEN}`, token: TOKEN })
      assert.strictEqual(both._tag === "Refused" && both.status, 401)

      const byHeader = yield* ready()
      yield* byHeader.send({ type: "ping" })
      assert.deepStrictEqual(yield* byHeader.next(), { type: "pong" })

      const byMessage = yield* open({})
      yield* byMessage.send({ type: "auth", token: TOKEN })
      assert.deepStrictEqual(yield* byMessage.next(), { type: "ready" })
      yield* byMessage.send({ type: "auth", token: TOKEN })
      assert.strictEqual((yield* byMessage.next()).type, "error")
      yield* byMessage.send({ type: "ping" })
      assert.deepStrictEqual(yield* byMessage.next(), { type: "pong" })
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.live("a client that never authenticates is closed after the deadline", () =>
    Effect.gen(function*() {
      const silent = yield* open({})
      const started = Date.now()
      const closed = yield* silent.closed
      assert.strictEqual(closed.code, CLOSE_UNAUTHORIZED)
      assert.isAtLeast(Date.now() - started, Duration.toMillis(STREAM_AUTH_DEADLINE) - 100)
      assert.isBelow(Date.now() - started, Duration.toMillis(STREAM_AUTH_DEADLINE) + 2000)
      assert.deepStrictEqual(silent.received, [])
    }).pipe(Effect.scoped, Effect.provide(testLayer())), 15_000)

  it.live("the Host/Origin guard covers the upgrade", () =>
    Effect.gen(function*() {
      const host = yield* connect({ token: TOKEN, headers: { host: "evil.example" } })
      assert.strictEqual(host._tag === "Refused" && host.status, 403)
      const origin = yield* connect({ token: TOKEN, headers: { origin: "http://evil.example" } })
      assert.strictEqual(origin._tag === "Refused" && origin.status, 403)
      // another port of localhost is another origin (a page there could drive the stream)
      const otherPort = yield* connect({ token: TOKEN, headers: { origin: "http://localhost:3000" } })
      assert.strictEqual(otherPort._tag === "Refused" && otherPort.status, 403)
      const port = yield* portOf
      const own = yield* connect({ token: TOKEN, headers: { origin: `http://localhost:${port}` } })
      assert.strictEqual(own._tag, "Open")
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.live("before auth a client may send a few KB: a huge first frame cuts it; after auth frames are bounded (1009)", () =>
    Effect.gen(function*() {
      const anonymous = yield* open({})
      const huge = "x".repeat(STREAM_FRAME_MAX_BYTES - 16)
      const sent = Date.now()
      yield* anonymous.send(huge)
      const cut = yield* anonymous.closed
      assert.notStrictEqual(cut.code, 1000, "not a normal close")
      assert.isAtMost(Date.now() - sent, 2000)
      // the same size is fine once authenticated; one byte past the frame bound is a 1009
      const authed = yield* ready()
      yield* authed.send(JSON.stringify({ type: "ping", pad: "y".repeat(STREAM_PREAUTH_MAX_BYTES * 4) }))
      assert.strictEqual(
        (yield* authed.next()).type,
        "error",
        "a big message is read (and refused as invalid), not cut"
      )
      yield* authed.send("z".repeat(STREAM_FRAME_MAX_BYTES + 1))
      assert.strictEqual((yield* authed.closed).code, 1009)
      // a message-authenticated client's bound is lifted with the auth message
      const late = yield* open({})
      yield* late.send({ type: "auth", token: TOKEN })
      assert.deepStrictEqual(yield* late.next(), { type: "ready" })
      yield* late.send(JSON.stringify({ type: "ping", pad: "y".repeat(STREAM_PREAUTH_MAX_BYTES * 4) }))
      assert.strictEqual((yield* late.next()).type, "error")
      yield* late.send({ type: "ping" })
      assert.deepStrictEqual(yield* late.next(), { type: "pong" })
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.live("at shutdown every client gets a close frame 1001 (going away)", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(testLayer(), scope)
      const clients = yield* Effect.all([ready(), ready(), open({})]).pipe(Effect.provide(context))
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      const closed = yield* Effect.all(clients.map((c) => c.closed))
      for (const close of closed) assert.strictEqual(close.code, 1001)
      assert.isAtMost(Date.now() - started, 1000)
    }).pipe(Effect.scoped))

  it.live("a plain GET is told to upgrade; with auth off no token is needed", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const plain = yield* client.execute(
        HttpClientRequest.get("/v1/stream").pipe(HttpClientRequest.bearerToken(TOKEN))
      )
      assert.strictEqual(plain.status, 426)
      const open = yield* ready({})
      yield* open.send({ type: "ping" })
      assert.deepStrictEqual(yield* open.next(), { type: "pong" })
    }).pipe(Effect.scoped, Effect.provide(testLayer({ auth: false }))))
})

describe("stream session list", () => {
  it.live("a snapshot on subscribe, then upserted and removed events", () =>
    Effect.gen(function*() {
      const cache = yield* Cache
      yield* cache.upsertSession(session1)
      yield* cache.upsertSession(session2)
      const client = yield* ready()
      yield* client.send({ type: "subscribe", sessions: true })
      const snapshot = yield* client.next()
      assert.strictEqual(snapshot.type, "sessions")
      assert.sameMembers(snapshot.sessions.map((s: any) => s.sessionId), [session1.sessionId, session2.sessionId])
      assert.deepStrictEqual(
        JSON.stringify(snapshot.sessions),
        yield* cache.getSessionsJson(),
        "the cached JSON goes out as is"
      )

      const renamed = makeSession({ ...session1, title: "renamed", status: "idle" })
      yield* cache.upsertSession(renamed)
      const upserted = yield* client.next()
      assert.strictEqual(upserted.type, "session")
      assert.strictEqual(upserted.event, "upserted")
      assert.strictEqual(upserted.session.sessionId, session1.sessionId)
      assert.strictEqual(upserted.session.title, "renamed")
      assert.strictEqual(upserted.session.status, "idle")

      yield* cache.removeSession(session2.sessionId)
      assert.deepStrictEqual(yield* client.next(), {
        type: "session",
        event: "removed",
        sessionId: session2.sessionId,
        computer: session2.computer
      })

      yield* client.send({ type: "unsubscribe", sessions: true })
      yield* roundTrip(client)
      yield* cache.upsertSession(session2)
      const after = yield* roundTrip(client)
      assert.deepStrictEqual(after.skipped, [], "no list events after unsubscribing")
    }).pipe(Effect.scoped, Effect.provide(testLayer())))
})

describe("stream output", () => {
  it.live("live updates, then exactly the missed ones after a reconnect with since, then live again", () =>
    Effect.gen(function*() {
      const log = yield* OutputLog
      const empty = yield* ready()
      yield* empty.send({ type: "subscribe", output: [{ sessionId: S }] })
      assert.deepStrictEqual(yield* empty.next(), { type: "resync", sessionId: S }, "no snapshot yet")

      const first = yield* log.append(S, "screen 1", at)
      const live = yield* empty.next()
      assert.deepStrictEqual(live, {
        type: "output",
        sessionId: S,
        seq: first.seq,
        screen: "screen 1",
        changedAt: DateTime.formatIso(at)
      })
      yield* Effect.sync(() => empty.ws.close())

      const missed = [
        yield* log.append(S, "screen 2", at),
        yield* log.append(S, "screen 3", at),
        yield* log.append(S, "screen 4", at)
      ]
      const back = yield* ready()
      yield* back.send({ type: "subscribe", output: [{ sessionId: S, since: first.seq }] })
      for (const update of missed) {
        const message = yield* back.next()
        assert.deepStrictEqual([message.type, message.seq, message.screen], ["output", update.seq, update.screen])
      }
      const next = yield* log.append(S, "screen 5", at)
      const liveAgain = yield* back.next()
      assert.deepStrictEqual([liveAgain.type, liveAgain.seq], ["output", next.seq])
      const rest = yield* roundTrip(back)
      assert.deepStrictEqual(rest.skipped, [], "no duplicates")

      // without since: the latest snapshot, as a resync
      const fresh = yield* ready()
      yield* fresh.send({ type: "subscribe", output: [{ sessionId: S }] })
      const latest = yield* fresh.next()
      assert.deepStrictEqual([latest.type, latest.seq, latest.screen], ["resync", next.seq, "screen 5"])

      // since evicted from the ring: a resync with the latest snapshot
      let last = next
      for (let i = 0; i < OUTPUT_RING_SIZE + 5; i++) last = yield* log.append(S, `screen ${6 + i}`, at)
      const late = yield* ready()
      yield* late.send({ type: "subscribe", output: [{ sessionId: S, since: first.seq }] })
      const resync = yield* late.next()
      assert.deepStrictEqual([resync.type, resync.seq, resync.screen], ["resync", last.seq, last.screen])
      yield* roundTrip(late).pipe(Effect.tap(({ skipped }) => assert.deepStrictEqual(skipped, [])))

      // since up to date: nothing to send, then live
      const current = yield* ready()
      yield* current.send({ type: "subscribe", output: [{ sessionId: S, since: last.seq }] })
      assert.deepStrictEqual((yield* roundTrip(current)).skipped, [])
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  /**
   * The real log, except that reading a catch-up first appends `landing` updates to S: they are
   * published after the client's PubSub subscription and before the read, so they reach the
   * client both in the catch-up and as live events.
   */
  const updatesLandingDuringCatchUp = (landing: number) =>
    Layer.effect(
      OutputLog,
      Effect.gen(function*() {
        const real = yield* MemoryOutputLog.make()
        const land = Effect.forEach(Array.from({ length: landing }), (_, i) => real.append(S, `landed ${i}`, at))
        return OutputLog.of({
          ...real,
          since: (id, seq) => Effect.zipRight(land, real.since(id, seq)),
          latest: (id) => Effect.zipRight(land, real.latest(id))
        })
      })
    ).pipe(Layer.provide(Layer.scope))

  it.live("no gap and no duplicate between the catch-up and live updates", () =>
    Effect.gen(function*() {
      const log = yield* OutputLog
      const first = yield* log.append(S, "s0", at)
      const client = yield* ready()
      yield* client.send({ type: "subscribe", output: [{ sessionId: S, since: first.seq }] })
      const caughtUp = yield* client.until((m) => m.seq === first.seq + 3)
      const live = yield* log.append(S, "live", at)
      yield* client.until((m) => m.seq === live.seq)
      const rest = yield* roundTrip(client)
      assert.deepStrictEqual(rest.skipped, [])
      assert.deepStrictEqual(
        outputs(client.received).map((m) => m.seq),
        [first.seq + 1, first.seq + 2, first.seq + 3, live.seq]
      )
      assert.deepStrictEqual(caughtUp.skipped.map((m) => m.screen), ["landed 0", "landed 1"])

      // the same without since: the snapshot, then only what is newer
      const fresh = yield* ready()
      yield* fresh.send({ type: "subscribe", output: [{ sessionId: S }] })
      const snapshot = yield* fresh.next()
      assert.deepStrictEqual([snapshot.type, snapshot.seq], ["resync", live.seq + 3])
      const newer = yield* log.append(S, "newer", at)
      const after = yield* fresh.until((m) => m.seq === newer.seq)
      assert.deepStrictEqual(after.skipped, [], "nothing at or below the snapshot's seq")
    }).pipe(Effect.scoped, Effect.provide(testLayer({}, updatesLandingDuringCatchUp(3)))))

  it.live("with patches: an update that follows the client's screen comes as the lines that changed, and applying them gives the screen", () =>
    Effect.gen(function*() {
      const log = yield* OutputLog
      const rows = (n: number) => Array.from({ length: 24 }, (_, i) => `row ${n + i} ${"x".repeat(60)}`).join("\n")
      const first = yield* log.append(S, rows(0), at)
      const plain = yield* ready()
      const patched = yield* ready()
      yield* plain.send({ type: "subscribe", output: [{ sessionId: S }] })
      yield* patched.send({ type: "subscribe", patches: true, output: [{ sessionId: S }] })
      assert.strictEqual((yield* patched.next()).seq, first.seq)
      assert.strictEqual((yield* plain.next()).seq, first.seq)

      let screen = screenLines(rows(0))
      const expected: Array<string> = []
      for (let n = 1; n <= 5; n++) {
        const update = yield* log.append(S, rows(n), at)
        expected.push(update.screen)
        const message = yield* patched.next()
        assert.strictEqual(message.type, "patch", "decodes as a patch (not undecodable)")
        assert.deepStrictEqual([message.seq, message.base], [update.seq, update.seq - 1])
        assert.isBelow(JSON.stringify(message).length, update.screen.length, "smaller than the screen")
        screen = applySplices(screen, message.splices)!
        assert.strictEqual(screen.join("\n"), update.screen)
        const whole = yield* plain.next()
        assert.deepStrictEqual(
          [whole.type, whole.screen],
          ["output", update.screen],
          "a client without patches gets screens"
        )
      }

      // a reconnect with since: the missed updates chain as patches from the client's screen
      const back = yield* ready()
      yield* back.send({ type: "subscribe", patches: true, output: [{ sessionId: S, since: first.seq + 2 }] })
      let rebuilt = screenLines(expected[1]!)
      for (const seq of [first.seq + 3, first.seq + 4, first.seq + 5]) {
        const message = yield* back.next()
        assert.deepStrictEqual([message.type, message.seq, message.base], ["patch", seq, seq - 1])
        rebuilt = applySplices(rebuilt, message.splices)!
      }
      assert.strictEqual(rebuilt.join("\n"), expected[4])
      assert.deepStrictEqual((yield* roundTrip(back)).skipped, [])
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.live("exited, directory and command events reach output subscribers only", () =>
    Effect.gen(function*() {
      const log = yield* OutputLog
      const watcher = yield* ready()
      const other = yield* ready()
      yield* watcher.send({ type: "subscribe", output: [{ sessionId: S }] })
      yield* watcher.next()
      yield* log.publish({ _tag: "DirectoryChanged", sessionId: S, path: "/srv/x" })
      yield* log.publish({ _tag: "CommandChanged", sessionId: S, command: "vim" })
      yield* log.publish({ _tag: "ProcessExited", sessionId: S })
      assert.deepStrictEqual(yield* watcher.next(), { type: "directory", sessionId: S, path: "/srv/x" })
      assert.deepStrictEqual(yield* watcher.next(), { type: "command", sessionId: S, command: "vim" })
      assert.deepStrictEqual(yield* watcher.next(), { type: "exited", sessionId: S })
      assert.deepStrictEqual((yield* roundTrip(other)).skipped, [])
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.live("unsubscribe stops updates", () =>
    Effect.gen(function*() {
      const log = yield* OutputLog
      const other = session2.sessionId
      const client = yield* ready()
      yield* client.send({ type: "subscribe", output: [{ sessionId: S }, { sessionId: other }] })
      yield* client.next()
      yield* client.next()
      yield* client.send({ type: "unsubscribe", output: [S] })
      yield* roundTrip(client)
      yield* log.append(S, "unseen", at)
      const seen = yield* log.append(other, "seen", at)
      const { match, skipped } = yield* client.until((m) => m.type === "output")
      assert.deepStrictEqual([match.sessionId, match.seq], [other, seen.seq])
      assert.deepStrictEqual(skipped, [])
      assert.deepStrictEqual((yield* roundTrip(client)).skipped, [])
    }).pipe(Effect.scoped, Effect.provide(testLayer())))
})

describe("stream requests", () => {
  it.live("a malformed message gets an error and changes nothing; the connection stays usable", () =>
    Effect.gen(function*() {
      const log = yield* OutputLog
      const client = yield* ready()
      const bad = [
        "not json",
        JSON.stringify({ type: "subscribe", output: [{ sessionId: S }], extra: 1 }),
        JSON.stringify({ type: "subscribe", output: [{ sessionId: "not-a-uuid" }] }),
        JSON.stringify({ type: "subscribe", output: [{ sessionId: S, since: -1 }] }),
        JSON.stringify({ type: "launch" }),
        JSON.stringify([1, 2])
      ]
      for (const text of bad) {
        yield* client.send(text)
        const reply = yield* client.next()
        assert.strictEqual(reply.type, "error", text)
        assert.isString(reply.message)
      }
      yield* Effect.sync(() => client.ws.send(Buffer.from([1, 2, 3])))
      assert.strictEqual((yield* client.next()).type, "error")
      yield* log.append(S, "not subscribed", at)
      assert.deepStrictEqual((yield* roundTrip(client)).skipped, [], "the refused subscribes changed nothing")

      yield* client.send({ type: "subscribe", output: [{ sessionId: S }] })
      assert.strictEqual((yield* client.next()).type, "resync")
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.live("output subscriptions are bounded per client and pruned when a session is removed", () =>
    Effect.gen(function*() {
      const cache = yield* Cache
      const client = yield* ready()
      const sessions = Array.from({ length: STREAM_SUBSCRIPTIONS_MAX }, (_, i) => makeSession({}, 100 + i))
      yield* Effect.forEach(sessions, cache.upsertSession, { discard: true })
      yield* client.send({ type: "subscribe", output: sessions.map((s) => ({ sessionId: s.sessionId })) })
      yield* client.until((m) => m.sessionId === sessions[sessions.length - 1]!.sessionId)

      const extra = makeSession({}, 5000)
      yield* client.send({ type: "subscribe", output: [{ sessionId: extra.sessionId }] })
      const refused = yield* client.next()
      assert.strictEqual(refused.type, "error")
      assert.include(refused.message, String(STREAM_SUBSCRIPTIONS_MAX))

      // re-subscribing what is held is not growth
      yield* client.send({ type: "subscribe", output: [{ sessionId: sessions[0]!.sessionId }] })
      assert.strictEqual((yield* client.next()).type, "resync")

      yield* cache.removeSession(sessions[0]!.sessionId)
      yield* roundTrip(client)
      yield* client.send({ type: "subscribe", output: [{ sessionId: extra.sessionId }] })
      const accepted = yield* client.next()
      assert.deepStrictEqual(accepted, { type: "resync", sessionId: extra.sessionId })
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.live("the client count follows connects and disconnects", () =>
    Effect.gen(function*() {
      yield* waitForNoClients
      yield* Effect.scoped(Effect.gen(function*() {
        yield* ready()
        yield* ready()
        const anonymous = yield* open({})
        yield* anonymous.send({ type: "auth", token: TOKEN })
        yield* anonymous.next()
        assert.strictEqual(yield* gaugeValue, 3)
      }))
      yield* waitForNoClients
    }).pipe(Effect.scoped, Effect.provide(testLayer())))
})

describe("stream back-pressure", () => {
  it.live(
    "a stalled client neither slows another nor grows without bound, and is resynced once it reads",
    () =>
      Effect.gen(function*() {
        const log = yield* OutputLog
        const healthy = yield* ready()
        const stalled = yield* ready()
        for (const client of [healthy, stalled]) {
          yield* client.send({ type: "subscribe", output: [{ sessionId: S }] })
          assert.deepStrictEqual(yield* client.next(), { type: "resync", sessionId: S })
        }
        ;(stalled.ws as any)._socket.pause()
        const overflowsBefore = (yield* Metric.value(streamOverflows)).count
        const resyncsBefore = (yield* Metric.value(streamLagResyncs)).count

        const SCREEN_BYTES = 32 * 1024
        const UPDATES = 2000
        const BATCH = 20
        const padding = "x".repeat(SCREEN_BYTES)
        const started = Date.now()
        let last = yield* log.append(S, `0 ${padding}`, at)
        const firstSeq = last.seq
        yield* healthy.until((m) => m.seq === last.seq)
        for (let i = 1; i < UPDATES; i += BATCH) {
          for (let j = i; j < Math.min(i + BATCH, UPDATES); j++) last = yield* log.append(S, `${j} ${padding}`, at)
          // paced by the healthy client only: the stalled one must not hold anything up
          yield* healthy.until((m) => m.seq === last.seq, "5 seconds")
        }
        const elapsed = Date.now() - started
        assert.isBelow(elapsed, 20_000, "the healthy client kept up")
        assert.deepStrictEqual(
          outputs(healthy.received).map((m) => m.seq),
          Array.from({ length: UPDATES }, (_, i) => firstSeq + i),
          "the healthy client got every update, in order"
        )

        assert.isAbove((yield* Metric.value(streamOverflows)).count, overflowsBefore, "the stalled client lagged")
        const depth = yield* Metric.value(streamQueueDepth)
        assert.isAtMost(depth.max, STREAM_CLIENT_QUEUE_MAX)
        const buffered = yield* Metric.value(streamSocketBuffered)
        assert.isAtMost(buffered.max, STREAM_SOCKET_HIGH_WATER + 2 * SCREEN_BYTES, "the writer waited for the socket")
        assert.isBelow(outputs(stalled.received).length, 50, "the stalled client read (almost) nothing meanwhile")
        ;(stalled.ws as any)._socket.resume()
        const caughtUp = yield* stalled.until((m) => m.sessionId === S && m.seq === last.seq, "10 seconds")
        assert.strictEqual(caughtUp.match.type, "resync", "the lag ends with a resync to the latest screen")
        assert.isTrue(caughtUp.match.screen.startsWith(`${UPDATES - 1} `))
        const seen = stalled.received.filter((m) => m.sessionId === S && m.seq !== undefined).map((m) => m.seq)
        assert.isBelow(seen.length, UPDATES, "pending updates were dropped, not queued")
        seen.forEach((seq, i) => i > 0 && assert.isAbove(seq, seen[i - 1]!, "never a duplicate or a step back"))
        assert.isAbove((yield* Metric.value(streamLagResyncs)).count, resyncsBefore)

        // and it is live again
        const after = yield* log.append(S, "after", at)
        const live = yield* stalled.until((m) => m.seq === after.seq)
        assert.strictEqual(live.match.type, "output")
        assert.deepStrictEqual(live.skipped, [])
      }).pipe(Effect.scoped, Effect.provide(testLayer())),
    60_000
  )
})
