import * as fs from "node:fs"
import type { Agent } from "../domain/Session.js"
import type { HookEventJson } from "./HookEvent.js"

/**
 * Agent hook payloads → one `HookEvent` (encoded form). No `effect` here: the hook command runs
 * this on every agent event and must start in tens of milliseconds (importing `effect` costs
 * ~250 ms). A test decodes every result with the HookEvent schema, so the two cannot drift.
 *
 * Payloads, as the agents document them:
 * - Claude Code: JSON on stdin; common `session_id`, `transcript_path`, `cwd`, `hook_event_name`;
 *   SessionStart `source`; UserPromptSubmit `prompt`; Stop `stop_hook_active` (newer versions
 *   also `last_assistant_message`); Notification `message`, `notification_type`.
 * - Codex: `notify` program, the JSON as the last argv: `type: "agent-turn-complete"`,
 *   `thread-id`, `turn-id`, `cwd`, `input-messages`, `last-assistant-message`.
 * - Gemini CLI: JSON on stdin; common `session_id`, `transcript_path`, `cwd`, `hook_event_name`,
 *   `timestamp`; SessionStart `source`; BeforeAgent `prompt`; AfterAgent `prompt`,
 *   `prompt_response`; Notification `notification_type`, `message`, `details`.
 */

export const AGENTS: ReadonlyArray<Agent> = ["claude", "codex", "gemini"]
export const isAgent = (name: string): name is Agent => (AGENTS as ReadonlyArray<string>).includes(name)

/** Mirrors SUMMARY_MAX_CHARS of src/domain/Session.ts (that module loads `effect`; a test pins them equal). */
export const HOOK_SUMMARY_MAX_CHARS = 200
/**
 * How much of a turn's last reply is kept (the whole of it, lines and all, up to this): what a
 * front-end shows as the turn's text (a Telegram message holds 4096 characters).
 */
export const TURN_TEXT_MAX_CHARS = 4000
/** How much of an unreadable payload is kept in HookPayloadInvalid. */
export const HOOK_RAW_MAX_CHARS = 500
/** Only this much of a transcript's end is read to find the last reply. */
export const TRANSCRIPT_TAIL_BYTES = 64 * 1024

/** `summarise` of src/domain/Session.ts, without its `effect` import. */
export const summariseText = (text: string): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length <= HOOK_SUMMARY_MAX_CHARS ? flat : flat.slice(0, HOOK_SUMMARY_MAX_CHARS - 1) + "…"
}

const TURN_TEXT_CUT = "\n… (cut: the whole reply is in the agent's session)"

/** A turn's reply as it is kept: trimmed, cut (and marked so) past TURN_TEXT_MAX_CHARS. */
export const turnText = (text: string): string | undefined => {
  const trimmed = text.trim()
  if (trimmed === "") return undefined
  return trimmed.length <= TURN_TEXT_MAX_CHARS
    ? trimmed
    : trimmed.slice(0, TURN_TEXT_MAX_CHARS - TURN_TEXT_CUT.length) + TURN_TEXT_CUT
}

// ---------------------------------------------------------------------------
// Transcripts

type Json = Record<string, unknown>

const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The text of a transcript message's content: a string, or the `text` blocks of an array. */
const contentText = (content: unknown): string | undefined => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return undefined
  const texts = content.flatMap((block) =>
    isRecord(block) && block.type === "text" && typeof block.text === "string" ? [block.text] : []
  )
  return texts.length === 0 ? undefined : texts.join("\n")
}

/**
 * The last assistant reply with text in a Claude Code transcript (JSONL: one entry per line,
 * `{ type: "assistant", message: { role, content: [{ type: "text", text }, …] } }`). Lines that
 * are cut, malformed or hold only tool calls are skipped.
 */
export const lastAssistantMessageOfJsonl = (jsonl: string): string | undefined => {
  const lines = jsonl.split("\n")
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim()
    if (line === "") continue
    const entry = parseJson(line)
    if (!isRecord(entry)) continue
    const message = entry.message
    const isAssistant = entry.type === "assistant" || (isRecord(message) && message.role === "assistant")
    if (!isAssistant || !isRecord(message)) continue
    const text = contentText(message.content)
    if (text !== undefined && text.trim() !== "") return text
  }
  return undefined
}

/** The last `maxBytes` of a file, from its first whole line; undefined when it cannot be read. */
export const readFileTail = (file: string, maxBytes: number = TRANSCRIPT_TAIL_BYTES): string | undefined => {
  let fd: number | undefined
  try {
    fd = fs.openSync(file, "r")
    const size = fs.fstatSync(fd).size
    const start = Math.max(0, size - maxBytes)
    const buffer = Buffer.alloc(size - start)
    let read = 0
    while (read < buffer.length) {
      const n = fs.readSync(fd, buffer, read, buffer.length - read, start + read)
      if (n === 0) break
      read += n
    }
    const text = buffer.subarray(0, read).toString("utf8")
    // Starting mid-file, the first line is a fragment.
    return start === 0 ? text : text.slice(text.indexOf("\n") + 1)
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

/** The agent's last reply from the end of its JSONL transcript, summarised; bounded reads. */
export const lastAssistantMessageOfTranscript = (file: string): string | undefined => {
  const tail = readFileTail(file)
  const text = tail === undefined ? undefined : lastAssistantMessageOfJsonl(tail)
  return text === undefined ? undefined : turnText(text)
}

// ---------------------------------------------------------------------------
// Normalisation

export interface HookInvocation {
  readonly agent: Agent
  /** The event telemux installed the hook for (argv); the payload's own event name wins when present. */
  readonly event: string
  /** The payload text: stdin (Claude, Gemini) or the last argv (Codex). */
  readonly payload: string
  readonly at: Date
  /** Reads the last reply from a transcript; swapped in tests. */
  readonly lastMessageOfTranscript?: (file: string) => string | undefined
}

const str = (object: Json, key: string): string | undefined => {
  const value = object[key]
  return typeof value === "string" && value !== "" ? value : undefined
}

/** Spreads `{ key: value }` only when the value is there (the schema's optional fields are exact). */
const opt = <K extends string>(key: K, value: string | undefined): { [P in K]?: string } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: string }

const summaryOf = (text: string | undefined): string | undefined => text === undefined ? undefined : summariseText(text)
const replyOf = (text: string | undefined): string | undefined => text === undefined ? undefined : turnText(text)

export const normaliseHookPayload = (invocation: HookInvocation): HookEventJson => {
  const { agent, at, payload } = invocation
  const base = { agent, at: at.toISOString() }
  const invalid = (event: string, reason: string): HookEventJson => ({
    _tag: "HookPayloadInvalid",
    ...base,
    event,
    reason,
    raw: payload.length <= HOOK_RAW_MAX_CHARS ? payload : payload.slice(0, HOOK_RAW_MAX_CHARS)
  })

  const parsed = parseJson(payload)
  if (!isRecord(parsed)) {
    return invalid(invocation.event, payload.trim() === "" ? "empty payload" : "payload is not a JSON object")
  }
  const event = str(parsed, agent === "codex" ? "type" : "hook_event_name") ?? invocation.event
  const nativeSessionId = str(parsed, agent === "codex" ? "thread-id" : "session_id")
  const transcriptPath = str(parsed, "transcript_path")
  const readLast = invocation.lastMessageOfTranscript ?? lastAssistantMessageOfTranscript

  if (agent === "codex") {
    if (event !== "agent-turn-complete") return invalid(event, `unsupported codex notification "${event}"`)
    return {
      _tag: "TurnStopped",
      ...base,
      ...opt("nativeSessionId", nativeSessionId),
      ...opt("lastMessage", replyOf(str(parsed, "last-assistant-message")))
    }
  }

  const started = (): HookEventJson =>
    nativeSessionId === undefined
      ? invalid(event, `${event} without session_id`)
      : {
        _tag: "SessionStarted",
        ...base,
        nativeSessionId,
        ...opt("nativeLogFile", transcriptPath),
        ...opt("source", str(parsed, "source"))
      }
  const prompted = (): HookEventJson => ({
    _tag: "PromptSubmitted",
    ...base,
    ...opt("nativeSessionId", nativeSessionId),
    ...opt("prompt", summaryOf(str(parsed, "prompt")))
  })
  const stopped = (reply: string | undefined): HookEventJson => ({
    _tag: "TurnStopped",
    ...base,
    ...opt("nativeSessionId", nativeSessionId),
    ...opt("lastMessage", reply),
    ...opt("transcriptPath", transcriptPath)
  })
  const notified = (): HookEventJson => ({
    _tag: "InputRequested",
    ...base,
    ...opt("nativeSessionId", nativeSessionId),
    message: summariseText(str(parsed, "message") ?? str(parsed, "title") ?? "input requested"),
    ...opt("notificationType", str(parsed, "notification_type"))
  })

  switch (`${agent}:${event}`) {
    case "claude:SessionStart":
    case "gemini:SessionStart":
      return started()
    case "claude:UserPromptSubmit":
    case "gemini:BeforeAgent":
      return prompted()
    case "claude:Stop": {
      const given = replyOf(str(parsed, "last_assistant_message"))
      return stopped(given ?? (transcriptPath === undefined ? undefined : readLast(transcriptPath)))
    }
    case "gemini:AfterAgent":
      return stopped(replyOf(str(parsed, "prompt_response")))
    case "claude:Notification":
    case "gemini:Notification":
      return notified()
    default:
      return invalid(event, `unsupported ${agent} event "${event}"`)
  }
}
