/**
 * `replay`: the bytes that draw a terminal snapshot (TerminalSnapshot.ts) on a fresh terminal
 * emulator. Free of `effect`, so the web dashboard bundles it without the Schema library.
 */
import type { TerminalSnapshot } from "./TerminalSnapshot.js"

const ESC = "\x1b"
const CSI = `${ESC}[`

/** Cursor to 0-based (x, y). */
const moveTo = (x: number, y: number) => `${CSI}${y + 1};${x + 1}H`

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[([0-9;:]*)m/g

/**
 * What each SGR parameter sets or clears, by the attribute it belongs to: a parameter replaces the
 * one of its attribute that was in force, so what is in force stays one short sequence however
 * many a line or a whole history sets (bold and dim are two attributes that 22 clears together).
 */
const SETS: Record<string, string> = {
  "1": "bold",
  "2": "dim",
  "3": "italic",
  "4": "underline",
  "21": "underline",
  "5": "blink",
  "6": "blink",
  "7": "inverse",
  "8": "hidden",
  "9": "strike",
  "53": "overline"
}
const CLEARS: Record<string, ReadonlyArray<string>> = {
  "22": ["bold", "dim"],
  "23": ["italic"],
  "24": ["underline"],
  "25": ["blink"],
  "27": ["inverse"],
  "28": ["hidden"],
  "29": ["strike"],
  "55": ["overline"],
  "39": ["fg"],
  "49": ["bg"],
  "59": ["underlineColour"]
}
const EXTENDED: Record<string, string> = { "38": "fg", "48": "bg", "58": "underlineColour" }

/** The attributes in force after `params` (one SGR sequence's), from those in force before. */
const applySgr = (inForce: Map<string, string>, params: string) => {
  const list = params.split(";")
  for (let i = 0; i < list.length; i++) {
    const param = list[i]!
    const code = Number(param.split(":")[0])
    if (param === "" || code === 0) {
      inForce.clear()
    } else if (EXTENDED[param] !== undefined) {
      // `38;5;n` and `38;2;r;g;b`: the colour's parameters follow as parameters of their own
      const length = list[i + 1] === "5" ? 2 : list[i + 1] === "2" ? 4 : 0
      inForce.set(EXTENDED[param]!, list.slice(i, i + 1 + length).join(";"))
      i += length
    } else if (EXTENDED[String(code)] !== undefined) {
      inForce.set(EXTENDED[String(code)]!, param) // the colon form, one parameter: `38:2::r:g:b`
    } else if (CLEARS[param] !== undefined) {
      for (const attribute of CLEARS[param]!) inForce.delete(attribute)
    } else if (code === 4 && param.includes(":")) {
      if (param === "4:0") inForce.delete("underline")
      else inForce.set("underline", param)
    } else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) {
      inForce.set("fg", param)
    } else if ((code >= 40 && code <= 47) || (code >= 100 && code <= 107)) {
      inForce.set("bg", param)
    } else {
      inForce.set(SETS[param] ?? `other ${param}`, param)
    }
  }
}

/** A line's text without its SGR sequences. */
export const withoutSgr = (line: string) => line.replace(SGR, "")

/**
 * Draws `lines` from the cursor's row down, each from column 0 (see `joinRows` for what goes
 * between them). `capture-pane -e` carries attributes from one line into the next,
 * but a line feed that scrolls fills the new line with the current background: so each line ends
 * with a reset, and the next one starts by setting again what was in force.
 */
const drawLines = (lines: ReadonlyArray<string>): Array<string> => {
  const inForce = new Map<string, string>()
  const drawn: Array<string> = []
  for (const line of lines) {
    drawn.push(`${inForce.size === 0 ? "" : `${CSI}${[...inForce.values()].join(";")}m`}${line}${CSI}0m`)
    for (const match of line.matchAll(SGR)) applySgr(inForce, match[1]!)
  }
  return drawn
}

/**
 * A line feed between two drawn rows, none after a row that continues on the next: the row fills
 * the width and the next one's first character wraps, so the terminal marks it wrapped too.
 */
const joinRows = (drawn: ReadonlyArray<string>, continued: ReadonlySet<number>) =>
  drawn.map((row, i) => (i === drawn.length - 1 || continued.has(i) ? row : `${row}\r\n`)).join("")

/**
 * The bytes that make a fresh terminal of the snapshot's size show exactly the snapshot: history
 * scrolled into the scrollback, the screen, the modes, the cursor. Starts with a full reset (RIS),
 * so it may also be written over whatever a terminal showed before.
 */
export const replay = (snapshot: TerminalSnapshot): string => {
  const { cursor, height, modes, scrollRegion, width } = snapshot
  const parts: Array<string> = [`${ESC}c`]
  // the normal screen: history lines scroll off the top into the scrollback as they are written
  const normal = drawLines([...snapshot.history, ...snapshot.screen])
  parts.push(joinRows(normal, new Set(snapshot.continued)))
  let shown = normal.slice(snapshot.history.length)
  if (snapshot.alternate !== undefined) {
    // 1049 saves the cursor on the normal screen and clears the alternate one
    const saved = snapshot.alternate.savedCursor
    shown = drawLines(snapshot.alternate.screen)
    parts.push(moveTo(saved.x, saved.y), `${CSI}?1049h`, `${CSI}H`, joinRows(shown, new Set()))
  }
  if (scrollRegion.top !== 0 || scrollRegion.bottom !== height - 1) {
    parts.push(`${CSI}${scrollRegion.top + 1};${scrollRegion.bottom + 1}r`)
  }
  if (modes.origin) parts.push(`${CSI}?6h`)
  const row = modes.origin ? cursor.y - scrollRegion.top : cursor.y
  if (cursor.x >= width && modes.wrap) {
    // a pending wrap: writing the row again (it fills the width, its last column was just written)
    // leaves the terminal waiting to wrap as well; a cursor moved there would not wrap
    parts.push(moveTo(0, row), shown[cursor.y] ?? "")
  } else {
    parts.push(moveTo(Math.min(cursor.x, width - 1), row))
  }
  if (!modes.wrap) parts.push(`${CSI}?7l`)
  if (modes.insert) parts.push(`${CSI}4h`)
  if (modes.applicationCursor) parts.push(`${CSI}?1h`)
  if (modes.applicationKeypad) parts.push(`${ESC}=`)
  if (modes.bracketedPaste) parts.push(`${CSI}?2004h`)
  const tracking = { none: undefined, x10: 9, normal: 1000, button: 1002, any: 1003 }[modes.mouse]
  if (tracking !== undefined) parts.push(`${CSI}?${tracking}h`)
  if (modes.mouseSgr) parts.push(`${CSI}?1006h`)
  if (modes.mouseUtf8) parts.push(`${CSI}?1005h`)
  if (!modes.cursorVisible) parts.push(`${CSI}?25l`)
  return parts.join("")
}
