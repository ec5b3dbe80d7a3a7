/**
 * An OTLP/HTTP trace receiver for process tests: daemons started with
 * `OTEL_EXPORTER_OTLP_ENDPOINT=<url>` and `OTEL_EXPORTER_OTLP_PROTOCOL=http/json` post their spans
 * here, and the test reads them back flattened, each with its resource's attributes (which name the
 * computer that made it).
 *
 * Only `POST /v1/traces` with a JSON body is accepted (200 `{}`); another route is 404, another
 * body type (protobuf) 415, a body past BODY_MAX 413 and unparsable JSON 400 — each refusal is kept
 * in `refusals`, so a test sees an exporter talking the wrong protocol instead of waiting for spans
 * that never come.
 */
import * as http from "node:http"

/** Larger than any batch a daemon sends in a test; a body past it is refused, not buffered. */
const BODY_MAX = 8 * 1024 * 1024
/** Spans kept; past it the receiver stops collecting (a test never needs more; memory stays bounded). */
const SPANS_MAX = 100_000
const POLL_MS = 50

export type AttributeValue = string | number | boolean | null | ReadonlyArray<AttributeValue>

export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  /** Undefined for a root span. */
  readonly parentSpanId: string | undefined
  readonly name: string
  readonly kind: number | undefined
  readonly attributes: Readonly<Record<string, AttributeValue>>
  /** The resource's attributes, as strings (`service.name`, `telemux.computer`, …). */
  readonly resource: Readonly<Record<string, string>>
}

export interface OtlpReceiver {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends `/v1/traces`). */
  readonly endpoint: string
  /** Every span received so far, in arrival order. */
  readonly spans: () => ReadonlyArray<ReceivedSpan>
  /** Requests refused (method, path, status, reason), in arrival order. */
  readonly refusals: () => ReadonlyArray<string>
  /**
   * Resolves with the received spans once `predicate` holds for them; rejects after `timeoutMs`
   * naming `what` and listing the span names seen.
   */
  readonly waitFor: <A>(
    what: string,
    predicate: (spans: ReadonlyArray<ReceivedSpan>) => A | undefined,
    timeoutMs: number
  ) => Promise<A>
  readonly close: () => Promise<void>
}

interface OtlpAnyValue {
  readonly stringValue?: string
  readonly boolValue?: boolean
  readonly intValue?: number | string
  readonly doubleValue?: number
  readonly arrayValue?: { readonly values?: ReadonlyArray<OtlpAnyValue> }
}
interface OtlpKeyValue {
  readonly key: string
  readonly value?: OtlpAnyValue
}
interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind?: number
  readonly attributes?: ReadonlyArray<OtlpKeyValue>
}
interface OtlpTraces {
  readonly resourceSpans?: ReadonlyArray<{
    readonly resource?: { readonly attributes?: ReadonlyArray<OtlpKeyValue> }
    readonly scopeSpans?: ReadonlyArray<{ readonly spans?: ReadonlyArray<OtlpSpan> }>
  }>
}

const valueOf = (value: OtlpAnyValue | undefined): AttributeValue => {
  if (value === undefined) return null
  if (value.stringValue !== undefined) return value.stringValue
  if (value.boolValue !== undefined) return value.boolValue
  // OTLP JSON writes 64-bit integers as strings
  if (value.intValue !== undefined) return Number(value.intValue)
  if (value.doubleValue !== undefined) return value.doubleValue
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(valueOf)
  return null
}

const attributesOf = (list: ReadonlyArray<OtlpKeyValue> | undefined): Record<string, AttributeValue> =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]))

/** The spans of one OTLP JSON export request, each with its resource's attributes. */
export const flattenTraces = (body: OtlpTraces): ReadonlyArray<ReceivedSpan> =>
  (body.resourceSpans ?? []).flatMap((resourceSpans) => {
    const resource = Object.fromEntries(
      Object.entries(attributesOf(resourceSpans.resource?.attributes)).map(([key, value]) => [key, String(value)])
    )
    return (resourceSpans.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span): ReceivedSpan => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId === undefined || span.parentSpanId === "" ? undefined : span.parentSpanId,
        name: span.name,
        kind: span.kind,
        attributes: attributesOf(span.attributes),
        resource
      }))
    )
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts a receiver on a free loopback port. */
export const startOtlpReceiver = async (): Promise<OtlpReceiver> => {
  const received: Array<ReceivedSpan> = []
  const refused: Array<string> = []
  const refuse = (req: http.IncomingMessage, res: http.ServerResponse, status: number, reason: string) => {
    if (refused.length < 1000) refused.push(`${req.method} ${req.url} → ${status} (${reason})`)
    res.writeHead(status, { "content-type": "application/json", connection: "close" })
    res.end(JSON.stringify({ error: reason }))
  }

  const server = http.createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/v1/traces") {
      req.resume()
      return refuse(req, res, 404, "only POST /v1/traces")
    }
    if (!(req.headers["content-type"] ?? "").startsWith("application/json")) {
      req.resume()
      return refuse(req, res, 415, `content-type ${req.headers["content-type"]}: only JSON (http/json) is read`)
    }
    const chunks: Array<Buffer> = []
    let size = 0
    let tooLarge = false
    req.on("data", (chunk: Buffer) => {
      if (tooLarge) return
      size += chunk.length
      if (size > BODY_MAX) {
        tooLarge = true
        chunks.length = 0
        refuse(req, res, 413, `body over ${BODY_MAX} bytes`)
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => {
      if (tooLarge) return
      let body: OtlpTraces
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpTraces
      } catch (error) {
        return refuse(req, res, 400, `not JSON: ${String(error)}`)
      }
      for (const span of flattenTraces(body)) {
        if (received.length < SPANS_MAX) received.push(span)
      }
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{}")
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0

  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    refusals: () => [...refused],
    waitFor: async (what, predicate, timeoutMs) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = predicate(received)
        if (found !== undefined) return found
        if (Date.now() > deadline) {
          const names = [...new Set(received.map((span) => `${span.name} (${span.resource["telemux.computer"]})`))]
          throw new Error(
            `gave up after ${timeoutMs} ms waiting for ${what}; ${received.length} spans received, named: ` +
              `${names.length === 0 ? "(none)" : names.join(", ")}` +
              (refused.length === 0 ? "" : `; refused: ${refused.join("; ")}`)
          )
        }
        await sleep(POLL_MS)
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
