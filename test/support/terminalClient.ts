import * as ns from "@xterm/headless"
import { decodeChunkFrame } from "../../src/api/TerminalFrames.js"
import { replay, type TerminalSnapshot } from "../../src/domain/TerminalSnapshot.js"
import type { DaemonEnv } from "./daemonProcess.js"
import { connectStream, type Frame } from "./streamClient.js"

// @xterm/headless is CommonJS: under Node's ESM loader its classes sit on the default export.
const { Terminal } = ((ns as any).Terminal ? ns : (ns as any).default) as typeof ns
type Terminal = ns.Terminal

/** What one terminal client was sent for its session, in arrival order (`connection` counts reconnects from 0). */
export type Seen =
  | {
    readonly kind: "terminal"
    readonly connection: number
    readonly seq: number
    readonly snapshot: TerminalSnapshot
  }
  | { readonly kind: "chunk"; readonly connection: number; readonly seq: number; readonly bytes: Uint8Array }

export interface Cell {
  readonly chars: string
  readonly width: number
  /** "default", "p16:<n>" (SGR 30–37/90–97), "p256:<n>" (38;5;n) or "#rrggbb". */
  readonly fg: string
  readonly bg: string
  readonly bold: boolean
  readonly dim: boolean
  readonly italic: boolean
  readonly underline: boolean
  readonly inverse: boolean
}

/** The emulator's visible screen (what a person would see), its cursor and its modes. */
export interface Screen {
  readonly width: number
  readonly height: number
  /** Each row's text, trailing blanks trimmed. */
  readonly lines: ReadonlyArray<string>
  readonly cells: ReadonlyArray<ReadonlyArray<Cell>>
  /** Each row's attributes as runs `x-x: fg bg flags` (default cells left out): a readable diff when screens differ. */
  readonly styles: ReadonlyArray<string>
  readonly cursor: { readonly x: number; readonly y: number }
  readonly alternate: boolean
}

const colour = (mode: "Fg" | "Bg", cell: ns.IBufferCell): string => {
  if (mode === "Fg" ? cell.isFgDefault() : cell.isBgDefault()) return "default"
  const value = mode === "Fg" ? cell.getFgColor() : cell.getBgColor()
  if (mode === "Fg" ? cell.isFgRGB() : cell.isBgRGB()) return `#${value.toString(16).padStart(6, "0")}`
  // the colour mode tells 16-colour SGR (30–37, 90–97) from 256-colour (38;5;n)
  const raw = mode === "Fg" ? cell.getFgColorMode() : cell.getBgColorMode()
  return raw === 0x1000000 ? `p16:${value}` : `p256:${value}`
}

const cellOf = (cell: ns.IBufferCell): Cell => ({
  chars: cell.getChars(),
  width: cell.getWidth(),
  fg: colour("Fg", cell),
  bg: colour("Bg", cell),
  bold: cell.isBold() !== 0,
  dim: cell.isDim() !== 0,
  italic: cell.isItalic() !== 0,
  underline: cell.isUnderline() !== 0,
  inverse: cell.isInverse() !== 0
})

const styleOf = (cell: Cell): string =>
  [
    cell.fg === "default" ? "" : `fg=${cell.fg}`,
    cell.bg === "default" ? "" : `bg=${cell.bg}`,
    cell.bold ? "bold" : "",
    cell.dim ? "dim" : "",
    cell.italic ? "italic" : "",
    cell.underline ? "underline" : "",
    cell.inverse ? "inverse" : ""
  ].filter((s) => s !== "").join(" ")

const runsOf = (row: ReadonlyArray<Cell>): string => {
  const runs: Array<string> = []
  let start = 0
  for (let x = 1; x <= row.length; x++) {
    const style = styleOf(row[start]!)
    if (x < row.length && styleOf(row[x]!) === style) continue
    if (style !== "") runs.push(`${start}-${x - 1}: ${style}`)
    start = x
  }
  return runs.join("; ")
}

/** Reads the emulator's visible screen (call after `settled`). */
export const screenOf = (term: Terminal): Screen => {
  const buffer = term.buffer.active
  const lines: Array<string> = []
  const cells: Array<Array<Cell>> = []
  const reuse = buffer.getNullCell()
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.baseY + y)
    lines.push(line?.translateToString(true) ?? "")
    const row: Array<Cell> = []
    for (let x = 0; x < term.cols; x++) {
      const cell = line?.getCell(x, reuse)
      row.push(
        cell === undefined
          ? {
            chars: "",
            width: 1,
            fg: "default",
            bg: "default",
            bold: false,
            dim: false,
            italic: false,
            underline: false,
            inverse: false
          }
          : cellOf(cell)
      )
    }
    cells.push(row)
  }
  return {
    width: term.cols,
    height: term.rows,
    lines,
    cells,
    styles: cells.map(runsOf),
    cursor: { x: buffer.cursorX, y: buffer.cursorY },
    alternate: buffer.type === "alternate"
  }
}

/** The parts of two screens a test compares (cells are in `styles` and `lines`), for one deepStrictEqual with a readable diff. */
export const comparable = (screen: Screen) => ({
  size: `${screen.width}x${screen.height}`,
  alternate: screen.alternate,
  cursor: screen.cursor,
  lines: screen.lines,
  styles: screen.styles
})

const HIGH_WATER = 1024 * 1024
const LOW_WATER = 256 * 1024

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A terminal client of one session on a test daemon's /v1/stream, with an @xterm/headless emulator
 * kept in step with the stream as a browser would keep xterm.js: a `terminal` message resizes the
 * emulator and replays the snapshot over whatever it showed; a chunk frame is written when its seq
 * follows the last one applied (an older one is skipped, a gap is recorded in `gaps`). Reconnecting
 * keeps the emulator, as a client resuming with `since` does.
 */
export const openTerminal = async (
  env: DaemonEnv,
  sessionId: string,
  options: { readonly since?: number; readonly cols?: number; readonly rows?: number } = {}
) => {
  const term = new Terminal({
    cols: options.cols ?? 80,
    rows: options.rows ?? 24,
    scrollback: 1000,
    allowProposedApi: true
  })
  const seen: Array<Seen> = []
  const gaps: Array<{ readonly after: number; readonly got: number }> = []
  /** The last seq applied (a snapshot's or a chunk's); -1 before the first snapshot. */
  let lastSeq = -1
  let connection = -1
  /**
   * Flow control as xterm.js recommends for a fast producer: past HIGH_WATER bytes not yet drawn the
   * socket is paused, below LOW_WATER it reads again. Without it a flood piles up in this process
   * and the client never looks slow to the daemon. `stalled` is the test's own pause.
   */
  let undrawn = 0
  let stalled = false
  let paused = false
  const flow = () => {
    const socket = (stream.ws as any)._socket as { pause(): void; resume(): void } | null | undefined
    if (socket == null) return
    if (!paused && (stalled || undrawn > HIGH_WATER)) {
      paused = true
      socket.pause()
    } else if (paused && !stalled && undrawn < LOW_WATER) {
      paused = false
      socket.resume()
    }
  }
  /**
   * Writes go straight into the emulator's own write buffer, which keeps their order (one write
   * awaited after another would cost a timer tick each). Only a resize waits for what came before
   * it to be drawn; what arrives meanwhile waits in `held`.
   */
  let held: Array<() => void> | undefined
  const write = (data: string | Uint8Array) =>
    term.write(data, () => {
      undrawn -= data.length
      flow()
    })
  const draw = (data: string | Uint8Array, resize?: () => void) => {
    undrawn += data.length
    flow()
    const apply = () => {
      if (resize === undefined) return write(data)
      held = []
      term.write("", () => {
        resize()
        write(data)
        const waiting = held!
        held = undefined
        for (let i = 0; i < waiting.length; i++) {
          // another resize among them: the rest waits for it
          if (held !== undefined) {
            ;(held as Array<() => void>).push(...waiting.slice(i))
            break
          }
          waiting[i]!()
        }
      })
    }
    if (held !== undefined) held.push(apply)
    else apply()
  }
  /** Resolves once every frame received so far is drawn. */
  const settled = () =>
    new Promise<void>((resolve) => {
      const flush = () => term.write("", resolve)
      if (held !== undefined) held.push(flush)
      else flush()
    })

  const onMessage = (index: number) => (message: Frame | Uint8Array) => {
    if (message instanceof Uint8Array) {
      const chunk = decodeChunkFrame(message)
      if (chunk === undefined || chunk.sessionId !== sessionId) return
      const bytes = new Uint8Array(chunk.bytes)
      seen.push({ kind: "chunk", connection: index, seq: chunk.seq, bytes })
      if (lastSeq < 0 || chunk.seq <= lastSeq) return
      if (chunk.seq !== lastSeq + 1) gaps.push({ after: lastSeq, got: chunk.seq })
      lastSeq = chunk.seq
      draw(bytes)
      return
    }
    const json = message as Frame & { readonly snapshot?: TerminalSnapshot }
    if (json.type !== "terminal" || json.sessionId !== sessionId) return
    const snapshot = json.snapshot!
    seen.push({ kind: "terminal", connection: index, seq: json.seq!, snapshot })
    lastSeq = json.seq!
    draw(replay(snapshot), () => term.resize(snapshot.width, snapshot.height))
  }

  const connect = async () => {
    connection++
    return connectStream(env, { onMessage: onMessage(connection) })
  }

  let stream = await connect()
  const subscribe = (since?: number) =>
    stream.send({ type: "subscribe", terminal: [since === undefined ? { sessionId } : { sessionId, since }] })
  subscribe(options.since)

  const screen = async () => {
    await settled()
    return screenOf(term)
  }

  /** Polls the drawn screen until `accept` holds; fails with the last screen seen. */
  const waitForScreen = async (what: string, accept: (screen: Screen) => boolean, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const now = await screen()
      if (accept(now)) return now
      if (Date.now() > deadline) {
        throw new Error(`no ${what} within ${timeoutMs} ms; the screen:\n${now.lines.join("\n")}`)
      }
      await sleep(50)
    }
  }

  return {
    sessionId,
    term,
    seen,
    gaps,
    get lastSeq() {
      return lastSeq
    },
    get connection() {
      return connection
    },
    /** The current connection's JSON frames (`size`, `inputFailed`, `error` answers). */
    get frames() {
      return stream.frames
    },
    waitFor: (what: string, accept: (frame: Frame & Record<string, any>) => boolean, timeoutMs?: number) =>
      stream.waitFor(what, accept as (frame: Frame) => boolean, timeoutMs) as Promise<Frame & Record<string, any>>,
    settled,
    screen,
    waitForScreen,
    /** Keystrokes: text (its UTF-8 bytes), or with `binary` one byte per character. */
    input: (data: string, binary?: true) =>
      stream.send({ type: "input", sessionId, data, ...(binary === true ? { binary } : {}) }),
    resize: (cols: number, rows: number) => stream.send({ type: "resize", sessionId, cols, rows }),
    subscribe,
    /** Stops reading the socket (the daemon's writes pile up in the kernel, then in its own buffers). */
    pause: () => {
      stalled = true
      flow()
    },
    resume: () => {
      stalled = false
      flow()
    },
    disconnect: () => stream.close(),
    /** A new connection that subscribes with `since` (default: the last seq applied), keeping the emulator. */
    reconnect: async (since: number | undefined = lastSeq) => {
      await stream.close()
      stream = await connect()
      paused = false
      flow()
      subscribe(since)
    },
    close: async () => {
      await stream.close()
      term.dispose()
    }
  }
}

export type TerminalClient = Awaited<ReturnType<typeof openTerminal>>
