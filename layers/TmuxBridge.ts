import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import { Duration, Effect, Layer, Schema } from "effect"
import { randomUUID } from "node:crypto"
import type { KeyPress } from "../src/domain/Keys.js"
import { PaneId, type TmuxName } from "../src/domain/Session.js"
import {
  CAPTURE_HISTORY_MAX,
  type CreateSessionOptions,
  KILL_GRACE,
  PANE_HEIGHT_DEFAULT,
  PANE_WIDTH_DEFAULT,
  type PaneInfo,
  TerminalBridge,
  TMUX_COMMAND_TIMEOUT,
  TMUX_MIN_VERSION,
  TmuxCommandFailed,
  type TmuxError,
  TmuxSessionNotFound,
  TmuxTimeout,
  TmuxVersionUnsupported
} from "../services/TerminalBridge.js"
import { runBounded, type SubprocessError, type SubprocessResult } from "./Subprocess.js"

export interface TmuxBridgeOptions {
  /** Name of the private server socket (`tmux -L <socket>`). */
  readonly socket: string
  readonly timeout?: Duration.DurationInput
  readonly killGrace?: Duration.DurationInput
  /** Path of the tmux executable; tests point it at stand-ins. */
  readonly tmuxBinary?: string
}

const isPaneId = Schema.is(PaneId)

/** tmux accepts window sizes in this range. */
const SIZE_MIN = 1
const SIZE_MAX = 10000

/** Separates fields of `list-panes -F`; tmux passes it through unescaped and it never occurs in names. */
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

const NO_SERVER = /no server running|error connecting to .*\((No such file or directory|Connection refused)\)/
const NOT_FOUND = new RegExp(`can't find (session|pane|window)|${NO_SERVER.source}`)

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

export const trimTrailingBlankLines = (text: string): string => {
  const lines = text.split("\n")
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === "") lines.pop()
  return lines.join("\n")
}

export const subcommandOf = (args: ReadonlyArray<string>): string => args.find((a) => !a.startsWith("-")) ?? args.join(" ")

export const clampSize = (n: number) => Math.min(SIZE_MAX, Math.max(SIZE_MIN, Math.trunc(n)))

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
      new TmuxCommandFailed({ command: "new-session", exitCode: 0, stderr: `expected a pane id, got ${JSON.stringify(paneId)}` })
    )
}

export const makeTmuxBridge = (options: TmuxBridgeOptions) =>
  Effect.gen(function*() {
    const executor = yield* CommandExecutor.CommandExecutor
    const binary = options.tmuxBinary ?? "tmux"
    const timeout = Duration.decode(options.timeout ?? TMUX_COMMAND_TIMEOUT)
    const killGrace = options.killGrace ?? KILL_GRACE

    const exec = (
      args: ReadonlyArray<string>,
      stdin?: string
    ): Effect.Effect<SubprocessResult, TmuxTimeout | TmuxCommandFailed> => {
      const subcommand = subcommandOf(args)
      // -u: UTF-8 output whatever the daemon's locale; without it tmux turns control characters
      // (our field separator) and non-ASCII text into "_".
      return runBounded(Command.make(binary, "-u", "-L", options.socket, ...args), {
        timeout,
        killGrace,
        ...(stdin === undefined ? {} : { stdin }),
        onTimeout: () => new TmuxTimeout({ command: subcommand, timeout })
      }).pipe(
        Effect.catchIf(
          (e): e is SubprocessError => e._tag !== "TmuxTimeout",
          (e) => Effect.fail(new TmuxCommandFailed({ command: subcommand, exitCode: null, stderr: e.message, cause: e }))
        ),
        Effect.provideService(CommandExecutor.CommandExecutor, executor)
      )
    }

    /** Runs a command addressed at `target`; "not found" answers become TmuxSessionNotFound. */
    const tmux = (target: string, args: ReadonlyArray<string>, stdin?: string): Effect.Effect<string, TmuxError> =>
      Effect.flatMap(exec(args, stdin), (result): Effect.Effect<string, TmuxError> => {
        if (result.exitCode === 0) return Effect.succeed(result.stdout)
        if (NOT_FOUND.test(result.stderr)) return Effect.fail(new TmuxSessionNotFound({ target }))
        return Effect.fail(
          new TmuxCommandFailed({ command: subcommandOf(args), exitCode: result.exitCode, stderr: result.stderr })
        )
      })

    const version = Effect.gen(function*() {
      const result = yield* exec(["-V"])
      const found = result.stdout.trim()
      if (result.exitCode !== 0) {
        return yield* new TmuxCommandFailed({ command: "-V", exitCode: result.exitCode, stderr: result.stderr })
      }
      if (!isSupportedTmuxVersion(found)) return yield* new TmuxVersionUnsupported({ found })
      return found
    }).pipe(Effect.withSpan("TmuxBridge.version"))

    const createSession = Effect.fn("TmuxBridge.createSession")(function*(create: CreateSessionOptions) {
      return yield* paneIdFrom(yield* tmux(create.name, newSessionArgs(create)))
    })

    const listPanes = Effect.gen(function*() {
      const result = yield* exec(["list-panes", "-a", "-F", PANE_FORMAT])
      if (result.exitCode === 0) {
        const panes = parsePaneList(result.stdout)
        const lines = result.stdout.split("\n").filter((line) => line.length > 0).length
        if (panes.length < lines) yield* Effect.logWarning(`list-panes: skipped ${lines - panes.length} unreadable line(s)`)
        return panes
      }
      if (NO_SERVER.test(result.stderr)) return []
      return yield* new TmuxCommandFailed({ command: "list-panes", exitCode: result.exitCode, stderr: result.stderr })
    }).pipe(Effect.withSpan("TmuxBridge.listPanes"))

    const capture = Effect.fn("TmuxBridge.capture")(function*(pane: PaneId, historyLines: number) {
      const lines = Math.min(CAPTURE_HISTORY_MAX, Math.max(0, Math.trunc(historyLines)))
      const stdout = yield* tmux(pane, ["capture-pane", "-p", "-t", pane, ...(lines > 0 ? ["-S", `-${lines}`] : [])])
      return trimTrailingBlankLines(stdout)
    })

    const paste = Effect.fn("TmuxBridge.paste")(function*(pane: PaneId, text: string) {
      if (text.length === 0) return
      const buffer = `telemux-${randomUUID()}`
      yield* Effect.zipRight(
        tmux(pane, ["load-buffer", "-b", buffer, "-"], text),
        tmux(pane, ["paste-buffer", "-p", "-d", "-b", buffer, "-t", pane])
      ).pipe(
        // A server that timed out would only make the clean-up wait for its own timeout too.
        Effect.tapError((e) =>
          e._tag === "TmuxTimeout" ? Effect.void : exec(["delete-buffer", "-b", buffer]).pipe(Effect.ignore)
        )
      )
    })

    const sendKeys = Effect.fn("TmuxBridge.sendKeys")(function*(pane: PaneId, keys: ReadonlyArray<KeyPress>) {
      if (keys.length === 0) return
      yield* tmux(pane, sendKeysArgs(pane, keys))
    })

    const isInMode = Effect.fn("TmuxBridge.isInMode")(function*(pane: PaneId) {
      // display-message answers an unknown target with empty output and exit 0, so ask for the id too.
      const stdout = yield* tmux(pane, ["display-message", "-p", "-t", pane, "#{pane_id} #{pane_in_mode}"])
      const [id, inMode] = stdout.trim().split(" ")
      if (id !== pane) return yield* new TmuxSessionNotFound({ target: pane })
      return inMode === "1"
    })

    const cancelMode = Effect.fn("TmuxBridge.cancelMode")(function*(pane: PaneId) {
      yield* tmux(pane, ["send-keys", "-X", "-t", pane, "cancel"]).pipe(
        Effect.catchIf(
          (e): e is TmuxCommandFailed => e._tag === "TmuxCommandFailed" && /not in a mode/.test(e.stderr),
          () => Effect.void
        )
      )
    })

    const resize = Effect.fn("TmuxBridge.resize")(function*(pane: PaneId, width: number, height: number) {
      yield* tmux(pane, [
        "resize-window",
        "-t",
        pane,
        "-x",
        String(clampSize(width)),
        "-y",
        String(clampSize(height))
      ])
    })

    const killSession = Effect.fn("TmuxBridge.killSession")(function*(name: TmuxName) {
      yield* tmux(name, ["kill-session", "-t", `=${name}`])
    })

    return TerminalBridge.of({
      // each call spawns its own tmux: nothing waits between calls, a hang shows as that call's timeout
      responsive: Effect.succeed(true),
      version,
      createSession,
      listPanes,
      capture,
      paste,
      sendKeys,
      isInMode,
      cancelMode,
      resize,
      killSession
    })
  })

export const layer = (options: TmuxBridgeOptions): Layer.Layer<TerminalBridge, never, CommandExecutor.CommandExecutor> =>
  Layer.effect(TerminalBridge, makeTmuxBridge(options))
