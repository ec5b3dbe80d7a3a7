/**
 * The frames the stream sends, as JSON text. Screen updates are encoded once for every client
 * (see makeOutputFrames); the rest are small and encoded through their schemas.
 */
import { DateTime, Option, Schema } from "effect"
import type { OutputChanged, OutputEvent } from "../../services/OutputLog.js"
import { Session, type SessionId } from "../domain/Session.js"
import { AgentMessage, ErrorMessage, ExitedMessage, ResyncMessage, SessionRemovedMessage } from "./StreamProtocol.js"

/** Encoded screen frames kept for the clients that send them (the latest updates of the busiest sessions). */
export const STREAM_FRAME_CACHE_MAX = 2048

export const READY = JSON.stringify({ type: "ready" })
export const PONG = JSON.stringify({ type: "pong" })
const encodeResync = Schema.encodeSync(ResyncMessage)
export const encodeSession = Schema.encodeSync(Session)
const encodeError = Schema.encodeSync(ErrorMessage)

export const errorFrame = (message: string) => JSON.stringify(encodeError({ type: "error", message }))
export const inputFailedFrame = (sessionId: SessionId, error: string, message: string) =>
  JSON.stringify({ type: "inputFailed", sessionId, error, message })
export const terminalLostFrame = (sessionId: SessionId, error: string, message: string) =>
  JSON.stringify({ type: "terminalLost", sessionId, error, message })
export const sizeFrame = (sessionId: SessionId, cols: number, rows: number, applied: boolean) =>
  JSON.stringify({ type: "size", sessionId, cols, rows, applied })
export const sessionsFrame = (json: string) => `{"type":"sessions","sessions":${json}}`
export const upsertedFrame = (json: string) => `{"type":"session","event":"upserted","session":${json}}`

export const resyncFrame = (sessionId: SessionId, snapshot: Option.Option<OutputChanged>) =>
  JSON.stringify(encodeResync(Option.match(snapshot, {
    onNone: () => ({ type: "resync" as const, sessionId }),
    onSome: (u) => ({ type: "resync" as const, sessionId, seq: u.seq, screen: u.screen, changedAt: u.changedAt })
  })))

export const eventFrame = (event: Exclude<OutputEvent, OutputChanged>): string => {
  switch (event._tag) {
    case "ProcessExited":
      return JSON.stringify(Schema.encodeSync(ExitedMessage)({ type: "exited", sessionId: event.sessionId }))
    // by hand, field for field as DirectoryMessage / CommandMessage encode (plain strings): a busy
    // server's panes change command several hundred times a second
    case "DirectoryChanged":
      return JSON.stringify({ type: "directory", sessionId: event.sessionId, path: event.path })
    case "CommandChanged":
      return JSON.stringify({ type: "command", sessionId: event.sessionId, command: event.command })
    case "AgentActivity":
      return JSON.stringify(
        Schema.encodeSync(AgentMessage)({
          type: "agent",
          sessionId: event.sessionId,
          event: event.event,
          ok: event.ok,
          detail: event.detail
        })
      )
  }
}

/**
 * The frames of screen updates, encoded once for every client and kept for the latest
 * STREAM_FRAME_CACHE_MAX updates (a client catching up further back has its frames encoded again).
 * Written by hand, field for field as OutputMessage / PatchMessage encode (the stream tests decode
 * them with the schemas): the generic encoder was a measurable share of each update's cost.
 */
export const makeOutputFrames = (capacity = STREAM_FRAME_CACHE_MAX) => {
  const cache = new Map<OutputChanged, { output?: string; patch?: string }>()
  // the updates of one capture batch share their `changedAt`: formatted once for all of them
  let lastAt: DateTime.Utc | undefined
  let lastIso = ""
  const iso = (at: DateTime.Utc) => {
    if (at !== lastAt) {
      lastAt = at
      lastIso = DateTime.formatIso(at)
    }
    return lastIso
  }
  const entry = (update: OutputChanged) => {
    let frames = cache.get(update)
    if (frames === undefined) {
      frames = {}
      cache.set(update, frames)
      if (cache.size > capacity) cache.delete(cache.keys().next().value!)
    }
    return frames
  }
  return {
    output: (update: OutputChanged): string => {
      const frames = entry(update)
      return frames.output ??= JSON.stringify({
        type: "output",
        sessionId: update.sessionId,
        seq: update.seq,
        screen: update.screen,
        changedAt: iso(update.changedAt)
      })
    },
    /** Only for an update with a patch. */
    patch: (update: OutputChanged): string => {
      const frames = entry(update)
      return frames.patch ??= JSON.stringify({
        type: "patch",
        sessionId: update.sessionId,
        seq: update.seq,
        base: update.patch!.base,
        splices: update.patch!.splices,
        changedAt: iso(update.changedAt)
      })
    }
  }
}
export type OutputFrames = ReturnType<typeof makeOutputFrames>

export const removedFrame = (sessionId: SessionId, computer: Session["computer"]) =>
  JSON.stringify(Schema.encodeSync(SessionRemovedMessage)({ type: "session", event: "removed", sessionId, computer }))
