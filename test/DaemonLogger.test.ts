import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Effect, Exit, Logger, Redacted, Schema } from "effect"
import * as DaemonLogger from "../layers/DaemonLogger.js"
import * as RequestGuard from "../layers/RequestGuard.js"

class CaptureFailed extends Data.TaggedError("CaptureFailed")<{
  readonly pane: string
  readonly attempts: number
  readonly cause?: unknown
}> {}

class StoreDown extends Data.TaggedError("StoreDown")<{ readonly message: string; readonly cause: unknown }> {}

class PaneTimeout extends Data.TaggedError("PaneTimeout")<{ readonly command: string }> {
  override get message() {
    return `tmux ${this.command} did not answer`
  }
}

class RemoteRefused extends Schema.TaggedError<RemoteRefused>()("RemoteRefused", {
  computer: Schema.String,
  status: Schema.Number
}) {}

interface Line {
  readonly message: string
  readonly logLevel: string
  readonly timestamp: string
  readonly error?: any
  readonly defect?: string
  readonly interrupted?: boolean
  readonly annotations: Record<string, unknown>
  readonly spans: Record<string, number>
  readonly fiberId: string
}

/** Runs `effect` with the daemon's logger writing into an array; the lines parsed. */
const logged = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    yield* effect.pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, DaemonLogger.makeLogger((line) => lines.push(line))))
    )
    for (const line of lines) assert.notInclude(line, "\n", "one line per entry")
    return lines.map((line) => JSON.parse(line) as Line)
  })

const only = (lines: ReadonlyArray<Line>) => {
  assert.strictEqual(lines.length, 1)
  return lines[0]!
}

const causeOf = <E>(effect: Effect.Effect<unknown, E>) =>
  Effect.map(Effect.exit(effect), (exit) => (Exit.isFailure(exit) ? exit.cause : Cause.empty))

describe("DaemonLogger", () => {
  it.effect("a typed error given with the message: its _tag and fields in `error`, a string message, no stack", () =>
    Effect.gen(function*() {
      const line = only(yield* logged(Effect.logWarning("x", new CaptureFailed({ pane: "%3", attempts: 2 }))))
      assert.strictEqual(line.message, "x")
      assert.strictEqual(line.logLevel, "WARN")
      assert.deepStrictEqual(line.error, { _tag: "CaptureFailed", pane: "%3", attempts: 2 })
      assert.isUndefined(line.defect)
      assert.strictEqual(new Date(line.timestamp).toISOString(), line.timestamp)
      assert.match(line.fiberId, /^#\d+$/)
      assert.deepStrictEqual(line.spans, {})
    }))

  it.effect("a Schema.TaggedError: its fields, not a message made up of them", () =>
    Effect.gen(function*() {
      const line = only(yield* logged(Effect.logWarning("x", new RemoteRefused({ computer: "b", status: 503 }))))
      assert.strictEqual(line.message, "x")
      assert.deepStrictEqual(line.error, { _tag: "RemoteRefused", computer: "b", status: 503 })
    }))

  it.effect("an error's own `get message()` is kept", () =>
    Effect.gen(function*() {
      const line = only(yield* logged(Effect.logWarning("x", new PaneTimeout({ command: "capture-pane" }))))
      assert.deepStrictEqual(line.error, {
        _tag: "PaneTimeout",
        message: "tmux capture-pane did not answer",
        command: "capture-pane"
      })
    }))

  it.effect("a failure cause: the typed error, without the stack Cause.pretty gives it", () =>
    Effect.gen(function*() {
      const cause = yield* causeOf(new StoreDown({ message: "disk full", cause: "SQLITE_FULL" }))
      const line = only(yield* logged(Effect.logError("y", cause)))
      assert.strictEqual(line.message, "y")
      assert.strictEqual(line.logLevel, "ERROR")
      assert.deepStrictEqual(line.error, { _tag: "StoreDown", message: "disk full", cause: "SQLITE_FULL" })
      assert.isUndefined(line.defect)
      assert.notInclude(JSON.stringify(line), "stack")
      assert.notInclude(JSON.stringify(line), "    at ")
    }))

  it.effect("several failures: an array", () =>
    Effect.gen(function*() {
      const cause = Cause.parallel(
        Cause.fail(new CaptureFailed({ pane: "%1", attempts: 1 })),
        Cause.fail(new RemoteRefused({ computer: "c", status: 500 }))
      )
      const line = only(yield* logged(Effect.logError("both", cause)))
      assert.deepStrictEqual(line.error.map((e: { _tag: string }) => e._tag), ["CaptureFailed", "RemoteRefused"])
    }))

  it.effect("a defect: `defect` with the message and the stack, no `error`", () =>
    Effect.gen(function*() {
      const cause = yield* causeOf(Effect.die(new Error("boom")))
      const line = only(yield* logged(Effect.logError("z", cause)))
      assert.strictEqual(line.message, "z")
      assert.include(line.defect, "boom")
      assert.match(line.defect!, /\n\s+at /)
      assert.isUndefined(line.error)
    }))

  it.effect("an interruption only: `interrupted`, nothing else", () =>
    Effect.gen(function*() {
      const line = only(yield* logged(Effect.logWarning("stopped", Cause.interrupt(yield* Effect.fiberId))))
      assert.isTrue(line.interrupted)
      assert.isUndefined(line.error)
      assert.isUndefined(line.defect)
    }))

  it.effect("a foreign error in `cause`: its name and message, never [object Object] nor its stack", () =>
    Effect.gen(function*() {
      const error = new StoreDown({ message: "could not write", cause: new Error("inner") })
      const line = only(yield* logged(Effect.logWarning("w", error)))
      assert.deepStrictEqual(line.error, {
        _tag: "StoreDown",
        message: "could not write",
        cause: { name: "Error", message: "inner" }
      })
      const text = JSON.stringify(line)
      assert.notInclude(text, "[object Object]")
      assert.notInclude(text, "stack")
    }))

  it.effect("a circular value, a bigint, a symbol and a function do not break the line; Redacted stays redacted", () =>
    Effect.gen(function*() {
      const circular: Record<string, unknown> = { name: "loop" }
      circular.self = circular
      const error = new CaptureFailed({
        pane: "%1",
        attempts: 1,
        cause: {
          circular,
          big: 12345678901234567890n,
          symbol: Symbol("s"),
          fn: () => 1,
          token: Redacted.make("hunter2")
        }
      })
      const lines = yield* logged(
        Effect.logError("odd", error).pipe(
          Effect.zipRight(Effect.logInfo("annotated")),
          Effect.annotateLogs({ big: 1n, secret: Redacted.make("hunter2") })
        )
      )
      assert.strictEqual(lines.length, 2)
      const cause = lines[0]!.error.cause
      assert.deepStrictEqual(cause.circular, { name: "loop", self: "[Circular]" })
      assert.strictEqual(cause.big, "12345678901234567890")
      assert.strictEqual(cause.symbol, "Symbol(s)")
      assert.strictEqual(cause.fn, "[function fn]")
      assert.strictEqual(cause.token, "<redacted>")
      assert.deepStrictEqual(lines[1]!.annotations, { big: "1", secret: "<redacted>" })
      assert.notInclude(JSON.stringify(lines), "hunter2")
    }))

  it.effect("a long string is cut", () =>
    Effect.gen(function*() {
      const line = only(
        yield* logged(Effect.logWarning("long", new StoreDown({ message: "m", cause: "x".repeat(10_000) })))
      )
      assert.isBelow(line.error.cause.length, DaemonLogger.STRING_MAX + 20)
      assert.isTrue(line.error.cause.endsWith("(cut)"))
    }))

  it.effect("annotations and spans are kept as Logger.json names them", () =>
    Effect.gen(function*() {
      const line = only(
        yield* logged(
          Effect.logInfo("session closed").pipe(
            Effect.annotateLogs({ sessionId: "s-1", reason: "user" }),
            Effect.withLogSpan("close")
          )
        )
      )
      assert.deepStrictEqual(line.annotations, { sessionId: "s-1", reason: "user" })
      assert.deepStrictEqual(Object.keys(line.spans), ["close"])
      assert.strictEqual(line.logLevel, "INFO")
    }))
})

describe("the request guard's log lines", () => {
  const guard = RequestGuard.make({ host: "127.0.0.1", allowedHosts: [], port: 4567, scheme: "http" })

  const serve = (
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>,
    url: string,
    headers: Record<string, string>
  ) =>
    logged(
      guard(app).pipe(
        Effect.provideService(
          HttpServerRequest.HttpServerRequest,
          HttpServerRequest.fromWeb(new Request(`http://127.0.0.1:4567${url}`, { headers }))
        )
      )
    )

  it.effect("a refusal carries the client's request id, the method and the path, never the query", () =>
    Effect.gen(function*() {
      const line = only(
        yield* serve(HttpServerResponse.empty(), "/v1/sessions?token=hunter2", {
          host: "127.0.0.1:4567",
          origin: "http://evil.example",
          "x-request-id": "req-42.a_b"
        })
      )
      assert.strictEqual(line.message, "refused a request")
      assert.deepStrictEqual(line.annotations, {
        requestId: "req-42.a_b",
        method: "GET",
        path: "/v1/sessions",
        status: 403
      })
      assert.notInclude(JSON.stringify(line), "hunter2")
    }))

  it.effect("an unsafe or missing x-request-id is replaced by a generated one", () =>
    Effect.gen(function*() {
      const unsafe = only(
        yield* serve(HttpServerResponse.empty(), "/v1/sessions", {
          host: "127.0.0.1:4567",
          origin: "http://evil.example",
          "x-request-id": "a\"b c"
        })
      )
      const missing = only(
        yield* serve(HttpServerResponse.empty(), "/v1/sessions", {
          host: "127.0.0.1:4567",
          origin: "http://evil.example"
        })
      )
      const tooLong = only(
        yield* serve(HttpServerResponse.empty(), "/v1/sessions", {
          host: "127.0.0.1:4567",
          origin: "http://evil.example",
          "x-request-id": "a".repeat(65)
        })
      )
      const ids = [unsafe, missing, tooLong].map((line) => String(line.annotations.requestId))
      for (const id of ids) assert.match(id, /^[A-Za-z0-9._-]{1,64}$/)
      assert.strictEqual(new Set(ids).size, 3)
    }))

  it.effect("a defect in the app: a 500, logged with its request id and the defect's stack", () =>
    Effect.gen(function*() {
      const line = only(
        yield* serve(Effect.die(new Error("handler broke")), "/v1/sessions?q=1", {
          host: "127.0.0.1:4567",
          "x-request-id": "abc"
        })
      )
      assert.strictEqual(line.message, "a request failed unexpectedly")
      assert.strictEqual(line.logLevel, "ERROR")
      assert.deepStrictEqual(line.annotations, { requestId: "abc", method: "GET", path: "/v1/sessions" })
      assert.include(line.defect, "handler broke")
      assert.match(line.defect!, /\n\s+at /)
    }))
})
