/**
 * What telemux tells a person, and how it is written for each kind of target: a headline and a
 * line of detail (ntfy, desktop), and the webhook's signed JSON body.
 */
import { createHmac } from "node:crypto"
import type { Agent, ComputerName, SessionId } from "../domain/Session.js"

/**
 * - `waiting_input`: the session started waiting for input (an agent asked a question).
 * - `turn_finished`: an agent finished its turn (its status went from running to idle).
 * - `session_died`: the session ended without anyone closing it (tmux gone, pane dead, an error).
 */
export type NotificationKind = "waiting_input" | "turn_finished" | "session_died"

export interface Notification {
  /** The same in every attempt at every target: a receiver can drop a repeat by it. */
  readonly id: string
  readonly kind: NotificationKind
  readonly sessionId: SessionId
  readonly computer: ComputerName
  readonly title: string
  readonly workingDirectory: string
  readonly agent: Agent | null
  /** The agent's question or last message, or why the session ended; one line, may be empty. */
  readonly detail: string
  /** ISO 8601, when telemux saw it happen. */
  readonly at: string
}

/** One printable line: control characters and escape sequences could redraw a person's terminal. */
export const printable = (text: string, max = 300): string => {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, "").replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim()
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`
}

const WHAT: Record<NotificationKind, string> = {
  waiting_input: "waits for input",
  turn_finished: "finished its turn",
  session_died: "ended unexpectedly"
}

export const headline = (n: Notification): string =>
  printable(`${n.title === "" ? n.sessionId.slice(0, 8) : n.title} ${WHAT[n.kind]} (${n.computer})`, 200)

export const body = (n: Notification): string => {
  const detail = printable(n.detail)
  return detail === "" ? `session ${n.sessionId} in ${n.workingDirectory}` : detail
}

/** ntfy's JSON publish: waiting for input and a session dying are urgent-ish, a finished turn is not. */
export const ntfyMessage = (topic: string, n: Notification): string =>
  JSON.stringify({
    topic,
    title: headline(n),
    message: body(n),
    priority: n.kind === "turn_finished" ? 3 : 4,
    tags: [n.kind === "session_died" ? "warning" : n.kind === "waiting_input" ? "question" : "white_check_mark"]
  })

export const webhookBody = (n: Notification): string =>
  JSON.stringify({
    type: "telemux.notification",
    id: n.id,
    event: n.kind,
    sessionId: n.sessionId,
    computer: n.computer,
    title: n.title,
    workingDirectory: n.workingDirectory,
    agent: n.agent,
    detail: n.detail,
    text: `${headline(n)}: ${body(n)}`,
    at: n.at
  })

/** The webhook's signature: hex HMAC-SHA256 of `<timestamp>.<body>` with TELEMUX_NOTIFY_SECRET. */
export const signature = (secret: string, timestamp: string, payload: string): string =>
  createHmac("sha256", secret).update(`${timestamp}.${payload}`).digest("hex")

export const SIGNATURE_HEADER = "x-telemux-signature"
export const TIMESTAMP_HEADER = "x-telemux-timestamp"
export const EVENT_HEADER = "x-telemux-event"
export const DELIVERY_HEADER = "x-telemux-delivery"
