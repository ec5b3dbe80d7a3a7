import { Context, Data, Duration, type Effect, type Option, type Queue, type Scope } from "effect"
import type { PaneId } from "../src/domain/Session.js"
import type { PaneOutput } from "../src/tmux/ControlProtocol.js"
import type { TmuxCommandFailed, TmuxError, TmuxSessionNotFound } from "./TerminalBridge.js"

/** Hidden session the control clients attach to; every telemux window is linked into it. */
export const HUB_SESSION = "_telemux_hub"
/** Bound on one command's round trip over the control channel. */
export const CONTROL_COMMAND_TIMEOUT = Duration.seconds(5)
/** Reconnect backoff of the control client: starts here, doubles, jittered, capped below. */
export const CONTROL_RECONNECT_BASE = Duration.millis(100)
export const CONTROL_RECONNECT_MAX = Duration.seconds(10)
/** Most commands waiting for a reply at once; more fail fast instead of queueing without bound. */
export const CONTROL_PENDING_MAX = 1024

/**
 * The control channel could not carry a command. `sent: false` — it never reached tmux (safe to run
 * another way); `sent: true` — the client went away before answering (it may have run).
 */
export class ControlChannelDown extends Data.TaggedError("ControlChannelDown")<{
  readonly command: string
  readonly reason: string
  readonly sent: boolean
}> {
  override get message() {
    return `tmux ${this.command} failed: control channel down: ${this.reason}`
  }
}

/**
 * Told of what a pane wrote, synchronously and in order, as the control client reads it. It must
 * return at once, and read `output.data` (octal-unescaped, UTF-8 decoded by a per-pane streaming
 * decoder; possibly empty, when the write ended inside a character) then or never: it is decoded
 * when first read (see PaneOutput).
 */
export type PaneOutputListener = (paneId: PaneId, output: PaneOutput) => void

/** What the control client reports between command replies, besides output (see TmuxControl.onOutput). */
export type ControlEvent =
  /** A `refresh-client -B` subscription's value changed for a pane. */
  | {
    readonly _tag: "PaneChanged"
    readonly paneId: PaneId
    readonly field: "command" | "path" | "dead"
    readonly value: string
  }
  /** A window's size (or its panes' layout) changed: a terminal of the window is to be drawn again. */
  | { readonly _tag: "LayoutChanged"; readonly windowId: string }
  /** The channel is (again) up; anything may have changed while it was down. */
  | { readonly _tag: "Connected" }
  | { readonly _tag: "Disconnected"; readonly reason: string }

/** What a command list answered (see replyBlocks in src/tmux/ControlProtocol.ts). */
export interface ListReply {
  /** The bodies of the blocks that ended with `%end`, in order. */
  readonly blocks: ReadonlyArray<ReadonlyArray<string>>
  /** The refusal (`%error`) that ended the list at block `blocks.length`; the commands after it did not run. */
  readonly refused: Option.Option<TmuxSessionNotFound | TmuxCommandFailed>
}

/**
 * The events client: one long-lived `tmux -C` client on the daemon's socket, the command channel
 * for reads (captures, listings) and sessions, and the source of change signals for every pane,
 * whatever the number of sessions. Input has a client of its own (ControlInput).
 */
export class TmuxControl extends Context.Tag("telemux/TmuxControl")<TmuxControl, {
  /**
   * Runs one command (argv, quoted for tmux's parser by the channel); the reply's body lines.
   * Fails with ControlChannelDown when the channel cannot carry it.
   */
  readonly run: (args: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string>, TmuxError>
  /**
   * Runs commands as one list in one round trip (see ListReply: tmux skips the rest after a
   * refusal). `at`, when given, is called synchronously when the list has been answered in full, at
   * that point of the output order: every onOutput listener has been told all a pane wrote before
   * the answer, and nothing after it (a snapshot and the output that follows it meet exactly there).
   * `previous`, per command, is the body its reply is likely to repeat (a pane's last capture): the
   * lines it repeats come back as those very strings, not decoded again.
   */
  readonly runList: (
    commands: ReadonlyArray<ReadonlyArray<string>>,
    at?: () => void,
    previous?: ReadonlyArray<ReadonlyArray<string> | undefined>
  ) => Effect.Effect<ListReply, TmuxError>
  /** A subscription to events from now on; bounded (sliding: an overwhelmed reader loses the oldest). */
  readonly subscribe: Effect.Effect<Queue.Dequeue<ControlEvent>, never, Scope.Scope>
  /**
   * Calls `listener` with every session pane's output from now on, for the scope's life. Output is
   * most of what tmux reports (a notification per pane per write): a plain call per notification,
   * where an event would cost a queue item and a fiber wake-up for each subscriber.
   */
  readonly onOutput: (listener: PaneOutputListener) => Effect.Effect<void, never, Scope.Scope>
  readonly isConnected: Effect.Effect<boolean>
  /** Connected, and the oldest command still waiting was sent less than `within` ago. */
  readonly isResponsive: (within: Duration.Duration) => Effect.Effect<boolean>
  /** Links a session's window into the hub so its panes report output. */
  readonly watchWindowOf: (sessionName: string) => Effect.Effect<void, TmuxError>
  /** pid of the control client process while connected (for the process-count budget). */
  readonly clientPid: Effect.Effect<Option.Option<number>>
}>() {}

/**
 * The daemon's second (and last) tmux client, attached with `-f no-output`: it carries input only,
 * so a keystroke never waits behind the screen captures queued on TmuxControl's client, and it
 * reads no pane output. Reconnects on its own, as TmuxControl does.
 */
export class ControlInput extends Context.Tag("telemux/ControlInput")<ControlInput, {
  /**
   * Writes the commands as one list on one line and gathers its reply blocks. Fails only when the
   * list got no answer (TmuxTimeout, ControlChannelDown, or too many commands waiting); a command
   * tmux refused is the reply's `refused`.
   */
  readonly runList: (commands: ReadonlyArray<ReadonlyArray<string>>) => Effect.Effect<ListReply, TmuxError>
  readonly isConnected: Effect.Effect<boolean>
  /** Connected, and a command has waited on tmux longer than `within`: a list written now would wait behind it. */
  readonly isStalled: (within: Duration.Duration) => Effect.Effect<boolean>
  readonly clientPid: Effect.Effect<Option.Option<number>>
}>() {}

/**
 * A pane's output in the order the events client (TmuxControl's) read it, for input that must wait
 * for an application to show a paste: a list that changes the pane's mode marks a point in that
 * order (`%pane-mode-changed`, see leaveModeMarkedArgs), so output that was on its way before the
 * paste is never taken for the paste's.
 */
export class PaneSignals extends Context.Tag("telemux/PaneSignals")<PaneSignals, {
  /**
   * Watches `pane` from now on, until the scope closes: the effect returned completes once the
   * output after the pane's next mode change shows the end of `text` (see pasteTail), or, where it
   * does not (an application that draws a paste as a summary), once output came after the mark
   * and then none for PASTE_QUIET; and as soon as the events client goes down. A text that shows
   * nothing: its first output after the mark. Output alone is not enough where it can: an
   * application busy when the paste came (a slow hook) writes its late prompt before reading it.
   */
  readonly pasteShown: (pane: PaneId, text: string) => Effect.Effect<Effect.Effect<void>, never, Scope.Scope>
}>() {}

/** How long an application that drew something after a paste, not the paste itself, stays quiet before the Enter goes. */
export const PASTE_QUIET = Duration.millis(100)
