/**
 * The two reads clients poll — `GET /health` and `GET /v1/sessions` — answered on the listener's
 * request callback from cached bytes, in front of the Effect HTTP pipeline. The pipeline alone (a
 * fiber, a scope and a span per request, the router, schema decoding and encoding) costs about
 * 60 µs of CPU per request where a trivial node server spends 12 µs (bench/httpBench.ts); here a
 * hot read costs one small fiber and a cache lookup.
 *
 * Only a request the pipeline would answer 200 is answered here, with the very bytes it would
 * send: the request guard's own header check runs first, the token is verified by the same
 * service, the query is decoded by the endpoint's own schema, and the body comes from the same
 * source as the handler's (SessionRouting.listJson, the shared health report). Anything else — a
 * refused header, a missing or wrong token, a query that is not plain `name=value` pairs of the
 * endpoint, a body, another method, history (`status=closed|all`, read from SQLite), a failure —
 * goes on to the pipeline untouched, which answers it as it always has (and logs what it logs).
 */
import { Effect, Exit, FiberSet, Option, Schema } from "effect"
import type * as http from "node:http"
import { AuthToken } from "../services/AuthToken.js"
import type { RequestShortcut } from "../services/HttpListener.js"
import type { ListSessionsRequest } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { ListSessionsParams } from "../src/api/Api.js"
import { parseBearer } from "../src/http/Bearer.js"
import * as HotInput from "./HotInput.js"
import * as HttpMetrics from "./HttpMetrics.js"
import { type GuardSettings, makeHeaderCheck } from "./RequestGuard.js"
import * as SessionRouting from "./SessionRouting.js"

/** Distinct list queries whose decoding is remembered (a client's few views; more start over). */
const QUERY_MEMO_MAX = 64
/** Encoded bodies kept, by their JSON text (the cache hands out the same text until a change). */
const BYTES_MEMO_MAX = 16

/** Query parameters of the list in the one spelling every parser reads alike: no escapes, no `+`, each once. */
const PLAIN_PAIR = /^([a-z]+)=([A-Za-z0-9_-]{1,64})$/
const LIST_PARAMS: ReadonlySet<string> = new Set(Object.keys(ListSessionsParams.fields))
const decodeListParams = Schema.decodeUnknownOption(ListSessionsParams)

/**
 * The list request a query decodes to, or none when the shortcut leaves it to the pipeline. Only
 * the endpoint's own parameters, so the router's parser and this one read the same object.
 */
const parseListQuery = (query: string): Option.Option<ListSessionsRequest> => {
  if (query === "") return Option.some({})
  const params: Record<string, string> = {}
  for (const pair of query.split("&")) {
    const match = PLAIN_PAIR.exec(pair)
    if (match === null || !LIST_PARAMS.has(match[1]!) || match[1]! in params) return Option.none()
    params[match[1]!] = match[2]!
  }
  return decodeListParams(params)
}

/** A request that carries (or announces) a body is the pipeline's: it reads, bounds and refuses bodies. */
const hasBody = (headers: http.IncomingHttpHeaders) =>
  headers["content-length"] !== undefined || headers["transfer-encoding"] !== undefined ||
  headers["content-type"] !== undefined

/** A small map that starts over when full: the entries are cheap to make again, never wrong. */
const boundedMemo = <K, V>(max: number, make: (key: K) => V) => {
  const entries = new Map<K, V>()
  return (key: K): V => {
    const known = entries.get(key)
    if (known !== undefined) return known
    const value = make(key)
    if (entries.size >= max) entries.clear()
    entries.set(key, value)
    return value
  }
}

/**
 * The shortcut for the listener (HttpListener.shortcut). `health` is the JSON text the health
 * handler answers with (ApiHandlers.makeHealthJson), shared so that both give the same bytes.
 */
export const make = (
  settings: GuardSettings,
  health: Effect.Effect<string>,
  track: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const config = yield* TelemuxConfig
    const token = yield* AuthToken
    const routing = yield* SessionRouting.make
    // The reads run as fibers of this scope: closing it (the server stopping) interrupts any still running.
    const run = yield* FiberSet.makeRuntime<never, Option.Option<string>, never>()
    const checkHeaders = makeHeaderCheck(settings)
    const listQuery = boundedMemo(QUERY_MEMO_MAX, parseListQuery)
    const bytesOf = boundedMemo(BYTES_MEMO_MAX, (json: string) => Buffer.from(json, "utf8"))

    /** The token check of the API's Authorization middleware; a refusal is the pipeline's to answer. */
    const authorized = (request: http.IncomingMessage): Effect.Effect<boolean> | undefined => {
      if (!config.auth) return Effect.succeed(true)
      const bearer = parseBearer(request.headers.authorization)
      return bearer._tag === "Token" ? token.verify(bearer.token) : undefined
    }

    const listSessions = (
      request: http.IncomingMessage,
      query: string
    ): Effect.Effect<Option.Option<string>> | undefined => {
      const params = listQuery(query)
      // history is read from SQLite, not the cache: not a hot read
      if (Option.isNone(params) || params.value.status === "closed" || params.value.status === "all") return undefined
      const allowed = authorized(request)
      if (allowed === undefined) return undefined
      return Effect.flatMap(allowed, (ok) => (ok ? Effect.option(routing.listJson(params.value)) : Effect.succeedNone))
    }

    /** The read a request asks for, and its route (its path: neither has parameters), if it is one of these. */
    const readFor = (
      request: http.IncomingMessage
    ): { readonly route: string; readonly read: Effect.Effect<Option.Option<string>> } | undefined => {
      if (request.method !== "GET" || hasBody(request.headers)) return undefined
      const url = request.url ?? ""
      const mark = url.indexOf("?")
      const path = mark < 0 ? url : url.slice(0, mark)
      if (path === "/health" && mark < 0) {
        return checkHeaders(request.headers) === undefined
          ? { route: path, read: Effect.map(health, Option.some) }
          : undefined
      }
      if (path !== "/v1/sessions" || checkHeaders(request.headers) !== undefined) return undefined
      const read = listSessions(request, mark < 0 ? "" : url.slice(mark + 1))
      return read === undefined ? undefined : { route: path, read }
    }

    const send = (response: http.ServerResponse, route: string, json: string) => {
      const body = bytesOf(json)
      response.writeHead(200, { "content-type": "application/json", "content-length": body.length })
      response.end(body)
      if (config.metrics) HttpMetrics.countHot(route)
    }

    const input = yield* HotInput.make(settings, track)

    const shortcut: RequestShortcut = (request, response, next) => {
      if (input(request, response, next)) return
      const found = readFor(request)
      if (found === undefined) return next()
      const settle = (exit: Exit.Exit<Option.Option<string>>) => {
        if (Exit.isSuccess(exit) && Option.isSome(exit.value)) send(response, found.route, exit.value.value)
        else next()
      }
      // a read that needs no I/O (the usual case) is done when run returns; whatever goes wrong in
      // it (a defect too) is the pipeline's to answer and log
      const fiber = run(Effect.catchAllCause(found.read, () => Effect.succeedNone))
      const done = fiber.unsafePoll()
      if (done !== null) settle(done)
      else fiber.addObserver(settle)
    }
    return shortcut
  })
