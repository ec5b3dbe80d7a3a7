/**
 * The web dashboard's sign-in (layers/WebAuthLive.ts) on its own: single-use codes that expire,
 * cookie sessions that expire, end at sign-out and at a token rotation, stay bounded, survive a
 * restart in SQLite (hashed), and failed sign-ins that are throttled. Time is the TestClock's.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Layer, Logger, LogLevel, Option, Redacted, Ref, TestClock } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as SqliteSessionStore from "../layers/SqliteSessionStore.js"
import * as ConfigLive from "../layers/TelemuxConfigLive.js"
import * as WebAuthLive from "../layers/WebAuthLive.js"
import { AuthToken } from "../services/AuthToken.js"
import { TelemuxConfig, WEB_SESSION_TTL_DEFAULT, WEB_SESSION_TTL_FLOOR } from "../services/TelemuxConfig.js"
import {
  SIGN_IN_CODE_TTL,
  SIGN_IN_CODES_MAX,
  SIGN_IN_FAILURE_WINDOW,
  SIGN_IN_FAILURES_MAX,
  WEB_SESSIONS_MAX,
  WebAuth
} from "../services/WebAuth.js"
import { testSettings } from "./support/settings.js"

const TOKEN = "t".repeat(64)

/** An AuthToken whose token a test can rotate. */
const rotatableToken = (ref: Ref.Ref<string>) =>
  Layer.succeed(
    AuthToken,
    AuthToken.of({
      current: Effect.map(Ref.get(ref), Redacted.make),
      verify: (candidate) => Effect.map(Ref.get(ref), (token) => token === candidate)
    })
  )

const TTL = Duration.days(30)

const withAuth = <A, E>(body: (web: WebAuth["Type"], token: Ref.Ref<string>) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const token = yield* Ref.make(TOKEN)
    const deps = Layer.mergeAll(
      rotatableToken(token),
      Layer.succeed(TelemuxConfig, testSettings({ webSessionTtl: TTL }))
    )
    const web = yield* WebAuth.pipe(Effect.provide(WebAuthLive.layerMemory.pipe(Layer.provide(deps))))
    return yield* body(web, token)
  }).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Error)))

const refused = <A>(effect: Effect.Effect<A, { readonly reason: string }>) =>
  Effect.map(Effect.either(effect), (result) => (Either.isLeft(result) ? result.left.reason : "accepted"))

describe("WebAuth sign-in codes", () => {
  it.effect("a code opens one session, once", () =>
    withAuth((web) =>
      Effect.gen(function*() {
        const { code } = yield* web.createCode
        const session = yield* web.signInWithCode(code)
        assert.isTrue(Option.isSome(yield* web.authenticate(session.value)))
        assert.strictEqual(yield* refused(web.signInWithCode(code)), "invalid")
        assert.strictEqual(yield* web.openSessions, 1)
      })
    ))

  it.effect("a code expires after SIGN_IN_CODE_TTL", () =>
    withAuth((web) =>
      Effect.gen(function*() {
        const early = yield* web.createCode
        const late = yield* web.createCode
        yield* TestClock.adjust(Duration.subtract(SIGN_IN_CODE_TTL, Duration.seconds(1)))
        assert.strictEqual(yield* refused(web.signInWithCode(early.code)), "accepted")
        yield* TestClock.adjust(Duration.seconds(2))
        assert.strictEqual(yield* refused(web.signInWithCode(late.code)), "invalid")
        assert.strictEqual(yield* web.openSessions, 1)
      })
    ))

  it.effect("pending codes are bounded: past SIGN_IN_CODES_MAX the oldest is dropped", () =>
    withAuth((web) =>
      Effect.gen(function*() {
        const codes = yield* Effect.replicateEffect(web.createCode, SIGN_IN_CODES_MAX + 1)
        assert.strictEqual(yield* refused(web.signInWithCode(codes[0]!.code)), "invalid")
        assert.strictEqual(yield* refused(web.signInWithCode(codes[1]!.code)), "accepted")
        assert.strictEqual(yield* refused(web.signInWithCode(codes[SIGN_IN_CODES_MAX]!.code)), "accepted")
      })
    ))

  it.effect("a wrong code, or a cookie value, is no code", () =>
    withAuth((web) =>
      Effect.gen(function*() {
        yield* web.createCode
        const session = yield* web.signInWithToken(TOKEN)
        assert.strictEqual(yield* refused(web.signInWithCode(session.value)), "invalid")
        assert.strictEqual(yield* refused(web.signInWithCode("x")), "invalid")
      })
    ))
})

describe("WebAuth cookie sessions", () => {
  it.effect("the token signs in; a wrong one does not and opens nothing", () =>
    withAuth((web) =>
      Effect.gen(function*() {
        assert.strictEqual(yield* refused(web.signInWithToken("wrong")), "invalid")
        assert.strictEqual(yield* web.openSessions, 0)
        const session = yield* web.signInWithToken(` ${TOKEN}\n`)
        assert.isTrue(Option.isSome(yield* web.authenticate(session.value)))
      })
    ))

  it.effect("a session lasts the configured time from sign-in, not sliding, and is pruned after", () =>
    withAuth((web) =>
      Effect.gen(function*() {
        const session = yield* web.signInWithToken(TOKEN)
        assert.strictEqual(session.expiresAt, Duration.toMillis(TTL))
        yield* TestClock.adjust(Duration.subtract(TTL, Duration.seconds(1)))
        assert.isTrue(Option.isSome(yield* web.authenticate(session.value)))
        yield* TestClock.adjust(Duration.seconds(1))
        assert.isTrue(Option.isNone(yield* web.authenticate(session.value)))
        assert.strictEqual(yield* web.openSessions, 0)
      })
    ))

  it.effect("sign-out ends that session only", () =>
    withAuth((web) =>
      Effect.gen(function*() {
        const a = yield* web.signInWithToken(TOKEN)
        const b = yield* web.signInWithToken(TOKEN)
        yield* web.signOut(a.value)
        assert.isTrue(Option.isNone(yield* web.authenticate(a.value)))
        assert.isTrue(Option.isSome(yield* web.authenticate(b.value)))
        yield* web.signOut("not a session")
        assert.strictEqual(yield* web.openSessions, 1)
      })
    ))

  it.effect("a token rotation ends every session", () =>
    withAuth((web, token) =>
      Effect.gen(function*() {
        const a = yield* web.signInWithToken(TOKEN)
        const b = yield* web.signInWithToken(TOKEN)
        yield* Ref.set(token, "n".repeat(64))
        assert.isTrue(Option.isNone(yield* web.authenticate(a.value)))
        assert.isTrue(Option.isNone(yield* web.authenticate(b.value)))
        assert.strictEqual(yield* web.openSessions, 0)
        const fresh = yield* web.signInWithToken("n".repeat(64))
        assert.isTrue(Option.isSome(yield* web.authenticate(fresh.value)))
      })
    ))

  it.effect("sessions are bounded: past WEB_SESSIONS_MAX the oldest sign-in ends", () =>
    withAuth((web) =>
      Effect.gen(function*() {
        const sessions = yield* Effect.replicateEffect(web.signInWithToken(TOKEN), WEB_SESSIONS_MAX + 3)
        assert.strictEqual(yield* web.openSessions, WEB_SESSIONS_MAX)
        for (const gone of sessions.slice(0, 3)) assert.isTrue(Option.isNone(yield* web.authenticate(gone.value)))
        assert.isTrue(Option.isSome(yield* web.authenticate(sessions[3]!.value)))
        assert.isTrue(Option.isSome(yield* web.authenticate(sessions.at(-1)!.value)))
      })
    ))

  it.effect("failed sign-ins are throttled: past SIGN_IN_FAILURES_MAX even the right token waits out the window", () =>
    withAuth((web) =>
      Effect.gen(function*() {
        for (let i = 0; i < SIGN_IN_FAILURES_MAX; i++) {
          assert.strictEqual(yield* refused(web.signInWithToken(`wrong ${i}`)), "invalid")
        }
        const throttled = yield* Effect.flip(web.signInWithToken(TOKEN))
        assert.strictEqual(throttled.reason, "throttled")
        assert.strictEqual(throttled.retryAfterSeconds, Duration.toSeconds(SIGN_IN_FAILURE_WINDOW))
        const { code } = yield* web.createCode
        assert.strictEqual(yield* refused(web.signInWithCode(code)), "throttled")
        assert.strictEqual(yield* web.openSessions, 0)
        yield* TestClock.adjust(SIGN_IN_FAILURE_WINDOW)
        assert.strictEqual(yield* refused(web.signInWithToken(TOKEN)), "accepted")
      })
    ))
})

describe("WebAuth in SQLite", () => {
  const sqliteAuth = (file: string, token: Ref.Ref<string>) =>
    WebAuthLive.layerSqlite.pipe(
      Layer.provideMerge(Layer.orDie(SqliteSessionStore.sqliteLayer(file))),
      Layer.provide(rotatableToken(token)),
      Layer.provide(Layer.succeed(TelemuxConfig, testSettings({ webSessionTtl: TTL })))
    )

  it.scoped("a restart keeps the sessions; the database holds the hash of the cookie value, never the value", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "telemux-webauth-"))),
        (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
      )
      const file = path.join(dir, "telemux.db")
      const token = yield* Ref.make(TOKEN)
      const [kept, ended] = yield* Effect.scoped(
        Effect.flatMap(Layer.build(sqliteAuth(file, token)), (context) =>
          Effect.gen(function*() {
            const web = yield* Effect.provide(WebAuth, context)
            const kept = yield* web.signInWithToken(TOKEN)
            const ended = yield* web.signInWithToken(TOKEN)
            yield* web.signOut(ended.value)
            return [kept, ended] as const
          }))
      )
      yield* Effect.scoped(
        Effect.flatMap(Layer.build(sqliteAuth(file, token)), (context) =>
          Effect.gen(function*() {
            const web = yield* Effect.provide(WebAuth, context)
            assert.isTrue(Option.isSome(yield* web.authenticate(kept.value)))
            assert.isTrue(Option.isNone(yield* web.authenticate(ended.value)))
            const sql = yield* Effect.provide(SqlClient.SqlClient, context)
            const rows = yield* sql<Record<string, unknown>>`SELECT * FROM web_sessions`
            assert.strictEqual(rows.length, 1)
            assert.strictEqual(rows[0]!.id_hash, crypto.createHash("sha256").update(kept.value).digest("hex"))
            assert.notInclude(JSON.stringify(rows), kept.value)
            assert.notInclude(JSON.stringify(rows), TOKEN)
            // a rotation ends the session at its next use, in the database too
            yield* Ref.set(token, "r".repeat(64))
            assert.isTrue(Option.isNone(yield* web.authenticate(kept.value)))
            assert.strictEqual((yield* sql`SELECT * FROM web_sessions`).length, 0)
            yield* web.signInWithToken("r".repeat(64))
          }))
      )
      // a session that expired while the daemon was down is dropped as it starts
      yield* TestClock.adjust(TTL)
      yield* Effect.scoped(
        Effect.flatMap(Layer.build(sqliteAuth(file, token)), (context) =>
          Effect.gen(function*() {
            assert.strictEqual(yield* Effect.flatMap(Effect.provide(WebAuth, context), (web) => web.openSessions), 0)
            const sql = yield* Effect.provide(SqlClient.SqlClient, context)
            assert.strictEqual((yield* sql`SELECT * FROM web_sessions`).length, 0)
          }))
      )
    }).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Error))))
})

describe("TELEMUX_WEB_SESSION_TTL", () => {
  it.effect("sets the sign-in's lifetime, 30 days by default, never under a minute nor over 400 days", () =>
    Effect.gen(function*() {
      const ttl = (env: Record<string, string>) =>
        Effect.map(Effect.provide(TelemuxConfig, ConfigLive.layerFromRecord(env)), (s) => s.webSessionTtl)
      assert.deepStrictEqual(yield* ttl({}), WEB_SESSION_TTL_DEFAULT)
      assert.deepStrictEqual(yield* ttl({ TELEMUX_WEB_SESSION_TTL: "2 hours" }), Duration.hours(2))
      assert.deepStrictEqual(yield* ttl({ TELEMUX_WEB_SESSION_TTL: "5 seconds" }), WEB_SESSION_TTL_FLOOR)
      assert.deepStrictEqual(yield* ttl({ TELEMUX_WEB_SESSION_TTL: "1000 days" }), Duration.days(400))
      const bad = yield* Effect.flip(ttl({ TELEMUX_WEB_SESSION_TTL: "soon" }))
      assert.strictEqual(bad._tag, "ConfigInvalid")
    }))
})
