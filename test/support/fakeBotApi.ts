/**
 * A fake Telegram Bot API on loopback, given to grammY as `apiRoot`: it records every call,
 * serves injected updates through getUpdates (long-polling as Telegram does, offsets confirming),
 * and answers what a test scripts for a method's next calls (429 with retry_after, 409, "message is
 * not modified", "message thread not found").
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface Call {
  readonly method: string
  readonly payload: Record<string, any>
  /** Order of arrival, from 1. */
  readonly n: number
  /** Wall-clock time of arrival (ms). */
  readonly at: number
}

export interface Refusal {
  readonly error_code: number
  readonly description: string
  readonly parameters?: { readonly retry_after?: number }
}

export const TOO_MANY = (retryAfter: number): Refusal => ({
  error_code: 429,
  description: `Too Many Requests: retry after ${retryAfter}`,
  parameters: { retry_after: retryAfter }
})
export const CONFLICT: Refusal = {
  error_code: 409,
  description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
}
export const NOT_MODIFIED: Refusal = {
  error_code: 400,
  description:
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same"
}
export const THREAD_NOT_FOUND: Refusal = { error_code: 400, description: "Bad Request: message thread not found" }

export interface FakeBotApi {
  readonly apiRoot: string
  readonly calls: Array<Call>
  readonly callsOf: (method: string) => ReadonlyArray<Call>
  /** Queues an update (its update_id assigned here); returns the id. */
  readonly inject: (update: Record<string, unknown>) => number
  /** The next `times` calls of `method` get `refusal`. */
  readonly refuse: (method: string, refusal: Refusal, times?: number) => void
  /** Resolves once `check` holds (looked at on every call), rejects after `timeoutMs`. */
  readonly waitFor: (what: string, check: () => boolean, timeoutMs?: number) => Promise<void>
  readonly close: () => Promise<void>
}

const parseMultipart = (body: string, contentType: string): Record<string, any> => {
  const boundary = /boundary=(.+)$/.exec(contentType)?.[1]
  if (boundary === undefined) return {}
  const fields: Record<string, any> = {}
  for (const part of body.split(`--${boundary}`)) {
    const name = /name="([^"]+)"/.exec(part)?.[1]
    if (name === undefined) continue
    const value = part.slice(part.indexOf("\r\n\r\n") + 4).replace(/\r\n$/, "")
    const file = /filename="([^"]+)"/.exec(part)?.[1]
    fields[name] = file === undefined ? value : { filename: file, content: value }
  }
  return fields
}

export interface FakeOptions {
  /**
   * Serve every update ever injected, whatever the offset (as when a poller died before its
   * offset reached Telegram): the poller must skip what it already handled by itself.
   */
  readonly ignoreOffsets?: boolean
  /** What getChat says of the chat (default: a supergroup with Topics on). */
  readonly chat?: { readonly type: string; readonly is_forum?: boolean }
}

export const startFakeBotApi = (options: FakeOptions = {}): Promise<FakeBotApi> =>
  new Promise((resolve) => {
    const calls: Array<Call> = []
    const updates: Array<{ update_id: number } & Record<string, unknown>> = []
    const refusals = new Map<string, Array<Refusal>>()
    const waiters = new Set<() => void>()
    const held = new Set<() => void>()
    let nextUpdate = 1000
    let nextMessage = 1
    let nextThread = 100

    const notify = () => {
      for (const waiter of Array.from(waiters)) waiter()
    }
    const wakeHeld = () => {
      for (const wake of Array.from(held)) wake()
    }

    const result = (method: string, payload: Record<string, any>): unknown => {
      switch (method) {
        case "sendMessage":
        case "sendDocument":
          return {
            message_id: nextMessage++,
            date: Math.floor(Date.now() / 1000),
            chat: { id: Number(payload.chat_id), type: "supergroup" },
            ...(payload.message_thread_id === undefined
              ? {}
              : { message_thread_id: Number(payload.message_thread_id) }),
            text: payload.text ?? ""
          }
        case "getChat":
          return { id: Number(payload.chat_id), ...(options.chat ?? { type: "supergroup", is_forum: true }) }
        case "createForumTopic":
          return { message_thread_id: nextThread++, name: payload.name, icon_color: 7322096 }
        default:
          return true
      }
    }

    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const method = (req.url ?? "").split("/").at(-1) ?? ""
        const raw = Buffer.concat(chunks).toString("utf8")
        const type = req.headers["content-type"] ?? ""
        const payload: Record<string, any> = type.startsWith("multipart/")
          ? parseMultipart(raw, type)
          : raw === ""
          ? {}
          : JSON.parse(raw)
        const answer = (body: unknown) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify(body))
        }
        const record = () => {
          calls.push({ method, payload, n: calls.length + 1, at: Date.now() })
          notify()
        }
        const refusal = refusals.get(method)?.shift()
        if (refusal !== undefined) {
          record()
          res.writeHead(refusal.error_code, { "content-type": "application/json" })
          res.end(JSON.stringify({ ok: false, ...refusal }))
          return
        }
        if (method !== "getUpdates") {
          record()
          return answer({ ok: true, result: result(method, payload) })
        }
        record()
        const offset = Number(payload.offset ?? 0)
        // offset confirms every update before it
        while (options.ignoreOffsets !== true && updates.length > 0 && updates[0]!.update_id < offset) updates.shift()
        const serve = () => answer({ ok: true, result: updates.slice(0, 100) })
        if (updates.length > 0 && (options.ignoreOffsets !== true || updates.at(-1)!.update_id >= offset)) {
          return serve()
        }
        const timer = setTimeout(done, Number(payload.timeout ?? 0) * 1000)
        function done() {
          clearTimeout(timer)
          held.delete(done)
          if (!res.writableEnded) serve()
        }
        held.add(done)
        res.on("close", () => held.delete(done))
      })
    })

    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      resolve({
        apiRoot: `http://127.0.0.1:${port}`,
        calls,
        callsOf: (method) => calls.filter((call) => call.method === method),
        inject: (update) => {
          const update_id = nextUpdate++
          updates.push({ update_id, ...update })
          wakeHeld()
          return update_id
        },
        refuse: (method, refusal, times = 1) => {
          const list = refusals.get(method) ?? []
          for (let i = 0; i < times; i++) list.push(refusal)
          refusals.set(method, list)
        },
        waitFor: (what, check, timeoutMs = 10_000) =>
          new Promise((ok, fail) => {
            if (check()) return ok()
            const timer = setTimeout(() => {
              waiters.delete(waiter)
              fail(
                new Error(
                  `fake Bot API: timed out waiting for ${what}; calls: ${calls.map((c) => c.method).join(", ")}`
                )
              )
            }, timeoutMs)
            const waiter = () => {
              if (!check()) return
              clearTimeout(timer)
              waiters.delete(waiter)
              ok()
            }
            waiters.add(waiter)
          }),
        close: () =>
          new Promise((done) => {
            wakeHeld()
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

/** A text message from `user` in `chat` (in topic `thread` when given). */
export const textMessage = (user: number, chat: number, text: string, thread?: number) => ({
  message: {
    message_id: Math.floor(Math.random() * 1e6),
    date: Math.floor(Date.now() / 1000),
    from: { id: user, is_bot: false, first_name: "Tester" },
    chat: { id: chat, type: "supergroup", title: "telemux", is_forum: true },
    text,
    ...(thread === undefined ? {} : { message_thread_id: thread, is_topic_message: true }),
    ...(text.startsWith("/")
      ? { entities: [{ type: "bot_command", offset: 0, length: text.split(" ")[0]!.length }] }
      : {})
  }
})

/** A press of the button carrying `data` under message `messageId`. */
export const buttonPress = (user: number, chat: number, data: string, messageId: number, thread?: number) => ({
  callback_query: {
    id: String(Math.floor(Math.random() * 1e9)),
    from: { id: user, is_bot: false, first_name: "Tester" },
    chat_instance: "1",
    data,
    message: {
      message_id: messageId,
      date: Math.floor(Date.now() / 1000),
      chat: { id: chat, type: "supergroup", title: "telemux", is_forum: true },
      ...(thread === undefined ? {} : { message_thread_id: thread, is_topic_message: true })
    }
  }
})
