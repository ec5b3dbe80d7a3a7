/**
 * The dashboard's one WebSocket to `/v1/stream` (the cookie authenticates it, from this page's own
 * origin). It reconnects by itself: a backoff from 250 ms doubling to 5 s, reset once a connection
 * opens, and before each attempt one API call says whether this browser is still signed in (a
 * refused upgrade looks like any other failure to a page). What the page watches is kept here and
 * asked for again on every new connection: the session list, and each watched terminal from the
 * last seq its view applied (`since`), so nothing is missed and nothing drawn twice.
 */
import { type ChunkFrame, decodeChunkFrame } from "../../src/api/TerminalFrames.js"
import type { ServerMessageJson } from "./Wire.js"

export type LinkState = "connecting" | "open" | "signedOut"

export interface StreamListener {
  readonly message?: (message: ServerMessageJson) => void
  readonly chunk?: (frame: ChunkFrame) => void
  readonly state?: (state: LinkState) => void
}

const RETRY_FIRST_MS = 250
const RETRY_MAX_MS = 5000
/** A ping this often; a connection that answers nothing for two of them is given up and made anew. */
const PING_EVERY_MS = 15_000

/** `GET` of an authenticated route: false only when the daemon says this browser is not signed in. */
const stillSignedIn = async (): Promise<boolean> => {
  try {
    const response = await fetch("/v1/sessions?limit=1", { credentials: "same-origin" })
    return response.status !== 401
  } catch {
    return true // the daemon is down: keep trying
  }
}

export class StreamLink {
  private ws: WebSocket | undefined
  private stateNow: LinkState = "connecting"
  private retryMs = RETRY_FIRST_MS
  private retryTimer: number | undefined
  private pingTimer: number | undefined
  private lastHeard = 0
  private stopped = false
  private wantSessions = false
  /** Watched terminals → the last seq their view applied (undefined: none yet, a snapshot first). */
  private readonly terminals = new Map<string, () => number | undefined>()
  private readonly listeners = new Set<StreamListener>()

  constructor(private readonly url: string) {}

  get state(): LinkState {
    return this.stateNow
  }

  start(): void {
    this.stopped = false
    this.connect()
  }

  stop(): void {
    this.stopped = true
    window.clearTimeout(this.retryTimer)
    window.clearInterval(this.pingTimer)
    this.ws?.close(1000)
    this.ws = undefined
  }

  listen(listener: StreamListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  watchSessions(): void {
    this.wantSessions = true
    this.send({ type: "subscribe", sessions: true })
  }

  /** Follows a terminal until the returned function is called; `since` is asked on every (re)subscription. */
  watchTerminal(sessionId: string, since: () => number | undefined): () => void {
    this.terminals.set(sessionId, since)
    this.subscribeTerminal(sessionId)
    return () => {
      if (this.terminals.get(sessionId) !== since) return
      this.terminals.delete(sessionId)
      this.send({ type: "unsubscribe", terminal: [sessionId] })
    }
  }

  /** A gap in a terminal's seqs: ask again from the last one applied (the missed frames, or a snapshot). */
  refollowTerminal(sessionId: string): void {
    if (!this.terminals.has(sessionId)) return
    this.send({ type: "unsubscribe", terminal: [sessionId] })
    this.subscribeTerminal(sessionId)
  }

  /** Sends now, or not at all (false) while no connection is open. */
  send(message: object): boolean {
    if (this.ws === undefined || this.ws.readyState !== WebSocket.OPEN) return false
    this.ws.send(JSON.stringify(message))
    return true
  }

  private subscribeTerminal(sessionId: string) {
    const since = this.terminals.get(sessionId)?.()
    this.send({ type: "subscribe", terminal: [since === undefined ? { sessionId } : { sessionId, since }] })
  }

  private setState(state: LinkState) {
    if (state === this.stateNow) return
    this.stateNow = state
    for (const listener of this.listeners) listener.state?.(state)
  }

  private connect() {
    if (this.stopped) return
    const ws = new WebSocket(this.url)
    ws.binaryType = "arraybuffer"
    this.ws = ws
    ws.onopen = () => {
      this.retryMs = RETRY_FIRST_MS
      this.lastHeard = Date.now()
      this.setState("open")
      if (this.wantSessions) this.send({ type: "subscribe", sessions: true })
      for (const sessionId of this.terminals.keys()) this.subscribeTerminal(sessionId)
      this.pingTimer = window.setInterval(() => {
        if (Date.now() - this.lastHeard > 2 * PING_EVERY_MS) ws.close(4000, "no answer")
        else this.send({ type: "ping" })
      }, PING_EVERY_MS)
    }
    ws.onmessage = (event: MessageEvent<unknown>) => {
      this.lastHeard = Date.now()
      if (event.data instanceof ArrayBuffer) {
        const frame = decodeChunkFrame(new Uint8Array(event.data))
        if (frame !== undefined) { for (const listener of this.listeners) listener.chunk?.(frame) }
        return
      }
      if (typeof event.data !== "string") return
      let message: ServerMessageJson
      try {
        message = JSON.parse(event.data) as ServerMessageJson
      } catch {
        return
      }
      for (const listener of this.listeners) listener.message?.(message)
    }
    ws.onclose = () => {
      window.clearInterval(this.pingTimer)
      if (this.ws !== ws) return
      this.ws = undefined
      if (this.stopped) return
      this.setState("connecting")
      const wait = this.retryMs
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS)
      this.retryTimer = window.setTimeout(() => {
        void stillSignedIn().then((signedIn) => {
          if (signedIn) this.connect()
          else this.setState("signedOut")
        })
      }, wait)
    }
  }
}

export const streamUrl = (): string => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/stream`
