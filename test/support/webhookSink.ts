/** A webhook receiver as a user would write one: a real HTTP server on loopback that checks each request's signature. */
import { createHmac, timingSafeEqual } from "node:crypto"
import * as http from "node:http"

export interface Received {
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  /** The X-Telemux-Event header. */
  readonly event: string
  readonly body: any
  /** Whether the signature header is the HMAC of `<timestamp>.<body>` with the shared secret. */
  readonly signed: boolean
}

export interface WebhookSink {
  /** http://127.0.0.1:PORT (any path reaches it). */
  readonly url: string
  readonly received: Array<Received>
  readonly close: () => Promise<void>
}

/** Records each request and answers what `answer` says for the n-th (1-based); "hang" never answers. */
export const startWebhookSink = (
  secret: string,
  answer: (n: number) => number | "hang" = () => 204
): Promise<WebhookSink> =>
  new Promise((resolve) => {
    const received: Array<Received> = []
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        const timestamp = String(req.headers["x-telemux-timestamp"] ?? "")
        const expected = Buffer.from(
          `sha256=${createHmac("sha256", secret).update(`${timestamp}.${text}`).digest("hex")}`
        )
        const given = Buffer.from(String(req.headers["x-telemux-signature"] ?? ""))
        received.push({
          path: req.url ?? "",
          headers: req.headers,
          event: String(req.headers["x-telemux-event"]),
          body: JSON.parse(text),
          signed: given.length === expected.length && timingSafeEqual(given, expected)
        })
        const status = answer(received.length)
        if (status !== "hang") res.writeHead(status).end()
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      resolve({
        url: `http://127.0.0.1:${port}`,
        received,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
