import { type Duration, Effect, Layer } from "effect"
import { randomUUID } from "node:crypto"
import type { KeyPress } from "../src/domain/Keys.js"
import type { PaneId, TmuxName } from "../src/domain/Session.js"
import {
  cancelModeArgs,
  captureArgs,
  deleteBufferArgs,
  inModeArgs,
  inModeFrom,
  isNoServer,
  isNotInMode,
  isSupportedTmuxVersion,
  killSessionArgs,
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
  type CreateSessionOptions,
  TerminalBridge,
  TmuxCommandFailed,
  TmuxVersionUnsupported
} from "../services/TerminalBridge.js"
import { makeTmuxProcess } from "./TmuxProcess.js"

// The doctor (src/cli/Doctor.ts) checks the version with the bridge's own rule.
export { isSupportedTmuxVersion } from "../src/tmux/Commands.js"

export interface TmuxBridgeOptions {
  /** Name of the private server socket (`tmux -L <socket>`). */
  readonly socket: string
  readonly timeout?: Duration.DurationInput
  readonly killGrace?: Duration.DurationInput
  /** Path of the tmux executable; tests point it at stand-ins. */
  readonly tmuxBinary?: string
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
        if (panes.length < lines) yield* Effect.logWarning(`list-panes: skipped ${lines - panes.length} unreadable line(s)`)
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
        Effect.tapError((e) => e._tag === "TmuxTimeout" ? Effect.void : exec(deleteBufferArgs(buffer)).pipe(Effect.ignore))
      )
    })

    const sendKeys = Effect.fn("TmuxBridge.sendKeys")(function*(pane: PaneId, keys: ReadonlyArray<KeyPress>) {
      if (keys.length === 0) return
      yield* tmux(pane, sendKeysArgs(pane, keys))
    })

    const isInMode = Effect.fn("TmuxBridge.isInMode")(function*(pane: PaneId) {
      return yield* inModeFrom(pane, yield* tmux(pane, inModeArgs(pane)))
    })

    const cancelMode = Effect.fn("TmuxBridge.cancelMode")(function*(pane: PaneId) {
      yield* tmux(pane, cancelModeArgs(pane)).pipe(Effect.catchIf(isNotInMode, () => Effect.void))
    })

    const resize = Effect.fn("TmuxBridge.resize")(function*(pane: PaneId, width: number, height: number) {
      yield* tmux(pane, resizeArgs(pane, width, height))
    })

    const killSession = Effect.fn("TmuxBridge.killSession")(function*(name: TmuxName) {
      yield* tmux(name, killSessionArgs(name))
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

export const layer = (options: TmuxBridgeOptions): Layer.Layer<TerminalBridge> => Layer.effect(TerminalBridge, makeTmuxBridge(options))
