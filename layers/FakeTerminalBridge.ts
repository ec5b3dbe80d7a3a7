import { Clock, Context, Duration, Effect, Layer } from "effect"
import {
  captureInTurn,
  EnterNotConfirmed,
  PANE_HEIGHT_DEFAULT,
  PANE_WIDTH_DEFAULT,
  type PaneInfo,
  TerminalBridge,
  TMUX_COMMAND_TIMEOUT,
  TmuxCommandFailed,
  TmuxSessionNotFound,
  TmuxTimeout
} from "../services/TerminalBridge.js"
import type { KeyPress } from "../src/domain/Keys.js"
import { isShell } from "../src/domain/Screen.js"
import { PaneId, type TmuxName } from "../src/domain/Session.js"
import { FRESH_MODES, type TerminalSnapshot } from "../src/domain/TerminalSnapshot.js"

export type FakeCall =
  | {
    readonly op: "create"
    readonly name: TmuxName
    readonly cwd: string
    readonly env: Readonly<Record<string, string>>
  }
  | { readonly op: "paste"; readonly pane: PaneId; readonly text: string }
  | { readonly op: "keys"; readonly pane: PaneId; readonly keys: ReadonlyArray<KeyPress> }
  | { readonly op: "cancelMode"; readonly pane: PaneId }
  /** `type` waited for the application to show the paste before its Enter (the pane was not at a shell). */
  | { readonly op: "awaitLanded"; readonly pane: PaneId }
  | { readonly op: "kill"; readonly name: TmuxName }
  | { readonly op: "list" }
  | { readonly op: "capture"; readonly pane: PaneId }
  /** Raw keystrokes, as sendBytes got them. */
  | { readonly op: "bytes"; readonly pane: PaneId; readonly bytes: Uint8Array }
  | { readonly op: "resize"; readonly pane: PaneId; readonly width: number; readonly height: number }

/** One capture call, successful or not, at the (test) clock's time. */
export interface CaptureAttempt {
  readonly pane: PaneId
  readonly at: number
  readonly outcome: "ok" | "TmuxTimeout" | "TmuxSessionNotFound"
}

interface FakePane {
  readonly name: TmuxName
  readonly paneId: PaneId
  readonly cwd: string
  inMode: boolean
  dead: boolean
  /** The pane's foreground command (`pane_current_command`). */
  foreground: string
  screen: string
  /** Clock time of the last change to `screen`, kept to the second as tmux's `window_activity` is. */
  activityAt: number
  width: number
  height: number
  viewers: number
}

/** Test handle over the fake: inspect calls, script faults, change the "tmux server" behind the daemon's back. */
export class FakeTerminal extends Context.Tag("telemux/test/FakeTerminal")<FakeTerminal, {
  readonly calls: () => ReadonlyArray<FakeCall>
  readonly panes: () => ReadonlyArray<{ readonly name: TmuxName; readonly paneId: PaneId; readonly screen: string }>
  /** The session disappears as if killed from outside. */
  readonly vanish: (name: TmuxName) => void
  /** Adds a session the daemon did not create (as after a daemon restart). */
  readonly adopt: (name: TmuxName, cwd: string) => PaneId
  readonly enterMode: (pane: PaneId) => void
  /** While hung every call fails with TmuxTimeout, but `type`, which is refused unsent (as the control bridge refuses input behind a stalled client). */
  readonly setHung: (hung: boolean) => void
  /** Makes `paste` take this long, to expose interleaving. */
  readonly setPasteDelay: (delay: Duration.Duration) => void
  /** tmux hangs right after the next paste lands: its Enter gets no answer. */
  readonly hangAfterNextPaste: () => void
  /** What runs in the pane's foreground (default `bash`). */
  readonly setForeground: (pane: PaneId, command: string) => void
  /** listPanes answers these many times with a hang before answering normally. */
  readonly failNextLists: (count: number) => void
  /** Every capture attempt (failed ones too), oldest first. */
  readonly captureAttempts: () => ReadonlyArray<CaptureAttempt>
  /** The pane's process exits but the pane stays (as with remain-on-exit): listPanes reports it dead. */
  readonly markDead: (pane: PaneId) => void
  /** A person attaches with tmux (viewers > 0: a viewer's size is not applied) or detaches. */
  readonly setAttached: (pane: PaneId, viewers: number) => void
}>() {}

export const make = Effect.sync(() => {
  const panes = new Map<TmuxName, FakePane>()
  const calls: Array<FakeCall> = []
  const captureAttempts: Array<CaptureAttempt> = []
  let nextPane = 0
  let hung = false
  let pasteDelay = Duration.zero
  let hangAfterPaste = false
  let listFailures = 0

  const guard = (command: string): Effect.Effect<void, TmuxTimeout> =>
    hung ? Effect.fail(new TmuxTimeout({ command, timeout: TMUX_COMMAND_TIMEOUT })) : Effect.void
  const paneById = (pane: PaneId) => {
    for (const p of panes.values()) if (p.paneId === pane) return Effect.succeed(p)
    return Effect.fail(new TmuxSessionNotFound({ target: pane }))
  }
  const addPane = (name: TmuxName, cwd: string) => {
    const paneId = PaneId.make(`%${nextPane++}`)
    panes.set(name, {
      name,
      paneId,
      cwd,
      inMode: false,
      dead: false,
      foreground: "bash",
      screen: "$ ",
      activityAt: 0,
      width: PANE_WIDTH_DEFAULT,
      height: PANE_HEIGHT_DEFAULT,
      viewers: 0
    })
    return paneId
  }

  /** The pane's screen changed at the clock's current second. */
  const touch = (p: FakePane) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      p.activityAt = Math.floor(now / 1000) * 1000
    })

  const pasteInto = (pane: PaneId, text: string) =>
    guard("paste-buffer").pipe(
      Effect.zipRight(paneById(pane)),
      Effect.tap(() => Effect.sleep(pasteDelay)),
      Effect.map((p) => {
        calls.push({ op: "paste", pane, text })
        // a pane in copy-mode swallows a paste, as tmux does
        if (!p.inMode) p.screen += text
        if (hangAfterPaste) [hangAfterPaste, hung] = [false, true]
        return p
      }),
      Effect.flatMap(touch)
    )

  const sendKeys = (pane: PaneId, keys: ReadonlyArray<KeyPress>) =>
    guard("send-keys").pipe(
      Effect.zipRight(paneById(pane)),
      Effect.map((p) => {
        calls.push({ op: "keys", pane, keys })
        for (const k of keys) if (k.key === "Enter") p.screen += "\n$ ".repeat(k.repeat)
        return p
      }),
      Effect.flatMap(touch)
    )

  const capture = (pane: PaneId) =>
    Clock.currentTimeMillis.pipe(Effect.flatMap((at) =>
      guard("capture-pane").pipe(
        Effect.zipRight(paneById(pane)),
        Effect.map((p) => {
          calls.push({ op: "capture", pane })
          return p.screen
        }),
        Effect.tapBoth({
          onFailure: (error) => Effect.sync(() => captureAttempts.push({ pane, at, outcome: error._tag })),
          onSuccess: () => Effect.sync(() => captureAttempts.push({ pane, at, outcome: "ok" }))
        })
      )
    ))

  const bridge = TerminalBridge.of({
    responsive: Effect.sync(() => !hung),
    version: Effect.succeed("tmux 3.3a (fake)"),
    createSession: (options) =>
      guard("new-session").pipe(
        Effect.flatMap(() => {
          calls.push({ op: "create", name: options.name, cwd: options.cwd, env: options.env })
          return Effect.succeed(addPane(options.name, options.cwd))
        })
      ),
    listPanes: Effect.suspend(() => {
      calls.push({ op: "list" })
      if (listFailures > 0) {
        listFailures--
        return Effect.fail(new TmuxTimeout({ command: "list-panes", timeout: TMUX_COMMAND_TIMEOUT }))
      }
      return guard("list-panes").pipe(
        Effect.as(
          Array.from(panes.values(), (p): PaneInfo => ({
            sessionName: p.name,
            paneId: p.paneId,
            panePid: 1000 + Number(p.paneId.slice(1)),
            dead: p.dead,
            inMode: p.inMode,
            currentCommand: p.foreground,
            activityAt: p.activityAt,
            currentPath: p.cwd
          }))
        )
      )
    }),
    capture,
    captureEach: captureInTurn(capture),
    paste: (pane, text) => Effect.asVoid(pasteInto(pane, text)),
    type: (pane, text, enter) =>
      Effect.gen(function*() {
        // as the control bridge does while tmux leaves its input client waiting: refused, unsent
        if (hung) {
          return yield* new TmuxCommandFailed({
            command: "copy-mode",
            exitCode: null,
            stderr: "tmux has left input unanswered; nothing was sent"
          })
        }
        const p = yield* paneById(pane)
        if (p.inMode) {
          calls.push({ op: "cancelMode", pane })
          p.inMode = false
        }
        if (text !== "") yield* pasteInto(pane, text)
        if (!enter) return
        const press = Effect.asVoid(sendKeys(pane, [{ key: "Enter", repeat: 1 }]))
        if (text === "") return yield* press
        if (!isShell(p.foreground)) calls.push({ op: "awaitLanded", pane })
        yield* press.pipe(Effect.mapError((cause) => new EnterNotConfirmed({ cause })))
      }),
    sendKeys,
    resize: (pane, width, height) =>
      guard("resize-window").pipe(
        Effect.zipRight(paneById(pane)),
        Effect.map((p) => {
          calls.push({ op: "resize", pane, width, height })
          p.width = width
          p.height = height
        })
      ),
    snapshot: (pane, historyLines, at) =>
      guard("capture-pane").pipe(
        Effect.zipRight(paneById(pane)),
        Effect.map((p) => {
          calls.push({ op: "capture", pane })
          const lines = p.screen.split("\n")
          const screen = lines.slice(-p.height)
          while (screen.length < p.height) screen.push("")
          const snapshot: TerminalSnapshot = {
            width: p.width,
            height: p.height,
            cursor: {
              x: Math.min(lines[lines.length - 1]!.length, p.width - 1),
              y: Math.min(lines.length, p.height) - 1
            },
            modes: FRESH_MODES,
            scrollRegion: { top: 0, bottom: p.height - 1 },
            history: lines.slice(0, -p.height).slice(-Math.max(0, historyLines)),
            screen
          }
          return [snapshot, at()] as const
        })
      ),
    sendBytes: (pane, bytes) =>
      guard("send-keys").pipe(
        Effect.zipRight(paneById(pane)),
        Effect.flatMap((p) => {
          if (bytes.length === 0) return Effect.void
          calls.push({ op: "bytes", pane, bytes })
          p.inMode = false
          p.screen += new TextDecoder().decode(bytes).replace(/\r/g, "\n$ ")
          return touch(p)
        })
      ),
    fitToViewer: (pane, width, height) =>
      guard("resize-window").pipe(
        Effect.zipRight(paneById(pane)),
        Effect.map((p) => {
          const applied = p.viewers === 0
          if (applied) {
            calls.push({ op: "resize", pane, width, height })
            p.width = width
            p.height = height
          }
          return { width: p.width, height: p.height, applied }
        })
      ),
    killSession: (name) =>
      guard("kill-session").pipe(
        Effect.flatMap(() => {
          calls.push({ op: "kill", name })
          return panes.delete(name) ? Effect.void : Effect.fail(new TmuxSessionNotFound({ target: name }))
        })
      )
  })

  const control = FakeTerminal.of({
    calls: () => calls.slice(),
    panes: () => Array.from(panes.values(), (p) => ({ name: p.name, paneId: p.paneId, screen: p.screen })),
    vanish: (name) => void panes.delete(name),
    adopt: addPane,
    enterMode: (pane) => {
      for (const p of panes.values()) if (p.paneId === pane) p.inMode = true
    },
    setHung: (value) => void (hung = value),
    setPasteDelay: (delay) => void (pasteDelay = delay),
    hangAfterNextPaste: () => void (hangAfterPaste = true),
    setForeground: (pane, command) => {
      for (const p of panes.values()) if (p.paneId === pane) p.foreground = command
    },
    failNextLists: (count) => void (listFailures = count),
    captureAttempts: () => captureAttempts.slice(),
    markDead: (pane) => {
      for (const p of panes.values()) if (p.paneId === pane) p.dead = true
    },
    setAttached: (pane, viewers) => {
      for (const p of panes.values()) if (p.paneId === pane) p.viewers = viewers
    }
  })
  return { bridge, control }
})

/** The fake bridge and its test handle, sharing one in-memory "tmux server". */
export const layer: Layer.Layer<TerminalBridge | FakeTerminal> = Layer.effectContext(
  Effect.map(
    make,
    ({ bridge, control }) => Context.make(TerminalBridge, bridge).pipe(Context.add(FakeTerminal, control))
  )
)
