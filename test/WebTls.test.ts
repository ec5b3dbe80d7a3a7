/**
 * HTTPS and WSS in-process (certificates made with openssl): the API, the stream and the sign-in
 * over TLS (the cookie then `Secure`, the CSP naming wss), the 503 while starting, and what stops the
 * daemon before it serves: one of TELEMUX_TLS_CERT / TELEMUX_TLS_KEY alone, an unreadable file, a
 * key that is not the certificate's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import WebSocket from "ws"
import * as HttpListenerLive from "../layers/HttpListener.js"
import * as HttpServerLayer from "../layers/HttpServer.js"
import * as ConfigLive from "../layers/TelemuxConfigLive.js"
import { HttpListener } from "../services/HttpListener.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { realSessionsServices, TOKEN } from "./support/apiInProcess.js"
import { makeTestCerts, type TestCerts } from "./support/webCerts.js"
import { cookiePair, webRequest } from "./support/webHttp.js"

const quiet = Logger.minimumLogLevel(LogLevel.Error)

const certs = Effect.acquireRelease(
  Effect.sync(makeTestCerts),
  (made) => Effect.sync(() => fs.rmSync(made.dir, { recursive: true, force: true }))
)

const serveTls = (made: TestCerts) =>
  Effect.flatMap(
    Layer.build(
      HttpServerLayer.layerTestWith({ tls: { certPath: made.cert, keyPath: made.key } }).pipe(
        Layer.provide(realSessionsServices())
      )
    ),
    (context) => Effect.provide(HttpListener, context)
  )

describe("HTTPS", () => {
  it.scopedLive("serves the API, the sign-in (a Secure cookie) and the CSP's wss over TLS", () =>
    Effect.gen(function*() {
      const made = yield* certs
      const ca = fs.readFileSync(made.ca, "utf8")
      const listener = yield* serveTls(made)
      assert.strictEqual(listener.scheme, "https")
      const port = listener.port
      const health = yield* Effect.promise(() => webRequest(port, { path: "/health", ca }))
      assert.strictEqual(health.status, 200)
      assert.strictEqual(health.json.ok, true)
      const origin = `https://127.0.0.1:${port}`
      const signIn = yield* Effect.promise(() =>
        webRequest(port, { method: "POST", path: "/v1/web/sign-in", headers: { origin }, body: { token: TOKEN }, ca })
      )
      assert.strictEqual(signIn.status, 204, signIn.text)
      assert.match(
        signIn.headers["set-cookie"]?.[0] ?? "",
        new RegExp(
          `^telemux_session_${port}=[A-Za-z0-9_-]{43}; Max-Age=2592000; Path=/; HttpOnly; Secure; SameSite=Strict$`
        )
      )
      const cookie = cookiePair(signIn.headers["set-cookie"]?.[0])
      // an http:// Origin is another origin than the https daemon's own
      const wrongScheme = yield* Effect.promise(() =>
        webRequest(port, {
          method: "POST",
          path: "/v1/web/sign-in-codes",
          headers: { cookie, origin: `http://127.0.0.1:${port}` },
          ca
        })
      )
      assert.strictEqual(wrongScheme.status, 403)
      const page = yield* Effect.promise(() => webRequest(port, { path: "/", ca }))
      assert.include(String(page.headers["content-security-policy"]), `connect-src 'self' wss://127.0.0.1:${port}`)

      const first = (headers: Record<string, string>) =>
        Effect.async<string>((resume) => {
          const ws = new WebSocket(`wss://127.0.0.1:${port}/v1/stream`, { headers, ca })
          ws.once("message", (data) => {
            resume(Effect.succeed(data.toString()))
            ws.close()
          })
          ws.once("unexpected-response", (_request, response) => resume(Effect.succeed(`HTTP ${response.statusCode}`)))
          ws.once("error", (error) => resume(Effect.succeed(`error ${error.message}`)))
          return Effect.sync(() => ws.terminate())
        }).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(yield* first({ authorization: `Bearer ${TOKEN}` }), "{\"type\":\"ready\"}")
      assert.strictEqual(yield* first({ cookie, origin }), "{\"type\":\"ready\"}")
      assert.strictEqual(yield* first({ cookie, origin: `http://127.0.0.1:${port}` }), "HTTP 403")
    }).pipe(Effect.provide(quiet)))

  it.scopedLive("answers 503 with Retry-After over TLS while the daemon starts", () =>
    Effect.gen(function*() {
      const made = yield* certs
      const listener = yield* HttpListenerLive.make({
        host: "127.0.0.1",
        port: 0,
        tls: { certPath: made.cert, keyPath: made.key }
      })
      const reply = yield* Effect.promise(() =>
        webRequest(listener.port, { path: "/health", ca: fs.readFileSync(made.ca, "utf8") })
      )
      assert.strictEqual(reply.status, 503)
      assert.strictEqual(reply.headers["retry-after"], "1")
      assert.strictEqual(reply.json.state, "starting")
    }))

  it.scoped("an unreadable file, a file that is no PEM, or a key not the certificate's stop it, naming the file", () =>
    Effect.gen(function*() {
      const made = yield* certs
      const fail = (certPath: string, keyPath: string) =>
        Effect.flip(Effect.scoped(HttpListenerLive.make({ host: "127.0.0.1", port: 0, tls: { certPath, keyPath } })))
      const missing = yield* fail(path.join(made.dir, "nope.pem"), made.key)
      assert.strictEqual(missing._tag, "TlsInvalid")
      assert.include(missing.message, "nope.pem")
      assert.include(missing.message, "ENOENT")
      const notPem = path.join(made.dir, "garbage.pem")
      fs.writeFileSync(notPem, "not a certificate\n")
      const garbage = yield* fail(notPem, made.key)
      assert.strictEqual(garbage._tag, "TlsInvalid")
      assert.strictEqual(garbage._tag === "TlsInvalid" ? garbage.path : "", notPem)
      const mismatch = yield* fail(made.cert, made.otherKey)
      assert.strictEqual(mismatch._tag, "TlsInvalid")
      assert.strictEqual(mismatch._tag === "TlsInvalid" ? mismatch.path : "", made.otherKey)
    }))

  it.effect("TELEMUX_TLS_CERT without TELEMUX_TLS_KEY (or the other way) is a configuration error saying what to set", () =>
    Effect.gen(function*() {
      const read = (env: Record<string, string>) =>
        Effect.flip(Effect.provide(TelemuxConfig, ConfigLive.layerFromRecord(env)))
      const certOnly = yield* read({ TELEMUX_TLS_CERT: "/c.pem" })
      assert.strictEqual(certOnly._tag, "ConfigInvalid")
      assert.include(certOnly.message, "TELEMUX_TLS_KEY is not")
      const keyOnly = yield* read({ TELEMUX_TLS_KEY: "/k.pem" })
      assert.include(keyOnly.message, "TELEMUX_TLS_CERT is not")
      const both = yield* Effect.provide(
        TelemuxConfig,
        ConfigLive.layerFromRecord({ TELEMUX_TLS_CERT: "c.pem", TELEMUX_TLS_KEY: "/k.pem" })
      )
      assert.deepStrictEqual(
        Option.getOrUndefined(both.tls),
        { certPath: path.resolve("c.pem"), keyPath: "/k.pem" }
      )
      const neither = yield* Effect.provide(TelemuxConfig, ConfigLive.layerFromRecord({}))
      assert.isTrue(Option.isNone(neither.tls))
    }))
})
