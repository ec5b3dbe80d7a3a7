/**
 * The benchmarks' stream client model: each session's screen kept from `resync`, `output` and
 * `patch` frames, the way a real client keeps it (src/domain/ScreenPatch.ts applies patches).
 */
import { applySplices, type LineSplice, screenLines } from "../src/domain/ScreenPatch.js"

export interface ScreenFrame {
  readonly seq: number | undefined
  readonly lines: ReadonlyArray<string>
}

/** The frame's screen applied; `changed`: the text that is new on it (all of it for a full screen). */
export const applyFrame = (
  screens: Map<string, ScreenFrame>,
  message: any
): { readonly changed: string } | undefined => {
  switch (message.type) {
    case "resync":
    case "output": {
      const lines = typeof message.screen === "string" ? screenLines(message.screen) : []
      screens.set(message.sessionId, { seq: message.seq, lines })
      return { changed: message.screen ?? "" }
    }
    case "patch": {
      const current = screens.get(message.sessionId)
      if (current === undefined || current.seq !== message.base) {
        throw new Error(`patch for seq ${message.base} on ${current?.seq}`)
      }
      const splices = message.splices as ReadonlyArray<LineSplice>
      const lines = applySplices(current.lines, splices)
      if (lines === undefined) throw new Error("a patch that does not fit")
      screens.set(message.sessionId, { seq: message.seq, lines })
      return { changed: splices.map((s) => s.insert.join("\n")).join("\n") }
    }
    default:
      return undefined
  }
}
