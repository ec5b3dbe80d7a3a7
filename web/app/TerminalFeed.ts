/**
 * A terminal view's rule for what the stream gives it (README, "The terminal"): a `terminal`
 * snapshot is drawn at its size and sets the seq; a chunk is written only when its seq is the last
 * one applied plus one. An older or repeated chunk (the ring replayed after a reconnect, a frame
 * from before a snapshot) is skipped; a later one means frames were lost, and the view must ask
 * again from its last seq. Pure: the emulator is behind `TerminalSink`.
 */
import { replay } from "../../src/domain/TerminalReplay.js"
import type { ServerMessageJson, TerminalSnapshot } from "./Wire.js"

export interface TerminalSink {
  readonly resize: (cols: number, rows: number) => void
  readonly write: (data: string | Uint8Array) => void
}

export type ChunkOutcome = "applied" | "skipped" | "gap"

export class TerminalFeed {
  private seq: number | undefined = undefined

  constructor(private readonly sink: TerminalSink) {}

  /** The last seq drawn: what a new subscription asks to continue from. */
  get lastSeq(): number | undefined {
    return this.seq
  }

  snapshot(seq: number, snapshot: TerminalSnapshot): void {
    this.sink.resize(snapshot.width, snapshot.height)
    this.sink.write(replay(snapshot))
    this.seq = seq
  }

  chunk(seq: number, bytes: Uint8Array): ChunkOutcome {
    // before the first snapshot nothing can be applied: it is on its way
    if (this.seq === undefined || seq <= this.seq) return "skipped"
    if (seq !== this.seq + 1) return "gap"
    this.sink.write(bytes)
    this.seq = seq
    return "applied"
  }
}

/** `text` in pieces of at most `size` units, never between the two halves of a surrogate pair. */
export const pieces = (text: string, size: number): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (let at = 0; at < text.length;) {
    let end = Math.min(at + size, text.length)
    const last = text.charCodeAt(end - 1)
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end = end - 1 === at ? end + 1 : end - 1
    out.push(text.slice(at, end))
    at = end
  }
  return out
}

/**
 * What the page says when keystrokes failed: not delivered (type them again), or no answer came
 * (`OutcomeUnknown`: they may have arrived, so look first: typed again blindly, a command runs twice).
 */
export const inputFailedNotice = (failure: Extract<ServerMessageJson, { readonly type: "inputFailed" }>): string =>
  failure.error === "OutcomeUnknown"
    ? `What you typed may have arrived: look at the screen before typing it again (${failure.message})`
    : `What you typed did not arrive (${failure.message}): type it again.`
