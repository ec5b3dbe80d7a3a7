/**
 * `POST /v1/sessions/{id}/input` — text typed into a session, the request a person waits on —
 * taken on the listener's request callback, in front of the Effect HTTP pipeline, as HotRoutes.ts
 * does for the hot reads. The pipeline's own steps before the handler (a fiber, a scope and spans
 * per request, the router, the guard reading the body, the endpoint's decoding) cost about 0.5 ms
 * of this machine's time before the text reached tmux; here the body is read and decoded by the
 * endpoint's own schema, and the same handler runs (SessionRouting.sendText).
 *
 * Only a plain request is taken, decided on its headers before its body is read: the exact path
 * with a session id, headers the request guard accepts (Host, Origin, Sec-Fetch-Site, a JSON
 * body of a known length up to HOT_INPUT_BODY_MAX), a token the API accepts, and neither an
 * Idempotency-Key nor a caller header (those go to the pipeline, which handles them); and none
 * while traces are exported (TelemuxSettings.otlp): then the pipeline's server span is wanted. A body the
 * endpoint would refuse (not JSON, too deep, not its payload) is handed to the pipeline after all,
 * replayed from the bytes read, and answered there as always. The handler's own answers — 204, or
 * its typed error with the status and body the pipeline gives it — are written here; every answer
 * is counted and timed in the HTTP metrics as the listener does for the pipeline's.
 */
import { HttpApiSchema } from "@effect/platform"
import { Cause, Effect, Either, FiberSet, Option, Schema } from "effect"
import type * as http from "node:http"
import { Readable } from "node:stream"
import { AuthToken } from "../services/AuthToken.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { CALLER_HEADER, SendInputPayload, TelemuxApi } from "../src/api/Api.js"
import { InternalError } from "../src/domain/Errors.js"
import { SessionId } from "../src/domain/Session.js"
import { parseBearer } from "../src/http/Bearer.js"
import * as HttpMetrics from "./HttpMetrics.js"
import {
  checkBody,
  type GuardSettings,
  JSON_DEPTH_MAX,
  jsonDepth,
  makeHeaderCheck,
  requestIdOf
} from "./RequestGuard.js"
import * as SessionRouting from "./SessionRouting.js"
import { isTracing } from "./Tracing.js"

/** Bodies up to this size are read here; a longer paste goes through the pipeline (its cost is the paste's). */
export const HOT_INPUT_BODY_MAX = 16 * 1024

const INPUT_PATH = /^\/v1\/sessions\/([^/?#]+)\/input$/
const decodeSessionId = Schema.decodeUnknownOption(SessionId)
const decodePayload = Schema.decodeUnknownEither(SendInputPayload)

/** A request the pipeline reads as it would the original: the same headers and target, the body from `body`. */
const replayed = (original: http.IncomingMessage, body: Buffer): http.IncomingMessage =>
  Object.assign(Readable.from([body]), {
    headers: original.headers,
    rawHeaders: original.rawHeaders,
    method: original.method,
    url: original.url,
    httpVersion: original.httpVersion,
    socket: original.socket,
    connection: original.socket
  }) as unknown as http.IncomingMessage

/**
 * The API's declared errors (of the API, its groups and endpoints, as they were added: with their
 * status), each with how the pipeline tells, answers and encodes it.
 */
const declaredErrors = (() => {
  const schemas = new Set<Schema.Schema.Any>()
  const api = TelemuxApi as unknown as {
    readonly errorSchema: Schema.Schema.Any
    readonly groups: Record<string, {
      readonly errorSchema: Schema.Schema.Any
      readonly endpoints: Record<string, { readonly errorSchema: Schema.Schema.Any }>
    }>
  }
  HttpApiSchema.deunionize(schemas, api.errorSchema)
  for (const group of Object.values(api.groups)) {
    HttpApiSchema.deunionize(schemas, group.errorSchema)
    for (const endpoint of Object.values(group.endpoints)) HttpApiSchema.deunionize(schemas, endpoint.errorSchema)
  }
  return Array.from(schemas, (schema) => ({
    is: Schema.is(schema as Schema.Schema<unknown, unknown>),
    encode: Schema.encodeUnknownOption(schema as Schema.Schema<unknown, unknown>),
    status: HttpApiSchema.getStatusError(schema)
  }))
})()

/**
 * A failure of the handler as the pipeline answers it: the first declared error it is, with that
 * one's status and encoding. Anything else the pipeline cannot encode either: undefined (a 500).
 */
const errorAnswer = (error: unknown): { readonly status: number; readonly body: string } | undefined => {
  for (const declared of declaredErrors) {
    if (!declared.is(error)) continue
    const encoded = declared.encode(error)
    if (Option.isSome(encoded)) return { status: declared.status, body: JSON.stringify(encoded.value) }
  }
  return undefined
}

/**
 * The input shortcut, its inputs run as `track` makes them (HttpListener.track: the drain waits for
 * them as for the pipeline's requests).
 */
export const make = (
  settings: GuardSettings,
  track: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> = (effect) => effect
) =>
  Effect.gen(function*() {
    const config = yield* TelemuxConfig
    const token = yield* AuthToken
    const routing = yield* SessionRouting.make
    // The inputs run as fibers of this scope: closing it (the server stopping) interrupts any still running.
    const run = yield* FiberSet.makeRuntime<never, void, never>()
    const checkHeaders = makeHeaderCheck(settings)
    const tracing = isTracing(config)

    const answer = (response: http.ServerResponse, arrived: number, status: number, body?: string) => {
      if (response.writableEnded || response.destroyed) return
      if (config.metrics) {
        response.once("close", () => {
          const request = response.req
          HttpMetrics.record(
            request.method ?? "",
            request.url ?? "",
            response.writableFinished ? response.statusCode : 0,
            (performance.now() - arrived) / 1000
          )
        })
      }
      if (body === undefined) {
        response.writeHead(status)
        response.end()
      } else {
        response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
        response.end(body)
      }
    }

    /** The session the request is for, when it is one this shortcut takes (decided on its headers). */
    const takes = (request: http.IncomingMessage): SessionId | undefined => {
      if (request.method !== "POST") return undefined
      const path = INPUT_PATH.exec(request.url ?? "")
      if (path === null) return undefined
      const headers = request.headers
      if (headers["idempotency-key"] !== undefined || headers[CALLER_HEADER] !== undefined) return undefined
      if (headers["transfer-encoding"] !== undefined || headers["content-type"] === undefined) return undefined
      const length = Number(headers["content-length"])
      if (!Number.isInteger(length) || length <= 0 || length > HOT_INPUT_BODY_MAX) return undefined
      if (checkHeaders(headers) !== undefined) return undefined
      if (checkBody(headers as Readonly<Record<string, string | undefined>>) !== undefined) return undefined
      return Option.getOrUndefined(decodeSessionId(path[1]))
    }

    /** The handler, answered as the pipeline answers it. */
    const typeIn = (
      request: http.IncomingMessage,
      response: http.ServerResponse,
      id: SessionId,
      payload: typeof SendInputPayload.Type,
      arrived: number
    ) =>
      routing.sendText(id, payload.text, payload.enter).pipe(
        Effect.matchCauseEffect({
          onSuccess: () => Effect.sync(() => answer(response, arrived, 204)),
          onFailure: (cause) => {
            const failure = Cause.failureOption(cause)
            const typed = Option.flatMap(failure, (error) => Option.fromNullable(errorAnswer(error)))
            if (Option.isSome(typed)) {
              return Effect.sync(() => answer(response, arrived, typed.value.status, typed.value.body))
            }
            // nothing to answer: the daemon is stopping
            if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
            return Effect.zipRight(
              Effect.logError("a request failed unexpectedly", cause),
              Effect.sync(() =>
                answer(
                  response,
                  arrived,
                  500,
                  JSON.stringify(
                    Schema.encodeSync(InternalError)(
                      new InternalError({ message: `the daemon failed on POST ${request.url}; its log says why` })
                    )
                  )
                )
              )
            )
          }
        })
      )

    /**
     * The body, read whole (its length is bounded by the headers checked); a client that goes away
     * before its end interrupts the request (nothing was done), so no fiber waits for a body that
     * will never come.
     */
    const bodyOf = (request: http.IncomingMessage) =>
      Effect.async<Buffer>((resume) => {
        const chunks: Array<Buffer> = []
        const onData = (chunk: Buffer) => chunks.push(chunk)
        const stop = () => {
          request.off("data", onData)
          request.off("end", onEnd)
          request.off("close", onGone)
          request.off("error", onGone)
        }
        const onEnd = () => {
          stop()
          resume(Effect.succeed(Buffer.concat(chunks)))
        }
        const onGone = () => {
          stop()
          resume(Effect.interrupt)
        }
        request.on("data", onData)
        request.once("end", onEnd)
        request.once("close", onGone)
        request.once("error", onGone)
        return Effect.sync(stop)
      })

    /**
     * Takes the request and returns true, or returns false (nothing read) for the caller to hand it
     * on. Once taken it is a request in flight for the listener's drain (`track`), from its token
     * check to its answer: a token the API refuses is handed on unread, a body the endpoint refuses
     * is replayed to the pipeline; either way the pipeline answers, as it always did.
     */
    return (
      request: http.IncomingMessage,
      response: http.ServerResponse,
      next: (replay?: http.IncomingMessage) => void
    ): boolean => {
      // with traces exported, every request is the pipeline's: its span, continuing the caller's trace
      if (tracing) return false
      const id = takes(request)
      if (id === undefined) return false
      const bearer = parseBearer(request.headers.authorization)
      if (config.auth && bearer._tag !== "Token") return false
      const arrived = performance.now()
      const authorized = config.auth && bearer._tag === "Token" ? token.verify(bearer.token) : Effect.succeed(true)
      const taken = Effect.gen(function*() {
        if (!(yield* authorized)) return next()
        const body = yield* bodyOf(request)
        const text = body.toString("utf8")
        const parsed = jsonDepth(text) > JSON_DEPTH_MAX
          ? Either.left(undefined)
          : Either.try(() => JSON.parse(text) as unknown)
        const payload = Either.flatMap(parsed, (json) => decodePayload(json))
        if (Either.isLeft(payload)) return next(replayed(request, body))
        yield* typeIn(request, response, id, payload.right, arrived)
      }).pipe(
        // the daemon stopping before this was answered: the client is left nothing half-written
        Effect.onInterrupt(() => Effect.sync(() => response.destroy())),
        Effect.annotateLogs({ method: "POST", path: request.url ?? "" })
      )
      const headers = request.headers as Readonly<Record<string, string | undefined>>
      run(track(Effect.flatMap(requestIdOf(headers), (requestId) => Effect.annotateLogs(taken, { requestId }))))
      return true
    }
  })
