import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, Logger, LogLevel, Redacted, Ref, Schema } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as FleetLive from "../layers/FleetLive.js"
import * as HttpListenerLive from "../layers/HttpListener.js"
import * as HttpServerLayer from "../layers/HttpServer.js"
import * as IdempotencyLive from "../layers/IdempotencyLive.js"
import * as MemoryHookOutbox from "../layers/MemoryHookOutbox.js"
import * as MemoryOutputLog from "../layers/MemoryOutputLog.js"
import { ERROR_BODY_MAX_BYTES } from "../layers/RequestGuard.js"
import * as TokenFile from "../layers/TokenFile.js"
import * as WebAuthLive from "../layers/WebAuthLive.js"
import { AuthToken } from "../services/AuthToken.js"
import { Cache } from "../services/Cache.js"
import { HttpListener, REQUEST_BODY_MAX_BYTES } from "../services/HttpListener.js"
import { Projects } from "../services/Projects.js"
import { INPUT_MAX_BYTES, type ListSessionsRequest, Sessions } from "../services/Sessions.js"
import { SystemStats } from "../services/SystemStats.js"
import { TelemuxConfig, type TelemuxSettings } from "../services/TelemuxConfig.js"
import { CAPTURE_HISTORY_DEFAULT } from "../services/TerminalBridge.js"
import { TelemuxApi } from "../src/api/Api.js"
import { Computer, MemoryStats, SystemStatsSnapshot } from "../src/domain/Computer.js"
import { SessionNotFound, TerminalUnavailable } from "../src/domain/Errors.js"
import type { KeyPress } from "../src/domain/Keys.js"
import { Project } from "../src/domain/Project.js"
import { type CloseReason, ComputerName, Session, SessionId } from "../src/domain/Session.js"
import { VERSION } from "../src/Version.js"
import { makeSession } from "./support/fixtures.js"
import { testSettings } from "./support/settings.js"
import { agentsUnused, worktreesUnused } from "./support/unitLayers.js"

const TOKEN = "a".repeat(64)

// ---------------------------------------------------------------------------
// Test doubles
// ---------------------------------------------------------------------------

type Call =
  | { readonly op: "create"; readonly projectDir: string; readonly title: string | undefined }
  | { readonly op: "list"; readonly request: ListSessionsRequest }
  | { readonly op: "get"; readonly id: SessionId }
  | { readonly op: "sendText"; readonly id: SessionId; readonly text: string; readonly enter: boolean }
  | { readonly op: "sendKeys"; readonly id: SessionId; readonly keys: ReadonlyArray<KeyPress> }
  | { readonly op: "capture"; readonly id: SessionId; readonly lines: number }
  | { readonly op: "close"; readonly id: SessionId; readonly reason: CloseReason }

const encodeSession = Schema.encodeSync(Session)

/** Indented on purpose: a re-encoded body would come out compact, so the tests can tell. */
const listText = (sessions: ReadonlyArray<Session>) => JSON.stringify(sessions.map((s) => encodeSession(s)), null, 3)
const sessionText = (session: Session) => JSON.stringify(encodeSession(session), null, 3)

/** A tiny in-memory Sessions that records every call it receives. */
const makeFakeSessions = (initial: ReadonlyArray<Session>) =>
  Effect.gen(function*() {
    const store = yield* Ref.make(new Map(initial.map((s) => [s.sessionId, s] as const)))
    const calls = yield* Ref.make<ReadonlyArray<Call>>([])
    const record = (call: Call) => Ref.update(calls, (all) => [...all, call])
    const find = (id: SessionId) =>
      Effect.flatMap(Ref.get(store), (sessions) => {
        const session = sessions.get(id)
        return session === undefined ? Effect.fail(SessionNotFound.of(id)) : Effect.succeed(session)
      })
    const select = (request: ListSessionsRequest) =>
      Effect.map(Ref.get(store), (sessions) =>
        [...sessions.values()]
          .filter((s) => request.status === "all" || s.status === (request.status ?? s.status))
          .filter((s) => s.status !== "closed" || request.status === "all" || request.status === "closed")
          .filter((s) => request.computer === undefined || s.computer === request.computer)
          .slice(0, request.limit))
    const service = Sessions.of({
      create: (request) =>
        Effect.gen(function*() {
          yield* record({ op: "create", projectDir: request.projectDir, title: request.title })
          const session = makeSession({ workingDirectory: request.projectDir, title: request.title ?? "untitled" })
          yield* Ref.update(store, (sessions) => new Map(sessions).set(session.sessionId, session))
          return session
        }),
      list: (request) => Effect.zipRight(record({ op: "list", request }), select(request)),
      listJson: (request) => Effect.zipRight(record({ op: "list", request }), Effect.map(select(request), listText)),
      get: (id) => Effect.zipRight(record({ op: "get", id }), find(id)),
      getJson: (id) => Effect.zipRight(record({ op: "get", id }), Effect.map(find(id), sessionText)),
      sendText: (id, text, enter) =>
        Effect.zipRight(record({ op: "sendText", id, text, enter }), Effect.asVoid(find(id))),
      sendKeys: (id, keys) => Effect.zipRight(record({ op: "sendKeys", id, keys }), Effect.asVoid(find(id))),
      capture: (id, lines) =>
        Effect.zipRight(record({ op: "capture", id, lines }), Effect.as(find(id), `screen of ${id}\n$ `)),
      terminalSnapshot: () => Effect.fail(new TerminalUnavailable({ message: "this double has no terminal" })),
      sendBytes: () => Effect.fail(new TerminalUnavailable({ message: "this double has no terminal" })),
      fitTerminal: () => Effect.fail(new TerminalUnavailable({ message: "this double has no terminal" })),
      close: (id, reason) =>
        Effect.gen(function*() {
          yield* record({ op: "close", id, reason })
          const session = yield* find(id)
          const closed = new Session({
            ...session,
            status: "closed",
            closeReason: reason,
            closedAt: DateTime.unsafeMake(1_700_000_100_000)
          })
          yield* Ref.update(store, (sessions) => new Map(sessions).set(id, closed))
          return closed
        }),
      terminalResponsive: Effect.succeed(true),
      reconcile: Effect.succeed({ adopted: 0, closed: [], spared: 0, orphansRemoved: 0 }),
      reapInactive: Effect.succeed([]),
      observe: () => Effect.void,
      recordOutput: () => Effect.void
    })
    return { service, calls: Ref.get(calls) }
  })

type FakeSessions = Effect.Effect.Success<ReturnType<typeof makeFakeSessions>>

const remoteComputer = new Computer({
  name: ComputerName.make("remote-1"),
  host: "remote.example",
  user: "bob",
  role: "worker",
  online: true,
  lastSeenAt: DateTime.unsafeMake(1_700_000_000_000),
  stats: null,
  version: VERSION
})

const stats = new SystemStatsSnapshot({
  cpuPercent: 12.5,
  memory: new MemoryStats({ totalGb: 16, availableGb: 8, percentUsed: 50 }),
  disk: null
})

const project = new Project({ name: "proj", path: "/srv/proj", description: "a project", todos: [] })

/** The fixtures' sessions live on "local": this daemon is that computer, so nothing is routed elsewhere. */
const settings = (overrides: Parameters<typeof testSettings>[0] = {}) =>
  testSettings({ computer: ComputerName.make("local"), ...overrides })

const fixedToken = Layer.succeed(
  AuthToken,
  AuthToken.of({
    current: Effect.succeed(Redacted.make(TOKEN)),
    verify: (candidate) => Effect.succeed(candidate === TOKEN)
  })
)

const services = (
  fake: FakeSessions,
  config: TelemuxSettings,
  token: Layer.Layer<AuthToken, unknown, TelemuxConfig> = fixedToken
) => {
  const configLayer = Layer.succeed(TelemuxConfig, config)
  return Layer.mergeAll(
    Layer.succeed(Sessions, fake.service),
    // Only getComputers is read by the HTTP layer; the rest of the cache is not under test here.
    Layer.succeed(Cache, { getComputers: Effect.succeed([remoteComputer]) } as unknown as Cache["Type"]),
    Layer.succeed(SystemStats, SystemStats.of({ snapshot: Effect.succeed(stats) })),
    Layer.succeed(Projects, Projects.of({ list: Effect.succeed([project]) })),
    configLayer,
    Layer.provide(token, configLayer),
    MemoryOutputLog.layer,
    FleetLive.layerAlone,
    agentsUnused,
    worktreesUnused,
    IdempotencyLive.layerMemory
  )
}

const quiet = Logger.minimumLogLevel(LogLevel.Error)

/** Serves the API in-process for `body`, on fresh layers; `body` gets the fake Sessions. */
const withServer = <A, E>(
  body: (fake: FakeSessions) => Effect.Effect<A, E, HttpClient.HttpClient | HttpListener>,
  options: {
    readonly config?: Partial<TelemuxSettings>
    readonly sessions?: ReadonlyArray<Session>
    readonly token?: Layer.Layer<AuthToken, unknown, TelemuxConfig>
  } = {}
) =>
  Effect.gen(function*() {
    const fake = yield* makeFakeSessions(options.sessions ?? [])
    return yield* body(fake).pipe(
      Effect.provide(
        HttpServerLayer.layerTest.pipe(Layer.provide(services(fake, settings(options.config), options.token)))
      )
    )
  }).pipe(Effect.provide(quiet))

interface Reply {
  readonly status: number
  readonly text: string
  readonly contentType: string | undefined
  readonly json: any
}

const send = (
  method: "GET" | "POST" | "DELETE" | "PUT" | "PATCH",
  url: string,
  options: {
    readonly token?: string | null
    readonly authorization?: string
    readonly body?: unknown
    readonly rawBody?: string
    readonly contentType?: string
    readonly headers?: Record<string, string>
  } = {}
) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method)(url)
    const token = options.token === undefined ? TOKEN : options.token
    if (options.authorization !== undefined) {
      request = HttpClientRequest.setHeader(request, "authorization", options.authorization)
    } else if (token !== null) request = HttpClientRequest.bearerToken(request, token)
    if (options.headers !== undefined) request = HttpClientRequest.setHeaders(request, options.headers)
    if (options.rawBody !== undefined) {
      request = HttpClientRequest.bodyText(request, options.rawBody, options.contentType ?? "application/json")
    } else if (options.body !== undefined) request = yield* HttpClientRequest.bodyJson(request, options.body)
    const response = yield* client.execute(request)
    const text = yield* response.text
    let json: any = undefined
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: response.status, text, contentType: response.headers["content-type"], json } satisfies Reply
  })

const existing = makeSession({ title: "existing" }, 1)
const idOf = existing.sessionId
const unknownId = SessionId.make("00000000-0000-4000-8000-0000000000ff")

/** One request per /v1 endpoint, each well-formed: only auth may refuse it. */
const v1Routes: ReadonlyArray<{ method: "GET" | "POST" | "DELETE"; url: string; body?: unknown }> = [
  { method: "GET", url: "/v1/sessions" },
  { method: "GET", url: `/v1/sessions/${idOf}` },
  { method: "POST", url: "/v1/sessions", body: { projectDir: "/srv/proj" } },
  { method: "POST", url: `/v1/sessions/${idOf}/input`, body: { text: "ls" } },
  { method: "POST", url: `/v1/sessions/${idOf}/keys`, body: { keys: ["Enter"] } },
  { method: "GET", url: `/v1/sessions/${idOf}/output` },
  { method: "DELETE", url: `/v1/sessions/${idOf}` },
  { method: "GET", url: "/v1/computers" },
  { method: "GET", url: "/v1/projects" }
]

// ---------------------------------------------------------------------------

describe("auth", () => {
  it.live("every /v1 route answers 401 without a token, with a wrong one, or with another scheme", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        for (const route of v1Routes) {
          const missing = yield* send(route.method, route.url, { token: null, body: route.body })
          assert.strictEqual(missing.status, 401, `${route.method} ${route.url} without a token`)
          assert.strictEqual(missing.json._tag, "Unauthorized")
          assert.include(missing.json.message, "missing API token")

          const wrong = yield* send(route.method, route.url, { token: "b".repeat(64), body: route.body })
          assert.strictEqual(wrong.status, 401, `${route.method} ${route.url} with a wrong token`)
          assert.match(wrong.json.message, /^invalid API token/)

          const basic = yield* send(route.method, route.url, { authorization: `Basic ${TOKEN}`, body: route.body })
          assert.strictEqual(basic.status, 401, `${route.method} ${route.url} with Basic`)

          const prefix = yield* send(route.method, route.url, { token: TOKEN.slice(0, 63), body: route.body })
          assert.strictEqual(prefix.status, 401, `${route.method} ${route.url} with a token prefix`)
        }
        assert.deepStrictEqual(yield* fake.calls, [])
      }), { sessions: [existing] }))

  it.live("a token in the URL is not a credential", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        const reply = yield* send("GET", `/v1/sessions?access_token=${TOKEN}`, { token: null })
        assert.strictEqual(reply.status, 401)
        assert.deepStrictEqual(yield* fake.calls, [])
      })
    ))

  it.live("the right token opens every route", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        const expected = [200, 200, 201, 204, 204, 200, 200, 200, 200]
        for (const [i, route] of v1Routes.entries()) {
          const reply = yield* send(route.method, route.url, { body: route.body })
          assert.strictEqual(reply.status, expected[i], `${route.method} ${route.url}: ${reply.text}`)
        }
        assert.deepStrictEqual((yield* fake.calls).map((c) => c.op), [
          "list",
          "get",
          "create",
          // each operation on an id first looks up the computer that owns the session
          "get",
          "sendText",
          "get",
          "sendKeys",
          "get",
          "get",
          "capture",
          "get",
          "close"
        ])
      }), { sessions: [existing] }))

  it.live("health needs no token", () =>
    withServer(() =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/health", { token: null })
        assert.strictEqual(reply.status, 200)
        assert.strictEqual(reply.json.ok, true)
        assert.strictEqual(reply.json.version, VERSION)
        assert.strictEqual(reply.json.computer, "local")
        assert.isAtLeast(reply.json.uptimeSeconds, 0)
      })
    ))

  it.live("with auth off, /v1 routes answer without a token", () =>
    withServer(() =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/v1/sessions", { token: null })
        assert.strictEqual(reply.status, 200)
        assert.strictEqual((yield* send("GET", "/v1/projects", { token: null })).status, 200)
      }), { config: { auth: false } }))
})

describe("request validation", () => {
  const refused = (
    fake: FakeSessions,
    method: "GET" | "POST" | "DELETE",
    url: string,
    options: { readonly body?: unknown; readonly rawBody?: string } = {}
  ) =>
    Effect.gen(function*() {
      const reply = yield* send(method, url, options)
      assert.strictEqual(reply.status, 400, `${method} ${url} ${options.rawBody ?? JSON.stringify(options.body)}`)
      assert.isString(reply.json.message)
      assert.deepStrictEqual(yield* fake.calls, [], `${method} ${url} reached Sessions`)
      return reply
    })

  it.live("malformed JSON is a 400 InvalidRequest", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        const create = yield* refused(fake, "POST", "/v1/sessions", { rawBody: "{\"projectDir\": " })
        assert.strictEqual(create.json._tag, "InvalidRequest")
        assert.include(create.json.message, "could not be read as JSON")
        yield* refused(fake, "POST", `/v1/sessions/${idOf}/input`, { rawBody: "not json" })
        yield* refused(fake, "POST", `/v1/sessions/${idOf}/keys`, { rawBody: "[" })
      }), { sessions: [existing] }))

  it.live("unknown body properties are refused", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        const reply = yield* refused(fake, "POST", "/v1/sessions", { body: { projectDir: "/x", bogus: 1 } })
        assert.include(reply.json.message, "bogus")
        yield* refused(fake, "POST", `/v1/sessions/${idOf}/input`, { body: { text: "ls", enter: true, shell: "sh" } })
        yield* refused(fake, "POST", `/v1/sessions/${idOf}/keys`, { body: { keys: ["Enter"], extra: [] } })
        yield* refused(fake, "POST", `/v1/sessions/${idOf}/keys`, { body: { keys: [{ key: "Up", repeat: 2, x: 1 }] } })
      }), { sessions: [existing] }))

  it.live("missing or mistyped fields are refused", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        yield* refused(fake, "POST", "/v1/sessions", { body: {} })
        yield* refused(fake, "POST", "/v1/sessions", { body: { projectDir: "" } })
        yield* refused(fake, "POST", "/v1/sessions", { body: { projectDir: 7 } })
        yield* refused(fake, "POST", `/v1/sessions/${idOf}/input`, { body: { text: "ls", enter: "yes" } })
        yield* refused(fake, "POST", `/v1/sessions/${idOf}/input`, { body: [] })
      }), { sessions: [existing] }))

  it.live("unknown key names and bad repeats are refused", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        const reply = yield* refused(fake, "POST", `/v1/sessions/${idOf}/keys`, { body: { keys: ["Enter", "F13"] } })
        assert.include(reply.json.message, `bad key "F13"`)
        yield* refused(fake, "POST", `/v1/sessions/${idOf}/keys`, { body: { keys: ["C-1"] } })
        yield* refused(fake, "POST", `/v1/sessions/${idOf}/keys`, { body: { keys: [] } })
        yield* refused(fake, "POST", `/v1/sessions/${idOf}/keys`, { body: { keys: [{ key: "Up", repeat: 0 }] } })
        yield* refused(fake, "POST", `/v1/sessions/${idOf}/keys`, { body: { keys: [{ key: "Up", repeat: 201 }] } })
      }), { sessions: [existing] }))

  it.live("text longer than INPUT_MAX_BYTES (in UTF-8 bytes) is refused; exactly the limit passes", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        // Two bytes per character: under the limit in characters, over it in bytes.
        const reply = yield* refused(fake, "POST", `/v1/sessions/${idOf}/input`, {
          body: { text: "é".repeat(INPUT_MAX_BYTES / 2 + 1) }
        })
        assert.include(reply.json.message, `${INPUT_MAX_BYTES} bytes`)
        const ok = yield* send("POST", `/v1/sessions/${idOf}/input`, {
          body: { text: "é".repeat(INPUT_MAX_BYTES / 2) }
        })
        assert.strictEqual(ok.status, 204)
      }), { sessions: [existing] }))

  it.live("a malformed session id is a 400 on every session route", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        for (const bad of ["not-a-uuid", "123", `${idOf}x`]) {
          yield* refused(fake, "GET", `/v1/sessions/${bad}`)
          yield* refused(fake, "DELETE", `/v1/sessions/${bad}`)
          yield* refused(fake, "GET", `/v1/sessions/${bad}/output`)
          yield* refused(fake, "POST", `/v1/sessions/${bad}/input`, { body: { text: "ls" } })
          yield* refused(fake, "POST", `/v1/sessions/${bad}/keys`, { body: { keys: ["Enter"] } })
        }
      })
    ))

  it.live("bad query parameters are refused", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        for (
          const query of [
            "limit=0",
            "limit=-3",
            "limit=1.5",
            "limit=abc",
            "limit=10001",
            "status=bogus",
            "computer=bad%20name",
            "stauts=idle"
          ]
        ) {
          yield* refused(fake, "GET", `/v1/sessions?${query}`)
        }
        for (const query of ["lines=-1", "lines=2001", "lines=x", "from=3"]) {
          yield* refused(fake, "GET", `/v1/sessions/${idOf}/output?${query}`)
        }
      }), { sessions: [existing] }))
})

describe("sessions", () => {
  it.live("list and get bodies are exactly the JSON text from listJson / getJson", () =>
    withServer(() =>
      Effect.gen(function*() {
        const list = yield* send("GET", "/v1/sessions")
        assert.strictEqual(list.status, 200)
        assert.strictEqual(list.text, listText([existing]))
        assert.include(list.contentType ?? "", "application/json")

        const one = yield* send("GET", `/v1/sessions/${idOf}`)
        assert.strictEqual(one.status, 200)
        assert.strictEqual(one.text, sessionText(existing))
        assert.include(one.contentType ?? "", "application/json")
        assert.deepStrictEqual(Schema.decodeUnknownSync(Session)(one.json), existing)
      }), { sessions: [existing] }))

  it.live("list filters reach Sessions decoded", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        assert.strictEqual((yield* send("GET", "/v1/sessions?status=all&limit=5&computer=local")).status, 200)
        assert.strictEqual((yield* send("GET", "/v1/sessions?status=idle")).status, 200)
        assert.strictEqual((yield* send("GET", "/v1/sessions")).status, 200)
        // another computer this daemon cannot reach is a 503, never an empty list
        const elsewhere = yield* send("GET", "/v1/sessions?computer=box-1")
        assert.strictEqual(elsewhere.status, 503)
        assert.strictEqual(elsewhere.json._tag, "ComputerUnreachable")
        assert.deepStrictEqual(yield* fake.calls, [
          { op: "list", request: { status: "all", limit: 5, computer: ComputerName.make("local") } },
          { op: "list", request: { status: "idle" } },
          { op: "list", request: {} }
        ])
      })
    ))

  it.live("an unknown session id is a 404 SessionNotFound", () =>
    withServer(() =>
      Effect.gen(function*() {
        for (
          const [method, url, body] of [
            ["GET", `/v1/sessions/${unknownId}`, undefined],
            ["GET", `/v1/sessions/${unknownId}/output`, undefined],
            ["POST", `/v1/sessions/${unknownId}/input`, { text: "ls" }],
            ["POST", `/v1/sessions/${unknownId}/keys`, { keys: ["Enter"] }],
            ["DELETE", `/v1/sessions/${unknownId}`, undefined]
          ] as const
        ) {
          const reply = yield* send(method, url, { body })
          assert.strictEqual(reply.status, 404, `${method} ${url}`)
          assert.strictEqual(reply.json._tag, "SessionNotFound")
          assert.strictEqual(reply.json.sessionId, unknownId)
        }
      }), { sessions: [existing] }))

  it.live("create, input, keys, output and close reach Sessions with the decoded request", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        const created = yield* send("POST", "/v1/sessions", { body: { projectDir: "/srv/proj", title: "work" } })
        assert.strictEqual(created.status, 201)
        const session = Schema.decodeUnknownSync(Session)(created.json)
        assert.strictEqual(session.workingDirectory, "/srv/proj")
        assert.strictEqual(session.title, "work")

        assert.strictEqual((yield* send("POST", `/v1/sessions/${idOf}/input`, { body: { text: "ls -l" } })).status, 204)
        assert.strictEqual(
          (yield* send("POST", `/v1/sessions/${idOf}/input`, { body: { text: "partial", enter: false } })).status,
          204
        )
        const keys = yield* send("POST", `/v1/sessions/${idOf}/keys`, {
          body: { keys: ["Escape", { key: "BSpace", repeat: 3 }, { key: "C-c" }] }
        })
        assert.strictEqual(keys.status, 204)

        const output = yield* send("GET", `/v1/sessions/${idOf}/output`)
        assert.strictEqual(output.status, 200)
        assert.strictEqual(output.json.sessionId, idOf)
        assert.strictEqual(output.json.screen, `screen of ${idOf}\n$ `)
        assert.isTrue(DateTime.isDateTime(DateTime.unsafeMake(output.json.capturedAt)))
        assert.strictEqual((yield* send("GET", `/v1/sessions/${idOf}/output?lines=0`)).status, 200)

        const closed = yield* send("DELETE", `/v1/sessions/${idOf}`)
        assert.strictEqual(closed.status, 200)
        assert.strictEqual(closed.json.status, "closed")
        assert.strictEqual(closed.json.closeReason, "user")

        assert.deepStrictEqual(yield* fake.calls, [
          { op: "create", projectDir: "/srv/proj", title: "work" },
          // each operation on an id first looks up the computer that owns the session
          { op: "get", id: idOf },
          { op: "sendText", id: idOf, text: "ls -l", enter: true },
          { op: "get", id: idOf },
          { op: "sendText", id: idOf, text: "partial", enter: false },
          { op: "get", id: idOf },
          {
            op: "sendKeys",
            id: idOf,
            keys: [{ key: "Escape", repeat: 1 }, { key: "BSpace", repeat: 3 }, { key: "C-c", repeat: 1 }]
          },
          { op: "get", id: idOf },
          { op: "get", id: idOf },
          { op: "capture", id: idOf, lines: CAPTURE_HISTORY_DEFAULT },
          { op: "get", id: idOf },
          { op: "get", id: idOf },
          { op: "capture", id: idOf, lines: 0 },
          { op: "get", id: idOf },
          { op: "close", id: idOf, reason: "user" }
        ])
      }), { sessions: [existing] }))

  it.live("computers lists the local computer first, then the cached ones; projects come from Projects", () =>
    withServer(() =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/v1/computers")
        assert.strictEqual(reply.status, 200)
        const computers = Schema.decodeUnknownSync(Schema.Array(Computer))(reply.json)
        assert.deepStrictEqual(computers.map((c) => c.name), ["local", "remote-1"])
        const local = computers[0]!
        assert.strictEqual(local.host, os.hostname())
        assert.strictEqual(local.role, "local")
        assert.isTrue(local.online)
        assert.strictEqual(local.version, VERSION)
        assert.deepStrictEqual(local.stats, stats)

        const projects = yield* send("GET", "/v1/projects")
        assert.deepStrictEqual(Schema.decodeUnknownSync(Schema.Array(Project))(projects.json), [project])
      })
    ))

  it.live("the API definition works as a typed client (what the CLI uses)", () =>
    withServer(() =>
      Effect.gen(function*() {
        const client = yield* HttpApiClient.make(TelemuxApi, {
          transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(TOKEN))
        })
        const created = yield* client.sessions.create({ headers: {}, payload: { projectDir: "/srv/proj" } })
        const listed = yield* client.sessions.list({ urlParams: {} })
        assert.deepStrictEqual(listed.map((s) => s.sessionId), [created.sessionId])
        const missing = yield* Effect.flip(client.sessions.get({ path: { id: unknownId } }))
        assert.strictEqual(missing._tag, "SessionNotFound")
        const health = yield* client.health.health()
        assert.strictEqual(health.computer, "local")
      })
    ))
})

describe("Host and Origin check", () => {
  it("recognises loopback names and parses Host headers", () => {
    for (const host of ["localhost", "LOCALHOST", "127.0.0.1", "127.255.0.9", "::1", "[::1]"]) {
      assert.isTrue(HttpServerLayer.isLoopbackHost(host), host)
    }
    for (const host of ["0.0.0.0", "127.0.0.256", "128.0.0.1", "localhost.evil.example", "10.0.0.1", "::"]) {
      assert.isFalse(HttpServerLayer.isLoopbackHost(host), host)
    }
    assert.strictEqual(HttpServerLayer.hostnameOf("LocalHost:4780"), "localhost")
    assert.strictEqual(HttpServerLayer.hostnameOf("[::1]:4780"), "[::1]")
    assert.strictEqual(HttpServerLayer.hostnameOf("a:b:c"), undefined)
    assert.strictEqual(HttpServerLayer.hostnameOf("evil.example/x"), undefined)
  })

  it("accepts the bind host and allowedHosts off loopback, never the unspecified address", () => {
    const allowed = HttpServerLayer.makeHostPredicate({ host: "10.1.2.3", allowedHosts: ["Box.LAN", "fd00::7"] })
    for (const host of ["10.1.2.3", "box.lan", "[fd00::7]", "localhost", "127.0.0.1"]) {
      assert.isTrue(allowed(host), host)
    }
    for (const host of ["evil.example", "10.1.2.4"]) assert.isFalse(allowed(host), host)
    const wildcard = HttpServerLayer.makeHostPredicate({ host: "0.0.0.0", allowedHosts: [] })
    assert.isFalse(wildcard("0.0.0.0"))
  })

  it.live("a foreign Host gets 403 on the API, /docs and /openapi.json, and nothing runs", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        for (
          const [method, url] of [
            ["GET", "/health"],
            ["GET", "/v1/sessions"],
            ["DELETE", `/v1/sessions/${idOf}`],
            ["GET", "/openapi.json"],
            ["GET", "/docs"]
          ] as const
        ) {
          for (const host of ["evil.example", "evil.example:4780", "127.0.0.1.evil.example"]) {
            const reply = yield* send(method, url, { headers: { host } })
            assert.strictEqual(reply.status, 403, `${method} ${url} Host: ${host}`)
            assert.strictEqual(reply.json._tag, "HostNotAllowed")
          }
        }
        assert.deepStrictEqual(yield* fake.calls, [])
      }), { sessions: [existing] }))

  it.live("a foreign Origin gets 403, another port of localhost too; only the daemon's own origin passes", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        const port = (yield* HttpListener).port
        for (
          const origin of [
            "https://evil.example",
            "null",
            "http://localhost.evil.example:4780",
            "http://localhost:3000",
            `https://localhost:${port}`,
            `http://127.0.0.1:${port + 1}`
          ]
        ) {
          const reply = yield* send("DELETE", `/v1/sessions/${idOf}`, { headers: { origin } })
          assert.strictEqual(reply.status, 403, origin)
          assert.strictEqual(reply.json._tag, "HostNotAllowed")
        }
        const crossSite = yield* send("DELETE", `/v1/sessions/${idOf}`, { headers: { "sec-fetch-site": "same-site" } })
        assert.strictEqual(crossSite.status, 403)
        assert.deepStrictEqual(yield* fake.calls, [])
        for (const origin of [`http://localhost:${port}`, `http://127.0.0.1:${port}`, `http://[::1]:${port}`]) {
          const ok = yield* send("GET", "/v1/sessions", { headers: { origin, "sec-fetch-site": "same-origin" } })
          assert.strictEqual(ok.status, 200, origin)
        }
      }), { sessions: [existing] }))

  it.live("loopback names and configured allowedHosts are accepted as Host", () =>
    withServer(() =>
      Effect.gen(function*() {
        for (const host of ["localhost:4780", "127.0.0.1", "127.1.2.3:80", "[::1]:4780", "[::1]", "telemux.lan:4780"]) {
          const reply = yield* send("GET", "/health", { headers: { host } })
          assert.strictEqual(reply.status, 200, host)
        }
        assert.strictEqual((yield* send("GET", "/health", { headers: { host: "other.lan" } })).status, 403)
      }), { config: { allowedHosts: ["telemux.lan"] } }))
})

describe("request guard", () => {
  it.live("bodies that are not JSON are refused with 415 before anything runs (forms need no CORS preflight)", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        const url = `/v1/sessions/${idOf}/input`
        for (
          const [contentType, body] of [
            ["application/x-www-form-urlencoded", "text=touch%20%2Ftmp%2Fpwned"],
            ["multipart/form-data; boundary=x", "not multipart at all"],
            ["multipart/form-data", "--x\r\n"],
            ["text/plain", JSON.stringify({ text: "touch /tmp/pwned" })],
            ["application/jsonx", JSON.stringify({ text: "x" })]
          ] as const
        ) {
          const reply = yield* send("POST", url, { rawBody: body, contentType })
          assert.strictEqual(reply.status, 415, contentType)
          assert.strictEqual(reply.json._tag, "UnsupportedMediaType")
        }
        const withCharset = yield* send("POST", url, {
          rawBody: JSON.stringify({ text: "ls" }),
          contentType: "application/json; charset=utf-8"
        })
        assert.strictEqual(withCharset.status, 204)
        assert.deepStrictEqual((yield* fake.calls).filter((c) => c.op !== "get"), [{
          op: "sendText",
          id: idOf,
          text: "ls",
          enter: true
        }])
      }), { sessions: [existing] }))

  it.live("deeply nested JSON is a 400 with a message, not a 500", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        for (const depth of [40, 3000, 100_000]) {
          const nested = "[".repeat(depth) + "]".repeat(depth)
          const reply = yield* send("POST", `/v1/sessions/${idOf}/input`, { rawBody: `{"text":"x","enter":${nested}}` })
          assert.strictEqual(reply.status, 400, String(depth))
          assert.strictEqual(reply.json._tag, "InvalidRequest")
          assert.match(reply.json.message, /nests deeper/)
        }
        // inside a string, brackets are only characters
        const inString = yield* send("POST", `/v1/sessions/${idOf}/input`, { body: { text: "[".repeat(5000) } })
        assert.strictEqual(inString.status, 204)
        assert.strictEqual((yield* fake.calls).filter((c) => c.op === "sendText").length, 1)
      }), { sessions: [existing] }))

  it.live("unknown paths are a JSON 404, wrong methods a JSON 405 with Allow", () =>
    withServer(() =>
      Effect.gen(function*() {
        const missing = yield* send("GET", "/v1/nothing-here")
        assert.strictEqual(missing.status, 404, missing.text)
        assert.strictEqual(missing.json._tag, "RouteNotFound")
        assert.match(missing.json.message, /\/docs/)
        const put = yield* send("PUT", "/v1/sessions", { body: {} })
        assert.strictEqual(put.status, 405)
        assert.strictEqual(put.json._tag, "MethodNotAllowed")
        assert.sameMembers([...put.json.allowed], ["GET", "POST"])
        const patch = yield* send("PATCH", `/v1/sessions/${idOf}`, { body: {} })
        assert.strictEqual(patch.status, 405)
        assert.sameMembers([...patch.json.allowed], ["GET", "DELETE"])
        const streamPost = yield* send("POST", "/v1/stream", { body: {} })
        assert.strictEqual(streamPost.status, 405)
      }), { sessions: [existing] }))

  it.live("an error never echoes a huge refused value back: the answer stays small", () =>
    withServer((fake) =>
      Effect.gen(function*() {
        const huge = "x".repeat(5_000_000)
        const reply = yield* send("POST", `/v1/sessions/${idOf}/keys`, { body: { keys: ["Enter", huge] } })
        assert.strictEqual(reply.status, 400)
        assert.isAtMost(reply.text.length, ERROR_BODY_MAX_BYTES)
        assert.isString(reply.json._tag)
        assert.isString(reply.json.message)
        assert.deepStrictEqual((yield* fake.calls).filter((c) => c.op === "sendKeys"), [])
      }), { sessions: [existing] }))

  it.live("a body announced larger than the limit is a 413 before it is read", () =>
    withServer(() =>
      Effect.gen(function*() {
        const reply = yield* send("POST", `/v1/sessions/${idOf}/input`, {
          rawBody: "{}",
          headers: { "content-length": String(REQUEST_BODY_MAX_BYTES + 1) }
        })
        assert.include([413, 400], reply.status)
      }), { sessions: [existing] }))
})

describe("documentation", () => {
  it.live("/openapi.json lists the API without a token", () =>
    withServer(() =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/openapi.json", { token: null })
        assert.strictEqual(reply.status, 200)
        assert.property(reply.json.paths, "/v1/sessions")
        assert.property(reply.json.paths, "/v1/sessions/{id}")
        assert.property(reply.json.paths, "/health")
        assert.deepStrictEqual(reply.json.paths["/health"].get.security, [])
        assert.isNotEmpty(reply.json.paths["/v1/sessions"].get.security)
      })
    ))

  it.live("/docs serves HTML without a token", () =>
    withServer(() =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/docs", { token: null })
        assert.strictEqual(reply.status, 200)
        assert.include(reply.contentType ?? "", "text/html")
        assert.include(reply.text, "swagger-ui")
      })
    ))
})

// ---------------------------------------------------------------------------

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "telemux-http-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

const freePort = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const mode = (file: string) => Effect.map(Effect.promise(() => fs.stat(file)), (s) => s.mode & 0o777)

describe("startup", () => {
  it.scopedLive("the live layer serves on the configured host and port", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeSessions([])
      const port = yield* freePort
      yield* Layer.build(
        HttpServerLayer.layer.pipe(
          Layer.provide(WebAuthLive.layerMemory),
          Layer.provide(services(fake, settings({ port }))),
          Layer.provide(HttpListenerLive.layer({ host: "127.0.0.1", port })),
          Layer.provide(MemoryHookOutbox.layer),
          Layer.provide(quiet)
        )
      )
      const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/health`))
      assert.strictEqual(response.status, 200)
      const body = (yield* Effect.promise(() => response.json())) as { readonly computer: string }
      assert.strictEqual(body.computer, "local")
    }))
})

describe("TokenFile", () => {
  it.scopedLive("creates a 0600 token in a 0700 dir on first start and reads the same token next time", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const tokenPath = path.join(dir, "state", "token")
      const first = yield* TokenFile.make(tokenPath)
      const token = Redacted.value(yield* first.current)
      assert.match(token, /^[0-9a-f]{64}$/)
      assert.strictEqual(yield* mode(tokenPath), 0o600)
      assert.strictEqual(yield* mode(path.dirname(tokenPath)), 0o700)
      assert.deepStrictEqual(
        yield* Effect.promise(() => fs.readdir(path.dirname(tokenPath))),
        ["token"],
        "no temp file left"
      )

      const second = yield* TokenFile.make(tokenPath)
      assert.strictEqual(Redacted.value(yield* second.current), token)
      assert.isTrue(yield* second.verify(token))
      assert.isFalse(yield* second.verify(token.slice(0, 63) + (token.endsWith("0") ? "1" : "0")))
      assert.isFalse(yield* second.verify(""))
      assert.isFalse(yield* second.verify(token + "0"))
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("a rotated token file is used from the next request; an unusable one keeps the last good token", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const tokenPath = path.join(dir, "token")
      const service = yield* TokenFile.make(tokenPath)
      const old = Redacted.value(yield* service.current)
      const fresh = crypto.randomBytes(32).toString("hex")
      // as `telemux token --rotate` writes it: a new file renamed over the old one
      yield* Effect.promise(() => fs.writeFile(`${tokenPath}.new`, fresh + "\n", { mode: 0o600 }))
      yield* Effect.promise(() => fs.rename(`${tokenPath}.new`, tokenPath))
      assert.isTrue(yield* service.verify(fresh))
      assert.isFalse(yield* service.verify(old))
      assert.strictEqual(Redacted.value(yield* service.current), fresh)
      yield* Effect.promise(() => fs.writeFile(tokenPath, "short\n", { mode: 0o600 }))
      assert.isTrue(yield* service.verify(fresh))
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("tightens a token file readable by others to 0600", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const tokenPath = path.join(dir, "token")
      const token = crypto.randomBytes(32).toString("hex")
      yield* Effect.promise(() => fs.writeFile(tokenPath, token + "\n", { mode: 0o644 }))
      yield* Effect.promise(() => fs.chmod(tokenPath, 0o644))
      const service = yield* TokenFile.make(tokenPath)
      assert.strictEqual(Redacted.value(yield* service.current), token)
      assert.strictEqual(yield* mode(tokenPath), 0o600)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("an empty or corrupt token file is a TokenError", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      for (const content of ["", "\n", "short", "has spaces in it and is long enough to pass length"]) {
        const tokenPath = path.join(dir, "token")
        yield* Effect.promise(() => fs.writeFile(tokenPath, content, { mode: 0o600 }))
        const error = yield* Effect.flip(TokenFile.make(tokenPath))
        assert.strictEqual(error._tag, "TokenError", JSON.stringify(content))
        assert.strictEqual(error.path, tokenPath)
        assert.strictEqual(yield* Effect.promise(() => fs.readFile(tokenPath, "utf8")), content, "left untouched")
      }
      const error = yield* Effect.flip(TokenFile.make(dir))
      assert.strictEqual(error._tag, "TokenError")
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("the server accepts the token from the file and nothing else", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const tokenPath = path.join(dir, "token")
      yield* withServer(() =>
        Effect.gen(function*() {
          const token = (yield* Effect.promise(() => fs.readFile(tokenPath, "utf8"))).trim()
          assert.strictEqual((yield* send("GET", "/v1/sessions", { token })).status, 200)
          assert.strictEqual((yield* send("GET", "/v1/sessions", { token: TOKEN })).status, 401)
          assert.strictEqual((yield* send("GET", "/v1/sessions", { token: null })).status, 401)
        }), { config: { tokenPath }, token: TokenFile.layer.pipe(Layer.provide(NodeFileSystem.layer)) })
    }))
})
