import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import { type Duration, Effect, Layer } from "effect"
import { randomUUID } from "node:crypto"
import type { KeyPress } from "../src/domain/Keys.js"
import type { PaneId, TmuxName } from "../src/domain/Session.js"
import {
  CAPTURE_HISTORY_MAX,
  type CreateSessionOptions,
  KILL_GRACE,
  type PaneInfo,
  TerminalBridge,
  TMUX_COMMAND_TIMEOUT,
  TMUX_RESPONSIVE_WITHIN,
  TmuxCommandFailed,
  type TmuxError,
  TmuxSessionNotFound,
  TmuxTimeout
} from "../services/TerminalBridge.js"
import { HUB_SESSION, TmuxControl } from "../services/TmuxControl.js"
import { runBounded } from "./Subprocess.js"
import * as TmuxBridge from "./TmuxBridge.js"
import * as TmuxControlLive from "./TmuxControl.js"

export interface ControlBridgeOptions {
  readonly socket: string
  readonly tmuxBinary?: string
  readonly commandTimeout?: Duration.DurationInput
}

const NOT_FOUND = /can't find (session|pane|window)|no server running|error connecting to/

const withoutHub = (panes: ReadonlyArray<PaneInfo>) => panes.filter((pane) => pane.sessionName !== HUB_SESSION)

/**
 * The terminal bridge over the control channel: every hot-path command is a line written to the one
 * long-lived `tmux -C` client. Bootstrap (version, new sessions) spawns; while the channel is down,
 * commands that never reached it run through the spawning bridge instead.
 */
export const makeControlBridge = (options: ControlBridgeOptions) =>
  Effect.gen(function*() {
    const control = yield* TmuxControl
    const executor = yield* CommandExecutor.CommandExecutor
    const spawn = yield* TmuxBridge.makeTmuxBridge({
      socket: options.socket,
      ...(options.tmuxBinary === undefined ? {} : { tmuxBinary: options.tmuxBinary })
    })

    /** Over the channel, or `fallback` when the command could not be written to it. */
    const viaChannel = <A>(
      overChannel: Effect.Effect<A, TmuxError>,
      fallback: Effect.Effect<A, TmuxError>,
      options: { readonly idempotent: boolean } = { idempotent: false }
    ): Effect.Effect<A, TmuxError> =>
      overChannel.pipe(
        Effect.catchIf(
          (e) => (options.idempotent ? TmuxControlLive.isChannelLost(e) : TmuxControlLive.isChannelDown(e)),
          () => fallback
        )
      )

    /** A spawned tmux for the commands the spawning bridge has no method for. */
    const spawnRun = (target: string, args: ReadonlyArray<string>): Effect.Effect<string, TmuxError> => {
      const command = TmuxBridge.subcommandOf(args)
      return runBounded(Command.make(options.tmuxBinary ?? "tmux", "-u", "-L", options.socket, ...args), {
        timeout: TMUX_COMMAND_TIMEOUT,
        killGrace: KILL_GRACE,
        onTimeout: () => new TmuxTimeout({ command, timeout: TMUX_COMMAND_TIMEOUT })
      }).pipe(
        Effect.mapError((e): TmuxError =>
          e._tag === "TmuxTimeout" ? e : new TmuxCommandFailed({ command, exitCode: null, stderr: e.message, cause: e })
        ),
        Effect.flatMap((result): Effect.Effect<string, TmuxError> => {
          if (result.exitCode === 0) return Effect.succeed(result.stdout)
          if (NOT_FOUND.test(result.stderr)) return Effect.fail(new TmuxSessionNotFound({ target }))
          return Effect.fail(new TmuxCommandFailed({ command, exitCode: result.exitCode, stderr: result.stderr }))
        }),
        Effect.provideService(CommandExecutor.CommandExecutor, executor)
      )
    }

    const run = control.run

    const createSession = Effect.fn("ControlBridge.createSession")(function*(create: CreateSessionOptions) {
      // Over the channel when it is up: a spawn forks the whole daemon and blocks its event loop.
      const pane = yield* viaChannel(
        Effect.flatMap(run(TmuxBridge.newSessionArgs(create)), (lines) => TmuxBridge.paneIdFrom(lines.join("\n"))),
        spawn.createSession(create)
      )
      // Down: the reconnect links every session's windows. Gone already: the pane's death is reported.
      yield* control.watchWindowOf(create.name).pipe(
        Effect.catchIf(
          (e) => TmuxControlLive.isChannelDown(e) || e._tag === "TmuxSessionNotFound",
          () => Effect.void
        )
      )
      return pane
    })

    const listPanes = viaChannel(
      Effect.map(
        run(["list-panes", "-a", "-F", TmuxBridge.PANE_FORMAT]),
        (lines) => withoutHub(TmuxBridge.parsePaneList(lines.join("\n")))
      ),
      Effect.map(spawn.listPanes, withoutHub),
      { idempotent: true }
    ).pipe(Effect.withSpan("ControlBridge.listPanes"))

    const capture = Effect.fn("ControlBridge.capture")(function*(pane: PaneId, historyLines: number) {
      const lines = Math.min(CAPTURE_HISTORY_MAX, Math.max(0, Math.trunc(historyLines)))
      return yield* viaChannel(
        Effect.map(
          run(["capture-pane", "-p", "-t", pane, ...(lines > 0 ? ["-S", `-${lines}`] : [])]),
          (body) => TmuxBridge.trimTrailingBlankLines(body.join("\n"))
        ),
        spawn.capture(pane, historyLines),
        { idempotent: true }
      )
    })

    const paste = Effect.fn("ControlBridge.paste")(function*(pane: PaneId, text: string) {
      if (text.length === 0) return
      const buffer = `telemux-${randomUUID()}`
      yield* viaChannel(
        Effect.zipRight(
          run(["set-buffer", "-b", buffer, "--", text]),
          run(["paste-buffer", "-p", "-d", "-b", buffer, "-t", pane])
        ).pipe(
          Effect.asVoid,
          Effect.tapError((e) =>
            e._tag === "TmuxTimeout" || TmuxControlLive.isChannelLost(e)
              ? Effect.void
              : run(["delete-buffer", "-b", buffer]).pipe(Effect.ignore)
          )
        ),
        spawn.paste(pane, text)
      )
    })

    const sendKeys = Effect.fn("ControlBridge.sendKeys")(function*(pane: PaneId, keys: ReadonlyArray<KeyPress>) {
      if (keys.length === 0) return
      // One command for every press: delivered together or not at all.
      yield* viaChannel(Effect.asVoid(run(TmuxBridge.sendKeysArgs(pane, keys))), spawn.sendKeys(pane, keys))
    })

    const isInMode = Effect.fn("ControlBridge.isInMode")(function*(pane: PaneId) {
      return yield* viaChannel(
        Effect.flatMap(run(["display-message", "-p", "-t", pane, "#{pane_id} #{pane_in_mode}"]), (body) => {
          const [id, inMode] = (body[0] ?? "").trim().split(" ")
          return id === pane ? Effect.succeed(inMode === "1") : Effect.fail(new TmuxSessionNotFound({ target: pane }))
        }),
        spawn.isInMode(pane),
        { idempotent: true }
      )
    })

    const cancelMode = Effect.fn("ControlBridge.cancelMode")(function*(pane: PaneId) {
      yield* viaChannel(
        run(["send-keys", "-X", "-t", pane, "cancel"]).pipe(
          Effect.asVoid,
          Effect.catchIf(
            (e): e is TmuxCommandFailed => e._tag === "TmuxCommandFailed" && /not in a mode/.test(e.stderr),
            () => Effect.void
          )
        ),
        spawn.cancelMode(pane)
      )
    })

    const resize = Effect.fn("ControlBridge.resize")(function*(pane: PaneId, width: number, height: number) {
      const size = ["-x", String(TmuxBridge.clampSize(width)), "-y", String(TmuxBridge.clampSize(height))]
      yield* viaChannel(Effect.asVoid(run(["resize-window", "-t", pane, ...size])), spawn.resize(pane, width, height), { idempotent: true })
    })

    /**
     * `kill-session` alone would leave the session's window alive, linked into the hub; killing the
     * windows by id removes them from every session, and the emptied session goes with them.
     */
    const killSession = Effect.fn("ControlBridge.killSession")(function*(name: TmuxName) {
      const target = `=${name}`
      const kill = (tmux: (args: ReadonlyArray<string>) => Effect.Effect<string, TmuxError>) =>
        Effect.gen(function*() {
          const windows = (yield* tmux(["list-windows", "-t", target, "-F", "#{window_id}"]))
            .split("\n")
            .filter((id) => /^@\d+$/.test(id))
          yield* Effect.forEach(windows, (id) =>
            tmux(["kill-window", "-t", id]).pipe(
              Effect.catchTag("TmuxSessionNotFound", () => Effect.void)
            ), { discard: true })
          yield* tmux(["kill-session", "-t", target]).pipe(Effect.catchTag("TmuxSessionNotFound", () => Effect.void))
        })
      yield* viaChannel(
        kill((args) => Effect.map(run(args), (body) => body.join("\n"))),
        kill((args) => spawnRun(name, args))
      ).pipe(
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
