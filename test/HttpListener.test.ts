import { HttpServer, HttpServerResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import * as net from "node:net"
import * as HttpListenerLive from "../layers/HttpListener.js"
import { DRAIN_GRACE, RETRY_AFTER_SECONDS } from "../services/HttpListener.js"

/** A raw HTTP exchange: what the server wrote back before closing (or until `waitMs`). */
const rawRequest = (port: number, text: string, waitMs = 2000) =>
  Effect.async<{ readonly reply: string; readonly closed: boolean }>((resume) => {
    const socket = net.connect(port, "127.0.0.1")
    let reply = ""
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.succeed({ reply, closed: false }))
    }, waitMs)
    socket.on("data", (chunk) => (reply += chunk.toString()))
    socket.on("close", () => {
      clearTimeout(timer)
      resume(Effect.succeed({ reply, closed: true }))
    })
    socket.on("error", () => undefined)
    socket.write(text)
  })

const statusOf = (reply: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 0)

describe("HttpListener", () => {
  it.live("answers 503 with Retry-After (JSON) to requests and upgrades until the app is served", () =>
    Effect.gen(function*() {
      const listener = yield* HttpListenerLive.make({ host: "127.0.0.1", port: 0 })
      const request = yield* rawRequest(listener.port, "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
      assert.strictEqual(statusOf(request.reply), 503)
      assert.match(request.reply, new RegExp(`retry-after: ${RETRY_AFTER_SECONDS}`, "i"))
      assert.include(request.reply, "\"DaemonUnavailable\"")
      assert.include(request.reply, "\"starting\"")
      const upgrade = yield* rawRequest(
        listener.port,
        "GET /v1/stream HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
      )
      assert.strictEqual(statusOf(upgrade.reply), 503)
      assert.isTrue(upgrade.closed)

      yield* Layer.launch(HttpServer.serve(HttpServerResponse.text("served"))).pipe(
        Effect.provideService(HttpServer.HttpServer, listener.server),
        Effect.forkScoped
      )
      yield* Effect.sleep(Duration.millis(50))
      const served = yield* rawRequest(listener.port, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
      assert.strictEqual(statusOf(served.reply), 200)
      assert.include(served.reply, "served")
    }).pipe(Effect.scoped))

  it.live("a shortcut sees requests only while the app is served, answers some and hands the rest on untouched", () =>
    Effect.gen(function*() {
      const listener = yield* HttpListenerLive.make({ host: "127.0.0.1", port: 0 })
      const seen: Array<string> = []
      const shortcutScope = yield* Scope.make()
      yield* listener.shortcut((request, response, next) => {
        seen.push(request.url ?? "")
        if (request.url === "/fast") {
          response.writeHead(200, { "content-type": "text/plain", "content-length": 4 }).end("fast")
        } else if (request.url === "/later") setTimeout(next, 20)
        else next()
      }).pipe(Scope.extend(shortcutScope))
      const get = (url: string) =>
        rawRequest(listener.port, `GET ${url} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`)

      assert.strictEqual(statusOf((yield* get("/fast")).reply), 503, "not before the app is served")
      assert.deepStrictEqual(seen, [])

      yield* Layer.launch(HttpServer.serve(HttpServerResponse.text("served"))).pipe(
        Effect.provideService(HttpServer.HttpServer, listener.server),
        Effect.forkScoped
      )
      yield* Effect.sleep(Duration.millis(50))
      const fast = yield* get("/fast")
      assert.strictEqual(statusOf(fast.reply), 200)
      assert.match(fast.reply, /\r\n\r\nfast$/)
      assert.match((yield* get("/other")).reply, /\r\n\r\nserved$/)
      assert.match((yield* get("/later")).reply, /\r\n\r\nserved$/, "handed on after a while")
      assert.deepStrictEqual(seen, ["/fast", "/other", "/later"])

      yield* Scope.close(shortcutScope, Exit.void)
      assert.match((yield* get("/fast")).reply, /\r\n\r\nserved$/, "gone with its scope")
      assert.strictEqual(seen.length, 3)
    }).pipe(Effect.scoped))

  it.live("shutdown waits for a shortcut's tracked request as for the app's: it is answered, then the listener closes", () =>
    Effect.gen(function*() {
      const outer = yield* Scope.make()
      const listener = yield* HttpListenerLive.make({ host: "127.0.0.1", port: 0 }).pipe(Scope.extend(outer))
      const appScope = yield* Scope.make()
      yield* Layer.buildWithScope(HttpServer.serve(HttpServerResponse.text("served")), appScope).pipe(
        Effect.provideService(HttpServer.HttpServer, listener.server)
      )
      const started = yield* Deferred.make<void>()
      const shortcutScope = yield* Scope.make()
      // answers after 200 ms of work, as an input typed into tmux does after its round trip
      yield* listener.shortcut((_request, response) => {
        Effect.runFork(listener.track(
          Deferred.succeed(started, undefined).pipe(
            Effect.zipRight(Effect.sleep(Duration.millis(200))),
            Effect.zipRight(Effect.sync(() => response.writeHead(204).end()))
          )
        ))
      }).pipe(Scope.extend(shortcutScope))
      const pending = yield* Effect.fork(
        rawRequest(listener.port, "POST /v1/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n", 5000)
      )
      yield* Deferred.await(started)
      yield* Scope.close(shortcutScope, Exit.void)
      yield* Scope.close(appScope, Exit.void)
      yield* Scope.close(outer, Exit.void)
      const answer = yield* Fiber.join(pending)
      assert.strictEqual(statusOf(answer.reply), 204, `answered before the close: ${JSON.stringify(answer.reply)}`)
    }))

  it.live("a second listener on the same port fails with PortInUse, naming the port and what to do", () =>
    Effect.gen(function*() {
      const first = yield* HttpListenerLive.make({ host: "127.0.0.1", port: 0 })
      const error = yield* Effect.flip(HttpListenerLive.make({ host: "127.0.0.1", port: first.port }))
      assert.strictEqual(error._tag, "PortInUse")
      assert.include(error.message, `port ${first.port}`)
      assert.include(error.message, "telemux doctor")
      const foreign = yield* Effect.flip(HttpListenerLive.make({ host: "203.0.113.9", port: 0 }))
      assert.strictEqual(foreign._tag, "ListenFailed")
      assert.include(foreign.message, "TELEMUX_HOST")
    }).pipe(Effect.scoped))

  it.live("shutdown: idle and half-sent connections close at once, a request in flight gets the grace, then all are cut", () =>
    Effect.gen(function*() {
      const outer = yield* Scope.make()
      const listener = yield* HttpListenerLive.make({ host: "127.0.0.1", port: 0 }).pipe(Scope.extend(outer))
      const appScope = yield* Scope.make()
      const slowStarted = yield* Deferred.make<void>()
      const app = Effect.gen(function*() {
        yield* Deferred.succeed(slowStarted, undefined)
        yield* Effect.never
        return HttpServerResponse.empty()
      })
      yield* Layer.buildWithScope(HttpServer.serve(app), appScope).pipe(
        Effect.provideService(HttpServer.HttpServer, listener.server)
      )
      // one half-sent request, one request that never finishes, one idle keep-alive connection
      const halfSent = yield* Effect.fork(
        rawRequest(listener.port, "GET /health HTTP/1.1\r\nHost: localhost\r\n", 10_000)
      )
      const stuck = yield* Effect.fork(
        rawRequest(listener.port, "GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n", 10_000)
      )
      yield* Deferred.await(slowStarted)
      const idle = yield* Effect.fork(
        Effect.async<boolean>((resume) => {
          const socket = net.connect(listener.port, "127.0.0.1")
          socket.on("close", () => resume(Effect.succeed(true)))
          socket.on("error", () => undefined)
        })
      )
      yield* Effect.sleep(Duration.millis(100))
      const started = Date.now()
      yield* Scope.close(appScope, Exit.void)
      yield* Scope.close(outer, Exit.void)
      const elapsed = Date.now() - started
      assert.isTrue((yield* Fiber.join(halfSent)).closed, "the half-sent connection was closed")
      assert.isTrue((yield* Fiber.join(stuck)).closed, "the stuck request's connection was cut")
      assert.isTrue(yield* Fiber.join(idle), "the idle connection was closed")
      assert.isAtMost(elapsed, Duration.toMillis(DRAIN_GRACE) + 400, `shutdown took ${elapsed} ms`)
      console.log(`listener shutdown with a half-sent, a stuck and an idle connection: ${elapsed} ms`)
    }))
})
