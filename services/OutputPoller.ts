import { Context, Duration, type Effect } from "effect"
import type { PaneId, SessionId } from "../src/domain/Session.js"

/**
 * History lines captured above the visible screen for watchers: none. Watchers get the visible
 * screen; history is for `GET …/output?lines=N`, captured when asked. Measured with 500 busy
 * sessions (bench `busy`): capturing 100 history lines with every update costs the tmux server
 * ~1.3× a bare server's CPU, the visible screen alone ~1.05×.
 */
export const WATCH_HISTORY_LINES = 0
/** A screen captured within this long is fresh enough to serve `GET …/output` from. */
export const SNAPSHOT_FRESH_FOR = Duration.seconds(1)
/** Consecutive failed probes before a pane is treated as gone (then confirmed by a listing). */
export const EXIT_CONFIRMATIONS = 2

/**
 * Watches sessions' panes: on a change signal it captures the visible screen (leading edge, then at
 * most once per POLL_INTERVAL_MIN; under load, in batches CAPTURE_BATCH_GAP apart) and appends it
 * to the OutputLog when it differs from the last one. With no signal nothing is captured except a
 * safety-net capture every POLL_INTERVAL_MAX.
 */
export class OutputPoller extends Context.Tag("telemux/OutputPoller")<OutputPoller, {
  /** Starts watching (idempotent). */
  readonly watch: (sessionId: SessionId, paneId: PaneId) => Effect.Effect<void>
  /** Stops watching and frees every per-session resource. */
  readonly unwatch: (sessionId: SessionId) => Effect.Effect<void>
  readonly watching: Effect.Effect<number>
}>() {}
