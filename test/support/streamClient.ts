import * as fs from "node:fs"
import * as path from "node:path"
import WebSocket from "ws"
import type { DaemonEnv } from "./daemonProcess.js"

export interface Frame {
  readonly type: string
  readonly sessionId?: string
  readonly seq?: number
  readonly screen?: string
}

export interface StreamOptions {
  /** Called with every frame as it arrives, JSON ones decoded, binary ones (terminal chunks) as bytes, in order. */
  readonly onMessage?: (message: Frame | Uint8Array) => void
}

/**
 * A WebSocket client of a test daemon's /v1/stream (token in the header) that keeps every frame and can wait for one:
 * JSON frames in `frames`, binary frames (src/api/TerminalFrames.ts) in `binary`.
 */
export const connectStream = async (env: DaemonEnv, options: StreamOptions = {}) => {
  const token = fs.readFileSync(path.join(env.home, "token"), "utf8").trim()
  const ws = new WebSocket(`ws://127.0.0.1:${env.port}/v1/stream`, { headers: { authorization: `Bearer ${token}` } })
  const frames: Array<Frame> = []
  const binary: Array<Uint8Array> = []
  const listeners = new Set<() => void>()
  ws.on("message", (raw: Buffer, isBinary: boolean) => {
    const message: Frame | Uint8Array = isBinary ? new Uint8Array(raw) : JSON.parse(raw.toString())
    if (message instanceof Uint8Array) binary.push(message)
    else frames.push(message)
    options.onMessage?.(message)
    for (const listener of listeners) listener()
  })
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve())
    ws.once("error", reject)
  })
  const waitFor = (what: string, accept: (frame: Frame) => boolean, timeoutMs = 10_000) =>
    new Promise<Frame>((resolve, reject) => {
      const check = () => {
        const found = frames.find(accept)
        if (found === undefined) return
        listeners.delete(check)
        clearTimeout(timer)
        resolve(found)
      }
      const timer = setTimeout(() => {
        listeners.delete(check)
        reject(
          new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(frames.map((f) => [f.type, f.seq]))}`)
        )
      }, timeoutMs)
      listeners.add(check)
      check()
    })
  return {
    ws,
    frames,
    binary,
    waitFor,
    send: (message: unknown) => ws.send(JSON.stringify(message)),
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve()
        ws.once("close", () => resolve())
        ws.close()
      })
  }
}
