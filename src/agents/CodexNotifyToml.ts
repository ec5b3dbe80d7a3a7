/**
 * Edits one top-level key of Codex's `~/.codex/config.toml`: `notify = [argv…]`. Line-based
 * but TOML-aware enough to be safe: strings (basic, literal, multi-line), comments and nested
 * arrays/inline tables are tracked, so a `[` inside a value is never taken for a table header
 * and a `notify` inside a table is never touched. The rest of the file is kept byte for byte.
 *
 * Codex runs one notify program. A different `notify` the user had is kept, commented out,
 * right above telemux's line (`# telemux-previous-notify: …`), and put back on uninstall.
 */

export const PREVIOUS_NOTIFY_MARK = "# telemux-previous-notify: "

interface Statement {
  /** First and last line (inclusive) of a top-level `key = value`. */
  readonly start: number
  readonly end: number
  readonly key: string
}

interface Layout {
  /** Top-level statements, in order, before the first table header. */
  readonly statements: ReadonlyArray<Statement>
  /** Line of the first `[table]` / `[[array]]` header, or the line count when there is none. */
  readonly firstHeader: number
}

type Mode = "normal" | "basic" | "literal" | "mlBasic" | "mlLiteral"

/** Splits the top-level region into statements, tracking strings and brackets across lines. */
const layoutOf = (lines: ReadonlyArray<string>): Layout => {
  const statements: Array<Statement> = []
  let mode: Mode = "normal"
  let depth = 0
  let open: { start: number; key: string } | undefined
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!
    const atTopLevel = mode === "normal" && depth === 0 && open === undefined
    if (atTopLevel) {
      const trimmed = line.trimStart()
      if (trimmed.startsWith("[")) return { statements, firstHeader: n }
      const key = /^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=/.exec(line)
      if (key !== null) open = { start: n, key: key[1]!.replace(/^["']|["']$/g, "") }
    }
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!
      if (mode === "normal") {
        if (c === "#") break
        if (line.startsWith(`"""`, i)) {
          mode = "mlBasic"
          i += 2
        } else if (line.startsWith(`'''`, i)) {
          mode = "mlLiteral"
          i += 2
        } else if (c === `"`) mode = "basic"
        else if (c === `'`) mode = "literal"
        else if (c === "[" || c === "{") depth++
        else if (c === "]" || c === "}") depth = Math.max(0, depth - 1)
      } else if (mode === "basic" || mode === "mlBasic") {
        if (c === "\\") i++
        else if (mode === "basic" && c === `"`) mode = "normal"
        else if (mode === "mlBasic" && line.startsWith(`"""`, i)) {
          mode = "normal"
          i += 2
        }
      } else if (mode === "literal" && c === `'`) mode = "normal"
      else if (mode === "mlLiteral" && line.startsWith(`'''`, i)) {
        mode = "normal"
        i += 2
      }
    }
    // a single-line string cannot run past its line
    if (mode === "basic" || mode === "literal") mode = "normal"
    if (open !== undefined && mode === "normal" && depth === 0) {
      statements.push({ start: open.start, end: n, key: open.key })
      open = undefined
    }
  }
  return { statements, firstHeader: lines.length }
}

/** A TOML basic string for `value`. */
export const tomlString = (value: string): string => {
  let out = `"`
  for (const c of value) {
    const code = c.charCodeAt(0)
    if (c === "\\") out += "\\\\"
    else if (c === `"`) out += `\\"`
    else if (c === "\n") out += "\\n"
    else if (c === "\t") out += "\\t"
    else if (c === "\r") out += "\\r"
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, "0")}`
    else out += c
  }
  return out + `"`
}

export const notifyLine = (argv: ReadonlyArray<string>): string => `notify = [${argv.map(tomlString).join(", ")}]`

/** The strings of a TOML array of strings (basic or literal), or undefined for anything else. */
export const parseStringArray = (text: string): ReadonlyArray<string> | undefined => {
  const values: Array<string> = []
  let i = 0
  const skip = () => {
    for (;;) {
      while (i < text.length && /\s/.test(text[i]!)) i++
      if (text[i] === "#") {
        while (i < text.length && text[i] !== "\n") i++
        continue
      }
      return
    }
  }
  skip()
  if (text[i] !== "[") return undefined
  i++
  for (;;) {
    skip()
    if (text[i] === "]") {
      i++
      break
    }
    if (text[i] === `'`) {
      const end = text.indexOf(`'`, i + 1)
      if (end < 0) return undefined
      values.push(text.slice(i + 1, end))
      i = end + 1
    } else if (text[i] === `"`) {
      let value = ""
      i++
      for (;;) {
        const c = text[i]
        if (c === undefined) return undefined
        if (c === `"`) break
        if (c === "\\") {
          const e = text[i + 1]
          const simple: Record<string, string> = { b: "\b", t: "\t", n: "\n", f: "\f", r: "\r", "\"": "\"", "\\": "\\" }
          if (e !== undefined && e in simple) {
            value += simple[e]
            i += 2
          } else if (e === "u" || e === "U") {
            const width = e === "u" ? 4 : 8
            const hex = text.slice(i + 2, i + 2 + width)
            if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) return undefined
            value += String.fromCodePoint(parseInt(hex, 16))
            i += 2 + width
          } else return undefined
        } else {
          value += c
          i++
        }
      }
      values.push(value)
      i++
    } else return undefined
    skip()
    if (text[i] === ",") i++
    else if (text[i] !== "]") return undefined
  }
  skip()
  return i === text.length ? values : undefined
}

const sameArgv = (a: ReadonlyArray<string> | undefined, b: ReadonlyArray<string>) =>
  a !== undefined && a.length === b.length && a.every((word, i) => word === b[i])

const valueOf = (lines: ReadonlyArray<string>, statement: Statement): ReadonlyArray<string> | undefined => {
  const text = lines.slice(statement.start, statement.end + 1).join("\n")
  return parseStringArray(text.slice(text.indexOf("=") + 1))
}

const splitLines = (text: string) => text.split("\n")

/** `config.toml` with telemux's `notify`; the same text when it is already there. */
export const installCodexNotify = (text: string | undefined, argv: ReadonlyArray<string>): string => {
  const ours = notifyLine(argv)
  if (text === undefined || text.trim() === "") return `${ours}\n`
  const lines = splitLines(text)
  const layout = layoutOf(lines)
  const existing = layout.statements.find((s) => s.key === "notify")
  if (existing !== undefined) {
    if (sameArgv(valueOf(lines, existing), argv)) return text
    const kept = lines.slice(existing.start, existing.end + 1).map((line) => PREVIOUS_NOTIFY_MARK + line)
    return [...lines.slice(0, existing.start), ...kept, ours, ...lines.slice(existing.end + 1)].join("\n")
  }
  const last = layout.statements.at(-1)
  const at = last === undefined ? 0 : last.end + 1
  // appending to a last line without its newline: that line ends first
  if (at === lines.length) return `${text}\n${ours}\n`
  return [...lines.slice(0, at), ours, ...lines.slice(at)].join("\n")
}

/** `config.toml` without telemux's `notify`, the user's own put back; unchanged when it is not there. */
export const uninstallCodexNotify = (text: string, argv: ReadonlyArray<string>): string => {
  const lines = splitLines(text)
  const layout = layoutOf(lines)
  const ours = layout.statements.find((s) => s.key === "notify" && sameArgv(valueOf(lines, s), argv))
  if (ours === undefined) return text
  let first = ours.start
  while (first > 0 && lines[first - 1]!.startsWith(PREVIOUS_NOTIFY_MARK)) first--
  const restored = lines.slice(first, ours.start).map((line) => line.slice(PREVIOUS_NOTIFY_MARK.length))
  return [...lines.slice(0, first), ...restored, ...lines.slice(ours.end + 1)].join("\n")
}

/** True when the file's top-level `notify` runs `argv`. */
export const hasCodexNotify = (text: string, argv: ReadonlyArray<string>): boolean => {
  const lines = splitLines(text)
  return layoutOf(lines).statements.some((s) => s.key === "notify" && sameArgv(valueOf(lines, s), argv))
}
