/**
 * Malformed requests by the thousand, generated from the OpenAPI document the daemon serves: for
 * every operation it declares, requests that break exactly what the document says about it (the
 * token, the method, the path id, the query, the headers, the content type, the body's fields, types,
 * size and depth), plus bytes no HTTP client library will send (control characters in headers,
 * unknown methods, broken framing), over a raw socket.
 *
 * Each request is checked against the API definition before it is sent (its schemas decode what the
 * request carries): only requests that really are malformed are sent. For each answer:
 * - a 4xx, never a 5xx and never a success;
 * - an error body that is JSON with a `_tag` and a `message` (HEAD answers have no body);
 * - no call that changes state reached the services (the doubles record every call);
 * and over the whole run memory stays within the bounds stated at PEAK_GROWTH_MAX_MB.
 */
import { HttpApi, HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Effect, Either, Option, Schema } from "effect"
import fc from "fast-check"
import * as http from "node:http"
import * as net from "node:net"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { REQUEST_BODY_MAX_BYTES } from "../services/HttpListener.js"
import { HttpListener } from "../services/HttpListener.js"
import { INPUT_MAX_BYTES } from "../services/Sessions.js"
import { TelemuxApi } from "../src/api/Api.js"
import { existing, MUTATING, type Recorder, TOKEN, withApi } from "./support/apiInProcess.js"

/** Requests generated per family of defects (the few that come out valid are not sent): ~6,000 sent, ~25 s on two cores. */
const RUNS = {
  auth: 700,
  method: 600,
  pathId: 600,
  query: 700,
  header: 500,
  host: 400,
  contentType: 500,
  body: 2000,
  raw: 400
}
/**
 * Memory. Retained: once the run is over and garbage collected, the heap may hold RETAINED_MAX_MB
 * more than after the warm-up (a leak of 3 KB per request would fail). Peak: RSS may rise
 * PEAK_GROWTH_MAX_MB above its level after the warm-up. Requests go one at a time, but one body of
 * up to 8 MB is held as bytes, text and parsed value, and a refusal from the API's schema decoding
 * quotes the refused value whole, in `issues` and again in `message`, once per alternative of a
 * union: an 8 MB value can make an answer of tens of MB (the largest is printed), and the garbage of
 * a few such requests is what the peak measures.
 */
const PEAK_GROWTH_MAX_MB = 1024
const WARM_UP_RUNS = 40
const RETAINED_MAX_MB = 16
const BASE_ID = existing.sessionId

// ---------------------------------------------------------------------------
// The document, and the API definition as the oracle
// ---------------------------------------------------------------------------

interface Operation {
  readonly method: string
  /** As the document writes it: `/v1/sessions/{id}`. */
  readonly template: string
  readonly secured: boolean
  readonly query: ReadonlyArray<string>
  readonly headers: ReadonlyArray<string>
  /** The JSON Schema of the body (its top `$ref` followed); undefined when the operation takes none. */
  readonly body: Record<string, any> | undefined
  readonly payload: Option.Option<Schema.Schema<any, any>>
  readonly urlParams: Option.Option<Schema.Schema<any, any>>
  readonly headersSchema: Option.Option<Schema.Schema<any, any>>
  /** Encoded valid bodies, from the API definition's schema. */
  readonly validBody: fc.Arbitrary<unknown> | undefined
}

const endpointSchemas = () => {
  const byKey = new Map<
    string,
    { payload: Option.Option<any>; urlParams: Option.Option<any>; headers: Option.Option<any> }
  >()
  HttpApi.reflect(TelemuxApi as unknown as HttpApi.HttpApi<string, never, never, never>, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint }) =>
      byKey.set(`${endpoint.method} ${endpoint.path.replace(/:(\w+)/g, "{$1}")}`, {
        payload: endpoint.payloadSchema,
        urlParams: endpoint.urlParamsSchema,
        headers: endpoint.headersSchema
      })
  })
  return byKey
}

/** A schema with its `$ref` (to `#/components/schemas/…`) followed. */
const resolve = (doc: any, schema: any): Record<string, any> | undefined =>
  typeof schema?.$ref === "string" ? resolve(doc, doc.components.schemas[schema.$ref.split("/").pop()]) : schema

const operationsOf = (doc: any): ReadonlyArray<Operation> => {
  const schemas = endpointSchemas()
  return Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([template, item]) =>
    Object.entries(item).map(([method, op]): Operation => {
      const key = `${method.toUpperCase()} ${template}`
      const oracle = schemas.get(key)
      assert.isDefined(oracle, `${key} is in the document but not in the API`)
      const params = (op.parameters ?? []) as ReadonlyArray<{ name: string; in: string }>
      const payload = oracle!.payload as Option.Option<Schema.Schema<any, any>>
      return {
        method: method.toUpperCase(),
        template,
        secured: (op.security ?? []).length > 0,
        query: params.filter((p) => p.in === "query").map((p) => p.name),
        headers: params.filter((p) => p.in === "header").map((p) => p.name),
        body: resolve(doc, op.requestBody?.content?.["application/json"]?.schema),
        payload,
        urlParams: oracle!.urlParams,
        headersSchema: oracle!.headers,
        validBody: Option.match(payload, {
          onNone: () => undefined,
          onSome: (schema) => Arbitrary.make(schema).map((value) => Schema.encodeSync(schema)(value))
        })
      }
    })
  )
}

const decodes = (schema: Option.Option<Schema.Schema<any, any>>, value: unknown) =>
  Option.isNone(schema) || Either.isRight(Schema.decodeUnknownEither(schema.value)(value))

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

interface FuzzRequest {
  readonly family: keyof typeof RUNS
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: Buffer | undefined
  /** Sent byte for byte over a socket (what an HTTP library refuses to send). */
  readonly raw?: Buffer
  /** Why the API must refuse it; false when the generator happened to produce a valid request. */
  readonly malformed: boolean
}

const HOSTILE = [
  "\u0000",
  "\u001b[201~",
  "\u001b[200~",
  "\u009b201~",
  "\u001b[0;201~",
  "\r\n",
  "\r",
  "\n",
  "\t",
  "\u0007",
  "\u007f",
  "\u0085",
  "\u2028",
  "\u202e",
  "\u200b",
  "\ufeff",
  "\ud800",
  "\udfff",
  "\ud83d\ude00",
  "\uffff",
  "%00",
  "%",
  "../..",
  "\\",
  "\"",
  "'",
  "<script>",
  "${x}",
  "𝕏",
  "é",
  "\u0301",
  "null",
  "[]",
  "{}"
]
const hostileString = fc
  .array(fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ unit: "binary", maxLength: 12 })), {
    minLength: 1,
    maxLength: 8
  })
  .map((parts) => parts.join(""))
const hugeString = fc
  .tuple(fc.constantFrom(64 * 1024, INPUT_MAX_BYTES + 1), fc.constantFrom("a", "é", "😀", "\u0000", "\u001b"))
  .map(([bytes, unit]) => unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit))))
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, "", [], {}, [null], { "": null })
)
/** `depth` levels of arrays or objects around a value, as JSON text (too deep for JSON.stringify to build). */
const deepText = fc
  .tuple(fc.integer({ min: 33, max: 20_000 }), fc.boolean())
  .map((
    [depth, arrays]
  ) => (arrays ? "[".repeat(depth) + "]".repeat(depth) : "{\"a\":".repeat(depth) + "1" + "}".repeat(depth)))

const DEEP = "__telemux_fuzz_deep__"
/** Over the body limit: refused (413) before it is read. One buffer, sent as it is, however often it is drawn. */
const TOO_LARGE = "<over the body limit>"
const TOO_LARGE_BODY = Buffer.alloc(REQUEST_BODY_MAX_BYTES + 1, "x")

type BodyDefect =
  | { readonly kind: "retype" | "string" | "deep" | "extra"; readonly field: string; readonly value: unknown }
  | { readonly kind: "drop"; readonly field: string }
  | { readonly kind: "keys"; readonly value: ReadonlyArray<unknown> }
  | { readonly kind: "text"; readonly value: string }

/** What is done to a valid body: one field's value, one field removed or added, or the whole body replaced. */
const bodyDefect = (op: Operation, otherFields: ReadonlyArray<string>): fc.Arbitrary<BodyDefect> => {
  const properties = Object.keys(op.body?.properties ?? {})
  const field = fc.constantFrom(...(properties.length > 0 ? properties : ["x"]))
  const text = fc.record({
    kind: fc.constant("text" as const),
    value: fc.oneof(
      {
        arbitrary: fc.constantFrom(
          " ",
          "null",
          "{",
          "{\"a\":",
          "[1,2",
          "\ufeff{}",
          "{'a':1}",
          "{\"a\":1}{}",
          "undefined",
          "NaN",
          "\u0000"
        ),
        weight: 5
      },
      { arbitrary: fc.string({ unit: "binary", maxLength: 200 }), weight: 5 },
      { arbitrary: anyJson.map((v) => JSON.stringify(v)), weight: 5 },
      { arbitrary: deepText, weight: 5 },
      // a few suffice: each is 8 MB through the socket
      { arbitrary: fc.constant(TOO_LARGE), weight: 1 }
    )
  })
  // an operation that takes no body only has its text to get wrong
  if (op.body === undefined) return text
  return fc.oneof(
    fc.record({ kind: fc.constant("retype" as const), field, value: anyJson }),
    fc.record({
      kind: fc.constant("string" as const),
      field,
      // a few huge ones suffice to cross the limits; each is megabytes through parser, guard and schema
      value: fc.oneof({ arbitrary: hostileString, weight: 4 }, { arbitrary: hugeString, weight: 1 })
    }),
    fc.record({ kind: fc.constant("deep" as const), field, value: deepText }),
    fc.record({ kind: fc.constant("drop" as const), field }),
    fc.record({
      kind: fc.constant("extra" as const),
      field: fc.oneof(
        fc.constantFrom(...otherFields),
        fc.string({ maxLength: 20 }),
        fc.constantFrom("__proto__", "constructor", "_tag")
      ),
      value: anyJson
    }),
    fc.record({
      kind: fc.constant("keys" as const),
      value: fc.array(fc.oneof(anyJson, fc.string()), { maxLength: 2000 })
    }),
    text,
    fc.record({ kind: fc.constant("text" as const), value: fc.constant("") })
  )
}

const applyBodyDefect = (valid: unknown, defect: BodyDefect): string => {
  if (defect.kind === "text") return defect.value
  const base: Record<string, unknown> = typeof valid === "object" && valid !== null ? { ...valid } : {}
  switch (defect.kind) {
    case "retype":
    case "string":
      base[defect.field] = defect.value
      break
    case "deep":
      base[defect.field] = DEEP
      return JSON.stringify(base).replace(JSON.stringify(DEEP), String(defect.value))
    case "drop":
      delete base[defect.field]
      break
    case "extra":
      Object.defineProperty(base, defect.field, {
        value: defect.value,
        enumerable: true,
        writable: true,
        configurable: true
      })
      break
    case "keys":
      return JSON.stringify({ ...base, keys: defect.value })
  }
  return JSON.stringify(base)
}

/** What the server will see of a body: its UTF-8 bytes decoded, then JSON.parse (the guard also bounds depth). */
const bodyIsValid = (op: Operation, body: Buffer) => {
  try {
    return decodes(op.payload, JSON.parse(body.toString("utf8")))
  } catch {
    return false
  }
}

const queryObject = (search: string) => {
  const params = new URLSearchParams(search)
  return Object.fromEntries([...new Set(params.keys())].map((k) => {
    const all = params.getAll(k)
    return [k, all.length === 1 ? all[0] : all]
  }))
}

const METHODS = http.METHODS.filter((m) => m !== "CONNECT")

const makeArbitraries = (ops: ReadonlyArray<Operation>, port: number) => {
  const allowed = (template: string) => new Set(ops.filter((o) => o.template === template).map((o) => o.method))
  const otherFields = [...new Set(ops.flatMap((o) => Object.keys(o.body?.properties ?? {})))]
  const host = `127.0.0.1:${port}`
  const pathOf = (op: Operation, id: string = BASE_ID) => op.template.replace("{id}", id)
  const baseHeaders = (op: Operation): Record<string, string> => ({
    host,
    ...(op.secured ? { authorization: `Bearer ${TOKEN}` } : {}),
    ...(op.body !== undefined ? { "content-type": "application/json" } : {})
  })
  const validBody = (op: Operation): fc.Arbitrary<Buffer | undefined> =>
    op.validBody === undefined ? fc.constant(undefined) : op.validBody.map((v) => Buffer.from(JSON.stringify(v)))
  const request = (
    family: FuzzRequest["family"],
    op: Operation,
    parts: Partial<Omit<FuzzRequest, "family">> & { readonly malformed: boolean }
  ): FuzzRequest => ({
    family,
    method: op.method,
    path: pathOf(op),
    headers: baseHeaders(op),
    body: undefined,
    ...parts
  })
  const pick = (filter: (op: Operation) => boolean) => fc.constantFrom(...ops.filter(filter))
  /** What an HTTP library lets into a header value (no control characters but TAB, nothing past U+00FF). */
  const latin1 = fc.string({ unit: "binary", maxLength: 200 }).map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, "?"))

  const auth = pick((op) => op.secured).chain((op) =>
    fc.tuple(
      validBody(op),
      fc.oneof(
        fc.constant(undefined),
        fc.constantFrom(
          "",
          "Bearer",
          "Bearer ",
          `Basic ${TOKEN}`,
          `bearer ${TOKEN}x`,
          `Bearer ${TOKEN.slice(1)}`,
          `Bearer ${TOKEN} x`,
          `Token ${TOKEN}`
        ),
        latin1.map((s) => `Bearer ${s}`)
      )
    ).map(([body, authorization]) => {
      const { authorization: _, ...rest } = baseHeaders(op)
      return request("auth", op, {
        body,
        headers: authorization === undefined ? rest : { ...rest, authorization },
        // a header value reaches the server without its surrounding white space
        malformed: authorization === undefined || ows(authorization) !== `Bearer ${TOKEN}`
      })
    })
  )

  const method = fc.constantFrom(...ops).chain((op) => {
    const ok = allowed(op.template)
    // HEAD is answered like GET where GET is allowed
    const wrong = METHODS.filter((m) => !ok.has(m) && !(m === "HEAD" && ok.has("GET")))
    return fc.tuple(fc.constantFrom(...wrong), validBody(op)).map(([m, body]) =>
      request("method", op, {
        method: m,
        body,
        headers: { ...baseHeaders(op), "content-type": "application/json" },
        malformed: true
      })
    )
  })

  const pathId = pick((op) => op.template.includes("{id}")).chain((op) =>
    fc.tuple(
      fc.oneof(
        fc.uuid().filter((id) => id !== BASE_ID),
        hostileString.map(pct),
        fc.string({ unit: "binary", maxLength: 3000 }).map(pct),
        fc.constantFrom(
          "%",
          "%zz",
          "%c0%af",
          "%ed%a0%80",
          "%ff",
          "%00",
          "..%2F..%2Fetc",
          "%2F",
          BASE_ID.toUpperCase().replace("4", "x"),
          `${BASE_ID}%00`,
          `${BASE_ID}%20`,
          BASE_ID + "0"
        ),
        fc.integer().map(String)
      ),
      validBody(op)
    ).map(([id, body]) => {
      const path = pathOf(op, id)
      // an empty id, "." or ".." make another path of the same API (`/v1/sessions/` is the list): not a bad id
      const resolved = new URL(path, "http://127.0.0.1").pathname === path
      return request("pathId", op, {
        path,
        body,
        malformed: resolved && id !== "" && decodeURIComponentSafe(id) !== BASE_ID
      })
    })
  )

  const query = pick((op) => op.query.length > 0).chain((op) =>
    fc.array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(...op.query),
          fc.string({ maxLength: 12 }),
          fc.constantFrom("access_token", "__proto__", "limit[]", "LIMIT")
        ),
        fc.oneof(
          fc.constantFrom(
            "",
            "-1",
            "0",
            "1.5",
            "1e3",
            "1e309",
            "NaN",
            "Infinity",
            "0x10",
            " 5",
            "5 ",
            "+5",
            "10001",
            "2001",
            "99999999999999999999",
            "all",
            "ALL",
            "idle",
            "closed",
            "local",
            "a b"
          ),
          hostileString,
          fc.integer().map(String)
        )
      ),
      { minLength: 1, maxLength: 4 }
    ).map((pairs) => {
      const search = pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join("&")
      return request("query", op, {
        path: `${pathOf(op)}?${search}`,
        malformed: !decodes(op.urlParams, queryObject(search))
      })
    })
  )

  const header = pick((op) => op.headers.includes("idempotency-key")).chain((op) =>
    fc.tuple(
      fc.oneof(
        fc.constantFrom("", " ", "a b", "\t", "é", "x".repeat(256), "ünïcode"),
        latin1.map((s) => `${s} ${s}`)
      ),
      validBody(op)
    ).map(([key, body]) =>
      request("header", op, {
        headers: { ...baseHeaders(op), "idempotency-key": key },
        body,
        malformed: !decodes(op.headersSchema, { "idempotency-key": ows(key) })
      })
    )
  )

  const hostDefect = fc.constantFrom(...ops).chain((op) =>
    fc.tuple(
      fc.oneof(
        fc.record({
          host: fc.oneof(
            fc.constantFrom(
              "evil.example",
              "127.0.0.1.evil.example",
              "localhost.evil",
              "[::2]",
              "0.0.0.0",
              "127.0.0.1.nip.io",
              "127.1"
            ),
            fc.domain()
          )
        }),
        fc.record({
          origin: fc.oneof(
            fc.constantFrom("null", "http://localhost:3000", `http://${host}.evil`, `https://${host}`, "file://"),
            fc.webUrl()
          )
        }),
        fc.record({ "sec-fetch-site": fc.constantFrom("cross-site", "same-site") })
      ),
      validBody(op),
      fc.dictionary(
        fc.constantFrom("x-a", "x-forwarded-for", "x-telemux-caller", "accept", "user-agent", "cookie"),
        latin1,
        { maxKeys: 3 }
      )
    ).map(([bad, body, noise]) =>
      request("host", op, { headers: { ...baseHeaders(op), ...noise, ...bad }, body, malformed: true })
    )
  )

  const contentType = pick((op) => op.method === "POST").chain((op) =>
    fc.tuple(
      fc.oneof(
        fc.constantFrom(
          undefined,
          "text/plain",
          "application/x-www-form-urlencoded",
          "multipart/form-data",
          "multipart/form-data; boundary=x",
          "application/jsonx",
          "application/json-patch+json",
          "text/json",
          "application/xml",
          "json",
          "*/*",
          ""
        ),
        latin1.filter((s) => !/^\s*application\/json\s*(;|$)/i.test(s))
      ),
      validBody(op).map((b) => b ?? Buffer.from("{}"))
    ).map(([type, body]) => {
      const { "content-type": _, ...rest } = baseHeaders(op)
      return request("contentType", op, {
        headers: type === undefined ? rest : { ...rest, "content-type": type },
        body,
        malformed: true
      })
    })
  )

  const body = pick((op) => op.method === "POST").chain((op) =>
    fc.tuple(op.validBody ?? fc.constant({}), bodyDefect(op, otherFields)).map(([valid, defect]) => {
      const text = defect.kind === "text" && defect.value === TOO_LARGE
        ? TOO_LARGE_BODY
        : Buffer.from(applyBodyDefect(valid, defect))
      // an operation without a body ignores a JSON one: only text that is not JSON is wrong there
      const malformed = op.body === undefined ? text.length > 0 && !isJson(text) : !bodyIsValid(op, text)
      return request("body", op, {
        body: text,
        headers: { ...baseHeaders(op), "content-type": "application/json" },
        malformed
      })
    })
  )

  const rawBytes = fc.constantFrom(...ops).chain((op) => {
    const line = (m: string = op.method, target: string = pathOf(op)) => `${m} ${target} HTTP/1.1`
    const bearer = `authorization: Bearer ${TOKEN}`
    const withBody = ["content-length: 2", "", "{}"]
    const raw = (lines: ReadonlyArray<string>) =>
      request("raw", op, { raw: Buffer.from(lines.join("\r\n"), "latin1"), malformed: true })
    return fc.oneof(
      // a control character in a header value (a bracketed-paste marker starts with ESC)
      fc.tuple(
        fc.constantFrom("x-fuzz", "idempotency-key", "authorization", "content-type", "host", "x-telemux-caller"),
        fc.constantFrom("\u0000", "\u001b[201~", "\u001b[200~x", "\u009b201~\u0000", "a\rb", "\u007f", "\u0001")
      ).map(([name, value]) =>
        raw([line(), `host: ${host}`, bearer, `${name}: ${value}`, "connection: close", ...withBody])
      ),
      // methods and request targets no client library sends
      fc.constantFrom("FOO", "GET\u0000", "G ET", "get", "PO\u001bST").map((m) =>
        raw([line(m), `host: ${host}`, bearer, "connection: close", ...withBody])
      ),
      fc.constantFrom(`${pathOf(op)}\u0000`, `${pathOf(op)}\u001b[201~`, `${pathOf(op)} x`).map((target) =>
        raw([line(op.method, target), `host: ${host}`, bearer, "connection: close", ...withBody])
      ),
      // framing: conflicting lengths, a length with chunks, a negative length, no Host, headers over the limit, folding
      fc.constantFrom(
        [line(), `host: ${host}`, bearer, "content-length: 2", "content-length: 3", "", "{}"],
        [line(), `host: ${host}`, bearer, "transfer-encoding: chunked", "content-length: 2", "", "{}"],
        [line(), `host: ${host}`, bearer, "content-length: -1", "", "{}"],
        [line(), bearer, "connection: close", ...withBody],
        [line(), `host: ${host}`, bearer, `x-fuzz: ${"a".repeat(20_000)}`, "connection: close", ...withBody],
        [line(), `host: ${host}`, bearer, "x-fuzz : folded", " continued", "connection: close", ...withBody]
      ).map(raw),
      // a broken chunk, where the body is read (a GET is answered from its head: its body is nobody's business)
      ...(op.method === "GET" ? [] : [
        fc.constant(
          raw([
            line(),
            `host: ${host}`,
            bearer,
            "content-type: application/json",
            "transfer-encoding: chunked",
            "",
            "zz",
            "{}"
          ])
        )
      ])
    )
  })

  return { auth, method, pathId, query, header, host: hostDefect, contentType, body, raw: rawBytes }
}

/** A header value as the server reads it: without the spaces and tabs around it. */
const ows = (value: string) => value.replace(/^[ \t]+|[ \t]+$/g, "")

/** Percent-encoding of the UTF-8 bytes (a lone surrogate goes as U+FFFD, as on any wire); encodeURIComponent throws on it. */
const pct = (s: string) =>
  [...Buffer.from(s, "utf8")].map((
    b
  ) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b))
    ? String.fromCharCode(b)
    : `%${b.toString(16).padStart(2, "0")}`)
  ).join("")

const decodeURIComponentSafe = (s: string) => {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

const isJson = (body: Buffer) => {
  try {
    JSON.parse(body.toString("utf8"))
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------
// Sending, checking
// ---------------------------------------------------------------------------

interface Answer {
  readonly status: number
  readonly body: string
}

const TIMEOUT_MS = 10_000

const sendHttp = (port: number, req: FuzzRequest) =>
  new Promise<Answer>((resolve, reject) => {
    const outgoing = http.request(
      {
        host: "127.0.0.1",
        port,
        method: req.method,
        path: req.path,
        // as every client does: without it node frames a DELETE's body as nothing, then as a second request
        headers: req.body === undefined ? req.headers : { ...req.headers, "content-length": String(req.body.length) },
        agent: false,
        timeout: TIMEOUT_MS
      },
      (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
        response.on("error", reject)
      }
    )
    outgoing.on("timeout", () =>
      outgoing.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)))
    // the server may answer (413, 415) and close before it has read the whole body
    outgoing.on(
      "error",
      (
        error: NodeJS.ErrnoException
      ) => (error.code === "EPIPE" || error.code === "ECONNRESET" ? undefined : reject(error))
    )
    outgoing.end(req.body)
  })

/** A chunked body's data (sizes in hex, each chunk followed by CRLF). */
const dechunk = (body: string) => {
  let out = ""
  for (let at = 0;;) {
    const end = body.indexOf("\r\n", at)
    const size = end < 0 ? 0 : parseInt(body.slice(at, end), 16)
    if (!(size > 0)) return out
    out += body.slice(end + 2, end + 2 + size)
    at = end + 2 + size + 2
  }
}

const sendRaw = (port: number, bytes: Buffer) =>
  new Promise<Answer>((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    const chunks: Array<Buffer> = []
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)))
    socket.on("data", (chunk) => chunks.push(chunk))
    socket.on("error", reject)
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0)
      const split = text.indexOf("\r\n\r\n")
      const body = split < 0 ? "" : text.slice(split + 4)
      resolve({ status, body: /^transfer-encoding: *chunked/im.test(text.slice(0, split)) ? dechunk(body) : body })
    })
    socket.end(bytes)
  })

const describeRequest = (req: FuzzRequest) =>
  JSON.stringify({
    ...req,
    body: req.body && `${req.body.subarray(0, 300).toString("utf8")}… (${req.body.length} bytes)`,
    raw: req.raw?.subarray(0, 300).toString("latin1")
  })

const errorBodyProblem = (answer: Answer): string | undefined => {
  let json: unknown
  try {
    json = JSON.parse(answer.body)
  } catch {
    return `not JSON: ${JSON.stringify(answer.body.slice(0, 200))}`
  }
  const { _tag, message } = (json ?? {}) as { _tag?: unknown; message?: unknown }
  return typeof _tag === "string" && typeof message === "string"
    ? undefined
    : `no _tag/message: ${answer.body.slice(0, 200)}`
}

const MB = 1024 * 1024

/** The heap in use after a full collection (`gc` made reachable without restarting node with --expose-gc). */
const heapAfterGc = (): number => {
  v8.setFlagsFromString("--expose-gc")
  ;(vm.runInNewContext("gc") as () => void)()
  return process.memoryUsage().heapUsed
}

describe("HTTP fuzz from the OpenAPI document", () => {
  it.live(
    "malformed requests get a JSON 4xx, change nothing, and memory stays bounded",
    () =>
      withApi((recorder: Recorder) =>
        Effect.gen(function*() {
          const { port } = yield* HttpListener
          const client = yield* HttpClient.HttpClient
          const doc = JSON.parse(yield* (yield* client.get("/openapi.json")).text)
          const ops = operationsOf(doc)
          assert.isAtLeast(ops.length, 13)
          const arbitraries = makeArbitraries(ops, port)

          const statuses = new Map<number, number>()
          const perFamily = new Map<string, { sent: number; valid: number }>()
          const counted = (family: string) =>
            perFamily.get(family) ?? perFamily.set(family, { sent: 0, valid: 0 }).get(family)!
          let rssPeak = 0
          let largestAnswer = { bytes: 0, body: 0 }

          const check = async (req: FuzzRequest) => {
            if (!req.malformed) {
              counted(req.family).valid++
              return
            }
            const before = (await Effect.runPromise(recorder.calls)).length
            const answer = req.raw !== undefined ? await sendRaw(port, req.raw) : await sendHttp(port, req)
            counted(req.family).sent++
            if (answer.body.length > largestAnswer.bytes) {
              largestAnswer = { bytes: answer.body.length, body: req.body?.length ?? 0 }
            }
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
            rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
            const what = () => `${answer.status} for ${describeRequest(req)}`
            if (answer.status < 400 || answer.status >= 500) {
              assert.fail(`not a 4xx: ${what()}: ${answer.body.slice(0, 300)}`)
            }
            const problem = req.method === "HEAD" ? undefined : errorBodyProblem(answer)
            if (problem !== undefined) assert.fail(`${problem}: ${what()}`)
            const changes = (await Effect.runPromise(recorder.calls)).slice(before).filter((op) => MUTATING.has(op))
            if (changes.length > 0) assert.fail(`changed state (${changes.join(", ")}): ${what()}`)
          }
          const run = (family: keyof typeof RUNS, numRuns: number) =>
            Effect.promise(() =>
              fc.assert(fc.asyncProperty(arbitraries[family], check), { numRuns, endOnFailure: true })
            )

          // warmed up (code compiled, caches filled, every family drawn once) before the baseline is taken
          for (const family of Object.keys(RUNS) as ReadonlyArray<keyof typeof RUNS>) yield* run(family, WARM_UP_RUNS)
          const heapBefore = heapAfterGc()
          const rssBefore = process.memoryUsage().rss
          rssPeak = rssBefore
          const started = Date.now()
          for (const [family, runs] of Object.entries(RUNS) as ReadonlyArray<[keyof typeof RUNS, number]>) {
            yield* run(family, runs)
          }
          const seconds = (Date.now() - started) / 1000
          const retainedMb = (heapAfterGc() - heapBefore) / MB
          const peakMb = (rssPeak - rssBefore) / MB

          const sent = [...perFamily.values()].reduce((n, f) => n + f.sent, 0)
          const histogram = [...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(", ")
          console.log(
            `HTTP fuzz: ${sent} malformed requests to ${ops.length} operations in ${seconds.toFixed(1)} s\n` +
              `  by status: ${histogram}\n` +
              `  by family (sent/generated valid, not sent): ${
                [...perFamily.entries()].map(([f, n]) => `${f} ${n.sent}/${n.valid}`).join(", ")
              }\n` +
              `  RSS ${Math.round(rssBefore / MB)} MB after warm-up, peak +${
                peakMb.toFixed(0)
              } MB (bound ${PEAK_GROWTH_MAX_MB}); ` +
              `heap after GC +${retainedMb.toFixed(1)} MB (bound ${RETAINED_MAX_MB}); ` +
              `largest answer ${(largestAnswer.bytes / MB).toFixed(1)} MB (to a body of ${
                (largestAnswer.body / MB).toFixed(1)
              } MB)`
          )
          assert.isAtLeast(sent, 5000)
          assert.isBelow(peakMb, PEAK_GROWTH_MAX_MB)
          assert.isBelow(retainedMb, RETAINED_MAX_MB)
        })
      ),
    { timeout: 120_000 }
  )

  it.live("the requests the fuzz first found answered wrongly, each once", () =>
    withApi((recorder) =>
      Effect.gen(function*() {
        const { port } = yield* HttpListener
        const host = `127.0.0.1:${port}`
        const auth = { host, authorization: `Bearer ${TOKEN}` }
        const http1 = (method: string, path: string, headers: Record<string, string>, body?: string) =>
          Effect.promise(() =>
            sendHttp(port, {
              family: "body",
              method,
              path,
              headers,
              body: body === undefined ? undefined : Buffer.from(body),
              malformed: true
            })
          )
        const raw = (...lines: ReadonlyArray<string>) =>
          Effect.promise(() =>
            sendRaw(port, Buffer.from([...lines, "connection: close", "", ""].join("\r\n"), "latin1"))
          )
        const expect = (answer: Answer, status: number, tag: string, text: RegExp) => {
          assert.strictEqual(answer.status, status, answer.body)
          const json = JSON.parse(answer.body)
          assert.strictEqual(json._tag, tag)
          assert.match(json.message, text)
        }
        const target = `/v1/sessions/${BASE_ID}`
        // a body that is not JSON where the operation takes none: it ran the operation (200)
        expect(
          yield* http1("POST", `${target}/resume`, { ...auth, "content-type": "application/json" }, "hello"),
          400,
          "InvalidRequest",
          /could not be read as JSON/
        )
        // `__proto__` fell out of the query before its strict decoding: 200
        expect(yield* http1("GET", "/v1/sessions?__proto__=1", auth), 400, "InvalidRequest", /__proto__/)
        // what node's parser refuses got node's empty 400 (or 431)
        expect(
          yield* raw(`GET ${target} HTTP/1.1`, `host: ${host}`, "x-a: \u001b[201~\u0000"),
          400,
          "InvalidRequest",
          /not valid HTTP/
        )
        expect(yield* raw(`FOO ${target} HTTP/1.1`, `host: ${host}`), 400, "InvalidRequest", /not valid HTTP/)
        expect(
          yield* raw(`GET ${target} HTTP/1.1`, `host: ${host}`, `x-a: ${"a".repeat(20_000)}`),
          431,
          "InvalidRequest",
          /too large/
        )
        // and an HTTP/1.1 request without Host got node's empty 400
        expect(yield* raw(`GET ${target} HTTP/1.1`, `authorization: Bearer ${TOKEN}`), 403, "HostNotAllowed", /Host/)
        assert.deepStrictEqual((yield* recorder.calls).filter((op) => MUTATING.has(op)), [])
      })
    ))
})
