/**
 * The terminal stream's chunk frame: a binary WebSocket frame, so the pane's bytes travel as they
 * are (no JSON escaping of every ESC and control byte, no base64) and a client writes them
 * straight into its emulator. Built once per chunk and shared by every client that watches.
 *
 *   byte 0        FRAME_TERMINAL_CHUNK (1)
 *   bytes 1–8     seq, float64 big-endian (an integer)
 *   byte 9        n, the session id's length
 *   bytes 10…     the session id (ASCII), then the chunk's bytes (UTF-8) to the frame's end
 */
import type { SessionId } from "../domain/Session.js"

export const FRAME_TERMINAL_CHUNK = 1
const HEADER = 10

export const encodeChunkFrame = (sessionId: SessionId, seq: number, bytes: Uint8Array): Uint8Array => {
  const frame = new Uint8Array(HEADER + sessionId.length + bytes.length)
  const view = new DataView(frame.buffer)
  frame[0] = FRAME_TERMINAL_CHUNK
  view.setFloat64(1, seq)
  frame[9] = sessionId.length
  for (let i = 0; i < sessionId.length; i++) frame[HEADER + i] = sessionId.charCodeAt(i)
  frame.set(bytes, HEADER + sessionId.length)
  return frame
}

export interface ChunkFrame {
  readonly sessionId: string
  readonly seq: number
  readonly bytes: Uint8Array
}

/** undefined for a frame that is not a chunk frame or is cut short. */
export const decodeChunkFrame = (frame: Uint8Array): ChunkFrame | undefined => {
  if (frame.length < HEADER || frame[0] !== FRAME_TERMINAL_CHUNK) return undefined
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  const idLength = frame[9]!
  if (frame.length < HEADER + idLength) return undefined
  return {
    seq: view.getFloat64(1),
    sessionId: String.fromCharCode(...frame.subarray(HEADER, HEADER + idLength)),
    bytes: frame.subarray(HEADER + idLength)
  }
}
