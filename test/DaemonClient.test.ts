/**
 * The CLI's client against canned daemon answers (an HttpClient that answers in-process): each
 * error the API declares, and each of the client's own, becomes the CliError that says what to
 * do, with its exit code; a starting daemon is waited for a few seconds (TestClock).
 */
import * as HttpApiError from "@effect/platform/HttpApiError"
import * as HttpClient from "@effect/platform/HttpClient"
import { RequestError } from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option, Redacted, Ref, Schema, TestClock } from "effect"
import type { CliError } from "../src/cli/CliError.js"
import { addressOf } from "../src/cli/Connection.js"
import { DAEMON_STARTING_WAIT, DaemonClient, make } from "../src/cli/DaemonClient.js"
import { EXIT, exitCodeOf } from "../src/cli/ExitCodes.js"
import {
  ComputerUnreachable,
  DaemonUnavailable,
  IdempotencyKeyReused,
  MethodNotAllowed,
  OutcomeUnknown,
  PayloadTooLarge,
  RemoteTimeout,
  RouteNotFound,
  SessionClosed,
  SessionNotFound,
  TerminalUnavailable,
  Unauthorized,
  UnsupportedMediaType
} from "../src/domain/Errors.js"
import { Session, SessionId } from "../src/domain/Session.js"
import { makeSession } from "./support/fixtures.js"

const address = addressOf({ host: "127.0.0.1", port: 4780, tokenPath: "/state/token" })
const ID = SessionId.make("3f2a0c1e-1111-4111-8111-111111111111")

interface Answer {
  readonly status: number
  readonly body?: unknown
}

/** An error as the daemon sends it: its status and its encoded body. */
const refusal = <A, I>(schema: Schema.Schema<A, I>, error: A, status: number): Answer => ({
  status,
  body: Schema.encodeSync(schema)(error)
})

/** The client over an HttpClient that answers each request with the next of `answers` (the last one repeats). */
const clientAnswering = (answers: ReadonlyArray<Answer | "refused">) =>
  Effect.gen(function*() {
    const requests = yield* Ref.make<ReadonlyArray<string>>([])
    const http = HttpClient.make((request: HttpClientRequest.HttpClientRequest, url) =>
      Effect.gen(function*() {
        const seen = yield* Ref.getAndUpdate(requests, (all) => [...all, `${request.method} ${url.pathname}`])
        const answer = answers[Math.min(seen.length, answers.length - 1)]!
        if (answer === "refused") {
          return yield* new RequestError({ request, reason: "Transport", cause: { cause: { code: "ECONNREFUSED" } } })
        }
        return HttpClientResponse.fromWeb(
          request,
          new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
            status: answer.status,
            headers: { "content-type": "application/json" }
          })
        )
      })
    )
    const client = yield* make(address, Option.some(Redacted.make("t".repeat(64)))).pipe(
      Effect.provideService(HttpClient.HttpClient, http)
    )
    return { client, requests: Ref.get(requests) }
  })

interface Case {
  readonly answer: Answer | "refused"
  readonly request: (client: DaemonClient["Type"]) => Effect.Effect<unknown, CliError>
  readonly tag: CliError["_tag"]
  readonly exit: number
  readonly says: ReadonlyArray<string>
}

const cases: Record<string, Case> = {
  "OutcomeUnknown (504): its own code, and look before running it again": {
    answer: refusal(OutcomeUnknown, new OutcomeUnknown({ message: "tmux did not confirm the text" }), 504),
    request: (c) => c.sendText(ID, "make test", true),
    tag: "OutcomeUnconfirmed",
    exit: EXIT.outcomeUnknown,
    says: ["tmux did not confirm the text", "may have happened", "telemux tail"]
  },
  "IdempotencyKeyReused (422): refused, nothing done": {
    answer: refusal(
      IdempotencyKeyReused,
      new IdempotencyKeyReused({ message: "this Idempotency-Key was already used" }),
      422
    ),
    request: (c) => c.sendKeys(ID, ["Enter"]),
    tag: "RequestRefused",
    exit: EXIT.refused,
    says: ["nothing was done", "already used"]
  },
  "DaemonUnavailable while shutting down (503): not reachable, start it again": {
    answer: refusal(DaemonUnavailable, new DaemonUnavailable({ state: "shutting_down", message: "bye" }), 503),
    request: (c) => c.sessions(),
    tag: "DaemonNotReady",
    exit: EXIT.unreachable,
    says: ["shutting down", "`telemux daemon`", address.display]
  },
  "ComputerUnreachable (503): the daemon's code, and where to look": {
    answer: refusal(
      ComputerUnreachable,
      new ComputerUnreachable({ computer: "elsewhere", message: "computer elsewhere is not reachable: offline" }),
      503
    ),
    request: (c) => c.sessions({ computer: "elsewhere" as never }),
    tag: "RemoteUnreachable",
    exit: EXIT.daemonFailed,
    says: ["computer elsewhere is not reachable", "`telemux computers`"]
  },
  "UnsupportedMediaType (415): refused, and who changed the request": {
    answer: refusal(UnsupportedMediaType, new UnsupportedMediaType({ message: "request bodies must be JSON" }), 415),
    request: (c) => c.create("/tmp"),
    tag: "RequestRefused",
    exit: EXIT.refused,
    says: ["nothing was done", "request bodies must be JSON", "sends JSON"]
  },
  "PayloadTooLarge (413): refused, send less": {
    answer: refusal(PayloadTooLarge, new PayloadTooLarge({ message: "the request body is over 8388608 bytes" }), 413),
    request: (c) => c.sendText(ID, "x", true),
    tag: "RequestRefused",
    exit: EXIT.refused,
    says: ["nothing was done", "smaller pieces"]
  },
  "RouteNotFound (404 from a daemon without the route): another version": {
    answer: refusal(RouteNotFound, new RouteNotFound({ message: "no route POST /v1/sessions/x/resume" }), 404),
    request: (c) => c.resume(ID, false),
    tag: "VersionMismatch",
    exit: EXIT.daemonFailed,
    says: ["no route POST", "another telemux version", "telemux doctor"]
  },
  "HttpApiDecodeError (400) for a payload the CLI's schemas accept: another version": {
    answer: refusal(
      HttpApiError.HttpApiDecodeError,
      new HttpApiError.HttpApiDecodeError({ issues: [], message: "is unexpected, expected: \"text\" | \"enter\"" }),
      400
    ),
    request: (c) => c.sendText(ID, "x", true),
    tag: "VersionMismatch",
    exit: EXIT.daemonFailed,
    says: ["is unexpected", "another telemux version"]
  },
  "MethodNotAllowed (405): another version": {
    answer: refusal(
      MethodNotAllowed,
      new MethodNotAllowed({ message: "DELETE is not allowed", allowed: ["GET"] }),
      405
    ),
    request: (c) => c.close(ID),
    tag: "VersionMismatch",
    exit: EXIT.daemonFailed,
    says: ["DELETE is not allowed", "another telemux version"]
  },
  "SessionNotFound (404) is still an unknown session": {
    answer: refusal(SessionNotFound, SessionNotFound.of(ID), 404),
    request: (c) => c.session(ID),
    tag: "SessionUnknown",
    exit: EXIT.notFound,
    says: [ID, "telemux ls --status all"]
  },
  "SessionClosed (409) is still a refusal": {
    answer: refusal(SessionClosed, new SessionClosed({ sessionId: ID, message: `session ${ID} is closed` }), 409),
    request: (c) => c.sendText(ID, "x", true),
    tag: "RequestRefused",
    exit: EXIT.refused,
    says: ["is closed"]
  },
  "Unauthorized (401) is still the token's fault": {
    answer: refusal(Unauthorized, new Unauthorized({ message: "wrong token" }), 401),
    request: (c) => c.projects,
    tag: "TokenRejected",
    exit: EXIT.unauthorized,
    says: ["refused the API token", "/state/token"]
  },
  "TerminalUnavailable (503) is still the daemon's failure": {
    answer: refusal(TerminalUnavailable, new TerminalUnavailable({ message: "tmux did not answer" }), 503),
    request: (c) => c.output(ID),
    tag: "DaemonFailed",
    exit: EXIT.daemonFailed,
    says: ["the daemon failed: tmux did not answer"]
  },
  "RemoteTimeout (504) is still the daemon's failure": {
    answer: refusal(RemoteTimeout, new RemoteTimeout({ computer: "far", message: "far did not answer in time" }), 504),
    request: (c) => c.session(ID),
    tag: "DaemonFailed",
    exit: EXIT.daemonFailed,
    says: ["far did not answer in time"]
  },
  "a refused connection: not reachable, start it": {
    answer: "refused",
    request: (c) => c.computers,
    tag: "DaemonUnreachable",
    exit: EXIT.unreachable,
    says: ["ECONNREFUSED", "start it with `telemux daemon`"]
  },
  "an answer that is not the API's: unexpected answer": {
    answer: { status: 200, body: { not: "a session" } },
    request: (c) => c.session(ID),
    tag: "DaemonFailed",
    exit: EXIT.daemonFailed,
    says: ["unexpected answer"]
  }
}

describe("DaemonClient: every failure as the CliError that says what to do", () => {
  for (const [name, c] of Object.entries(cases)) {
    it.effect(name, () =>
      Effect.gen(function*() {
        const { client } = yield* clientAnswering([c.answer])
        const error = yield* Effect.flip(c.request(client))
        assert.strictEqual(error._tag, c.tag, error.message)
        assert.strictEqual(exitCodeOf(error), c.exit)
        for (const text of c.says) assert.include(error.message, text)
      }))
  }

  it.effect("a payload the API would refuse is a usage error, and nothing is sent", () =>
    Effect.gen(function*() {
      const { client, requests } = yield* clientAnswering([{ status: 204 }])
      const marker = yield* Effect.flip(client.sendText(ID, "echo \x1b[201~ injected", true))
      assert.strictEqual(marker._tag, "UsageError")
      assert.strictEqual(exitCodeOf(marker), EXIT.usage)
      assert.include(marker.message, "text")
      const empty = yield* Effect.flip(client.create(""))
      assert.strictEqual(empty._tag, "UsageError")
      assert.include(empty.message, "projectDir")
      assert.deepStrictEqual(yield* requests, [])
      yield* client.sendText(ID, "echo fine", true)
      assert.deepStrictEqual(yield* requests, [`POST /v1/sessions/${ID}/input`])
    }))
})

describe("DaemonClient: a daemon that is starting", () => {
  const starting = refusal(DaemonUnavailable, new DaemonUnavailable({ state: "starting", message: "starting" }), 503)

  it.effect("is asked again every second until it answers", () =>
    Effect.gen(function*() {
      const session = makeSession({ sessionId: ID })
      const { client, requests } = yield* clientAnswering([
        starting,
        starting,
        { status: 200, body: Schema.encodeSync(Session)(session) }
      ])
      const fiber = yield* Effect.fork(client.session(ID))
      yield* TestClock.adjust(Duration.seconds(2))
      assert.strictEqual((yield* Fiber.join(fiber)).sessionId, ID)
      assert.deepStrictEqual(yield* requests, Array(3).fill(`GET /v1/sessions/${ID}`))
    }))

  it.effect("for a few seconds at most, then says it is still starting (exit: not reachable)", () =>
    Effect.gen(function*() {
      const { client, requests } = yield* clientAnswering([starting])
      const fiber = yield* Effect.fork(Effect.flip(client.health))
      yield* TestClock.adjust(Duration.sum(DAEMON_STARTING_WAIT, Duration.seconds(2)))
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "DaemonNotReady")
      assert.strictEqual(exitCodeOf(error), EXIT.unreachable)
      assert.include(error.message, "still starting")
      const asked = (yield* requests).length
      assert.isAtLeast(asked, Duration.toSeconds(DAEMON_STARTING_WAIT))
      assert.isAtMost(asked, Duration.toSeconds(DAEMON_STARTING_WAIT) + 2)
    }))
})
