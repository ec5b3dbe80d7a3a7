/**
 * The hot reads (layers/HotRoutes.ts): `GET /health` and `GET /v1/sessions` answered ahead of the
 * Effect pipeline from cached bytes. What they answer must be what the pipeline answers (bytes and
 * headers), never stale after a change, and only for requests the pipeline would answer 200;
 * everything else is handed on.
 */
import { FileSystem, type HttpClient } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Logger, LogLevel, Redacted, type Scope, TestClock } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import * as HotRoutes from "../layers/HotRoutes.js"
import * as HttpServerLayer from "../layers/HttpServer.js"
import { LIST_MEMO_MAX, SessionIndex } from "../layers/IndexedCache.js"
import * as TokenFile from "../layers/TokenFile.js"
import { AuthToken, TOKEN_RECHECK_INTERVAL } from "../services/AuthToken.js"
import { HttpListener } from "../services/HttpListener.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { ComputerName, Session } from "../src/domain/Session.js"
import { realSessionsServices, TOKEN } from "./support/apiInProcess.js"
import { makeSession } from "./support/fixtures.js"
import { httpRequest } from "./support/rawHttp.js"

/** The real Sessions over doubles (cache, store, terminal), with everything else the server needs. */
const services = realSessionsServices

const quiet = Logger.minimumLogLevel(LogLevel.Error)

const projectDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "telemux-hot-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

/** The API served in-process (hot routes and all) on `services`; `body` gets the port. */
const withServer = <A, E>(
  body: (port: number) => Effect.Effect<A, E, HttpClient.HttpClient | HttpListener | Scope.Scope>,
  env: Readonly<Record<string, string>> = {},
  token?: Layer.Layer<AuthToken, unknown, TelemuxConfig | FileSystem.FileSystem>
) =>
  Effect.flatMap(HttpListener, (listener) => body(listener.port)).pipe(
    Effect.provide(HttpServerLayer.layerTest.pipe(Layer.provide(services(env, token)))),
    Effect.provide(quiet)
  )

const call = (
  port: number,
  method: string,
  url: string,
  options: { readonly token?: string | null; readonly headers?: http.OutgoingHttpHeaders; readonly body?: unknown } = {}
) =>
  Effect.promise(() =>
    httpRequest(port, {
      method,
      path: url,
      headers: {
        ...(options.token === null ? {} : { authorization: `Bearer ${options.token ?? TOKEN}` }),
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...options.headers
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
    })
  )

const listIds = (body: string) =>
  (JSON.parse(body) as ReadonlyArray<{ readonly sessionId: string }>).map((s) => s.sessionId)

describe("hot reads are never stale", () => {
  it.scopedLive("a created or closed session shows in the very next list, however often the list was read before", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const dir = yield* projectDir
        const open: Array<string> = []
        for (let round = 0; round < 8; round++) {
          // read the list a few times first: whatever is cached must not outlive the change
          for (let i = 0; i < 3; i++) assert.sameMembers(listIds((yield* call(port, "GET", "/v1/sessions")).body), open)
          const created = yield* call(port, "POST", "/v1/sessions", { body: { projectDir: dir, title: `s${round}` } })
          assert.strictEqual(created.status, 201, created.body)
          const id = (JSON.parse(created.body) as { readonly sessionId: string }).sessionId
          open.push(id)
          assert.sameMembers(listIds((yield* call(port, "GET", "/v1/sessions")).body), open, "created → listed at once")
          assert.include(listIds((yield* call(port, "GET", "/v1/sessions?status=running")).body), id)
          if (round % 2 === 1) {
            const closed = yield* call(port, "DELETE", `/v1/sessions/${open[0]}`)
            assert.strictEqual(closed.status, 200, closed.body)
            const gone = open.shift()!
            assert.sameMembers(listIds((yield* call(port, "GET", "/v1/sessions")).body), open, "closed → gone at once")
            assert.notInclude(listIds((yield* call(port, "GET", "/v1/sessions?status=running")).body), gone)
            assert.include(listIds((yield* call(port, "GET", "/v1/sessions?status=closed")).body), gone)
          }
        }
      })
    ))

  it("a list is the same string until the index changes, then a new one (the bytes are kept by that string)", () => {
    const index = new SessionIndex()
    const a = makeSession({ computer: ComputerName.make("local"), status: "running" }, 1)
    const b = makeSession({ computer: ComputerName.make("local"), status: "idle" }, 2)
    index.upsert(a)
    const first = index.selectJson()
    assert.strictEqual(index.selectJson(), first, "the same string while nothing changed")
    assert.strictEqual(index.upsert(a), undefined)
    assert.strictEqual(index.selectJson(), first, "an unchanged upsert changes nothing")
    const running = index.selectJson({ status: "running" })
    index.upsert(b)
    assert.notStrictEqual(index.selectJson(), first)
    assert.lengthOf(JSON.parse(index.selectJson()), 2)
    assert.strictEqual(index.selectJson({ status: "running" }), running, "equal text, made again")
    index.upsert(new Session({ ...b, status: "running" }))
    assert.lengthOf(JSON.parse(index.selectJson({ status: "running" })), 2)
    assert.lengthOf(JSON.parse(index.selectJson({ status: "idle" })), 0)
    index.remove(a.sessionId)
    assert.deepStrictEqual(listIds(index.selectJson()), [b.sessionId])
    assert.deepStrictEqual(listIds(index.selectJson({ limit: 1 })), [b.sessionId])
    // past the bound the memo starts over; every answer stays right
    for (let limit = 1; limit <= LIST_MEMO_MAX * 2; limit++) {
      assert.deepStrictEqual(listIds(index.selectJson({ limit })), [b.sessionId])
    }
  })
})

describe("hot reads answer what the pipeline answers", () => {
  /** The same request, once as it comes (hot) and once with a Content-Type, which the hot routes leave to the pipeline. */
  const both = (port: number, url: string) =>
    Effect.all([
      call(port, "GET", url),
      call(port, "GET", url, { headers: { "content-type": "application/json" } })
    ])

  it.scopedLive("the same status, content type, length and bytes, for the list (with each query) and health", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const dir = yield* projectDir
        for (let i = 0; i < 3; i++) {
          assert.strictEqual((yield* call(port, "POST", "/v1/sessions", { body: { projectDir: dir } })).status, 201)
        }
        for (
          const url of [
            "/v1/sessions",
            "/v1/sessions?status=running",
            "/v1/sessions?limit=2",
            "/v1/sessions?computer=local&limit=1",
            "/v1/sessions?status=idle",
            "/health"
          ]
        ) {
          const [hot, piped] = yield* both(port, url)
          assert.strictEqual(hot.status, 200, `${url}: ${hot.body}`)
          assert.strictEqual(hot.status, piped.status, url)
          assert.strictEqual(hot.headers["content-type"], piped.headers["content-type"], url)
          assert.strictEqual(hot.headers["content-length"], piped.headers["content-length"], url)
          // health's uptime may tick between the two
          if (url !== "/health") {
            assert.strictEqual(hot.body, piped.body, url)
          } else {assert.deepStrictEqual({ ...JSON.parse(hot.body), uptimeSeconds: 0 }, {
              ...JSON.parse(piped.body),
              uptimeSeconds: 0
            })}
        }
        assert.lengthOf(JSON.parse((yield* call(port, "GET", "/v1/sessions?limit=2")).body), 2)
      })
    ))

  it.scopedLive("refusals are the pipeline's: no token, a wrong one, a foreign Host or Origin, a bad query", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const missing = yield* call(port, "GET", "/v1/sessions", { token: null })
        assert.strictEqual(missing.status, 401)
        assert.strictEqual(JSON.parse(missing.body)._tag, "Unauthorized")
        assert.strictEqual((yield* call(port, "GET", "/v1/sessions", { token: "c".repeat(64) })).status, 401)
        assert.strictEqual(
          (yield* call(port, "GET", "/v1/sessions", { token: null, headers: { authorization: `Basic ${TOKEN}` } }))
            .status,
          401
        )
        for (const url of ["/health", "/v1/sessions"]) {
          const foreign = yield* call(port, "GET", url, { headers: { host: "evil.example" } })
          assert.strictEqual(foreign.status, 403, url)
          assert.strictEqual(JSON.parse(foreign.body)._tag, "HostNotAllowed")
          assert.strictEqual(
            (yield* call(port, "GET", url, { headers: { origin: "http://localhost:3000" } })).status,
            403,
            url
          )
        }
        for (
          const query of ["limit=0", "limit=x", "status=nope", "unknown=1", "status=idle&status=idle", "__proto__=x"]
        ) {
          const bad = yield* call(port, "GET", `/v1/sessions?${query}`)
          assert.strictEqual(bad.status, 400, query)
          assert.isString(JSON.parse(bad.body)._tag, query)
        }
      })
    ))

  it.scopedLive("with auth off (loopback), the list needs no token, on both paths", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const [hot, piped] = yield* Effect.all([
          call(port, "GET", "/v1/sessions", { token: null }),
          call(port, "GET", "/v1/sessions", { token: null, headers: { "content-type": "application/json" } })
        ])
        assert.strictEqual(hot.status, 200)
        assert.strictEqual(hot.body, piped.body)
      }), { TELEMUX_AUTH: "false" }))
})

describe("which requests the hot routes answer", () => {
  /** The shortcut alone on a plain node server; what it hands on is answered 599 by the stand-in app. */
  const withShortcut = <A, E>(
    body: (port: number) => Effect.Effect<A, E>,
    env: Readonly<Record<string, string>> = {}
  ) =>
    Effect.gen(function*() {
      const server = http.createServer()
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => server.close())
      )
      const port = (server.address() as { readonly port: number }).port
      const shortcut = yield* HotRoutes.make(
        { host: "127.0.0.1", allowedHosts: [], port, scheme: "http" },
        Effect.succeed("{\"ok\":true}"),
        (effect) => effect
      )
      server.on("request", (request, response) =>
        shortcut(request, response, () => response.writeHead(599, { "content-length": 0 }).end()))
      return yield* body(port)
    }).pipe(Effect.provide(services(env)), Effect.provide(quiet))

  it.scopedLive("only a GET the pipeline would answer 200 from the cache; everything else is handed on", () =>
    withShortcut((port) =>
      Effect.gen(function*() {
        const answered = async (
          method: string,
          url: string,
          headers: http.OutgoingHttpHeaders = {},
          withToken = true
        ) =>
          (await httpRequest(port, {
            method,
            path: url,
            headers: { ...(withToken ? { authorization: `Bearer ${TOKEN}` } : {}), ...headers }
          })).status
        const check = (
          expected: number,
          method: string,
          url: string,
          headers: http.OutgoingHttpHeaders = {},
          withToken = true
        ) =>
          Effect.promise(() => answered(method, url, headers, withToken)).pipe(
            Effect.map((status) =>
              assert.strictEqual(status, expected, `${method} ${url} ${JSON.stringify(headers)} token=${withToken}`)
            )
          )
        yield* check(200, "GET", "/health", {}, false)
        yield* check(200, "GET", "/v1/sessions")
        for (
          const query of [
            "status=running",
            "status=idle",
            "status=waiting_input",
            "status=creating",
            "limit=1",
            "computer=local",
            "computer=local&limit=5"
          ]
        ) {
          yield* check(200, "GET", `/v1/sessions?${query}`)
        }
        // handed on: what the pipeline refuses, answers from elsewhere, or must look at more closely
        yield* check(599, "GET", "/v1/sessions", {}, false)
        yield* check(599, "GET", "/v1/sessions", { authorization: `Bearer ${"c".repeat(64)}` }, false)
        yield* check(599, "GET", "/v1/sessions", { authorization: `Basic ${TOKEN}` }, false)
        for (const url of ["/health", "/v1/sessions"]) {
          yield* check(599, "GET", url, { host: "evil.example" })
          yield* check(599, "GET", url, { origin: "http://localhost:3000" })
          yield* check(599, "GET", url, { "sec-fetch-site": "cross-site" })
          yield* check(599, "GET", url, { "content-type": "application/json" })
          yield* check(599, "GET", url, { "content-length": "0" })
          yield* check(599, "HEAD", url)
          yield* check(599, "POST", url, { "content-type": "application/json" })
          yield* check(599, "GET", `${url}/`)
        }
        yield* check(599, "GET", "/health?verbose=1")
        for (
          const query of [
            "status=closed",
            "status=all",
            "limit=0",
            "limit=+1",
            "limit=%31",
            "status=idle&status=idle",
            "status=idle&",
            "unknown=1",
            "__proto__=x",
            "computer=a%2Fb",
            // another computer that is not online: the pipeline answers 503
            "computer=other",
            "status"
          ]
        ) yield* check(599, "GET", `/v1/sessions?${query}`)
      })
    ))

  it.scopedLive("with auth off, the list is answered without a token", () =>
    withShortcut((port) =>
      Effect.gen(function*() {
        const answer = yield* Effect.promise(() => httpRequest(port, { method: "GET", path: "/v1/sessions" }))
        assert.strictEqual(answer.status, 200)
        assert.deepStrictEqual(JSON.parse(answer.body), [])
      }), { TELEMUX_AUTH: "false" }))
})

describe("the token file is looked at seldom, and a rotation is honoured", () => {
  /** NodeFileSystem, counting the `stat`s of the token file. */
  const countingStats = () => {
    const counter = { stats: 0 }
    const layer = Layer.effect(
      FileSystem.FileSystem,
      Effect.map(FileSystem.FileSystem, (fileSystem) =>
        FileSystem.FileSystem.of({
          ...fileSystem,
          stat: (file) =>
            Effect.suspend(() => {
              counter.stats++
              return fileSystem.stat(file)
            })
        }))
    ).pipe(Layer.provide(NodeFileSystem.layer))
    return { counter, layer }
  }

  const tempTokenPath = Effect.map(
    Effect.acquireRelease(
      Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "telemux-token-"))),
      (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
    ),
    (dir) => path.join(dir, "token")
  )

  /** As `telemux token --rotate` does: a new file renamed over the old one. */
  const rotate = (tokenPath: string) =>
    Effect.promise(async () => {
      const fresh = crypto.randomBytes(32).toString("hex")
      await fs.writeFile(`${tokenPath}.new`, fresh + "\n", { mode: 0o600 })
      await fs.rename(`${tokenPath}.new`, tokenPath)
      return fresh
    })

  it.scoped("the held token is accepted without I/O; the file is looked at once per TOKEN_RECHECK_INTERVAL", () => {
    const { counter, layer } = countingStats()
    return Effect.gen(function*() {
      const tokenPath = yield* tempTokenPath
      const service = yield* TokenFile.make(tokenPath)
      const token = Redacted.value(yield* service.current)
      const before = counter.stats
      for (let i = 0; i < 1000; i++) assert.isTrue(yield* service.verify(token))
      assert.strictEqual(counter.stats, before, "no stat per request")
      yield* TestClock.adjust(TOKEN_RECHECK_INTERVAL)
      for (let i = 0; i < 1000; i++) assert.isTrue(yield* service.verify(token))
      assert.strictEqual(counter.stats, before + 1, "one look per interval")
    }).pipe(Effect.provide(layer))
  })

  it.scoped("a rotated token works from its first use; the old one is refused then, or at the latest one interval after the rotation", () => {
    const { layer } = countingStats()
    return Effect.gen(function*() {
      const tokenPath = yield* tempTokenPath
      const service = yield* TokenFile.make(tokenPath)
      const first = Redacted.value(yield* service.current)

      const second = yield* rotate(tokenPath)
      assert.isTrue(yield* service.verify(second), "the new token at once")
      assert.isFalse(yield* service.verify(first), "the old one refused once the new one was seen")

      const third = yield* rotate(tokenPath)
      // nobody has used the new token yet: the old one may still pass, within the stated bound only
      yield* TestClock.adjust(Duration.sum(TOKEN_RECHECK_INTERVAL, Duration.millis(1)))
      assert.isFalse(yield* service.verify(second), "refused one interval after the rotation")
      assert.isTrue(yield* service.verify(third))
      assert.strictEqual(Redacted.value(yield* service.current), third)
    }).pipe(Effect.provide(layer))
  })

  it.scopedLive("through the server: the rotated token is accepted on the hot list at once, the old one refused", () =>
    Effect.gen(function*() {
      const tokenPath = yield* tempTokenPath
      const home = path.dirname(tokenPath)
      yield* withServer(
        (port) =>
          Effect.gen(function*() {
            const old = (yield* Effect.promise(() => fs.readFile(tokenPath, "utf8"))).trim()
            assert.strictEqual((yield* call(port, "GET", "/v1/sessions", { token: old })).status, 200)
            const fresh = yield* rotate(tokenPath)
            assert.strictEqual((yield* call(port, "GET", "/v1/sessions", { token: fresh })).status, 200)
            assert.strictEqual((yield* call(port, "GET", "/v1/sessions", { token: old })).status, 401)
            assert.strictEqual((yield* call(port, "GET", "/v1/sessions", { token: fresh })).status, 200)
          }),
        { TELEMUX_HOME: home },
        TokenFile.layer.pipe(Layer.provide(NodeFileSystem.layer))
      )
    }))
})
