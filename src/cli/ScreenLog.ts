/**
 * `telemux watch` into a pipe: successive screens turned into a log of lines, each printed once.
 *
 * A shell's screen scrolls: what was above the cursor line moves up, new lines appear below. The
 * last non-blank line (the prompt, the line being typed) is still changing, so it is held back
 * until a later screen shows it is finished. When a screen does not continue the previous one
 * (cleared, a full-screen program), all its lines but the last are printed again.
 */

const linesOf = (screen: string): ReadonlyArray<string> => {
  const lines = screen.replace(/\r/g, "").split("\n").map((line) => line.trimEnd())
  let end = lines.length
  while (end > 0 && lines[end - 1] === "") end--
  return lines.slice(0, end)
}

export interface ScreenLog {
  /** Finished lines of the screen so far (all but its last non-blank line). */
  readonly committed: ReadonlyArray<string>
  /** The line still changing, printed only once it is finished (or at the end). */
  readonly pending: string | undefined
}

export const emptyScreenLog: ScreenLog = { committed: [], pending: undefined }

const startsWith = (lines: ReadonlyArray<string>, prefix: ReadonlyArray<string>, from: number): boolean => {
  for (let i = 0; i < prefix.length - from; i++) {
    if (lines[i] !== prefix[from + i]) return false
  }
  return true
}

/** The lines to print for `screen`, and the log to continue from. */
export const advance = (
  log: ScreenLog,
  screen: string
): { readonly print: ReadonlyArray<string>; readonly next: ScreenLog } => {
  const lines = linesOf(screen)
  const committed = lines.slice(0, Math.max(0, lines.length - 1))
  const next: ScreenLog = { committed, pending: lines.length === 0 ? undefined : lines[lines.length - 1] }
  // The smallest scroll `s` for which the new screen begins with what was committed, minus its first s lines.
  const previous = log.committed
  for (let s = 0; s < previous.length; s++) {
    const overlap = previous.length - s
    if (overlap <= committed.length && startsWith(committed, previous, s)) {
      return { print: committed.slice(overlap), next }
    }
  }
  return { print: committed, next }
}

/** What is left to print when watching ends: the held-back line. */
export const flush = (log: ScreenLog): ReadonlyArray<string> =>
  log.pending === undefined || log.pending === "" ? [] : [log.pending]
