import { Context, Duration, type Effect } from "effect"
import type { PaneId, SessionId } from "../src/domain/Session.js"
import { CAPTURE_HISTORY_DEFAULT } from "./TerminalBridge.js"

/**
 * History lines captured above the visible screen for watchers: the output endpoint's default,
 * so a default `GET …/output` is answered from the watched snapshot.
 */
export const WATCH_HISTORY_LINES = CAPTURE_HISTORY_DEFAULT
/** A screen captured within this long is fresh enough to serve `GET …/output` from. */
export const SNAPSHOT_FRESH_FOR = Duration.seconds(1)
/** Consecutive failed probes before a pane is treated as gone (then confirmed by a listing). */
export const EXIT_CONFIRMATIONS = 2

/**
 * Watches sessions' panes: on a change signal it captures the screen (leading edge, then at most
 * once per POLL_INTERVAL_MIN), compares by hash and appends real changes to the OutputLog. With no
 * signal nothing is captured except a safety-net capture every POLL_INTERVAL_MAX.
 */
export class OutputPoller extends Context.Tag("telemux/OutputPoller")<OutputPoller, {
  /** Starts watching (idempotent). */
  readonly watch: (sessionId: SessionId, paneId: PaneId) => Effect.Effect<void>
  /** Stops watching and frees every per-session resource. */
  readonly unwatch: (sessionId: SessionId) => Effect.Effect<void>
  readonly watching: Effect.Effect<number>
}>() {}
