import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import { Duration, Effect, Either, Layer, Option } from "effect"
import { randomUUID } from "node:crypto"
import {
  captureInTurn,
  type CreateSessionOptions,
  EnterNotConfirmed,
  type PaneInfo,
  PASTE_LANDED_TIMEOUT,
  TerminalBridge,
  TMUX_RESPONSIVE_WITHIN,
  TmuxCommandFailed,
  type TmuxError,
  TmuxSessionNotFound
} from "../services/TerminalBridge.js"
import {
  ControlChannelDown,
  ControlInput,
  HUB_SESSION,
  type ListReply,
  PaneSignals,
  TmuxControl
} from "../services/TmuxControl.js"
import type { KeyPress } from "../src/domain/Keys.js"
import { withoutTrailingBlank } from "../src/domain/ScreenPatch.js"
import type { PaneId, TmuxName } from "../src/domain/Session.js"
import {
  captureArgs,
  clampSize,
  deleteBufferArgs,
  enterAtShellArgs,
  enterDeferred,
  killSessionArgs,
  killWindowArgs,
  leaveModeArgs,
  leaveModeMarkedArgs,
  listPanesArgs,
  newSessionArgs,
  paneIdFrom,
  parsePaneList,
  parseWindowIds,
  pasteBufferArgs,
  pasteBufferName,
  resizeArgs,
  sendKeysArgs,
  sessionTarget,
  setBufferArgs,
  subcommandOf,
  trimTrailingBlankLines,
  windowIdsArgs
} from "../src/tmux/Commands.js"
import { replyBlocks } from "../src/tmux/ControlProtocol.js"
import { linkWindowArgs } from "../src/tmux/HubCommands.js"
import {
  parseSnapshot,
  parseViewers,
  pastableText,
  pasteBytesArgs,
  readBracketedPaste,
  SEND_AS_PASTE_FROM,
  sendBytesArgs,
  snapshotArgs,
  viewersArgs
} from "../src/tmux/TerminalCommands.js"
import * as TmuxBridge from "./TmuxBridge.js"
import { screenChanges } from "./TmuxBridge.js"
import * as TmuxControlLive from "./TmuxControl.js"
import * as TmuxMetrics from "./TmuxMetrics.js"
import { makeTmuxProcess } from "./TmuxProcess.js"

export interface ControlBridgeOptions {
  readonly socket: string
  readonly tmuxBinary?: string
  readonly commandTimeout?: Duration.DurationInput
  /** How long the oldest command may go unanswered before a client counts as hung (see TmuxControlOptions). */
  readonly hangTimeout?: Duration.DurationInput
  /** Count and time tmux commands, reconnects and fallbacks in the tmux metrics; on unless false. */
  readonly metrics?: boolean
}

const withoutHub = (panes: ReadonlyArray<PaneInfo>) => panes.filter((pane) => pane.sessionName !== HUB_SESSION)

const ENTER: ReadonlyArray<KeyPress> = [{ key: "Enter", repeat: 1 }]

/** Panes whose bracketed-paste mode is remembered at once (ControlBridge's `bracketed`). */
export const BRACKETED_PANES_MAX = 4096

/** The refusal that ended a list, if any; a list answered in full is its blocks. */
const answered = (reply: ListReply): Effect.Effect<ReadonlyArray<ReadonlyArray<string>>, TmuxError> =>
  Option.match(reply.refused, { onNone: () => Effect.succeed(reply.blocks), onSome: Effect.fail })

/**
 * The terminal bridge over two long-lived `tmux -C` clients: input (text, keys) is written to the
 * input client (ControlInput), everything else (captures, listings, sessions) to the events client
 * (TmuxControl), so input never waits behind a capture. Bootstrap (version) spawns; while a channel
 * is down, commands that never reached it run through the spawning bridge instead.
 */
export const makeControlBridge = (options: ControlBridgeOptions) =>
  Effect.gen(function*() {
    const control = yield* TmuxControl
    const input = yield* ControlInput
    const signals = yield* PaneSignals
    const spawnOptions = {
      socket: options.socket,
      metrics: options.metrics ?? true,
      ...(options.tmuxBinary === undefined ? {} : { tmuxBinary: options.tmuxBinary })
    }
    const spawn = yield* TmuxBridge.makeTmuxBridge(spawnOptions)
    /** One spawned tmux per command, for what the spawning bridge has no method for. */
    const tmuxProcess = makeTmuxProcess(spawnOptions)

    /**
     * Over the channel, or `fallback` when the channel could not take the command. Only an
     * `idempotent` command also falls back when the channel went away after it was written.
     */
    const viaChannel = <A, E>(
      overChannel: Effect.Effect<A, E>,
      fallback: Effect.Effect<A, E>,
      options: { readonly idempotent: boolean } = { idempotent: false }
    ): Effect.Effect<A, E> =>
      Effect.catchAll(overChannel, (error) => {
        if (!(error instanceof ControlChannelDown && (!error.sent || options.idempotent))) return Effect.fail(error)
        if (spawnOptions.metrics) TmuxMetrics.recordFallback(error.command.split(" ")[0] ?? "")
        return fallback
      })

    const run = control.run
    const runText = (args: ReadonlyArray<string>) => Effect.map(run(args), (body) => body.join("\n"))

    const createSession = Effect.fn("ControlBridge.createSession")(function*(create: CreateSessionOptions) {
      // Over the channel when it is up: a spawn forks the whole daemon and blocks its event loop.
      // Linked into the hub in the same list: tmux runs the two before it reads anything the new
      // pane writes, so the events client sees its output from the first byte (its first prompt, the
      // bracketed-paste switch). Spawned instead, or the link refused: linked just after.
      const created = yield* viaChannel(
        Effect.flatMap(
          control.runList([newSessionArgs(create), linkWindowArgs(`${sessionTarget(create.name)}:`)]),
          (reply) =>
            reply.blocks.length === 0
              ? Effect.fail(
                Option.getOrElse(
                  reply.refused,
                  () => new TmuxCommandFailed({ command: "new-session", exitCode: null, stderr: "no answer" })
                )
              )
              : Effect.map(
                paneIdFrom(reply.blocks[0]!.join("\n")),
                (pane) => ({ pane, linked: reply.blocks.length > 1 })
              )
        ),
        Effect.map(spawn.createSession(create), (pane) => ({ pane, linked: false }))
      )
      if (created.linked) return created.pane
      // Down: the reconnect links every session's windows. Gone already: the pane's death is reported.
      yield* control.watchWindowOf(create.name).pipe(
        Effect.catchTags({
          ControlChannelDown: (down) => (down.sent ? Effect.fail(down) : Effect.void),
          TmuxSessionNotFound: () => Effect.void
        })
      )
      return created.pane
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

    /** Every capture in one list on the events client; down before it was answered, one spawn per capture. */
    const captureEach = (
      panes: ReadonlyArray<PaneId>,
      historyLines: number,
      previous?: ReadonlyArray<ReadonlyArray<string> | undefined>
    ) =>
      viaChannel(
        Effect.map(
          control.runList(panes.map((pane) => captureArgs(pane, historyLines)), undefined, previous),
          (reply) => {
            // each line decoded on its own by the parser: kept as it is, never joined and split again
            const results: Array<Either.Either<ReadonlyArray<string>, TmuxError>> = reply.blocks.map((block) =>
              Either.right(withoutTrailingBlank(block.slice()))
            )
            if (Option.isSome(reply.refused)) results.push(Either.left(reply.refused.value))
            return results
          }
        ),
        captureInTurn(spawn.capture)(panes, historyLines),
        { idempotent: true }
      )

    /**
     * A list on the input client; refused, unsent, while tmux has left input there unanswered for
     * TMUX_RESPONSIVE_WITHIN (a frozen server): written now, it would run whenever tmux wakes.
     */
    const sendInput = (commands: ReadonlyArray<ReadonlyArray<string>>) =>
      Effect.flatMap(input.isStalled(TMUX_RESPONSIVE_WITHIN), (stalled) =>
        stalled
          ? Effect.fail(
            new TmuxCommandFailed({
              command: subcommandOf(commands[0] ?? []),
              exitCode: null,
              stderr: `tmux has left input unanswered for over ${
                Duration.format(TMUX_RESPONSIVE_WITHIN)
              }; nothing was sent`
            })
          )
          : input.runList(commands))

    const runInput = (commands: ReadonlyArray<ReadonlyArray<string>>) => Effect.flatMap(sendInput(commands), answered)

    /** Pastes through a buffer of its own, after `before`; a paste tmux refused deletes its buffer. */
    const pasteList = (
      pane: PaneId,
      text: string,
      before: ReadonlyArray<ReadonlyArray<string>>,
      after: ReadonlyArray<ReadonlyArray<string>>,
      pasteArgs: (buffer: string, pane: PaneId) => ReadonlyArray<string> = pasteBufferArgs
    ) =>
      Effect.gen(function*() {
        const buffer = pasteBufferName(randomUUID())
        // the reply blocks before paste-buffer's own: those of `before`, then set-buffer's
        const pasteAt = before.reduce((n, args) => n + replyBlocks(args), 0) + 1
        const reply = yield* sendInput([
          ...before,
          setBufferArgs(buffer, text),
          pasteArgs(buffer, pane),
          ...after
        ])
        if (Option.isSome(reply.refused) && reply.blocks.length <= pasteAt) {
          // set-buffer ran but paste-buffer (which deletes it on success) did not
          if (reply.blocks.length === pasteAt) yield* input.runList([deleteBufferArgs(buffer)]).pipe(Effect.ignore)
          return yield* Effect.fail(reply.refused.value)
        }
        return reply
      })

    const paste = Effect.fn("ControlBridge.paste")(function*(pane: PaneId, text: string) {
      if (text.length === 0) return
      yield* viaChannel(Effect.asVoid(pasteList(pane, text, [], [])), spawn.paste(pane, text))
    })

    /**
     * One round trip for a shell: leave any mode, paste, and (tmux deciding) Enter, as one list on the
     * input client. For another application, the Enter waits for it to show the paste (PaneSignals.pasteShown).
     */
    const typeOverChannel = (pane: PaneId, text: string, enter: boolean) =>
      Effect.scoped(Effect.gen(function*() {
        // watched before the list is written: the mark it makes and the application's answer cannot be missed
        const landed = enter && (yield* control.isConnected)
          ? Option.some(yield* signals.pasteShown(pane, text))
          : Option.none()
        const reply = yield* pasteList(pane, text, leaveModeMarkedArgs(pane), enter ? [enterAtShellArgs(pane)] : [])
        if (!enter) return
        yield* Effect.gen(function*() {
          const blocks = yield* answered(reply)
          if (!enterDeferred((blocks[blocks.length - 1] ?? []).join("\n"))) return
          yield* Option.match(landed, {
            // input runs uninterruptible (a started input finishes): the bound must still cut this wait short
            onSome: (wait) => wait.pipe(Effect.interruptible, Effect.timeoutOption(PASTE_LANDED_TIMEOUT)),
            onNone: () => screenChanges(capture(pane, 0))
          })
          yield* viaChannel(Effect.asVoid(runInput([sendKeysArgs(pane, ENTER)])), spawn.sendKeys(pane, ENTER))
        }).pipe(Effect.mapError((cause) => new EnterNotConfirmed({ cause })))
      }))

    const type = Effect.fn("ControlBridge.type")(function*(pane: PaneId, text: string, enter: boolean) {
      if (text === "") {
        if (enter) {
          yield* viaChannel(
            Effect.asVoid(runInput([leaveModeArgs(pane), sendKeysArgs(pane, ENTER)])),
            spawn.type(pane, "", true)
          )
        }
        return
      }
      yield* viaChannel(typeOverChannel(pane, text, enter), spawn.type(pane, text, enter))
    })

    const sendKeys = Effect.fn("ControlBridge.sendKeys")(function*(pane: PaneId, keys: ReadonlyArray<KeyPress>) {
      if (keys.length === 0) return
      // One command for every press: delivered together or not at all.
      yield* viaChannel(Effect.asVoid(runInput([sendKeysArgs(pane, keys)])), spawn.sendKeys(pane, keys))
    })

    const resize = Effect.fn("ControlBridge.resize")(function*(pane: PaneId, width: number, height: number) {
      yield* viaChannel(Effect.asVoid(run(resizeArgs(pane, width, height))), spawn.resize(pane, width, height), {
        idempotent: true
      })
    })

    /**
     * Bracketed paste per pane, read from what the panes write (tmux has no format for it). Only
     * panes that turned it on are kept, at most BRACKETED_PANES_MAX (the oldest go). An output that
     * ends inside a mode sequence keeps that end to be read with the pane's next output, until then
     * (a sequence cut between two outputs is read whole); as many panes at most.
     */
    const bracketed = new Set<string>()
    const unfinished = new Map<string, string>()
    /** Room for one more pane: the oldest goes once BRACKETED_PANES_MAX are kept. */
    const makeRoom = (kept: Set<string> | Map<string, string>) => {
      if (kept.size >= BRACKETED_PANES_MAX) kept.delete(kept.keys().next().value!)
    }
    yield* control.onOutput((paneId, output) => {
      const before = unfinished.get(paneId)
      // no ESC, nothing unfinished before it: no mode sequence, and the output is not decoded
      if (before === undefined && !output.hasEscape) return
      if (before !== undefined) unfinished.delete(paneId)
      const { on, unfinished: rest } = readBracketedPaste(before ?? "", output.data)
      if (rest !== "") {
        makeRoom(unfinished)
        unfinished.set(paneId, rest)
      }
      if (on === undefined) return
      bracketed.delete(paneId)
      if (!on) return
      makeRoom(bracketed)
      bracketed.add(paneId)
    })

    /**
     * Over the events client, where the output is read: `at` falls exactly between two outputs, and
     * bracketed paste is read there too (the output after it may switch it before the reply is parsed).
     */
    const snapshot = <A>(pane: PaneId, historyLines: number, at: () => A) =>
      Effect.suspend(() => {
        const markNow = () => ({ value: at(), bracketedPaste: bracketed.has(pane) })
        let mark: ReturnType<typeof markNow> | undefined
        return viaChannel(
          control.runList(snapshotArgs(pane, historyLines), () => {
            mark = markNow()
          }),
          // the spawning fallback has no output order: `at` after the whole capture
          TmuxBridge.snapshotBlocks(tmuxProcess, pane, historyLines),
          { idempotent: true }
        ).pipe(
          Effect.flatMap(answered),
          Effect.flatMap((blocks) => {
            const taken = mark ?? markNow()
            return Effect.map(
              parseSnapshot(blocks, taken.bracketedPaste),
              (snapshot) => [snapshot, taken.value] as const
            )
          }),
          Effect.withSpan("ControlBridge.snapshot")
        )
      })

    /** Keystrokes key by key; a paste (long text) through a buffer (see SEND_AS_PASTE_FROM). */
    const sendBytes = Effect.fn("ControlBridge.sendBytes")(function*(pane: PaneId, bytes: Uint8Array) {
      if (bytes.length === 0) return
      const text = bytes.length >= SEND_AS_PASTE_FROM ? pastableText(bytes) : undefined
      const overChannel = text === undefined
        ? Effect.asVoid(runInput(sendBytesArgs(pane, bytes)))
        : Effect.asVoid(pasteList(pane, text, [leaveModeArgs(pane)], [], pasteBytesArgs))
      yield* viaChannel(overChannel, spawn.sendBytes(pane, bytes))
    })

    const fitToViewer = Effect.fn("ControlBridge.fitToViewer")(function*(pane: PaneId, width: number, height: number) {
      const before = parseViewers(
        yield* viaChannel(run(viewersArgs(pane)), TmuxBridge.viewersOf(tmuxProcess, pane), { idempotent: true })
      )
      if (before.viewers > 0) return { width: before.width, height: before.height, applied: false }
      yield* resize(pane, width, height)
      return { width: clampSize(width), height: clampSize(height), applied: true }
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
      captureEach,
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

/** The two control clients and the bridge over them, all provided (Main needs the bridge and TmuxControl). */
export const layer = (
  options: ControlBridgeOptions
): Layer.Layer<TerminalBridge | TmuxControl | PaneSignals | ControlInput, never, CommandExecutor.CommandExecutor> => {
  const clients = {
    socket: options.socket,
    metrics: options.metrics ?? true,
    ...(options.tmuxBinary === undefined ? {} : { tmuxBinary: options.tmuxBinary }),
    ...(options.commandTimeout === undefined ? {} : { commandTimeout: options.commandTimeout }),
    ...(options.hangTimeout === undefined ? {} : { hangTimeout: options.hangTimeout })
  }
  return Layer.scoped(TerminalBridge, makeControlBridge(options)).pipe(
    Layer.provideMerge(Layer.merge(TmuxControlLive.layer(clients), TmuxControlLive.layerInput(clients)))
  )
}
