/**
 * What the person types, as `/v1/stream` input messages. One read of stdin is one message (a
 * paste arrives in few reads, so it is not sent byte by byte), cut only where a message would be
 * too large: more than the daemon's TERMINAL_INPUT_MAX_BYTES, or a frame longer than
 * STREAM_CLIENT_MESSAGE_MAX once JSON escapes the control bytes (up to six characters each).
 *
 * Bytes go as `binary` (a string of byte values): sent exactly as the terminal produced them,
 * whatever a read cut (a UTF-8 character split between two reads reaches the pane whole, in order).
 */
import { TERMINAL_INPUT_MAX_BYTES } from "../../services/Sessions.js"
import type { ClientMessage } from "../api/StreamProtocol.js"
import { STREAM_CLIENT_MESSAGE_MAX } from "../api/StreamProtocol.js"
import type { SessionId } from "../domain/Session.js"

export type InputMessage = Extract<ClientMessage, { type: "input" }>

/** Room for the rest of the message around `data`: type, sessionId, binary, quotes and braces. */
const ENVELOPE = 256

/** Characters JSON.stringify writes for a byte value as a character (its length in UTF-16 units). */
const escapedLength = (byte: number): number => {
  if (byte === 0x22 || byte === 0x5c) return 2 // \" \\
  if (byte === 0x08 || byte === 0x09 || byte === 0x0a || byte === 0x0c || byte === 0x0d) return 2 // \b \t \n \f \r
  return byte < 0x20 ? 6 : 1 // \u00XX
}

/**
 * The input messages for `bytes`, in order: each at most `maxBytes` bytes and at most `maxChars`
 * characters once encoded (the defaults are the daemon's limits; tests pass small ones).
 */
export const keystrokeMessages = (
  sessionId: SessionId,
  bytes: Uint8Array,
  limits: { readonly maxBytes: number; readonly maxChars: number } = {
    maxBytes: TERMINAL_INPUT_MAX_BYTES,
    maxChars: STREAM_CLIENT_MESSAGE_MAX - ENVELOPE
  }
): ReadonlyArray<InputMessage> => {
  const messages: Array<InputMessage> = []
  let start = 0
  let chars = 0
  const cut = (end: number) => {
    messages.push({
      type: "input",
      sessionId,
      data: Buffer.from(bytes.subarray(start, end)).toString("latin1"),
      binary: true
    })
    start = end
    chars = 0
  }
  for (let i = 0; i < bytes.length; i++) {
    const length = escapedLength(bytes[i]!)
    if (i - start >= limits.maxBytes || chars + length > limits.maxChars) cut(i)
    chars += length
  }
  if (start < bytes.length) cut(bytes.length)
  return messages
}
