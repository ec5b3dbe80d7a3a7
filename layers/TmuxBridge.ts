import { Duration, Effect, Layer, Option, Schedule } from "effect"
import { randomUUID } from "node:crypto"
import {
  captureInTurn,
  type CreateSessionOptions,
  EnterNotConfirmed,
  PASTE_LANDED_TIMEOUT,
  TerminalBridge,
  TmuxCommandFailed,
  type TmuxError,
  TmuxVersionUnsupported
} from "../services/TerminalBridge.js"
import type { ListReply } from "../services/TmuxControl.js"
import type { KeyPress } from "../src/domain/Keys.js"
import type { PaneId, TmuxName } from "../src/domain/Session.js"
import {
  captureArgs,
  clampSize,
  deleteBufferArgs,
  enterAtShellArgs,
  enterDeferred,
  isNoServer,
  isSupportedTmuxVersion,
  killSessionArgs,
  leaveModeArgs,
  listPanesArgs,
  loadBufferArgs,
  newSessionArgs,
  paneIdFrom,
  parsePaneList,
  pasteBufferArgs,
  pasteBufferName,
  resizeArgs,
  sendKeysArgs,
  trimTrailingBlankLines,
  versionArgs
} from "../src/tmux/Commands.js"
import {
  parseSnapshot,
  parseViewers,
  pastableText,
  pasteBytesArgs,
  SEND_AS_PASTE_FROM,
  sendBytesArgs,
  snapshotArgs,
  viewersArgs
} from "../src/tmux/TerminalCommands.js"
import { makeTmuxProcess, type TmuxProcess } from "./TmuxProcess.js"

const ENTER: ReadonlyArray<KeyPress> = [{ key: "Enter", repeat: 1 }]

/** How often the screen is compared while waiting for a paste to show, when no output signal exists. */
const LANDED_POLL = Duration.millis(20)

/**
 * Waits (at most PASTE_LANDED_TIMEOUT) until the pane's screen differs from what it shows now: the
 * application has drawn the paste. For when no output signal exists (no control channel); a
 * capture that fails ends the wait.
 */
export const screenChanges = (capture: Effect.Effect<string, TmuxError>): Effect.Effect<void> =>
  Effect.flatMap(capture, (first) =>
    capture.pipe(
      Effect.repeat({ schedule: Schedule.spaced(LANDED_POLL), until: (screen) => screen !== first })
    )).pipe(
      // input runs uninterruptible (a started input finishes): the bound must still cut this wait short
      Effect.interruptible,
      Effect.timeoutOption(PASTE_LANDED_TIMEOUT),
      Effect.ignore
    )

/** A list as one spawned tmux's argv: the commands separated by `;` arguments. */
const spawnedList = (commands: ReadonlyArray<ReadonlyArray<string>>): ReadonlyArray<string> =>
  commands.flatMap((args, i) => (i === 0 ? args : [";", ...args]))

// The doctor (src/cli/Doctor.ts) checks the version with the bridge's own rule.
export { isSupportedTmuxVersion } from "../src/tmux/Commands.js"

/** snapshotArgs' blocks, one spawn each: not one instant of the pane, as the control channel's are. */
export const snapshotBlocks = (tmuxProcess: TmuxProcess, pane: PaneId, historyLines: number) =>
  Effect.map(
    Effect.forEach(snapshotArgs(pane, historyLines), (args) =>
      Effect.map(tmuxProcess.run(pane, args), (stdout) => stdout.replace(/\n$/, "").split("\n"))),
    (blocks): ListReply => ({ blocks, refused: Option.none() })
  )

export const viewersOf = (tmuxProcess: TmuxProcess, pane: PaneId) =>
  Effect.map(tmuxProcess.run(pane, viewersArgs(pane)), (stdout) => stdout.split("\n"))

export interface TmuxBridgeOptions {
  /** Name of the private server socket (`tmux -L <socket>`). */
  readonly socket: string
  readonly timeout?: Duration.DurationInput
  readonly killGrace?: Duration.DurationInput
  /** Path of the tmux executable; tests point it at stand-ins. */
  readonly tmuxBinary?: string
  /** Count and time each command in the tmux metrics; on unless false. */
  readonly metrics?: boolean
}

/** The terminal bridge that spawns one tmux per call (the control channel's fallback, and tests'). */
export const makeTmuxBridge = (options: TmuxBridgeOptions) =>
  Effect.sync(() => {
    const { exec, run: tmux } = makeTmuxProcess(options)

    const version = Effect.gen(function*() {
      const result = yield* exec(versionArgs)
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
      const result = yield* exec(listPanesArgs)
      if (result.exitCode === 0) {
        const panes = parsePaneList(result.stdout)
        const lines = result.stdout.split("\n").filter((line) => line.length > 0).length
        if (panes.length < lines) {
          yield* Effect.logWarning(`list-panes: skipped ${lines - panes.length} unreadable line(s)`)
        }
        return panes
      }
      if (isNoServer(result.stderr)) return []
      return yield* new TmuxCommandFailed({ command: "list-panes", exitCode: result.exitCode, stderr: result.stderr })
    }).pipe(Effect.withSpan("TmuxBridge.listPanes"))

    const capture = Effect.fn("TmuxBridge.capture")(function*(pane: PaneId, historyLines: number) {
      return trimTrailingBlankLines(yield* tmux(pane, captureArgs(pane, historyLines)))
    })

    const paste = Effect.fn("TmuxBridge.paste")(function*(pane: PaneId, text: string) {
      if (text.length === 0) return
      const buffer = pasteBufferName(randomUUID())
      yield* Effect.zipRight(
        tmux(pane, loadBufferArgs(buffer), text),
        tmux(pane, pasteBufferArgs(buffer, pane))
      ).pipe(
        // A server that timed out would only make the clean-up wait for its own timeout too.
        Effect.tapError((e) =>
          e._tag === "TmuxTimeout" ? Effect.void : exec(deleteBufferArgs(buffer)).pipe(Effect.ignore)
        )
      )
    })

    const sendKeys = Effect.fn("TmuxBridge.sendKeys")(function*(pane: PaneId, keys: ReadonlyArray<KeyPress>) {
      if (keys.length === 0) return
      yield* tmux(pane, sendKeysArgs(pane, keys))
    })

    /** The paste half of `type`: one tmux, which leaves any mode, loads the buffer from stdin and pastes it. */
    const leaveModeAndPaste = (pane: PaneId, text: string) => {
      const buffer = pasteBufferName(randomUUID())
      return tmux(pane, spawnedList([leaveModeArgs(pane), loadBufferArgs(buffer), pasteBufferArgs(buffer, pane)]), text)
        .pipe(
          // paste-buffer is the last command: when the list failed, nothing was typed
          Effect.tapError((e) =>
            e._tag === "TmuxTimeout" ? Effect.void : exec(deleteBufferArgs(buffer)).pipe(Effect.ignore)
          )
        )
    }

    const type = Effect.fn("TmuxBridge.type")(function*(pane: PaneId, text: string, enter: boolean) {
      if (text === "") {
        if (enter) yield* tmux(pane, spawnedList([leaveModeArgs(pane), sendKeysArgs(pane, ENTER)]))
        return
      }
      yield* leaveModeAndPaste(pane, text)
      if (!enter) return
      yield* Effect.gen(function*() {
        if (!enterDeferred(yield* tmux(pane, enterAtShellArgs(pane)))) return
        yield* screenChanges(capture(pane, 0))
        yield* tmux(pane, sendKeysArgs(pane, ENTER))
      }).pipe(Effect.mapError((cause) => new EnterNotConfirmed({ cause })))
    })

    const resize = Effect.fn("TmuxBridge.resize")(function*(pane: PaneId, width: number, height: number) {
      yield* tmux(pane, resizeArgs(pane, width, height))
    })

    const killSession = Effect.fn("TmuxBridge.killSession")(function*(name: TmuxName) {
      yield* tmux(name, killSessionArgs(name))
    })

    const processOf = { exec, run: tmux }

    /** No output is read here: bracketed paste is never known to be on. */
    const snapshot = <A>(pane: PaneId, historyLines: number, at: () => A) =>
      snapshotBlocks(processOf, pane, historyLines).pipe(
        Effect.flatMap((reply) => parseSnapshot(reply.blocks, false)),
        Effect.map((taken) => [taken, at()] as const),
        Effect.withSpan("TmuxBridge.snapshot")
      )

    /** Keystrokes key by key; a paste (long text) through a buffer (see SEND_AS_PASTE_FROM). */
    const sendBytes = Effect.fn("TmuxBridge.sendBytes")(function*(pane: PaneId, bytes: Uint8Array) {
      if (bytes.length === 0) return
      const text = bytes.length >= SEND_AS_PASTE_FROM ? pastableText(bytes) : undefined
      if (text === undefined) return yield* tmux(pane, spawnedList(sendBytesArgs(pane, bytes)))
      const buffer = pasteBufferName(randomUUID())
      yield* tmux(pane, spawnedList([leaveModeArgs(pane), loadBufferArgs(buffer), pasteBytesArgs(buffer, pane)]), text)
        .pipe(
          // paste-buffer is the last command: when the list failed, nothing was typed
          Effect.tapError((e) =>
            e._tag === "TmuxTimeout" ? Effect.void : exec(deleteBufferArgs(buffer)).pipe(Effect.ignore)
          )
        )
    })

    const fitToViewer = Effect.fn("TmuxBridge.fitToViewer")(function*(pane: PaneId, width: number, height: number) {
      const before = parseViewers(yield* viewersOf(processOf, pane))
      if (before.viewers > 0) return { width: before.width, height: before.height, applied: false }
      yield* resize(pane, width, height)
      return { width: clampSize(width), height: clampSize(height), applied: true }
    })

    return TerminalBridge.of({
      // each call spawns its own tmux: nothing waits between calls, a hang shows as that call's timeout
      responsive: Effect.succeed(true),
      version,
      createSession,
      listPanes,
      capture,
      captureEach: captureInTurn(capture),
      paste,
      type,
      sendKeys,
      resize,
      snapshot,
      sendBytes,
      fitToViewer,
      killSession
    })
  })

export const layer = (options: TmuxBridgeOptions): Layer.Layer<TerminalBridge> =>
  Layer.effect(TerminalBridge, makeTmuxBridge(options))
