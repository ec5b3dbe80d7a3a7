import { randomBytes } from "node:crypto"
import * as http from "node:http"
import * as net from "node:net"

/**
 * HTTP and WebSocket at the byte level, for fault tests against a real daemon: what a client sees
 * when it writes exactly these bytes and reads until the server ends the connection, with no
 * client timeout but the caller's bound.
 */

export type Outcome = "ended" | "refused" | "reset" | "bound" | "error"

export interface RawAnswer {
  /** Status of the response's status line, undefined when none arrived. */
  readonly status: number | undefined
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** `ended`: the server sent its answer and ended the connection; `bound`: the caller's bound ran out first. */
  readonly outcome: Outcome
  readonly error?: string
  readonly ms: number
}

const parse = (raw: string): Pick<RawAnswer, "status" | "headers" | "body"> => {
  const split = raw.indexOf("\r\n\r\n")
  const head = split < 0 ? raw : raw.slice(0, split)
  const [statusLine = "", ...lines] = head.split("\r\n")
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(":")
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return {
    status: status === null ? undefined : Number(status[1]),
    headers,
    body: split < 0 ? "" : raw.slice(split + 4)
  }
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code ?? String(error)

/** Connects to 127.0.0.1:`port`; resolves with the connected socket or the connect error's code. */
export const connect = (port: number): Promise<net.Socket | string> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.removeAllListeners("error")
      resolve(socket)
    })
    socket.once("error", (error) => {
      socket.destroy()
      resolve(errorCode(error))
    })
  })

/** Retries `connect` every `everyMs` until one succeeds (or `boundMs` passes); counts the refusals on the way. */
export const connectWhenListening = async (
  port: number,
  boundMs: number,
  everyMs = 2
): Promise<{ socket: net.Socket | undefined; refused: number }> => {
  const deadline = performance.now() + boundMs
  let refused = 0
  while (performance.now() < deadline) {
    const result = await connect(port)
    if (typeof result !== "string") return { socket: result, refused }
    if (result === "ECONNREFUSED") refused++
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  return { socket: undefined, refused }
}

/** Writes `request` on `socket` and collects everything until the server ends the connection, at most `boundMs`. */
export const exchangeOn = (socket: net.Socket, request: string | Buffer, boundMs: number): Promise<RawAnswer> =>
  new Promise((resolve) => {
    const started = performance.now()
    const chunks: Array<Buffer> = []
    let settled = false
    const finish = (outcome: Outcome, error?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      const raw = Buffer.concat(chunks).toString("latin1")
      resolve({ ...parse(raw), outcome, ...(error === undefined ? {} : { error }), ms: performance.now() - started })
    }
    const timer = setTimeout(() => finish("bound"), boundMs)
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.once("end", () => finish("ended"))
    socket.once("close", () => finish("ended"))
    socket.once("error", (error) => finish(errorCode(error) === "ECONNRESET" ? "reset" : "error", errorCode(error)))
    socket.write(request)
  })

/** One request on a fresh connection, read until the server ends it (or `boundMs`). */
export const rawExchange = async (port: number, request: string | Buffer, boundMs: number): Promise<RawAnswer> => {
  const started = performance.now()
  const socket = await connect(port)
  if (typeof socket === "string") {
    return {
      status: undefined,
      headers: {},
      body: "",
      outcome: socket === "ECONNREFUSED" ? "refused" : "error",
      error: socket,
      ms: performance.now() - started
    }
  }
  return exchangeOn(socket, request, boundMs)
}

/** The request line and headers of a WebSocket upgrade (RFC 6455 §4.1), ending with the blank line. */
export const upgradeRequest = (port: number, path: string, headers: Readonly<Record<string, string>> = {}): string =>
  [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
    "Sec-WebSocket-Version: 13",
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    "",
    ""
  ].join("\r\n")

/** A WebSocket opened by hand: the socket after the server's `101` (the caller writes frames on it). */
export const openRawWebSocket = (
  port: number,
  path: string,
  headers: Readonly<Record<string, string>> = {},
  boundMs = 5000
) =>
  new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    let head = ""
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no answer to the upgrade within ${boundMs} ms: ${JSON.stringify(head)}`))
    }, boundMs)
    const onData = (chunk: Buffer) => {
      head += chunk.toString("latin1")
      if (!head.includes("\r\n\r\n")) return
      socket.off("data", onData)
      clearTimeout(timer)
      if (!head.startsWith("HTTP/1.1 101")) {
        socket.destroy()
        reject(new Error(`upgrade refused: ${head}`))
      } else resolve(socket)
    }
    socket.on("data", onData)
    socket.once("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.once("connect", () => socket.write(upgradeRequest(port, path, headers)))
  })

/** What streaming one huge frame achieved before the server cut the connection. */
export interface FrameAttempt {
  /** Payload bytes the kernel accepted from us (what the server may have received is at most this). */
  readonly sent: number
  /** The server closed or reset the connection before the whole frame was sent. */
  readonly cut: boolean
  readonly ms: number
}

/**
 * Writes the header of one masked binary frame announcing `announced` payload bytes, then streams
 * the payload in chunks, honouring back-pressure, until it is all sent, the server cuts the
 * connection, or `boundMs` passes.
 */
export const streamHugeFrame = (socket: net.Socket, announced: number, boundMs: number): Promise<FrameAttempt> =>
  new Promise((resolve) => {
    const started = performance.now()
    const header = Buffer.alloc(14)
    header[0] = 0x82 // FIN, binary
    header[1] = 0x80 | 127 // masked, 64-bit length
    header.writeBigUInt64BE(BigInt(announced), 2)
    randomBytes(4).copy(header, 10)
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    let sent = 0
    let done = false
    const finish = (cut: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ sent, cut, ms: performance.now() - started })
    }
    const timer = setTimeout(() => finish(false), boundMs)
    socket.once("close", () => finish(sent < announced))
    socket.on("error", () => finish(true))
    const pump = () => {
      while (!done && sent < announced) {
        const piece = announced - sent >= chunk.length ? chunk : chunk.subarray(0, announced - sent)
        sent += piece.length
        if (!socket.write(piece)) return void socket.once("drain", pump)
      }
      if (!done && sent >= announced) finish(false)
    }
    socket.write(header)
    pump()
  })

export interface HttpAnswer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** One request through node:http (no agent, no header rewriting: browsers' Origin and Sec-Fetch-* are sent as given). */
export const httpRequest = (
  port: number,
  options: {
    readonly method: string
    readonly path: string
    readonly headers?: http.OutgoingHttpHeaders
    readonly body?: string
    readonly timeoutMs?: number
  }
) =>
  new Promise<HttpAnswer>((resolve, reject) => {
    const request = http.request(
      {
        host: "127.0.0.1",
        port,
        method: options.method,
        path: options.path,
        headers: options.headers ?? {},
        agent: false,
        timeout: options.timeoutMs ?? 10_000
      },
      (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (chunk) => (body += chunk))
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }))
        response.on("error", reject)
      }
    )
    request.on("timeout", () => request.destroy(new Error(`no answer within ${options.timeoutMs ?? 10_000} ms`)))
    request.on("error", reject)
    request.end(options.body)
  })
