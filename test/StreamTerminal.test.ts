import { HttpServer } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Data, Duration, Effect, Layer, Logger, LogLevel, Option, Queue, Redacted } from "effect"
import WebSocket from "ws"
import * as FleetLive from "../layers/FleetLive.js"
import * as HttpServerLayer from "../layers/HttpServer.js"
import * as IdempotencyLive from "../layers/IdempotencyLive.js"
import * as IndexedCache from "../layers/IndexedCache.js"
import * as MemoryOutputLog from "../layers/MemoryOutputLog.js"
import { AuthToken } from "../services/AuthToken.js"
import { Cache } from "../services/Cache.js"
import { Projects } from "../services/Projects.js"
import { Sessions } from "../services/Sessions.js"
import { SystemStats } from "../services/SystemStats.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { type TerminalChunk, type TerminalListener, TerminalStreams } from "../services/TerminalStreams.js"
import { decodeChunkFrame } from "../src/api/TerminalFrames.js"
import { ComputerName } from "../src/domain/Session.js"
import { makeSession, textSnapshot } from "./support/fixtures.js"
import { testSettings } from "./support/settings.js"
import { agentsUnused, worktreesUnused } from "./support/unitLayers.js"

/**
 * The terminal side of one /v1/stream client (layers/StreamClient.ts) against a TerminalStreams
 * double whose events the test emits in the order the live layer can: a redraw's snapshot is
 * taken at an exact point of the output, but delivered once taken, after the chunks the pane
 * wrote meanwhile.
 */

const TOKEN = "c".repeat(64)
const session = makeSession({ computer: ComputerName.make("testbox") }, 1)
const S = session.sessionId

const snapshotOf = textSnapshot

/** A terminal stream the test drives: `emit` calls the watchers as the live layer's output listener does. */
const makeTerminals = Effect.sync(() => {
  const listeners = new Set<TerminalListener>()
  const ring: Array<TerminalChunk> = []
  let seq = 10
  const chunk = (text: string) => {
    const made: TerminalChunk = { seq: ++seq, bytes: new TextEncoder().encode(text) }
    ring.push(made)
    for (const listener of listeners) listener({ _tag: "Chunk", sessionId: S, chunk: made })
  }
  const redraw = (at: number, text: string) => {
    for (const listener of listeners) listener({ _tag: "Redraw", sessionId: S, seq: at, snapshot: snapshotOf(text) })
  }
  const service = TerminalStreams.of({
    watch: (_id, listener) =>
      Effect.acquireRelease(
        Effect.sync(() => void listeners.add(listener)),
        () => Effect.sync(() => void listeners.delete(listener))
      ),
    snapshot: () => Effect.sync(() => ({ seq, snapshot: snapshotOf("fresh") })),
    since: (_id, after) => Effect.sync(() => Option.some(ring.filter((c) => c.seq > after))),
    sendBytes: () => Effect.void,
    resize: (_id, cols, rows) => Effect.succeed({ width: cols, height: rows, applied: true })
  })
  return { service, chunk, redraw, watchers: () => listeners.size }
})

const testLayer = (terminals: TerminalStreams["Type"]) =>
  HttpServerLayer.layerTest.pipe(
    Layer.provideMerge(Layer.mergeAll(
      MemoryOutputLog.layer,
      IndexedCache.layer,
      FleetLive.layerAlone,
      agentsUnused,
      worktreesUnused,
      IdempotencyLive.layerMemory,
      Layer.succeed(TerminalStreams, terminals),
      Layer.succeed(Sessions, {} as Sessions["Type"]),
      Layer.succeed(SystemStats, {} as SystemStats["Type"]),
      Layer.succeed(Projects, Projects.of({ list: Effect.succeed([]) })),
      Layer.succeed(TelemuxConfig, testSettings()),
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

class FramesMissing extends Data.TaggedError("FramesMissing")<{ readonly wanted: number }> {}

/** What the client got for the session's terminal: `T<seq>` for a snapshot, `C<seq>` for a chunk. */
const connect = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const port = server.address._tag === "TcpAddress" ? server.address.port : 0
  const ws = yield* Effect.acquireRelease(
    Effect.sync(() =>
      new WebSocket(`ws://127.0.0.1:${port}/v1/stream`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ),
    (ws) => Effect.sync(() => ws.terminate())
  )
  const inbox = yield* Queue.unbounded<string>()
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      const chunk = decodeChunkFrame(new Uint8Array(data))
      Queue.unsafeOffer(inbox, `C${chunk?.seq}`)
      return
    }
    const message = JSON.parse(data.toString())
    if (message.type === "terminal") Queue.unsafeOffer(inbox, `T${message.seq}`)
    else if (message.type === "error") Queue.unsafeOffer(inbox, `error: ${message.message}`)
  })
  yield* Effect.async<void>((resume) => void ws.once("open", () => resume(Effect.void)))
  const take = (n: number) =>
    Effect.forEach(Array.from({ length: n }), () => Queue.take(inbox)).pipe(
      Effect.timeoutFail({ duration: Duration.seconds(5), onTimeout: () => new FramesMissing({ wanted: n }) })
    )
  return { send: (message: unknown) => ws.send(JSON.stringify(message)), take, inbox }
})

describe("a terminal subscription on /v1/stream", () => {
  it.live("a redraw delivered after chunks its snapshot predates is followed by those chunks again", () =>
    Effect.gen(function*() {
      const terminals = yield* makeTerminals
      yield* Effect.gen(function*() {
        yield* (yield* Cache).upsertSession(session)
        const client = yield* connect
        client.send({ type: "subscribe", terminal: [{ sessionId: S }] })
        assert.deepStrictEqual(yield* client.take(1), ["T10"])

        // the snapshot was taken after chunk 11, and comes after chunk 12: 12 is drawn over, so it comes again
        terminals.chunk("a")
        terminals.chunk("b")
        terminals.redraw(11, "fresh a")
        assert.deepStrictEqual(yield* client.take(4), ["C11", "C12", "T11", "C12"])
        // and the stream goes on without a gap
        terminals.chunk("c")
        assert.deepStrictEqual(yield* client.take(1), ["C13"])

        // a redraw that follows every chunk sent is just a redraw
        terminals.redraw(13, "fresh abc")
        terminals.chunk("d")
        assert.deepStrictEqual(yield* client.take(2), ["T13", "C14"])
        assert.strictEqual(yield* Queue.size(client.inbox), 0)
      }).pipe(Effect.scoped, Effect.provide(testLayer(terminals.service)))
    }))
})
