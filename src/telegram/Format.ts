/**
 * What the chat shows, as Telegram HTML (parse_mode "HTML"): topic titles, the live tail, lists.
 * Pure: the adapter (layers/TelegramLive.ts) decides when to send; this decides what.
 */
import type { Computer } from "../domain/Computer.js"
import type { Session, SessionStatus } from "../domain/Session.js"

/** Telegram's limit for one message's text; measured here in UTF-8 bytes of the HTML sent, to be safe. */
export const MESSAGE_MAX_BYTES = 4096
/** Telegram's limit for a forum topic's name. */
export const TOPIC_TITLE_MAX = 128
/** Lines of the screen's end the tail shows at most (a phone shows about this many). */
export const TAIL_LINES_MAX = 40

export const escapeHtml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const bytes = (text: string) => Buffer.byteLength(text, "utf8")

export const STATUS_EMOJI: Readonly<Record<SessionStatus, string>> = {
  creating: "🆕",
  running: "🟢",
  idle: "💤",
  waiting_input: "❓",
  closed: "⛔"
}

/** What a topic's title is made of. */
export type Titled = Pick<Session, "status" | "computer" | "workingDirectory" | "agent">

const project = (session: Titled) => {
  const parts = session.workingDirectory.split("/").filter((part) => part !== "")
  return parts.at(-1) ?? "/"
}

/** `🟢 laptop · telemux · claude`: status, computer, project, agent (or shell). */
export const topicTitle = (session: Titled): string => {
  const title = `${STATUS_EMOJI[session.status]} ${session.computer} · ${project(session)} · ${
    session.agent ?? "shell"
  }`
  return [...title].length <= TOPIC_TITLE_MAX ? title : `${[...title].slice(0, TOPIC_TITLE_MAX - 1).join("")}…`
}

export interface Tail {
  readonly html: string
  /** Lines of the screen left out (above what is shown); 0 when it is all there. */
  readonly cut: number
}

/**
 * The end of the screen as a `<pre>` block that fits one message: trailing blank lines dropped, at
 * most TAIL_LINES_MAX lines, fewer when the bytes do not fit. A cut is always said, never silent.
 */
export const renderTail = (screen: string, heading: string): Tail => {
  const lines = screen.replace(/\s+$/, "").split("\n").map((line) => line.replace(/\s+$/, ""))
  const head = heading === "" ? "" : `${escapeHtml(heading)}\n`
  const marker = (cut: number) => `<i>✂️ ${cut} line${cut === 1 ? "" : "s"} above not shown: tap 📄 for all</i>\n`
  let shown = Math.min(lines.length, TAIL_LINES_MAX)
  for (;;) {
    const cut = lines.length - shown
    const body = lines.slice(lines.length - shown).join("\n")
    let html = `${head}${cut > 0 ? marker(cut) : ""}<pre>${escapeHtml(body === "" ? " " : body)}</pre>`
    if (bytes(html) <= MESSAGE_MAX_BYTES) return { html, cut }
    if (shown > 1) {
      shown -= 1
      continue
    }
    // one line too long by itself: keep its end
    let last = lines.at(-1) ?? ""
    while (last.length > 0 && bytes(html) > MESSAGE_MAX_BYTES) {
      last = last.slice(Math.ceil(last.length / 8))
      html = `${head}${marker(cut)}<pre>…${escapeHtml(last)}</pre>`
    }
    return { html, cut: Math.max(cut, 1) }
  }
}

/** Plain text cut to fit one message, saying so. */
export const fitText = (html: string): string => {
  if (bytes(html) <= MESSAGE_MAX_BYTES) return html
  const note = "\n<i>✂️ cut: too long for one message</i>"
  let text = html
  while (bytes(text) + bytes(note) > MESSAGE_MAX_BYTES) text = text.slice(0, Math.floor(text.length * 0.9))
  // never leave half an entity or tag
  return text.replace(/&[a-z]*$/, "").replace(/<[^>]*$/, "") + note
}

export const sessionLine = (session: Session): string =>
  `${STATUS_EMOJI[session.status]} <b>${escapeHtml(session.computer)}</b> · ${escapeHtml(project(session))} · ${
    escapeHtml(session.agent ?? "shell")
  } — ${escapeHtml(session.status)}` +
  (session.lastOutput ? `\n   <i>${escapeHtml(session.lastOutput.slice(0, 80))}</i>` : "")

export const sessionsList = (sessions: ReadonlyArray<Session>): string =>
  fitText(
    sessions.length === 0
      ? "No open sessions. Start one with /new &lt;project&gt; [agent] [prompt]."
      : `<b>${sessions.length} open session${sessions.length === 1 ? "" : "s"}</b>\n` +
        sessions.map(sessionLine).join("\n")
  )

export const computersList = (
  computers: ReadonlyArray<Pick<Computer, "name" | "online" | "role" | "stats">>
): string =>
  fitText(
    computers.length === 0
      ? "No computers known."
      : computers.map((c) =>
        `${c.online ? "🟢" : "⚪"} <b>${escapeHtml(c.name)}</b> (${escapeHtml(c.role)})` +
        (c.stats === null
          ? ""
          : ` cpu ${Math.round(c.stats.cpuPercent)}% · mem ${Math.round(c.stats.memory.percentUsed)}%`)
      ).join("\n")
  )

/** A failure as a person reads it in the chat: its message (typed errors say what to do next). */
export const failureHtml = (error: unknown): string =>
  `⚠️ ${
    escapeHtml(
      typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
    )
  }`
