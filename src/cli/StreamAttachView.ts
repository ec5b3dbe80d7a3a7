/**
 * `telemux attach --via stream` as a pure reducer: a message from the daemon (or a chunk of the
 * session's bytes) and the state give the next state and what to do — bytes to write, messages
 * to send, a notice to show, the end. src/cli/StreamAttach.ts runs it against the terminal and
 * the connection.
 *
 * The terminal: a `terminal` snapshot is drawn (ScreenGuard's SOFT_RESET, then `replay` without
 * the history: the person's terminal keeps no scrollback on the alternate screen) and the chunks
 * after its seq are written in order; a later snapshot replaces the screen (a resize, a resync).
 */
import type { ClientMessage, ServerMessage } from "../api/StreamProtocol.js"
import type { SessionId } from "../domain/Session.js"
import { replay } from "../domain/TerminalSnapshot.js"
import { guardScreen } from "./ScreenGuard.js"
import type { TerminalChunkMessage } from "./StreamConnection.js"

export type AttachMessage = ServerMessage | TerminalChunkMessage

export interface AttachViewState {
  readonly sessionId: SessionId
  /** The seq of the last snapshot or chunk written; resume after it. */
  readonly lastSeq: number | undefined
  /** A snapshot was drawn in this attach (before it, a refusal of the subscription ends the attach). */
  readonly drawn: boolean
  /** The session left its alternate screen: chunks wait for the snapshot asked for. */
  readonly awaitingRedraw: boolean
  /** ScreenGuard's held-back bytes. */
  readonly pending: Uint8Array
  /** The person was told that the session keeps another size. */
  readonly toldSize: boolean
}

export const initialViewState = (sessionId: SessionId): AttachViewState => ({
  sessionId,
  lastSeq: undefined,
  drawn: false,
  awaitingRedraw: false,
  pending: new Uint8Array(0),
  toldSize: false
})

export type Ending =
  /** The session closed (its shell exited, `telemux close`): exit 0. */
  | { readonly _tag: "Closed" }
  /** The daemon cannot stream this session's terminal. */
  | { readonly _tag: "Refused"; readonly detail: string }

export type AttachAction =
  /** The session's bytes, written on the screen as it is. */
  | { readonly _tag: "Write"; readonly bytes: Uint8Array | string }
  /** A snapshot drawn: the whole screen replaced (notices shown over it are to be shown again). */
  | { readonly _tag: "Draw"; readonly bytes: Uint8Array | string }
  | { readonly _tag: "Send"; readonly message: ClientMessage }
  /** Shown over the screen's last line for a while, then the screen is redrawn. */
  | { readonly _tag: "Notice"; readonly text: string }
  | { readonly _tag: "End"; readonly ending: Ending }

/** The local terminal, and the detach key as the person reads it. */
export interface AttachContext {
  readonly columns: number
  readonly rows: number
  readonly detachKeyName: string
}

/** The subscription to (re)start: after `lastSeq` when the screen is whole, else a fresh snapshot. */
export const subscription = (state: AttachViewState): ClientMessage => ({
  type: "subscribe",
  sessions: true,
  terminal: [
    state.lastSeq === undefined || state.awaitingRedraw
      ? { sessionId: state.sessionId }
      : { sessionId: state.sessionId, since: state.lastSeq }
  ]
})

/** Asks the daemon for a fresh snapshot (subscribing again without `since`). */
export const redrawRequest = (sessionId: SessionId): ClientMessage => ({
  type: "subscribe",
  terminal: [{ sessionId }]
})

/** The first lines' worth of what the person needs: how to leave. */
export const startNotice = (context: AttachContext): string =>
  `telemux: attached; detach with ${context.detachKeyName} (the session keeps running)`

const NONE: ReadonlyArray<AttachAction> = []

const drawSnapshot = (
  state: AttachViewState,
  message: Extract<ServerMessage, { type: "terminal" }>,
  context: AttachContext
): [AttachViewState, ReadonlyArray<AttachAction>] => {
  const guarded = guardScreen(new Uint8Array(0), Buffer.from(replay({ ...message.snapshot, history: [] }), "utf8"))
  const actions: Array<AttachAction> = [{ _tag: "Draw", bytes: guarded.output }]
  if (!state.drawn) actions.push({ _tag: "Notice", text: startNotice(context) })
  return [
    { ...state, lastSeq: message.seq, drawn: true, awaitingRedraw: false, pending: guarded.pending },
    actions
  ]
}

const writeChunk = (
  state: AttachViewState,
  chunk: TerminalChunkMessage
): [AttachViewState, ReadonlyArray<AttachAction>] => {
  if (state.awaitingRedraw || (state.lastSeq !== undefined && chunk.seq <= state.lastSeq)) return [state, NONE]
  const guarded = guardScreen(state.pending, chunk.bytes)
  const actions: Array<AttachAction> = []
  if (guarded.output.length > 0) actions.push({ _tag: "Write", bytes: guarded.output })
  if (guarded.left) actions.push({ _tag: "Send", message: redrawRequest(state.sessionId) })
  return [{ ...state, lastSeq: chunk.seq, pending: guarded.pending, awaitingRedraw: guarded.left }, actions]
}

const sessionGone = (state: AttachViewState, message: ServerMessage): boolean => {
  switch (message.type) {
    case "sessions":
      return !message.sessions.some((s) => s.sessionId === state.sessionId && s.status !== "closed")
    case "session":
      return message.event === "removed"
        ? message.sessionId === state.sessionId
        : message.session.sessionId === state.sessionId && message.session.status === "closed"
    default:
      return false
  }
}

/** The next state and what to do for one message of the stream. */
export const onAttachMessage = (
  state: AttachViewState,
  message: AttachMessage,
  context: AttachContext
): [AttachViewState, ReadonlyArray<AttachAction>] => {
  switch (message.type) {
    case "chunk":
      return message.sessionId === state.sessionId ? writeChunk(state, message) : [state, NONE]
    case "terminal":
      return message.sessionId === state.sessionId ? drawSnapshot(state, message, context) : [state, NONE]
    case "sessions":
    case "session":
      return sessionGone(state, message) ? [state, [{ _tag: "End", ending: { _tag: "Closed" } }]] : [state, NONE]
    case "size": {
      if (message.sessionId !== state.sessionId || message.applied || state.toldSize) return [state, NONE]
      if (message.cols === context.columns && message.rows === context.rows) return [state, NONE]
      return [{ ...state, toldSize: true }, [{
        _tag: "Notice",
        text: `telemux: shown at the session's own size ${message.cols}x${message.rows} (yours: ` +
          `${context.columns}x${context.rows}): someone attached with tmux keeps it until they detach`
      }]]
    }
    case "inputFailed": {
      if (message.sessionId !== state.sessionId) return [state, NONE]
      const text = message.error === "OutcomeUnknown"
        ? `telemux: no answer for keystrokes (${message.message}); they may have arrived: look before typing them again`
        : `telemux: keystrokes not delivered (${message.message}); type them again`
      return [state, [{ _tag: "Notice", text }]]
    }
    case "error": {
      // the subscription itself was refused (a session of another computer, tmux unavailable)
      const ours = message.message.startsWith(`terminal of session ${state.sessionId}`)
      if (ours && !state.drawn) return [state, [{ _tag: "End", ending: { _tag: "Refused", detail: message.message } }]]
      const next = message.message.startsWith("resize of session")
        ? "the session stays at its size"
        : `if the screen looks wrong, detach (${context.detachKeyName}) and attach again`
      return [state, [{ _tag: "Notice", text: `telemux: ${message.message}; ${next}` }]]
    }
    default:
      return [state, NONE]
  }
}
