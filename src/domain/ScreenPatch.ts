/**
 * Line diffs between two screens, for the stream's `patch` updates: what changed, not the whole
 * screen. Shared by the daemon (which computes them) and its clients (which apply them).
 *
 * A screen is its lines (the text split on "\n"). A patch is a list of splices applied in order,
 * each at an index of the lines as they stand after the splices before it; joining the result
 * with "\n" gives the new screen exactly.
 */

/** Remove `remove` lines at `at`, then insert `insert` there. */
export interface LineSplice {
  readonly at: number
  readonly remove: number
  readonly insert: ReadonlyArray<string>
}

/** Past this many differing lines a patch replaces everything (it would be as long as the screen). */
export const PATCH_DISTANCE_MAX = 128

export const screenLines = (screen: string): ReadonlyArray<string> => screen.split("\n")

/** Whether two screens' lines are the same, line by line. */
export const sameLines = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * `lines` cut (in place) before the blank (empty or whitespace-only) lines at their end: a capture's
 * rows below the last written. An all-blank screen is one empty line, as `screenLines("")` is, so
 * that lines and screen text always agree.
 */
export const withoutTrailingBlank = (lines: Array<string>): Array<string> => {
  let end = lines.length
  while (end > 0 && lines[end - 1]!.trim() === "") end--
  if (end === 0) {
    lines.length = 1
    lines[0] = ""
  } else if (end < lines.length) lines.length = end
  return lines
}

/**
 * A copy of `line` that does not hold on to the text it was cut from: V8 makes a substring of 13
 * characters or more (what `split` returns) a view of its parent, so a kept line would keep the
 * whole text it came from alive.
 */
export const detachedLine = (line: string): string => (line.length < 13 ? line : (line + "\n").slice(0, -1))

/** The splices that turn `before` into `after` (none when they are equal). */
export const diffLines = (before: ReadonlyArray<string>, after: ReadonlyArray<string>): ReadonlyArray<LineSplice> => {
  let start = 0
  const shorter = Math.min(before.length, after.length)
  while (start < shorter && before[start] === after[start]) start++
  let endBefore = before.length
  let endAfter = after.length
  while (endBefore > start && endAfter > start && before[endBefore - 1] === after[endAfter - 1]) {
    endBefore--
    endAfter--
  }
  if (start === endBefore && start === endAfter) return []
  if (start === endBefore || start === endAfter) {
    return [{ at: start, remove: endBefore - start, insert: after.slice(start, endAfter) }]
  }
  return scrolled(before, after, start, endBefore, endAfter) ?? middleSplices(before, after, start, endBefore, endAfter)
}

/** Lines a scroll is looked for up to (a screenful of output in one update is diffed the long way). */
const SCROLL_MAX = 8

/**
 * The common update of a terminal: the lines scrolled up by a few, new ones came in below, and the
 * last lines (a prompt, a status line) may have changed too. Found in one pass instead of Myers'
 * search: the first line of the new screen is looked for among the old screen's next few; the run
 * of lines that follow it unchanged is kept, the rest replaced. Undefined when no such run covers
 * at least half the old lines (not a scroll).
 */
const scrolled = (
  a: ReadonlyArray<string>,
  b: ReadonlyArray<string>,
  start: number,
  endA: number,
  endB: number
): ReadonlyArray<LineSplice> | undefined => {
  const n = endA - start
  const m = endB - start
  for (let k = 1; k <= Math.min(SCROLL_MAX, n - 1); k++) {
    if (a[start + k] !== b[start]) continue
    const left = n - k
    let kept = 1
    while (kept < left && kept < m && a[start + k + kept] === b[start + kept]) kept++
    if (kept * 2 < left) continue
    const removed: LineSplice = { at: start, remove: k, insert: [] }
    if (kept === left && kept === m) return [removed]
    return [removed, { at: start + kept, remove: left - kept, insert: b.slice(start + kept, endB) }]
  }
  return undefined
}

/**
 * Myers' O((N+M)·D) shortest edit script over the differing middle, turned into splices. A
 * middle that differs in more than PATCH_DISTANCE_MAX lines is replaced whole.
 */
const middleSplices = (
  a: ReadonlyArray<string>,
  b: ReadonlyArray<string>,
  start: number,
  endA: number,
  endB: number
): ReadonlyArray<LineSplice> => {
  const n = endA - start
  const m = endB - start
  const limit = Math.min(n + m, PATCH_DISTANCE_MAX)
  const offset = limit + 1
  const v = new Int32Array(2 * limit + 3)
  const trace: Array<Int32Array> = []
  let found = -1
  search: for (let d = 0; d <= limit; d++) {
    trace.push(v.slice())
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!)
        ? v[offset + k + 1]!
        : v[offset + k - 1]! + 1
      let y = x - k
      while (x < n && y < m && a[start + x] === b[start + y]) {
        x++
        y++
      }
      v[offset + k] = x
      if (x >= n && y >= m) {
        found = d
        break search
      }
    }
  }
  if (found < 0) return [{ at: start, remove: n, insert: b.slice(start, endB) }]

  // Walk back from the end: each step is a run of equal lines preceded by one insert or delete.
  const steps: Array<{ readonly x: number; readonly y: number; readonly kind: "insert" | "delete" }> = []
  let x = n
  let y = m
  for (let d = found; d > 0; d--) {
    const previous = trace[d]!
    const k = x - y
    const down = k === -d || (k !== d && previous[offset + k - 1]! < previous[offset + k + 1]!)
    const prevK = down ? k + 1 : k - 1
    const prevX = previous[offset + prevK]!
    const prevY = prevX - prevK
    steps.push(down ? { x: prevX, y: prevY, kind: "insert" } : { x: prevX, y: prevY, kind: "delete" })
    x = prevX
    y = prevY
  }
  steps.reverse()

  const splices: Array<LineSplice> = []
  let current: { at: number; remove: number; insert: Array<string>; x: number; y: number } | undefined
  for (const step of steps) {
    // consecutive edits with no equal line between them make one splice
    if (current === undefined || current.x !== step.x || current.y !== step.y) {
      if (current !== undefined) splices.push({ at: current.at, remove: current.remove, insert: current.insert })
      current = { at: start + step.y, remove: 0, insert: [], x: step.x, y: step.y }
    }
    if (step.kind === "delete") {
      current.remove++
      current.x++
    } else {
      current.insert.push(b[start + step.y]!)
      current.y++
    }
  }
  if (current !== undefined) splices.push({ at: current.at, remove: current.remove, insert: current.insert })
  return splices
}

/** `lines` with the splices applied; undefined when a splice does not fit (the patch is for another screen). */
export const applySplices = (
  lines: ReadonlyArray<string>,
  splices: ReadonlyArray<LineSplice>
): Array<string> | undefined => {
  // Splices in order (each at or after the end of the one before, as diffLines makes them) are
  // applied in one pass into an array of the final size: every update kept in the output log holds
  // one, so no spare capacity and no arrays of removed lines on the way.
  let length = lines.length
  let end = 0
  let ordered = true
  for (const { at, insert, remove } of splices) {
    if (at < 0 || remove < 0 || at + remove > length) return undefined
    if (at < end) ordered = false
    end = at + insert.length
    length += insert.length - remove
  }
  if (!ordered) {
    const result = lines.slice()
    for (const { at, insert, remove } of splices) result.splice(at, remove, ...insert)
    return result
  }
  const result = new Array<string>(length)
  let from = 0
  let to = 0
  for (const { at, insert, remove } of splices) {
    while (to < at) result[to++] = lines[from++]!
    for (let i = 0; i < insert.length; i++) result[to++] = insert[i]!
    from += remove
  }
  while (to < length) result[to++] = lines[from++]!
  return result
}
