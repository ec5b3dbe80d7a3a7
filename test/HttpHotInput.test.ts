/**
 * `POST /v1/sessions/{id}/input` taken ahead of the Effect pipeline (layers/HotInput.ts). Its
 * answers must be the pipeline's, whatever the request: each request below is sent as it is
 * (Content-Length: the shortcut's) and again chunked (Transfer-Encoding: the pipeline's, the
 * shortcut leaves it alone), and the two answers compared — status, Content-Type, body. Which
 * requests the shortcut takes, hands on unread, or replays to the pipeline after reading the body
 * is shown on the shortcut itself, in front of a bare node server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel } from "effect"
import * as http from "node:http"
import * as net from "node:net"
import * as HotInput from "../layers/HotInput.js"
import { HttpListener } from "../services/HttpListener.js"
import { existing, makeDoubles, servicesOf, TOKEN, withApi } from "./support/apiInProcess.js"
import { httpRequest } from "./support/rawHttp.js"

const input = (id: string) => `/v1/sessions/${id}/input`
const unknownId = "0b7f4a4e-9d3c-4c1e-8f53-3a1f2b4c5d6e"

interface Case {
  readonly name: string
  readonly path: string
  readonly body: string
  readonly headers?: http.OutgoingHttpHeaders
  readonly status: number
}

const json = (value: unknown) => JSON.stringify(value)

const CASES: ReadonlyArray<Case> = [
  { name: "typed", path: input(existing.sessionId), body: json({ text: "echo hi" }), status: 204 },
  { name: "without Enter", path: input(existing.sessionId), body: json({ text: "x", enter: false }), status: 204 },
  { name: "unknown session", path: input(unknownId), body: json({ text: "x" }), status: 404 },
  { name: "not a session id", path: input("nope"), body: json({ text: "x" }), status: 400 },
  { name: "not JSON", path: input(existing.sessionId), body: "{\"text\":", status: 400 },
  { name: "not the payload", path: input(existing.sessionId), body: json({ text: 5 }), status: 400 },
  { name: "an unknown field", path: input(existing.sessionId), body: json({ text: "x", more: 1 }), status: 400 },
  { name: "no text", path: input(existing.sessionId), body: json({}), status: 400 },
  { name: "nested too deep", path: input(existing.sessionId), body: "[".repeat(40) + "]".repeat(40), status: 400 },
  {
    name: "no token",
    path: input(existing.sessionId),
    body: json({ text: "x" }),
    headers: { authorization: undefined },
    status: 401
  },
  {
    name: "a wrong token",
    path: input(existing.sessionId),
    body: json({ text: "x" }),
    headers: { authorization: `Bearer ${"b".repeat(64)}` },
    status: 401
  },
  {
    name: "another Host",
    path: input(existing.sessionId),
    body: json({ text: "x" }),
    headers: { host: "evil.example" },
    status: 403
  },
  {
    name: "not JSON by its type",
    path: input(existing.sessionId),
    body: json({ text: "x" }),
    headers: { "content-type": "text/plain" },
    status: 415
  }
]

const send = (port: number, c: Case, chunked: boolean) => {
  const headers: http.OutgoingHttpHeaders = {
    authorization: `Bearer ${TOKEN}`,
    "content-type": "application/json",
    ...(chunked ? { "transfer-encoding": "chunked" } : { "content-length": Buffer.byteLength(c.body) }),
    ...c.headers
  }
  for (const [name, value] of Object.entries(headers)) if (value === undefined) delete headers[name]
  return Effect.promise(() => httpRequest(port, { method: "POST", path: c.path, headers, body: c.body }))
}

const quiet = Logger.minimumLogLevel(LogLevel.Error)

describe("input ahead of the pipeline answers as the pipeline does", () => {
  it.scopedLive("every request: the same status, Content-Type and body both ways; typed once per request", () =>
    withApi((recorder) =>
      Effect.gen(function*() {
        const { port } = yield* HttpListener
        for (const c of CASES) {
          const before = (yield* recorder.calls).filter((call) => call === "sendText").length
          const hot = yield* send(port, c, false)
          const piped = yield* send(port, c, true)
          const typed = (yield* recorder.calls).filter((call) => call === "sendText").length - before
          assert.strictEqual(hot.status, c.status, `${c.name}: ${hot.body}`)
          assert.strictEqual(piped.status, hot.status, `${c.name}: ${piped.body} / ${hot.body}`)
          assert.strictEqual(piped.headers["content-type"], hot.headers["content-type"], c.name)
          assert.deepStrictEqual(
            hot.body === "" ? "" : JSON.parse(hot.body),
            piped.body === "" ? "" : JSON.parse(piped.body),
            c.name
          )
          // typed once each way when it was accepted; a refused request typed nothing, either way
          assert.strictEqual(typed, c.status === 204 ? 2 : 0, `${c.name}: typed`)
        }
      })
    ))
})

describe("which requests the shortcut takes", () => {
  it.scopedLive("takes a plain request; hands on unread what is not one; replays a body the endpoint refuses", () =>
    Effect.gen(function*() {
      const doubles = yield* makeDoubles
      const take = yield* HotInput.make({ host: "127.0.0.1", allowedHosts: [], port: 0, scheme: "http" }).pipe(
        Effect.provide(servicesOf(doubles).pipe(Layer.provideMerge(quiet)))
      )
      // in front of a bare server: 598 handed on unread, 599 replayed (with the body read back from the replay)
      const server = http.createServer((request, response) => {
        const taken = take(request, response, (replay) => {
          if (replay === undefined) {
            response.writeHead(598)
            response.end()
            return
          }
          const chunks: Array<Buffer> = []
          replay.on("data", (chunk: Buffer) => chunks.push(chunk))
          replay.on("end", () => {
            response.writeHead(599)
            response.end(Buffer.concat(chunks))
          })
        })
        if (!taken) {
          response.writeHead(597)
          response.end()
        }
      })
      const port = yield* Effect.acquireRelease(
        Effect.async<number>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as { port: number }).port)))
        }),
        () => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
      )
      const status = (c: Case, chunked = false) => Effect.map(send(port, c, chunked), (answer) => answer)
      const plain = (body: string, headers?: http.OutgoingHttpHeaders): Case => ({
        name: "",
        path: input(existing.sessionId),
        body,
        status: 0,
        ...(headers === undefined ? {} : { headers })
      })
      assert.strictEqual((yield* status(plain(json({ text: "x" })))).status, 204)
      assert.strictEqual((yield* status(plain(json({ text: "x" })), true)).status, 597, "chunked: not taken")
      assert.strictEqual((yield* status(plain(json({ text: "x" }), { "idempotency-key": "k1" }))).status, 597)
      assert.strictEqual(
        (yield* status(plain(json({ text: "x" }), { "x-telemux-caller": existing.sessionId }))).status,
        597
      )
      assert.strictEqual((yield* status(plain(json({ text: "x" }), { host: "evil.example" }))).status, 597)
      const big = json({ text: "y".repeat(HotInput.HOT_INPUT_BODY_MAX) })
      assert.strictEqual((yield* status(plain(big))).status, 597, "a long paste: the pipeline's")
      assert.strictEqual(
        (yield* status(plain(json({ text: "x" }), { authorization: `Bearer ${"b".repeat(64)}` }))).status,
        598,
        "a token refused: handed on unread"
      )
      const refused = yield* status(plain(json({ text: 5 })))
      assert.strictEqual(refused.status, 599, "a payload the endpoint refuses: replayed")
      assert.strictEqual(refused.body, json({ text: 5 }), "the replay reads the body that was sent")
      assert.deepStrictEqual(
        (yield* doubles.recorder.calls).filter((call) => call === "sendText"),
        ["sendText"],
        "typed for the one request it took whole"
      )
    }))

  it.scopedLive("a client that goes away halfway through its body ends its request: nothing typed, no fiber left waiting", () =>
    Effect.gen(function*() {
      const doubles = yield* makeDoubles
      let running = 0
      const track = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.suspend(() => {
          running++
          return Effect.ensuring(effect, Effect.sync(() => running--))
        })
      const take = yield* HotInput.make({ host: "127.0.0.1", allowedHosts: [], port: 0, scheme: "http" }, track).pipe(
        Effect.provide(servicesOf(doubles).pipe(Layer.provideMerge(quiet)))
      )
      const server = http.createServer((request, response) => {
        if (!take(request, response, () => response.writeHead(597).end())) response.writeHead(597).end()
      })
      const port = yield* Effect.acquireRelease(
        Effect.async<number>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as { port: number }).port)))
        }),
        () => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
      )
      const socket = net.connect(port, "127.0.0.1")
      socket.on("error", () => undefined)
      socket.write(
        `POST ${input(existing.sessionId)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
          `Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"text":"never-`
      )
      const deadline = Date.now() + 5000
      while (running === 0 && Date.now() < deadline) yield* Effect.sleep("10 millis")
      assert.strictEqual(running, 1, "taken, waiting for its body")
      socket.destroy()
      while (running > 0 && Date.now() < deadline) yield* Effect.sleep("10 millis")
      assert.strictEqual(running, 0, "ended when the client went away")
      assert.notInclude(yield* doubles.recorder.calls, "sendText")
    }))
})
