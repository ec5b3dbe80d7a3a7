import { Context, Data, Duration, type Effect, type Option, type Queue, type Scope } from "effect"
import type { PaneId } from "../src/domain/Session.js"
import type { TmuxError } from "./TerminalBridge.js"

/** Hidden session the control client attaches to; every telemux window is linked into it. */
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

/** What the control client reports between command replies. */
export type ControlEvent =
  /** Bytes a pane wrote, octal-unescaped and UTF-8 decoded (per-pane streaming decoder). */
  | { readonly _tag: "Output"; readonly paneId: PaneId; readonly data: string }
  /** A `refresh-client -B` subscription's value changed for a pane. */
  | {
    readonly _tag: "PaneChanged"
    readonly paneId: PaneId
    readonly field: "command" | "path" | "dead"
    readonly value: string
  }
  /** The channel is (again) up; anything may have changed while it was down. */
  | { readonly _tag: "Connected" }
  | { readonly _tag: "Disconnected"; readonly reason: string }

/**
 * One long-lived `tmux -C` client on the daemon's socket: a command channel for hot paths and
 * the source of change signals for every pane, whatever the number of sessions.
 */
export class TmuxControl extends Context.Tag("telemux/TmuxControl")<TmuxControl, {
  /**
   * Runs one command (argv, quoted for tmux's parser by the channel); the reply's body lines.
   * Fails with ControlChannelDown when the channel cannot carry it.
   */
  readonly run: (args: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string>, TmuxError>
  /** A subscription to events from now on; bounded (sliding: an overwhelmed reader loses the oldest). */
  readonly subscribe: Effect.Effect<Queue.Dequeue<ControlEvent>, never, Scope.Scope>
  readonly isConnected: Effect.Effect<boolean>
  /** Connected, and the oldest command still waiting was sent less than `within` ago. */
  readonly isResponsive: (within: Duration.Duration) => Effect.Effect<boolean>
  /** Links a session's window into the hub so its panes report output. */
  readonly watchWindowOf: (sessionName: string) => Effect.Effect<void, TmuxError>
  /** pid of the control client process while connected (for the process-count budget). */
  readonly clientPid: Effect.Effect<Option.Option<number>>
}>() {}
