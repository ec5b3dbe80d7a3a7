/**
 * tmux as the daemon speaks it, in one place: the argv of each command it runs (spawned or over the
 * control channel), the `-F` formats and the parsers of what they print, and what a failure means.
 * Pure: no I/O (an Effect only where a parse fails with a typed error).
 */
import { Effect, Schema } from "effect"
import {
  CAPTURE_HISTORY_MAX,
  type CreateSessionOptions,
  PANE_HEIGHT_DEFAULT,
  PANE_WIDTH_DEFAULT,
  type PaneInfo,
  TMUX_MIN_VERSION,
  TmuxCommandFailed,
  TmuxSessionNotFound
} from "../../services/TerminalBridge.js"
import type { KeyPress } from "../domain/Keys.js"
import { SHELLS } from "../domain/Screen.js"
import { PaneId, type TmuxName } from "../domain/Session.js"
import { commandLine } from "./ControlProtocol.js"

const isPaneId = Schema.is(PaneId)

// ---------------------------------------------------------------------------------------------
// Addressing

/**
 * The argv every tmux process of the daemon starts with. `-u`: UTF-8 output whatever the
 * daemon's locale; without it tmux turns control characters (our field separator) and non-ASCII
 * text into "_".
 */
export const tmuxArgv = (
  socket: string,
  args: ReadonlyArray<string>
): ReadonlyArray<string> => ["-u", "-L", socket, ...args]

/** The command's name (`capture-pane`), for errors and logs. */
export const subcommandOf = (args: ReadonlyArray<string>): string =>
  args.find((a) => !a.startsWith("-")) ?? args.join(" ")

/** What a command is addressed at (its `-t`), or its name when it has no target. */
export const targetOf = (args: ReadonlyArray<string>): string => {
  const i = args.indexOf("-t")
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : subcommandOf(args)
}

// ---------------------------------------------------------------------------------------------
// Failures

const NO_SERVER = /no server running|error connecting to .*\((No such file or directory|Connection refused)\)/
const NOT_FOUND = new RegExp(`can't find (session|pane|window)|${NO_SERVER.source}`)

/** tmux's answer when no server runs on the socket (nothing exists on it, so nothing to list). */
export const isNoServer = (stderr: string): boolean => NO_SERVER.test(stderr)

/** The one "not found" rule: the target, or the whole server, does not exist. */
export const isNotFound = (stderr: string): boolean => NOT_FOUND.test(stderr)

/** What a command that tmux refused means: its target is gone, or it failed for another reason. */
export const commandFailure = (failed: {
  readonly command: string
  readonly target: string
  readonly exitCode: number | null
  readonly stderr: string
}): TmuxSessionNotFound | TmuxCommandFailed =>
  isNotFound(failed.stderr)
    ? new TmuxSessionNotFound({ target: failed.target })
    : new TmuxCommandFailed({ command: failed.command, exitCode: failed.exitCode, stderr: failed.stderr })

// ---------------------------------------------------------------------------------------------
// Version

export const versionArgs: ReadonlyArray<string> = ["-V"]

/** `"tmux 3.3a"`, `"tmux next-3.4"`, `"tmux master"`, `"tmux openbsd-7.4"` → supported or not. */
export const parseTmuxVersion = (
  output: string
): { readonly major: number; readonly minor: number } | "development" | undefined => {
  const text = output.trim()
  if (/^tmux\s+(master|openbsd-)/.test(text)) return "development"
  const match = /^tmux\s+(?:next-)?(\d+)\.(\d+)/.exec(text)
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : undefined
}

export const isSupportedTmuxVersion = (output: string): boolean => {
  const parsed = parseTmuxVersion(output)
  if (parsed === undefined) return false
  if (parsed === "development") return true
  return parsed.major > TMUX_MIN_VERSION.major ||
    (parsed.major === TMUX_MIN_VERSION.major && parsed.minor >= TMUX_MIN_VERSION.minor)
}

// ---------------------------------------------------------------------------------------------
// Panes

/** Separates fields of `-F` formats; tmux passes it through unescaped and it never occurs in names. */
export const FIELD_SEPARATOR = "\u001f"

export const PANE_FORMAT = [
  "#{pane_id}",
  "#{pane_pid}",
  "#{pane_dead}",
  "#{pane_in_mode}",
  "#{session_name}",
  "#{pane_current_command}",
  "#{window_activity}",
  // Last, so a separator inside the path cannot shift the other fields.
  "#{pane_current_path}"
].join(FIELD_SEPARATOR)

/** Every pane of every session on the server, one PANE_FORMAT line each. */
export const listPanesArgs: ReadonlyArray<string> = ["list-panes", "-a", "-F", PANE_FORMAT]

export const parsePaneLine = (line: string): PaneInfo | undefined => {
  const fields = line.split(FIELD_SEPARATOR)
  if (fields.length < 8) return undefined
  const [paneId, pid, dead, inMode, sessionName, currentCommand, activity] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string
  ]
  const panePid = Number(pid)
  if (!isPaneId(paneId) || !Number.isInteger(panePid)) return undefined
  return {
    sessionName,
    paneId,
    panePid,
    dead: dead === "1",
    inMode: inMode === "1",
    currentCommand,
    activityAt: Number(activity) * 1000 || 0,
    currentPath: fields.slice(7).join(FIELD_SEPARATOR)
  }
}

export const parsePaneList = (stdout: string): ReadonlyArray<PaneInfo> =>
  stdout.split("\n").flatMap((line) => {
    const pane = line.length === 0 ? undefined : parsePaneLine(line)
    return pane === undefined ? [] : [pane]
  })

/** The visible screen plus up to `historyLines` (bounded by CAPTURE_HISTORY_MAX) lines above it. */
export const captureArgs = (pane: PaneId, historyLines: number): ReadonlyArray<string> => {
  const lines = Math.min(CAPTURE_HISTORY_MAX, Math.max(0, Math.trunc(historyLines)))
  return ["capture-pane", "-p", "-t", pane, ...(lines > 0 ? ["-S", `-${lines}`] : [])]
}

export const trimTrailingBlankLines = (text: string): string => {
  const lines = text.split("\n")
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === "") lines.pop()
  return lines.join("\n")
}

/** tmux accepts window sizes in this range. */
const SIZE_MIN = 1
const SIZE_MAX = 10000

export const clampSize = (n: number) => Math.min(SIZE_MAX, Math.max(SIZE_MIN, Math.trunc(n)))

export const resizeArgs = (pane: PaneId, width: number, height: number): ReadonlyArray<string> => [
  "resize-window",
  "-t",
  pane,
  "-x",
  String(clampSize(width)),
  "-y",
  String(clampSize(height))
]

// ---------------------------------------------------------------------------------------------
// Input

/**
 * Every press in one `send-keys` command, repeats spelled out: tmux runs a command whole, so the
 * keys arrive together or not at all (a `;` list stops halfway when one of its commands fails).
 */
export const sendKeysArgs = (pane: PaneId, keys: ReadonlyArray<KeyPress>): ReadonlyArray<string> => [
  "send-keys",
  "-t",
  pane,
  ...keys.flatMap((press) => Array.from({ length: press.repeat }, () => press.key))
]

/** Leaves copy-mode (or any pane mode) first; a pane in none is left as it is, without an error. */
export const leaveModeArgs = (pane: PaneId): ReadonlyArray<string> => ["copy-mode", "-q", "-t", pane]

/**
 * True (a tmux format) when the pane's foreground process is a shell: one that reads a paste and
 * the Enter right after it as a line (readline's bracketed paste, or the tty's line discipline).
 * A glob match of `*|<command>|*` against `|bash|zsh|…|`: one expansion of the command and no
 * regular expression, which tmux would compile on every input (a regex `m/r` made each typed
 * input's list 0.19 ms slower in tmux, measured). A command holding `*`, `?` or `[` could match
 * wrongly; no shell's name does, and such a program at worst gets its Enter at once.
 */
const atShellFormat = `#{m:*|#{pane_current_command}|*,|${[...SHELLS].join("|")}|}`

/**
 * Leaves any mode as leaveModeArgs does and, where the pane is not at its shell, marks the moment
 * on the way: entering copy-mode and leaving it in one list makes tmux tell every control client
 * `%pane-mode-changed` (twice), after all output it had read from the pane until then and before
 * any the commands after it cause. No screen is drawn in between. At a shell the mark is left out
 * (it costs tmux about half a millisecond): enterAtShellArgs, deciding by the same format, sends
 * the Enter at once and nothing waits for the mark. The `if-shell` branches are one command each,
 * neither of which can fail where the `if-shell` found the pane, so the list answers a fixed count
 * of reply blocks (see replyBlocks).
 */
export const leaveModeMarkedArgs = (pane: PaneId): ReadonlyArray<ReadonlyArray<string>> => [
  [
    "if-shell",
    "-F",
    "-t",
    pane,
    atShellFormat,
    commandLine(leaveModeArgs(pane)),
    commandLine(["copy-mode", "-t", pane])
  ],
  leaveModeArgs(pane)
]

/** What the `else` branch of `enterAtShellArgs` prints: the Enter was not sent, the caller sends it. */
export const ENTER_DEFERRED = "telemux-enter-deferred"

/**
 * Enter now when the pane is at its shell, decided by tmux at the instant the paste before it
 * ran; otherwise prints ENTER_DEFERRED and sends nothing: an application that reads an early
 * Enter as part of the paste gets it only once the paste has landed. Answers two reply blocks in
 * control mode (see replyBlocks): last in its list.
 */
export const enterAtShellArgs = (pane: PaneId): ReadonlyArray<string> => [
  "if-shell",
  "-F",
  "-t",
  pane,
  atShellFormat,
  commandLine(sendKeysArgs(pane, [{ key: "Enter", repeat: 1 }])),
  commandLine(["display-message", "-p", ENTER_DEFERRED])
]

/** Whether the branch `enterAtShellArgs` ran (its stdout, or its block's body) deferred the Enter. */
export const enterDeferred = (output: string): boolean => output.trim() === ENTER_DEFERRED

/** A paste goes through a named buffer of its own, so concurrent pastes never share one. */
export const pasteBufferName = (unique: string) => `telemux-${unique}`

/** Fills the buffer from stdin (a spawned tmux). */
export const loadBufferArgs = (buffer: string): ReadonlyArray<string> => ["load-buffer", "-b", buffer, "-"]

/** Fills the buffer from an argument (the control channel, which has no stdin per command). */
export const setBufferArgs = (
  buffer: string,
  text: string
): ReadonlyArray<string> => ["set-buffer", "-b", buffer, "--", text]

/** Pastes and deletes the buffer; `-p`: bracketed only when the application asked for it. */
export const pasteBufferArgs = (buffer: string, pane: PaneId): ReadonlyArray<string> => [
  "paste-buffer",
  "-p",
  "-d",
  "-b",
  buffer,
  "-t",
  pane
]

export const deleteBufferArgs = (buffer: string): ReadonlyArray<string> => ["delete-buffer", "-b", buffer]

// ---------------------------------------------------------------------------------------------
// Sessions and windows

/** `new-session` for a telemux session: detached, sized, with its env, printing the pane id. */
export const newSessionArgs = (create: CreateSessionOptions): ReadonlyArray<string> => [
  "new-session",
  "-d",
  "-s",
  create.name,
  "-c",
  create.cwd,
  "-x",
  String(clampSize(create.width ?? PANE_WIDTH_DEFAULT)),
  "-y",
  String(clampSize(create.height ?? PANE_HEIGHT_DEFAULT)),
  ...Object.entries(create.env).flatMap(([key, value]) => ["-e", `${key}=${value}`]),
  "-P",
  "-F",
  "#{pane_id}",
  ...(create.command === undefined ? [] : [create.command])
]

/** The pane id `new-session -P -F '#{pane_id}'` printed. */
export const paneIdFrom = (output: string): Effect.Effect<PaneId, TmuxCommandFailed> => {
  const paneId = output.trim()
  return isPaneId(paneId)
    ? Effect.succeed(paneId)
    : Effect.fail(
      new TmuxCommandFailed({
        command: "new-session",
        exitCode: 0,
        stderr: `expected a pane id, got ${JSON.stringify(paneId)}`
      })
    )
}

/** Exact-name target (`=name`): a bare name would also match a session whose name starts with it. */
export const sessionTarget = (name: string) => `=${name}`

export const killSessionArgs = (name: TmuxName): ReadonlyArray<string> => ["kill-session", "-t", sessionTarget(name)]

export const windowIdsArgs = (
  name: TmuxName
): ReadonlyArray<string> => ["list-windows", "-t", sessionTarget(name), "-F", "#{window_id}"]

export const isWindowId = (text: string) => /^@\d+$/.test(text)

/** The window ids (`@N`) `windowIdsArgs` printed. */
export const parseWindowIds = (output: string): ReadonlyArray<string> => output.split("\n").filter(isWindowId)

/** Killing a window by id removes it from every session it is linked into. */
export const killWindowArgs = (windowId: string): ReadonlyArray<string> => ["kill-window", "-t", windowId]
