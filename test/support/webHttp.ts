/** One HTTP(S) request with exactly the headers given (browsers' Origin and Sec-Fetch-Site included), read whole. */
import * as http from "node:http"
import * as https from "node:https"

export interface WebReply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
  readonly text: string
  readonly json: any
}

export const webRequest = (
  port: number,
  options: {
    readonly method?: string
    readonly path: string
    readonly headers?: http.OutgoingHttpHeaders
    readonly body?: unknown
    /** HTTPS, trusting this CA (PEM). */
    readonly ca?: string
  }
): Promise<WebReply> =>
  new Promise((resolve, reject) => {
    const data = options.body === undefined ? undefined : JSON.stringify(options.body)
    const headers: http.OutgoingHttpHeaders = {
      host: `127.0.0.1:${port}`,
      ...(data === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(data) }),
      ...options.headers
    }
    const settings = { host: "127.0.0.1", port, path: options.path, method: options.method ?? "GET", headers }
    const onResponse = (response: http.IncomingMessage) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () => {
        const body = Buffer.concat(chunks)
        const text = body.toString("utf8")
        let json: any = undefined
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, text, json })
      })
      response.on("error", reject)
    }
    const request = options.ca === undefined
      ? http.request({ ...settings, agent: false }, onResponse)
      : https.request({ ...settings, agent: false, ca: options.ca, servername: "localhost" }, onResponse)
    request.on("error", reject)
    request.end(data)
  })

/** The `name=value` of a Set-Cookie header. */
export const cookiePair = (setCookie: string | undefined) => (setCookie ?? "").split(";")[0]!.trim()
