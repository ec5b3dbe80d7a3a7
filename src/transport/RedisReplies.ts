/**
 * What Redis's answers mean to the transport: an error reply classified as a TransportFailure, and
 * the replies of XREAD, XINFO and pipelines decoded. Pure: no connection, no I/O.
 */
import { Effect } from "effect"
import { type StreamEntry, TransportError, type TransportFailure } from "../../services/Transport.js"

/** The one stream-entry field; it carries the payload. */
export const PAYLOAD_FIELD = "p"

export const messageOf = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/** Error replies that say more than "refused", by their prefix (Redis's error code). */
const REFUSALS: ReadonlyArray<readonly [RegExp, TransportFailure]> = [
  [/^OOM\b/, "out-of-memory"],
  [/^READONLY\b/, "read-only"],
  [/^(NOAUTH|WRONGPASS|NOPERM)\b/, "denied"]
]

/**
 * An error reply is Redis saying no; anything else (closed, reset, not writable) is the connection:
 * `lost` when the command had been `sent` (it may have run), else `unavailable`. A transaction
 * refused as a whole (`EXECABORT`) is classified by the refusals behind it.
 */
export const classify = (cause: unknown, sent = false): TransportFailure => {
  if (!(cause instanceof Error) || cause.name !== "ReplyError") return sent ? "lost" : "unavailable"
  const behind: unknown = (cause as { readonly previousErrors?: unknown }).previousErrors
  const messages = [cause.message, ...(Array.isArray(behind) ? behind.map(messageOf) : [])]
  for (const [pattern, failure] of REFUSALS) if (messages.some((m) => pattern.test(m))) return failure
  return "refused"
}

/** An error (reply or connection) of `operation`, classified. */
export const failureOf = (operation: string, cause: unknown, sent = false) =>
  new TransportError({ operation, message: messageOf(cause), failure: classify(cause, sent), cause })

/** The replies of a pipeline, each command's error failing the whole. */
export const pipelineReplies = (operation: string, replies: Array<[Error | null, unknown]> | null) => {
  if (replies === null) {
    return Effect.fail(new TransportError({ operation, message: "the pipeline was discarded", failure: "unavailable" }))
  }
  const failed = replies.find(([error]) => error !== null)?.[0]
  return failed == null ? Effect.succeed(replies.map(([, reply]) => reply)) : Effect.fail(failureOf(operation, failed))
}

/** `last-generated-id` from an `XINFO STREAM` reply (a flat field/value list). */
export const lastGeneratedOf = (reply: unknown) => {
  if (!Array.isArray(reply)) return undefined
  const at = reply.findIndex((field, i) => i % 2 === 0 && field === "last-generated-id")
  const id: unknown = at === -1 ? undefined : reply[at + 1]
  return typeof id === "string" ? id : undefined
}

/** The entries of an `XREAD` reply; `undefined` when the reply has another shape. */
export const decodeEntries = (reply: unknown): ReadonlyArray<StreamEntry> | undefined => {
  if (reply === null) return []
  if (!Array.isArray(reply)) return undefined
  const entries: Array<StreamEntry> = []
  for (const streamReply of reply) {
    if (!Array.isArray(streamReply) || typeof streamReply[0] !== "string" || !Array.isArray(streamReply[1])) {
      return undefined
    }
    for (const entry of streamReply[1]) {
      if (!Array.isArray(entry) || typeof entry[0] !== "string" || !Array.isArray(entry[1])) return undefined
      const fields: Array<unknown> = entry[1]
      const at = fields.findIndex((field, i) => i % 2 === 0 && field === PAYLOAD_FIELD)
      const payload = at === -1 ? undefined : fields[at + 1]
      // An entry without our field is still returned (empty), so a reader moves past it.
      entries.push({ stream: streamReply[0], id: entry[0], payload: typeof payload === "string" ? payload : "" })
    }
  }
  return entries
}
