import type * as CommandExecutor from "@effect/platform/CommandExecutor"
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
  isNotInMode,
  killSessionArgs,
  killWindowArgs,
  listPanesArgs,
  newSessionArgs,
  paneIdFrom,
  parsePaneList,
  parseWindowIds,
  pasteBufferArgs,
  pasteBufferName,
  resizeArgs,
  sendKeysArgs,
  setBufferArgs,
  trimTrailingBlankLines,
  windowIdsArgs
} from "../src/tmux/Commands.js"
import {
  type CreateSessionOptions,
  type PaneInfo,
  TerminalBridge,
  TMUX_RESPONSIVE_WITHIN,
  type TmuxError,
  TmuxSessionNotFound
} from "../services/TerminalBridge.js"
import { HUB_SESSION, TmuxControl } from "../services/TmuxControl.js"
import * as TmuxBridge from "./TmuxBridge.js"
import * as TmuxControlLive from "./TmuxControl.js"
import { makeTmuxProcess } from "./TmuxProcess.js"

export interface ControlBridgeOptions {
  readonly socket: string
  readonly tmuxBinary?: string
  readonly commandTimeout?: Duration.DurationInput
}

const withoutHub = (panes: ReadonlyArray<PaneInfo>) => panes.filter((pane) => pane.sessionName !== HUB_SESSION)

/**
 * The terminal bridge over the control channel: every hot-path command is a line written to the one
 * long-lived `tmux -C` client. Bootstrap (version, new sessions) spawns; while the channel is down,
 * commands that never reached it run through the spawning bridge instead.
 */
export const makeControlBridge = (options: ControlBridgeOptions) =>
  Effect.gen(function*() {
    const control = yield* TmuxControl
    const spawnOptions = { socket: options.socket, ...(options.tmuxBinary === undefined ? {} : { tmuxBinary: options.tmuxBinary }) }
    const spawn = yield* TmuxBridge.makeTmuxBridge(spawnOptions)
    /** One spawned tmux per command, for what the spawning bridge has no method for. */
    const tmuxProcess = makeTmuxProcess(spawnOptions)

    /**
     * Over the channel, or `fallback` when the channel could not take the command. Only an
     * `idempotent` command also falls back when the channel went away after it was written.
     */
    const viaChannel = <A>(
      overChannel: Effect.Effect<A, TmuxError>,
      fallback: Effect.Effect<A, TmuxError>,
      options: { readonly idempotent: boolean } = { idempotent: false }
    ): Effect.Effect<A, TmuxError> =>
      overChannel.pipe(
        Effect.catchTag("ControlChannelDown", (down) => (down.sent && !options.idempotent ? Effect.fail(down) : fallback))
      )

    const run = control.run
    const runText = (args: ReadonlyArray<string>) => Effect.map(run(args), (body) => body.join("\n"))

    const createSession = Effect.fn("ControlBridge.createSession")(function*(create: CreateSessionOptions) {
      // Over the channel when it is up: a spawn forks the whole daemon and blocks its event loop.
      const pane = yield* viaChannel(Effect.flatMap(runText(newSessionArgs(create)), paneIdFrom), spawn.createSession(create))
      // Down: the reconnect links every session's windows. Gone already: the pane's death is reported.
      yield* control.watchWindowOf(create.name).pipe(
        Effect.catchTags({
          ControlChannelDown: (down) => (down.sent ? Effect.fail(down) : Effect.void),
          TmuxSessionNotFound: () => Effect.void
        })
      )
      return pane
    })

    const listPanes = viaChannel(
      Effect.map(runText(listPanesArgs), (stdout) => withoutHub(parsePaneList(stdout))),
      Effect.map(spawn.listPanes, withoutHub),
      { idempotent: true }
    ).pipe(Effect.withSpan("ControlBridge.listPanes"))

    const capture = Effect.fn("ControlBridge.capture")(function*(pane: PaneId, historyLines: number) {
      return yield* viaChannel(
        Effect.map(runText(captureArgs(pane, historyLines)), trimTrailingBlankLines),
        spawn.capture(pane, historyLines),
        { idempotent: true }
      )
    })

    const paste = Effect.fn("ControlBridge.paste")(function*(pane: PaneId, text: string) {
      if (text.length === 0) return
      const buffer = pasteBufferName(randomUUID())
      yield* viaChannel(
        Effect.zipRight(run(setBufferArgs(buffer, text)), run(pasteBufferArgs(buffer, pane))).pipe(
          Effect.asVoid,
          // Neither a server that timed out nor a lost channel could take the clean-up now.
          Effect.tapError((e) =>
            e._tag === "TmuxTimeout" || e._tag === "ControlChannelDown"
              ? Effect.void
              : run(deleteBufferArgs(buffer)).pipe(Effect.ignore)
          )
        ),
        spawn.paste(pane, text)
      )
    })

    const sendKeys = Effect.fn("ControlBridge.sendKeys")(function*(pane: PaneId, keys: ReadonlyArray<KeyPress>) {
      if (keys.length === 0) return
      // One command for every press: delivered together or not at all.
      yield* viaChannel(Effect.asVoid(run(sendKeysArgs(pane, keys))), spawn.sendKeys(pane, keys))
    })

    const isInMode = Effect.fn("ControlBridge.isInMode")(function*(pane: PaneId) {
      return yield* viaChannel(
        Effect.flatMap(runText(inModeArgs(pane)), (output) => inModeFrom(pane, output)),
        spawn.isInMode(pane),
        { idempotent: true }
      )
    })

    const cancelMode = Effect.fn("ControlBridge.cancelMode")(function*(pane: PaneId) {
      yield* viaChannel(
        run(cancelModeArgs(pane)).pipe(Effect.asVoid, Effect.catchIf(isNotInMode, () => Effect.void)),
        spawn.cancelMode(pane)
      )
    })

    const resize = Effect.fn("ControlBridge.resize")(function*(pane: PaneId, width: number, height: number) {
      yield* viaChannel(Effect.asVoid(run(resizeArgs(pane, width, height))), spawn.resize(pane, width, height), {
        idempotent: true
      })
    })

    /**
     * `kill-session` alone would leave the session's window alive, linked into the hub; killing the
     * windows by id removes them from every session, and the emptied session goes with them.
     */
    const killSession = Effect.fn("ControlBridge.killSession")(function*(name: TmuxName) {
      const kill = (tmux: (args: ReadonlyArray<string>) => Effect.Effect<string, TmuxError>) =>
        Effect.gen(function*() {
          const windows = parseWindowIds(yield* tmux(windowIdsArgs(name)))
          yield* Effect.forEach(
            windows,
            (id) => tmux(killWindowArgs(id)).pipe(Effect.catchTag("TmuxSessionNotFound", () => Effect.void)),
            { discard: true }
          )
          yield* tmux(killSessionArgs(name)).pipe(Effect.catchTag("TmuxSessionNotFound", () => Effect.void))
        })
      yield* viaChannel(kill(runText), kill((args) => tmuxProcess.run(name, args))).pipe(
        Effect.mapError((e) => (e._tag === "TmuxSessionNotFound" ? new TmuxSessionNotFound({ target: name }) : e))
      )
    })

    return TerminalBridge.of({
      responsive: control.isResponsive(TMUX_RESPONSIVE_WITHIN),
      version: spawn.version,
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

/** The control channel and the bridge over it, both provided (Main needs both). */
export const layer = (
  options: ControlBridgeOptions
): Layer.Layer<TerminalBridge | TmuxControl, never, CommandExecutor.CommandExecutor> =>
  Layer.effect(TerminalBridge, makeControlBridge(options)).pipe(
    Layer.provideMerge(
      TmuxControlLive.layer({
        socket: options.socket,
        ...(options.tmuxBinary === undefined ? {} : { tmuxBinary: options.tmuxBinary }),
        ...(options.commandTimeout === undefined ? {} : { commandTimeout: options.commandTimeout })
      })
    )
  )
