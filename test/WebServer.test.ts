/**
 * The web dashboard's server side, in-process (HttpServer.layerTestWith): its files served at `/`
 * (types, caching, ETag, gzip, HEAD, 404, traversal, CSP and the other security headers), sign-in
 * by code and by token for the session cookie (its attributes exactly), the cookie accepted by the
 * API and the stream from the dashboard's own origin only, sign-out, rotation, restart.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel, Redacted, Ref, type Scope } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import WebSocket from "ws"
import * as HttpServerLayer from "../layers/HttpServer.js"
import * as SqliteSessionStore from "../layers/SqliteSessionStore.js"
import * as WebAuthLive from "../layers/WebAuthLive.js"
import { defaultWebRoot, GZIP_DIR, loadFiles } from "../layers/WebRoute.js"
import { AuthToken } from "../services/AuthToken.js"
import { HttpListener } from "../services/HttpListener.js"
import type { TelemuxConfig } from "../services/TelemuxConfig.js"
import { WebAuth } from "../services/WebAuth.js"
import { COOKIE_ENDED_MESSAGE, COOKIE_ORIGIN_MESSAGE } from "../src/http/WebCookie.js"
import { realSessionsServices } from "./support/apiInProcess.js"
import { cookiePair, type WebReply, webRequest } from "./support/webHttp.js"

const TOKEN = "w".repeat(64)
const SECRET = "TOP SECRET, outside the web root"
const APP_JS = `console.log(${JSON.stringify("x".repeat(4000))})\n`

/** A built dashboard in a temp dir, with a secret beside it that must never be served. */
const makeWebRoot = () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-web-"))
  const root = path.join(parent, "web")
  fs.mkdirSync(path.join(root, "assets"), { recursive: true })
  fs.writeFileSync(path.join(root, "index.html"), "<!doctype html><title>dash</title><p>index</p>")
  fs.writeFileSync(path.join(root, "sign-in.html"), "<!doctype html><title>sign in</title><p>sign-in page</p>")
  fs.writeFileSync(path.join(root, "assets", "app-ABCD2345.js"), APP_JS)
  fs.writeFileSync(path.join(root, "assets", "logo.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>")
  fs.writeFileSync(path.join(root, ".env"), SECRET)
  fs.writeFileSync(path.join(parent, "outside.txt"), SECRET)
  return { parent, root }
}

const tempRoot = Effect.acquireRelease(
  Effect.sync(makeWebRoot),
  ({ parent }) => Effect.sync(() => fs.rmSync(parent, { recursive: true, force: true }))
)

/** An AuthToken a test can rotate. */
const rotatableToken = (ref: Ref.Ref<string>) =>
  Layer.succeed(
    AuthToken,
    AuthToken.of({
      current: Effect.map(Ref.get(ref), Redacted.make),
      verify: (candidate) => Effect.map(Ref.get(ref), (token) => token === candidate)
    })
  )

interface Server {
  readonly port: number
  readonly origin: string
  readonly web: WebAuth["Type"]
  readonly token: Ref.Ref<string>
  readonly request: (
    method: string,
    urlPath: string,
    options?: { readonly headers?: Record<string, string>; readonly body?: unknown }
  ) => Effect.Effect<WebReply>
}

const serve = (
  root: string,
  options: {
    readonly webAuth?: Layer.Layer<WebAuth, never, AuthToken | TelemuxConfig>
    readonly token?: Ref.Ref<string>
  } = {}
): Effect.Effect<Server, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const token = options.token ?? (yield* Ref.make(TOKEN))
    const context = yield* Layer.build(
      HttpServerLayer.layerTestWith(options.webAuth === undefined ? {} : { webAuth: options.webAuth }).pipe(
        Layer.provide(realSessionsServices({ TELEMUX_WEB_ROOT: root }, rotatableToken(token)))
      )
    )
    const listener = yield* Effect.provide(HttpListener, context)
    const web = yield* Effect.provide(WebAuth, context)
    const port = listener.port
    return {
      port,
      origin: `http://127.0.0.1:${port}`,
      web,
      token,
      request: (method, urlPath, request = {}) =>
        Effect.promise(() =>
          webRequest(port, {
            method,
            path: urlPath,
            ...(request.headers === undefined ? {} : { headers: request.headers }),
            ...(request.body === undefined ? {} : { body: request.body })
          })
        )
    }
  })

const quiet = Logger.minimumLogLevel(LogLevel.Error)

/** `body` against a fresh server over a fresh web root. */
const withServer = <A, E>(body: (server: Server) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.gen(function*() {
    const { root } = yield* tempRoot
    return yield* body(yield* serve(root))
  }).pipe(Effect.provide(quiet))

const bearer = { authorization: `Bearer ${TOKEN}` }

/** Signs in with the token, from the dashboard's own page; the cookie as the browser sends it back. */
const signIn = (server: Server) =>
  Effect.gen(function*() {
    const reply = yield* server.request("POST", "/v1/web/sign-in", {
      headers: { origin: server.origin, "sec-fetch-site": "same-origin" },
      body: { token: TOKEN }
    })
    assert.strictEqual(reply.status, 204, reply.text)
    return cookiePair(reply.headers["set-cookie"]?.[0])
  })

describe("the dashboard's files", () => {
  it.scopedLive("/ is index.html, revalidated each time, with the security headers", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const reply = yield* server.request("GET", "/")
        assert.strictEqual(reply.status, 200)
        assert.include(reply.text, "<p>index</p>")
        assert.strictEqual(reply.headers["content-type"], "text/html; charset=utf-8")
        assert.strictEqual(reply.headers["cache-control"], "no-cache")
        assert.match(reply.headers.etag ?? "", /^"[A-Za-z0-9_-]{27}"$/)
        const csp = String(reply.headers["content-security-policy"] ?? "")
        for (
          const directive of [
            "default-src 'self'",
            "script-src 'self'",
            `connect-src 'self' ws://127.0.0.1:${server.port}`,
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'"
          ]
        ) assert.include(csp.split("; "), directive)
        // only <style> elements (xterm.js writes its own) may be inline: never a script, never a style attribute
        const directives = csp.split("; ")
        assert.deepStrictEqual(directives.filter((d) => d.includes("unsafe-inline")), [
          "style-src-elem 'self' 'unsafe-inline'"
        ])
        assert.isFalse(directives.some((d) => d.startsWith("style-src-attr")))
        assert.strictEqual(reply.headers["x-content-type-options"], "nosniff")
        assert.strictEqual(reply.headers["referrer-policy"], "no-referrer")
        assert.strictEqual(reply.headers["x-frame-options"], "DENY")
      })
    ))

  it.scoped("the build's gzipped copy of a file's exact bytes is what is served; without one the file is gzipped at load", () =>
    Effect.gen(function*() {
      const { root } = yield* tempRoot
      const js = path.join(root, "assets", "app-ABCD2345.js")
      const hex = (body: string) => crypto.createHash("sha256").update(body).digest("hex")
      // the build's copy (level 1 here, so it is told from the level 9 the daemon makes)
      const copy = zlib.gzipSync(APP_JS, { level: 1 })
      fs.mkdirSync(path.join(root, GZIP_DIR))
      fs.writeFileSync(path.join(root, GZIP_DIR, `${hex(APP_JS)}.gz`), copy)
      const withCopy = yield* loadFiles(root)
      assert.deepStrictEqual(Buffer.from(withCopy.get("/assets/app-ABCD2345.js")!.gzip!), copy)
      assert.isFalse([...withCopy.keys()].some((url) => url.includes(GZIP_DIR)), "the copies are not served as files")
      // a copy cut short (a build that ran out of disk) is not served: the file is gzipped anew
      fs.writeFileSync(path.join(root, GZIP_DIR, `${hex(APP_JS)}.gz`), copy.subarray(0, copy.length - 9))
      const truncated = (yield* loadFiles(root)).get("/assets/app-ABCD2345.js")!.gzip!
      assert.strictEqual(zlib.gunzipSync(truncated).toString("utf8"), APP_JS)
      fs.writeFileSync(path.join(root, GZIP_DIR, `${hex(APP_JS)}.gz`), copy)
      // the file changed after the build: its old copy is of other bytes, never used for it
      const changed = APP_JS.replace("console", "window.console")
      fs.writeFileSync(js, changed)
      const gzip = (yield* loadFiles(root)).get("/assets/app-ABCD2345.js")!.gzip!
      assert.notDeepEqual(Buffer.from(gzip), copy)
      assert.strictEqual(zlib.gunzipSync(gzip).toString("utf8"), changed)
    }))

  it.scopedLive("a hashed asset is immutable, typed, gzipped when asked, and answers 304 to its ETag", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const plain = yield* server.request("GET", "/assets/app-ABCD2345.js")
        assert.strictEqual(plain.status, 200)
        assert.strictEqual(plain.text, APP_JS)
        assert.strictEqual(plain.headers["content-type"], "text/javascript; charset=utf-8")
        assert.strictEqual(plain.headers["cache-control"], "public, max-age=31536000, immutable")
        assert.strictEqual(plain.headers.vary, "accept-encoding")
        assert.isUndefined(plain.headers["content-encoding"])
        const gzipped = yield* server.request("GET", "/assets/app-ABCD2345.js", {
          headers: { "accept-encoding": "gzip, br" }
        })
        assert.strictEqual(gzipped.headers["content-encoding"], "gzip")
        assert.isBelow(gzipped.body.length, plain.body.length / 10)
        assert.strictEqual(zlib.gunzipSync(gzipped.body).toString("utf8"), APP_JS)
        assert.notStrictEqual(gzipped.headers.etag, plain.headers.etag)
        const again = yield* server.request("GET", "/assets/app-ABCD2345.js", {
          headers: { "if-none-match": plain.headers.etag! }
        })
        assert.strictEqual(again.status, 304)
        assert.strictEqual(again.body.length, 0)
        const svg = yield* server.request("GET", "/assets/logo.svg")
        assert.strictEqual(svg.headers["content-type"], "image/svg+xml")
        // not hashed: revalidated
        assert.strictEqual(svg.headers["cache-control"], "no-cache")
      })
    ))

  it.scopedLive("HEAD has GET's headers and no body", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const get = yield* server.request("GET", "/assets/app-ABCD2345.js")
        const head = yield* server.request("HEAD", "/assets/app-ABCD2345.js")
        assert.strictEqual(head.status, 200)
        assert.strictEqual(head.body.length, 0)
        for (const name of ["content-type", "content-length", "etag", "cache-control", "content-security-policy"]) {
          assert.strictEqual(head.headers[name], get.headers[name], name)
        }
      })
    ))

  it.scopedLive("/sign-in is sign-in.html; an app route a browser opens is index.html; a missing file is 404", () =>
    withServer((server) =>
      Effect.gen(function*() {
        assert.include((yield* server.request("GET", "/sign-in")).text, "sign-in page")
        const route = yield* server.request("GET", "/sessions/abc", { headers: { accept: "text/html,*/*" } })
        assert.strictEqual(route.status, 200)
        assert.include(route.text, "<p>index</p>")
        const missing = yield* server.request("GET", "/assets/missing-ABCD2345.js")
        assert.strictEqual(missing.status, 404)
        assert.strictEqual(missing.headers["cache-control"], "no-cache")
        assert.strictEqual((yield* server.request("GET", "/sessions/abc")).status, 404)
        // an API path stays the API's: its JSON 404 and 405
        const api = yield* server.request("GET", "/v1/nothing", { headers: bearer })
        assert.strictEqual(api.status, 404)
        assert.strictEqual(api.json?._tag, "RouteNotFound")
        const wrongMethod = yield* server.request("GET", "/v1/web/sign-in")
        assert.strictEqual(wrongMethod.status, 405)
      })
    ))

  it.scopedLive("no directory listing, no dotfile, no way out of the web root", () =>
    withServer((server) =>
      Effect.gen(function*() {
        for (
          const attempt of [
            "/assets/",
            "/assets",
            "/.env",
            "/../outside.txt",
            "/%2e%2e/outside.txt",
            "/assets/..%2f..%2foutside.txt",
            "/assets/%2e%2e/%2e%2e/outside.txt",
            "/..%5coutside.txt",
            "//outside.txt",
            "/%00index.html"
          ]
        ) {
          const reply = yield* server.request("GET", attempt, { headers: { accept: "text/plain" } })
          assert.strictEqual(reply.status, 404, attempt)
          assert.notInclude(reply.text, SECRET, attempt)
          assert.notInclude(reply.text, "<p>index</p>", attempt)
        }
      })
    ))

  it.scopedLive("the files are public (a link from another site opens them) but the Host is still checked", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const linked = yield* server.request("GET", "/", {
          headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" }
        })
        assert.strictEqual(linked.status, 200)
        const rebound = yield* server.request("GET", "/", { headers: { host: "attacker.example" } })
        assert.strictEqual(rebound.status, 403)
        assert.strictEqual(rebound.json?._tag, "HostNotAllowed")
        const api = yield* server.request("GET", "/v1/sessions", {
          headers: { ...bearer, "sec-fetch-site": "cross-site" }
        })
        assert.strictEqual(api.status, 403)
      })
    ))

  it("is found in dist/web, never in the source pages of web/", () => {
    assert.strictEqual(defaultWebRoot(), path.resolve(import.meta.dirname, "..", "dist", "web"))
  })

  it.scopedLive("without a built dashboard / answers 404 saying how to build it", () =>
    Effect.gen(function*() {
      const server = yield* serve(path.join(os.tmpdir(), "telemux-no-such-web-root"))
      const reply = yield* server.request("GET", "/")
      assert.strictEqual(reply.status, 404)
      assert.include(reply.text, "npm run build")
    }).pipe(Effect.provide(quiet)))
})

describe("signing in", () => {
  it.scopedLive("a code from an authenticated call signs in once, for a cookie with exactly these attributes", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const refusedCode = yield* server.request("POST", "/v1/web/sign-in-codes")
        assert.strictEqual(refusedCode.status, 401)
        const created = yield* server.request("POST", "/v1/web/sign-in-codes", { headers: bearer })
        assert.strictEqual(created.status, 201, created.text)
        const code: string = created.json.code
        assert.match(code, /^[A-Za-z0-9_-]{43}$/)
        assert.strictEqual(created.json.path, `/sign-in#code=${code}`)
        const own = { origin: server.origin }
        const first = yield* server.request("POST", "/v1/web/sign-in", { headers: own, body: { code } })
        assert.strictEqual(first.status, 204, first.text)
        const setCookie = first.headers["set-cookie"] ?? []
        assert.strictEqual(setCookie.length, 1)
        assert.match(
          setCookie[0]!,
          new RegExp(
            `^telemux_session_${server.port}=[A-Za-z0-9_-]{43}; Max-Age=2592000; Path=/; HttpOnly; SameSite=Strict$`
          )
        )
        const second = yield* server.request("POST", "/v1/web/sign-in", { headers: own, body: { code } })
        assert.strictEqual(second.status, 401)
        assert.strictEqual(second.json._tag, "Unauthorized")
        assert.isUndefined(second.headers["set-cookie"])
        assert.strictEqual(yield* server.web.openSessions, 1)
      })
    ))

  it.scopedLive("the token form signs in; a wrong token is a 401 that sets nothing, and repeated ones are throttled", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const own = { origin: server.origin }
        const wrong = yield* server.request("POST", "/v1/web/sign-in", { headers: own, body: { token: "nope" } })
        assert.strictEqual(wrong.status, 401)
        assert.deepStrictEqual(Object.keys(wrong.json).sort(), ["_tag", "message"])
        assert.strictEqual(wrong.json._tag, "Unauthorized")
        assert.isUndefined(wrong.headers["set-cookie"])
        assert.strictEqual(yield* server.web.openSessions, 0)
        const both = yield* server.request("POST", "/v1/web/sign-in", {
          headers: own,
          body: { token: TOKEN, code: "x" }
        })
        assert.strictEqual(both.status, 400)
        const cookie = yield* signIn(server)
        assert.match(cookie, new RegExp(`^telemux_session_${server.port}=`))
        for (let i = 0; i < 9; i++) {
          yield* server.request("POST", "/v1/web/sign-in", { headers: own, body: { token: `nope ${i}` } })
        }
        const throttled = yield* server.request("POST", "/v1/web/sign-in", { headers: own, body: { token: TOKEN } })
        assert.strictEqual(throttled.status, 429)
        assert.strictEqual(throttled.json._tag, "SignInThrottled")
        assert.strictEqual(throttled.headers["retry-after"], String(throttled.json.retryAfterSeconds))
        assert.strictEqual(yield* server.web.openSessions, 1)
      })
    ))

  it.scopedLive("a sign-in from another site is refused", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const reply = yield* server.request("POST", "/v1/web/sign-in", {
          headers: { origin: "http://attacker.example" },
          body: { token: TOKEN }
        })
        assert.strictEqual(reply.status, 403)
        assert.isUndefined(reply.headers["set-cookie"])
      })
    ))
})

describe("the cookie on the API", () => {
  it.scopedLive("works for GET /v1/sessions from the dashboard's own page, and for a navigation", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const cookie = yield* signIn(server)
        const fetched = yield* server.request("GET", "/v1/sessions", {
          headers: { cookie, "sec-fetch-site": "same-origin" }
        })
        assert.strictEqual(fetched.status, 200, fetched.text)
        assert.isArray(fetched.json)
        assert.strictEqual((yield* server.request("GET", "/v1/sessions", { headers: { cookie } })).status, 200)
        assert.strictEqual(
          (yield* server.request("GET", "/v1/sessions", { headers: { cookie: "telemux_session_1=abc" } })).status,
          401
        )
      })
    ))

  it.scopedLive("is refused cross-site (another Origin, Sec-Fetch-Site cross-site or same-site)", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const cookie = yield* signIn(server)
        for (
          const headers of [
            { origin: "http://attacker.example" },
            { origin: `http://127.0.0.1:${server.port + 1}` },
            { "sec-fetch-site": "cross-site" },
            { "sec-fetch-site": "same-site" }
          ]
        ) {
          const reply = yield* server.request("GET", "/v1/sessions", { headers: { cookie, ...headers } })
          assert.strictEqual(reply.status, 403, JSON.stringify(headers))
        }
      })
    ))

  it.scopedLive("an unsafe request must prove its origin: without Origin or Sec-Fetch-Site it is refused, changing nothing", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const cookie = yield* signIn(server)
        const before = yield* server.request("GET", "/v1/sessions?status=all", { headers: bearer })
        const blind = yield* server.request("POST", "/v1/sessions", {
          headers: { cookie },
          body: { projectDir: os.tmpdir(), title: "forged" }
        })
        assert.strictEqual(blind.status, 401)
        assert.strictEqual(blind.json.message, COOKIE_ORIGIN_MESSAGE)
        const after = yield* server.request("GET", "/v1/sessions?status=all", { headers: bearer })
        assert.deepStrictEqual(after.json, before.json)
        const own = yield* server.request("POST", "/v1/web/sign-in-codes", {
          headers: { cookie, origin: server.origin }
        })
        assert.strictEqual(own.status, 201)
        const sameOrigin = yield* server.request("POST", "/v1/web/sign-in-codes", {
          headers: { cookie, "sec-fetch-site": "same-origin" }
        })
        assert.strictEqual(sameOrigin.status, 201)
      })
    ))

  it.scopedLive("a wrong bearer token is refused even beside a good cookie", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const cookie = yield* signIn(server)
        const reply = yield* server.request("GET", "/v1/sessions", {
          headers: { cookie, authorization: "Bearer wrong" }
        })
        assert.strictEqual(reply.status, 401)
      })
    ))

  it.scopedLive("sign-out ends that cookie and clears it", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const cookie = yield* signIn(server)
        const other = yield* signIn(server)
        const out = yield* server.request("POST", "/v1/web/sign-out", { headers: { cookie, origin: server.origin } })
        assert.strictEqual(out.status, 204)
        assert.strictEqual(
          out.headers["set-cookie"]?.[0],
          `telemux_session_${server.port}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict`
        )
        const after = yield* server.request("GET", "/v1/sessions", { headers: { cookie } })
        assert.strictEqual(after.status, 401)
        assert.strictEqual(after.json.message, COOKIE_ENDED_MESSAGE)
        assert.strictEqual((yield* server.request("GET", "/v1/sessions", { headers: { cookie: other } })).status, 200)
      })
    ))

  it.scopedLive("a token rotation ends every cookie", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const a = yield* signIn(server)
        const b = yield* signIn(server)
        yield* Ref.set(server.token, "z".repeat(64))
        for (const cookie of [a, b]) {
          const reply = yield* server.request("GET", "/v1/sessions", { headers: { cookie } })
          assert.strictEqual(reply.status, 401)
        }
        assert.strictEqual(yield* server.web.openSessions, 0)
      })
    ))

  it.scopedLive("a restart of the server keeps the cookie (SQLite file)", () =>
    Effect.gen(function*() {
      const { root, parent } = yield* tempRoot
      const token = yield* Ref.make(TOKEN)
      const webAuth = WebAuthLive.layerSqlite.pipe(
        Layer.provide(Layer.orDie(SqliteSessionStore.sqliteLayer(path.join(parent, "state", "telemux.db"))))
      )
      const cookie = yield* Effect.scoped(Effect.flatMap(serve(root, { webAuth, token }), signIn))
      const name = cookie.split("=")[0]!
      const value = cookie.slice(name.length + 1)
      const again = yield* serve(root, { webAuth, token })
      // the port differs after the restart here; a daemon keeps its port, and so its cookie's name
      const reply = yield* again.request("GET", "/v1/sessions", {
        headers: { cookie: `telemux_session_${again.port}=${value}` }
      })
      assert.strictEqual(reply.status, 200, reply.text)
    }).pipe(Effect.provide(quiet)))
})

describe("the cookie on the stream", () => {
  const upgrade = (port: number, headers: Record<string, string>) =>
    Effect.async<{ readonly status: number } | { readonly first: string }>((resume) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`, { headers })
      ws.once("unexpected-response", (_request, response) => {
        resume(Effect.succeed({ status: response.statusCode ?? 0 }))
        ws.terminate()
      })
      ws.once("message", (data) => {
        resume(Effect.succeed({ first: data.toString() }))
        ws.close()
      })
      ws.once("error", () => undefined)
      return Effect.sync(() => ws.terminate())
    }).pipe(Effect.timeout("5 seconds"))

  it.scopedLive("opens the stream from the dashboard's own page without an auth message; refused otherwise", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const cookie = yield* signIn(server)
        const opened = yield* upgrade(server.port, { cookie, origin: server.origin })
        assert.deepStrictEqual(opened, { first: "{\"type\":\"ready\"}" })
        assert.deepStrictEqual(yield* upgrade(server.port, { cookie }), { status: 401 })
        assert.deepStrictEqual(yield* upgrade(server.port, { cookie, origin: "http://attacker.example" }), {
          status: 403
        })
        yield* server.request("POST", "/v1/web/sign-out", { headers: { cookie, origin: server.origin } })
        assert.deepStrictEqual(yield* upgrade(server.port, { cookie, origin: server.origin }), { status: 401 })
      })
    ))
})
