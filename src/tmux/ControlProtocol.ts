/**
 * The wire format of a tmux control-mode client (`tmux -C`): what it writes on stdout and how a
 * command line must be written to its stdin. Pure: no I/O, no Effect.
 */

/** A reply block: `%begin t n f` … `%end t n f` (or `%error`). Body lines are raw, never escaped. */
export interface ControlReply {
  readonly _tag: "Reply"
  readonly time: string
  readonly number: string
  /** "1" for commands read from this client's stdin, "0" for the command on its own command line. */
  readonly flags: string
  readonly ok: boolean
  readonly body: ReadonlyArray<string>
}

/**
 * What a pane wrote, as one `%output` gave it. `data` is unescaped and decoded with the pane's own
 * streaming UTF-8 decoder when it is first read, not before: most of a busy server's outputs are
 * read by nobody (a signal is all the output poller needs). Read `data` in the order the parser
 * returned the outputs; a pane's outputs left unread are left out of its decoder's stream.
 */
export interface PaneOutput {
  readonly data: string
  /** False when it holds no ESC byte (read from the escaped bytes, without decoding them). */
  readonly hasEscape: boolean
}

export type ControlMessage =
  | ControlReply
  /** Pane output (see PaneOutput). */
  | ({ readonly _tag: "Output"; readonly paneId: string } & PaneOutput)
  | {
    readonly _tag: "SubscriptionChanged"
    readonly name: string
    readonly sessionId: string
    readonly windowId: string
    readonly windowIndex: string
    readonly paneId: string
    readonly value: string
  }
  | { readonly _tag: "Exit"; readonly reason: string }
  | { readonly _tag: "SessionsChanged" }
  | { readonly _tag: "SessionChanged"; readonly sessionId: string; readonly name: string }
  | { readonly _tag: "WindowClose"; readonly windowId: string }
  | { readonly _tag: "UnlinkedWindowClose"; readonly windowId: string }
  | { readonly _tag: "PaneModeChanged"; readonly paneId: string }
  /** A window's layout changed: its size, or its panes'. */
  | { readonly _tag: "LayoutChange"; readonly windowId: string }

/** Most panes with a half-decoded character kept at once; the least recently written go first. */
export const DECODER_PANES_MAX = 4096

const NEWLINE = 0x0a
const BACKSLASH = 0x5c
const SPACE = 0x20
const utf8 = new TextDecoder("utf-8")

/**
 * Node's Buffer decodes a range of itself without a view of it (what `toString("utf8" | "latin1",
 * start, end)` calls after checking its arguments); invalid UTF-8 becomes U+FFFD, as TextDecoder's.
 */
type Slicing = Buffer & {
  readonly utf8Slice: (start: number, end: number) => string
  readonly latin1Slice: (start: number, end: number) => string
}

const isOctalDigit = (byte: number | undefined) => byte !== undefined && byte >= 0x30 && byte <= 0x37

/** `\ooo` → the byte, `\\` → a backslash; every other byte (UTF-8 included) passes through. */
export const unescapeOutput = (escaped: Uint8Array): Uint8Array => {
  if (escaped.indexOf(BACKSLASH) === -1) return escaped
  const out = new Uint8Array(escaped.length)
  let n = 0
  for (let i = 0; i < escaped.length; i++) {
    const byte = escaped[i]!
    if (byte === BACKSLASH) {
      if (isOctalDigit(escaped[i + 1]) && isOctalDigit(escaped[i + 2]) && isOctalDigit(escaped[i + 3])) {
        out[n++] = ((escaped[i + 1]! - 0x30) << 6) | ((escaped[i + 2]! - 0x30) << 3) | (escaped[i + 3]! - 0x30)
        i += 3
        continue
      }
      if (escaped[i + 1] === BACKSLASH) {
        out[n++] = BACKSLASH
        i += 1
        continue
      }
    }
    out[n++] = byte
  }
  return out.subarray(0, n)
}

/**
 * Bytes known to be ASCII (ids, numbers) as a string, in one native call: a flat string, whose
 * hash is computed once however many maps it is looked up in (a pane id is, several per output).
 */
const ascii = (bytes: Buffer, start: number, end: number): string => (bytes as Slicing).latin1Slice(start, end)

const startsWith = (line: Uint8Array, prefix: Uint8Array) => {
  if (line.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (line[i] !== prefix[i]) return false
  return true
}

const bytesOf = (text: string) => new TextEncoder().encode(text)
const OUTPUT = bytesOf("%output ")
const EXTENDED_OUTPUT = bytesOf("%extended-output ")
const BEGIN = bytesOf("%begin ")
/** ESC as tmux writes it in an output (every byte below a space is written `\ooo`). */
const ESCAPED_ESC = Buffer.from("\\033", "latin1")
/** Separates the reserved fields of a notification from its value. */
const VALUE_MARK = bytesOf(" : ")

const indexOfSequence = (bytes: Uint8Array, needle: Uint8Array, from: number) => {
  outer: for (let i = from; i <= bytes.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

/** An output whose text is decoded when first read (see PaneOutput): one object, its getters on the prototype. */
class LazyOutput implements PaneOutput {
  readonly _tag = "Output"
  readonly #escaped: Buffer
  readonly #decode: (paneId: string, escaped: Buffer) => string
  #data: string | undefined
  constructor(
    readonly paneId: string,
    escaped: Buffer,
    decode: (paneId: string, escaped: Buffer) => string
  ) {
    this.#escaped = escaped
    this.#decode = decode
  }
  get data(): string {
    return this.#data ??= this.#decode(this.paneId, this.#escaped)
  }
  get hasEscape(): boolean {
    return this.#escaped.indexOf(ESCAPED_ESC) !== -1
  }
}

/**
 * How far below its place in the previous body a line is looked for: a screen that scrolled by
 * up to this many lines still gives back the previous strings (more is a screenful of new output).
 */
const SCROLL_LOOKAHEAD = 8

/** Whether `bytes[start, end)` are exactly `text`'s characters, all ASCII: what decoding them would give. */
const sameAscii = (bytes: Buffer, start: number, end: number, text: string) => {
  if (text.length !== end - start) return false
  for (let i = 0; i < text.length; i++) {
    const byte = bytes[start + i]!
    if (byte !== text.charCodeAt(i) || byte > 0x7f) return false
  }
  return true
}

export interface ControlParserOptions {
  readonly maxPanes?: number
  /**
   * Called as each reply block to a command of this client's begins: the body its reply is likely
   * to repeat (the pane's last capture), or undefined. A line whose bytes are one of its ASCII lines,
   * at its place or a scroll below it, is that string, not a new one decoded: an unchanged screen is
   * read without a string made per line, and its lines compare with the last by identity.
   */
  readonly previousBody?: () => ReadonlyArray<string> | undefined
}

export interface ControlParser {
  /** Feeds the next bytes read from the client's stdout; returns the messages they completed. */
  readonly push: (chunk: Uint8Array) => ReadonlyArray<ControlMessage>
  /** True while a reply block has begun and not yet ended. */
  readonly inBlock: () => boolean
}

/**
 * A stateful parser for one control client's stdout. Splits on `\n` in bytes (a line may arrive
 * in several chunks), frames reply blocks by their exact `%begin` triple, and decodes output per pane.
 */
export const makeControlParser = (options: ControlParserOptions = {}): ControlParser => {
  const maxPanes = options.maxPanes ?? DECODER_PANES_MAX
  const decoders = new Map<string, InstanceType<typeof TextDecoder>>()
  let partial: Array<Uint8Array> = []
  let block:
    | {
      time: string
      number: string
      flags: string
      end: string
      error: string
      body: Array<string>
      /** What previousBody gave for this block, and how far its lines have scrolled up in this one. */
      previous: ReadonlyArray<string> | undefined
      shift: number
    }
    | undefined

  /** The previous body's string for the body line `bytes[start, end)`, when it has one (see previousBody). */
  const reused = (previous: ReadonlyArray<string>, bytes: Buffer, start: number, end: number) => {
    const current = block!
    const index = current.body.length
    const at = index + current.shift
    const same = previous[at]
    if (same !== undefined && sameAscii(bytes, start, end, same)) return same
    // an empty line says nothing about a scroll
    if (start === end) return undefined
    const last = Math.min(previous.length - 1, at + SCROLL_LOOKAHEAD)
    for (let k = Math.max(0, at + 1); k <= last; k++) {
      const line = previous[k]!
      if (sameAscii(bytes, start, end, line)) {
        current.shift = k - index
        return line
      }
    }
    return undefined
  }

  const decoderFor = (paneId: string) => {
    let decoder = decoders.get(paneId)
    if (decoder === undefined) {
      decoder = new TextDecoder("utf-8")
      if (decoders.size >= maxPanes) decoders.delete(decoders.keys().next().value!)
    } else {
      decoders.delete(paneId)
    }
    decoders.set(paneId, decoder)
    return decoder
  }

  const decodeOutput = (paneId: string, escaped: Buffer) =>
    decoderFor(paneId).decode(unescapeOutput(escaped), { stream: true })
  const output = (paneId: string, escaped: Buffer): ControlMessage => new LazyOutput(paneId, escaped, decodeOutput)

  const notification = (line: Buffer): ControlMessage | undefined => {
    if (startsWith(line, OUTPUT)) {
      const space = line.indexOf(SPACE, OUTPUT.length)
      if (space === -1) return output(ascii(line, OUTPUT.length, line.length), Buffer.alloc(0))
      return output(ascii(line, OUTPUT.length, space), line.subarray(space + 1))
    }
    if (startsWith(line, EXTENDED_OUTPUT)) {
      const space = line.indexOf(SPACE, EXTENDED_OUTPUT.length)
      const mark = space === -1 ? -1 : indexOfSequence(line, VALUE_MARK, space)
      if (mark === -1) return undefined
      return output(ascii(line, EXTENDED_OUTPUT.length, space), line.subarray(mark + VALUE_MARK.length))
    }
    const text = utf8.decode(line)
    const [name, ...words] = text.split(" ")
    switch (name) {
      case "%subscription-changed": {
        const mark = text.indexOf(" : ")
        if (mark === -1) return undefined
        const [subscription, sessionId, windowId, windowIndex, paneId] = text.slice(0, mark).split(" ").slice(1)
        if (subscription === undefined || paneId === undefined) return undefined
        return {
          _tag: "SubscriptionChanged",
          name: subscription,
          sessionId: sessionId!,
          windowId: windowId!,
          windowIndex: windowIndex!,
          paneId,
          value: text.slice(mark + 3)
        }
      }
      case "%exit":
        return { _tag: "Exit", reason: words.join(" ") }
      case "%sessions-changed":
        return { _tag: "SessionsChanged" }
      case "%session-changed":
        return { _tag: "SessionChanged", sessionId: words[0] ?? "", name: words.slice(1).join(" ") }
      case "%window-close":
        return { _tag: "WindowClose", windowId: words[0] ?? "" }
      case "%unlinked-window-close":
        return { _tag: "UnlinkedWindowClose", windowId: words[0] ?? "" }
      case "%pane-mode-changed":
        return { _tag: "PaneModeChanged", paneId: words[0] ?? "" }
      case "%layout-change":
        return { _tag: "LayoutChange", windowId: words[0] ?? "" }
      default:
        return undefined
    }
  }

  /** A line of `chunk` (from `start` to `end`, without its newline). */
  const line = (chunk: Buffer, start: number, end: number): ControlMessage | undefined => {
    if (block !== undefined) {
      // A line of the last capture comes back as its string; a line starting with `%` is always
      // decoded, to be compared with the block's end (which a pane may print).
      if (block.previous !== undefined && chunk[start] !== 0x25) {
        const same = reused(block.previous, chunk, start, end)
        if (same !== undefined) {
          block.body.push(same)
          return undefined
        }
      }
      // a reply's body (a capture: a hundred lines and more) is decoded line by line from the
      // chunk, with no view made per line: each line is a string of its own, kept as it is
      const text = (chunk as Slicing).utf8Slice(start, end)
      if (text === block.end || text === block.error) {
        const reply: ControlReply = {
          _tag: "Reply",
          time: block.time,
          number: block.number,
          flags: block.flags,
          ok: text === block.end,
          body: block.body
        }
        block = undefined
        return reply
      }
      block.body.push(text)
      return undefined
    }
    const bytes = chunk.subarray(start, end)
    if (bytes[0] === 0x25 && startsWith(bytes, BEGIN)) {
      const [time = "", number = "", flags = ""] = ascii(bytes, BEGIN.length, bytes.length).split(" ")
      const triple = `${time} ${number} ${flags}`
      const previous = flags === "1" ? options.previousBody?.() : undefined
      block = { time, number, flags, end: `%end ${triple}`, error: `%error ${triple}`, body: [], previous, shift: 0 }
      return undefined
    }
    return notification(bytes)
  }

  const push = (read: Uint8Array): ReadonlyArray<ControlMessage> => {
    const chunk = Buffer.isBuffer(read) ? read : Buffer.from(read.buffer, read.byteOffset, read.byteLength)
    const messages: Array<ControlMessage> = []
    let start = 0
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      let message: ControlMessage | undefined
      if (partial.length > 0) {
        partial.push(chunk.subarray(start, nl))
        const whole = Buffer.concat(partial)
        partial = []
        message = line(whole, 0, whole.length)
      } else {
        message = line(chunk, start, nl)
      }
      if (message !== undefined) messages.push(message)
      start = nl + 1
    }
    // Copied: the reader may reuse the chunk's memory for its next read.
    if (start < chunk.length) partial.push(Uint8Array.prototype.slice.call(chunk, start))
    return messages
  }

  return { push, inBlock: () => block !== undefined }
}

/** Arguments tmux's parser reads as themselves: no quotes, `$`, `~`, `#`, `;`, `%`, `=`, `{` or spaces. */
const BARE = /^(--|-?[A-Za-z0-9][A-Za-z0-9_.:@+,/-]*)$/

const ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\"": "\\\"",
  "$": "\\$",
  "~": "\\~",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t"
}

const escapeChar = (char: string): string => {
  const escape = ESCAPES[char]
  if (escape !== undefined) return escape
  const code = char.charCodeAt(0)
  return code < 0x20 || code === 0x7f ? `\\${code.toString(8).padStart(3, "0")}` : char
}

/** A character escapeChar changes: `\`, `"`, `$`, `~`, a control character. */
// eslint-disable-next-line no-control-regex -- the control characters are what it looks for
const ESCAPED = /[\\"$~\u0000-\u001f\u007f]/

const quoted = (arg: string): string => {
  // most quoted arguments (a pane id, `%5`; a path) need no escape: quoted whole, not a char at a time
  if (!ESCAPED.test(arg)) return `"${arg}"`
  let out = "\""
  for (const char of arg) out += escapeChar(char)
  return out + "\""
}

/**
 * Quotes one argument for tmux's command parser so that it arrives as exactly this text: in
 * double quotes, with `\`, `"`, `$` (environment), `~` (home) escaped, and newlines and other
 * control characters written as escapes, since a raw newline would end the command line. `#{…}`
 * passes through; only commands that expand formats (display-message…) expand it.
 */
export const quoteArg = (arg: string): string => BARE.test(arg) ? arg : quoted(arg)

/** One control-mode command line (without its newline) for one command. */
export const commandLine = (args: ReadonlyArray<string>): string => args.map(quoteArg).join(" ")

/**
 * One line for a command list (`a ; b ; c`): tmux parses the line whole and runs its commands in
 * order, without another client's commands between them; the first that fails ends the list.
 * A `;` inside an argument is quoted, so only these separators split it.
 */
export const commandListLine = (commands: ReadonlyArray<ReadonlyArray<string>>): string =>
  commands.map(commandLine).join(" ; ")

/**
 * Reply blocks a command of a list answers in control mode (measured on tmux 3.3a): one of its
 * own; an `if-shell` also one for the command of the branch it ran, right after its own (so both
 * branches are given, of one command each, and an if-shell is the last command of its list or
 * one whose branches cannot fail — a failing branch does not stop the commands after it). A list answers these blocks in order and
 * ends at the last, or at its first `%error` (the commands after a failure are skipped).
 */
export const replyBlocks = (args: ReadonlyArray<string>): number => (args[0] === "if-shell" ? 2 : 1)
