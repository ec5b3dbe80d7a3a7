/**
 * What every HTTP request passes before routing (the API, `/docs`, `/openapi.json` and the stream's
 * upgrade alike): the `Host` must name this machine (DNS rebinding), an `Origin` must be the
 * daemon's own (a page on another port of localhost is another origin), a browser's
 * `Sec-Fetch-Site` must be same-origin, and a body must be JSON (said and done), bounded in size and
 * depth. Whatever the app could not answer itself gets a JSON answer: 404 and 405 for unknown routes
 * and methods, 400 for an unreadable body, 500 (logged) for a defect — never an empty body. Every
 * log line of a request carries its `requestId`, `method` and `path` (never its query).
 */
import { type HttpApp, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Effect, Either, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { REQUEST_BODY_MAX_BYTES } from "../services/HttpListener.js"
import { HostNotAllowed, TelemuxApi } from "../src/api/Api.js"
import {
  InternalError,
  InvalidRequest,
  MethodNotAllowed,
  PayloadTooLarge,
  RouteNotFound,
  UnsupportedMediaType
} from "../src/domain/Errors.js"
import { hostnameOf, makeHostPredicate, makeOriginPredicate } from "../src/http/Hosts.js"
import { routesOf } from "../src/http/RouteTemplate.js"
import { isDashboardRequest } from "../src/http/StaticFiles.js"

/** Deepest JSON nesting a request body may have; no payload of the API needs more than a few levels. */
export const JSON_DEPTH_MAX = 32

export interface GuardSettings {
  readonly host: string
  readonly allowedHosts: ReadonlyArray<string>
  /** The port actually listened on: an Origin must carry it. */
  readonly port: number
  readonly scheme: "http" | "https"
}

/** A refusal ready to be written: status, headers, JSON body. */
export interface Refusal {
  readonly status: number
  readonly body: unknown
  readonly headers?: Readonly<Record<string, string>>
}

const encodeError = <A, I>(schema: Schema.Schema<A, I>, error: A) => Schema.encodeSync(schema)(error)

export const toResponse = (refusal: Refusal) =>
  HttpServerResponse.unsafeJson(refusal.body, { status: refusal.status, headers: refusal.headers ?? {} })

const forbidden = (message: string): Refusal => ({
  status: 403,
  body: encodeError(HostNotAllowed, new HostNotAllowed({ message }))
})

type RawHeaders = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/** The Host check alone (DNS rebinding): what the dashboard's public files need. */
export const makeHostCheck = (settings: GuardSettings) => {
  const isAllowedHost = makeHostPredicate(settings)
  return (headers: RawHeaders): Refusal | undefined => {
    const host = typeof headers.host === "string" ? headers.host : undefined
    const hostname = host === undefined ? undefined : hostnameOf(host)
    return hostname === undefined || !isAllowedHost(hostname)
      ? forbidden(`Host ${JSON.stringify(host ?? "")} is not allowed; add it to TELEMUX_ALLOWED_HOSTS to accept it`)
      : undefined
  }
}

/** Host, Origin and Sec-Fetch-Site checks on raw headers; shared with the WebSocket upgrade. */
export const makeHeaderCheck = (settings: GuardSettings) => {
  const checkHost = makeHostCheck(settings)
  const isOwnOrigin = makeOriginPredicate(settings)
  return (headers: RawHeaders): Refusal | undefined => {
    const wrongHost = checkHost(headers)
    if (wrongHost !== undefined) return wrongHost
    const origin = headers.origin
    if (origin !== undefined && (typeof origin !== "string" || !isOwnOrigin(origin))) {
      return forbidden(
        `Origin ${JSON.stringify(origin)} is not this daemon's own; only its own pages may call the API from a browser`
      )
    }
    const site = headers["sec-fetch-site"]
    if (typeof site === "string" && site !== "same-origin" && site !== "none") {
      return forbidden(`a ${site} browser request is refused; only the daemon's own pages may call the API`)
    }
    return undefined
  }
}

/** `application/json`, with or without parameters (`; charset=utf-8`). */
const isJson = (contentType: string) => /^application\/json\s*(;|$)/i.test(contentType.trim())

/**
 * A request that carries a body (or says it does) must say it is JSON and be small enough. A
 * browser form or multipart POST needs no CORS preflight, so it is refused before anything reads it.
 */
export const checkBody = (
  headers: Readonly<Record<string, string | undefined>>
): Refusal | undefined => {
  const contentType = headers["content-type"]
  const length = headers["content-length"]
  const hasBody = (length !== undefined && length.trim() !== "0") || headers["transfer-encoding"] !== undefined
  if ((hasBody || contentType !== undefined) && (contentType === undefined || !isJson(contentType))) {
    return {
      status: 415,
      body: encodeError(
        UnsupportedMediaType,
        new UnsupportedMediaType({
          message: `request bodies must be JSON: send "Content-Type: application/json" (got ${
            JSON.stringify(contentType ?? "none")
          })`
        })
      )
    }
  }
  if (length !== undefined && Number(length) > REQUEST_BODY_MAX_BYTES) {
    return {
      status: 413,
      body: encodeError(
        PayloadTooLarge,
        new PayloadTooLarge({
          message: `the request body is ${length} bytes; at most ${REQUEST_BODY_MAX_BYTES} are accepted`
        })
      )
    }
  }
  return undefined
}

/** The deepest nesting of arrays and objects in a JSON text (strings skipped), counted without parsing. */
export const jsonDepth = (text: string): number => {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) deepest = Math.max(deepest, ++depth)
    else if (c === 125 || c === 93) depth--
  }
  return deepest
}

const invalidBody = (message: string) => encodeError(InvalidRequest, new InvalidRequest({ message }))

const invalid = (message: string): Refusal => ({ status: 400, body: invalidBody(message) })

/** Largest error body sent as it is; a schema's decode error quotes the refused value (once per union member). */
export const ERROR_BODY_MAX_BYTES = 16 * 1024
const ERROR_MESSAGE_MAX_CHARS = 2000
const decoder = new TextDecoder()

/**
 * An error answer that would echo a huge refused value back (a 6 MB body made 56 MB answers) is cut
 * down to its tag and the start of its message: an error never costs more than the request.
 */
const boundErrorBody = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  if (
    response.status < 400 || response.body._tag !== "Uint8Array" || response.body.body.length <= ERROR_BODY_MAX_BYTES
  ) return response
  let tag = "InvalidRequest"
  let message = "the request was refused"
  try {
    const parsed = JSON.parse(decoder.decode(response.body.body)) as {
      readonly _tag?: unknown
      readonly message?: unknown
    }
    if (typeof parsed._tag === "string") tag = parsed._tag
    if (typeof parsed.message === "string") message = parsed.message
  } catch {
    // not JSON: the generic message stays
  }
  const cut = message.length > ERROR_MESSAGE_MAX_CHARS ? `${message.slice(0, ERROR_MESSAGE_MAX_CHARS)}… (cut)` : message
  return HttpServerResponse.unsafeJson({ _tag: tag, message: cut }, {
    status: response.status,
    headers: response.headers
  })
}

/**
 * A request node's HTTP parser refused (bad framing, a control character in a header, an unknown
 * method, headers over the limit, too slow): it never reaches the app, and node's own answer has an
 * empty body. The status is node's; the body says what was wrong, in JSON like every other refusal.
 */
export const protocolRefusal = (error: { readonly code?: string | undefined; readonly message: string }): Refusal => {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, body: invalidBody("the request's headers are too large") }
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, body: invalidBody("the request did not arrive in time") }
    default:
      return { status: 400, body: invalidBody(`the request is not valid HTTP/1.1: ${error.message}`) }
  }
}

/**
 * A `__proto__` query parameter cannot reach the API's strict decoding of the query: @effect/platform
 * gathers the parameters into a plain object, where that key sets the object's prototype instead of
 * adding a property, so it would be dropped without a word instead of refused as unknown.
 */
export const checkQuery = (url: string): Refusal | undefined => {
  const start = url.indexOf("?")
  return start >= 0 && new URLSearchParams(url.slice(start + 1)).has("__proto__")
    ? invalid("unknown query parameter \"__proto__\"")
    : undefined
}

// ---------------------------------------------------------------------------
// Routes: 404 and 405 from the API's own definition
// ---------------------------------------------------------------------------

const makeRouteAnswer = (extra: ReadonlyArray<{ readonly method: string; readonly path: string }>) => {
  const routes = routesOf(TelemuxApi, extra)
  return (method: string, url: string): Refusal => {
    const path = url.split("?")[0] ?? url
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))]
    if (allowed.length > 0 && !allowed.includes(method)) {
      return {
        status: 405,
        headers: { allow: allowed.join(", ") },
        body: encodeError(
          MethodNotAllowed,
          new MethodNotAllowed({ message: `${method} is not allowed on ${path}; use ${allowed.join(" or ")}`, allowed })
        )
      }
    }
    return {
      status: 404,
      body: encodeError(
        RouteNotFound,
        new RouteNotFound({ message: `no route ${method} ${path}; the API is described at /docs` })
      )
    }
  }
}

// ---------------------------------------------------------------------------
// The middleware
// ---------------------------------------------------------------------------

const isRequestError = (u: unknown): u is HttpServerError.RequestError =>
  HttpServerError.isServerError(u) && u._tag === "RequestError"

const isRouteNotFound = (u: unknown): u is HttpServerError.RouteNotFound =>
  HttpServerError.isServerError(u) && u._tag === "RouteNotFound"

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"])

/** A client's own `x-request-id` that can go into a log line as it is: a short token, nothing to escape. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/

/** The client's `x-request-id` when it is a short safe token, else a new random one. */
export const requestIdOf = (headers: Readonly<Record<string, string | undefined>>): Effect.Effect<string> => {
  const given = headers["x-request-id"]
  return given !== undefined && SAFE_REQUEST_ID.test(given) ? Effect.succeed(given) : Effect.sync(() => randomUUID())
}

/**
 * Every log line of `handle` (the guard's own, the handlers', the stream's) names the request: its
 * id, method and path. Never the query: it may carry what a log must not keep.
 */
const withRequestLogs = <A, E, R>(handle: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    HttpServerRequest.HttpServerRequest,
    (request) =>
      Effect.flatMap(requestIdOf(request.headers), (requestId) =>
        Effect.annotateLogs(handle, {
          requestId,
          method: request.method,
          path: request.url.split("?")[0] ?? ""
        }))
  )

/**
 * The guard as the server's middleware, around everything HttpApiBuilder serves: it sees the
 * request first and, last, whatever the app could not turn into a response itself (an unknown
 * route, an unreadable body, a defect). `extraRoutes` are routes served beside the API (the
 * stream, the docs) so that a wrong method on them is a 405, not a 404.
 */
export const make = (
  settings: GuardSettings,
  extraRoutes: ReadonlyArray<{ readonly method: string; readonly path: string }> = []
) => {
  const checkHeaders = makeHeaderCheck(settings)
  const checkHost = makeHostCheck(settings)
  const routeAnswer = makeRouteAnswer(extraRoutes)
  return <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<never, R> =>
    withRequestLogs(Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      // the dashboard's files are public: a link from another site may open them (see StaticFiles.ts)
      const dashboard = isDashboardRequest(request.method, request.url.split("?")[0] ?? "")
      const refused = (dashboard ? checkHost(request.headers) : checkHeaders(request.headers)) ??
        (BODY_METHODS.has(request.method) ? checkBody(request.headers) : undefined) ??
        checkQuery(request.url)
      if (refused !== undefined) {
        return Effect.as(
          Effect.logInfo("refused a request").pipe(Effect.annotateLogs({ status: refused.status })),
          toResponse(refused)
        )
      }
      const checked = BODY_METHODS.has(request.method) && request.headers["content-type"] !== undefined
        ? Effect.flatMap(request.text, (text) => {
          if (jsonDepth(text) > JSON_DEPTH_MAX) {
            return Effect.succeed(toResponse(invalid(`the request body nests deeper than ${JSON_DEPTH_MAX} levels`)))
          }
          // also where the operation takes no body, which HttpApiBuilder would then never read
          const syntax = text.length === 0 ? undefined : Either.try({ try: () => JSON.parse(text), catch: String })
          return syntax !== undefined && Either.isLeft(syntax)
            ? Effect.succeed(toResponse(invalid(`the request body could not be read as JSON: ${syntax.left}`)))
            : app
        })
        : app
      return Effect.catchAllCause(Effect.map(checked, boundErrorBody), (cause) => {
        // nothing to answer: the client went away, or the daemon is stopping
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
        const failure = Cause.squash(cause)
        if (isRouteNotFound(failure)) return Effect.succeed(toResponse(routeAnswer(request.method, request.url)))
        if (isRequestError(failure) && failure.reason === "Decode") {
          const why = String(failure.cause ?? failure.description ?? failure.message)
          return Effect.succeed(toResponse(
            /max(imum)? ?bytes|too large|exceed/i.test(why)
              ? {
                status: 413,
                body: encodeError(
                  PayloadTooLarge,
                  new PayloadTooLarge({ message: `the request body is over ${REQUEST_BODY_MAX_BYTES} bytes` })
                )
              }
              : invalid(`the request body could not be read as JSON: ${why}`)
          ))
        }
        // a ready response raised as a defect (HttpApiBuilder does that) is the answer
        if (HttpServerResponse.isServerResponse(failure)) return Effect.succeed(failure)
        return Effect.as(
          Effect.logError("a request failed unexpectedly", cause),
          toResponse({
            status: 500,
            body: encodeError(
              InternalError,
              new InternalError({
                message: `the daemon failed on ${request.method} ${request.url.split("?")[0]}; its log says why`
              })
            )
          })
        )
      })
    }))
}
