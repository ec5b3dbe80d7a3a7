import { Context, Data, Duration, Effect, Either } from "effect"
import type { KeyPress } from "../src/domain/Keys.js"
import { detachedLine, screenLines } from "../src/domain/ScreenPatch.js"
import type { PaneId, TmuxName } from "../src/domain/Session.js"
import type { TerminalSnapshot } from "../src/domain/TerminalSnapshot.js"
import type { ControlChannelDown } from "./TmuxControl.js"

/** Oldest tmux the daemon runs on (`new-session -e`, `display -p` formats we rely on). */
export const TMUX_MIN_VERSION = { major: 3, minor: 2 } as const

/** Every tmux call is bounded by one of these; on expiry the child is killed and reaped. */
export const TMUX_COMMAND_TIMEOUT = Duration.seconds(5)
/** tmux is "responsive" while no command has waited on it longer than this. */
export const TMUX_RESPONSIVE_WITHIN = Duration.seconds(1)
/** Time a child gets between SIGTERM and SIGKILL. */
export const KILL_GRACE = Duration.millis(500)
/**
 * Longest wait for an application that is not a shell to show a paste (see PaneSignals.pasteShown)
 * before the Enter is sent anyway. Reached only when the application draws nothing.
 */
export const PASTE_LANDED_TIMEOUT = Duration.millis(500)
/** Most history lines a capture may include above the visible screen. */
export const CAPTURE_HISTORY_MAX = 2000
export const CAPTURE_HISTORY_DEFAULT = 100
export const PANE_WIDTH_DEFAULT = 200
export const PANE_HEIGHT_DEFAULT = 50

/** tmux did not answer within its timeout; says nothing about whether the target exists. */
export class TmuxTimeout extends Data.TaggedError("TmuxTimeout")<{
  readonly command: string
  readonly timeout: Duration.Duration
}> {
  override get message() {
    return `tmux ${this.command} did not answer within ${Duration.format(this.timeout)}`
  }
}

/** tmux answered that the session or pane does not exist. */
export class TmuxSessionNotFound extends Data.TaggedError("TmuxSessionNotFound")<{
  readonly target: string
}> {
  override get message() {
    return `tmux has no session or pane ${this.target}`
  }
}

/** tmux could not be run or answered with an error other than "not found". */
export class TmuxCommandFailed extends Data.TaggedError("TmuxCommandFailed")<{
  readonly command: string
  readonly exitCode: number | null
  readonly stderr: string
  readonly cause?: unknown
}> {
  override get message() {
    return `tmux ${this.command} failed (exit ${this.exitCode}): ${this.stderr.trim()}`
  }
}

/**
 * The text reached the pane but its Enter did not, or may not have: the input is half done, whatever
 * `cause` says (a refusal as much as a timeout).
 */
export class EnterNotConfirmed extends Data.TaggedError("EnterNotConfirmed")<{ readonly cause: TmuxError }> {
  override get message() {
    return `the text was typed but its Enter was not confirmed: ${this.cause.message}`
  }
}

export class TmuxVersionUnsupported extends Data.TaggedError("TmuxVersionUnsupported")<{
  readonly found: string
}> {
  override get message() {
    return `tmux ${TMUX_MIN_VERSION.major}.${TMUX_MIN_VERSION.minor} or newer is needed, found "${this.found}"`
  }
}

/**
 * What a tmux command can fail with, whether it was spawned or sent over the control channel
 * (a ControlChannelDown reaches bridge callers when the channel is lost after a command was sent).
 */
export type TmuxError = TmuxTimeout | TmuxSessionNotFound | TmuxCommandFailed | ControlChannelDown

/**
 * True when a failed command may still have run (or may run later): tmux did not answer in time,
 * or the channel went away after the command was written. Every other failure means "not done".
 */
export const mayHaveRun = (error: TmuxError): boolean =>
  error._tag === "TmuxTimeout" || (error._tag === "ControlChannelDown" && error.sent)

export interface PaneInfo {
  readonly sessionName: string
  readonly paneId: PaneId
  readonly panePid: number
  readonly dead: boolean
  readonly inMode: boolean
  readonly currentCommand: string
  readonly currentPath: string
  /** Last output in the pane's window (tmux keeps it to the second), epoch milliseconds. */
  readonly activityAt: number
}

export interface ViewerFit {
  readonly width: number
  readonly height: number
  readonly applied: boolean
}

export interface CreateSessionOptions {
  readonly name: TmuxName
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  readonly width?: number
  readonly height?: number
  /** Shell command to run instead of the default shell. */
  readonly command?: string
}

export class TerminalBridge extends Context.Tag("telemux/TerminalBridge")<TerminalBridge, {
  /**
   * Whether tmux answers now: no command has waited on it longer than TMUX_RESPONSIVE_WITHIN. A
   * screen kept from an earlier capture is current only while this holds (a frozen tmux sends no
   * change signals either).
   */
  readonly responsive: Effect.Effect<boolean>
  /** The tmux version string (`tmux -V`); fails when older than TMUX_MIN_VERSION. */
  readonly version: Effect.Effect<string, TmuxError | TmuxVersionUnsupported>
  /** Starts a detached session and returns its (only) pane's id. */
  readonly createSession: (options: CreateSessionOptions) => Effect.Effect<PaneId, TmuxError>
  /** Every pane of every session on the daemon's tmux server, in one call. No server → empty. */
  readonly listPanes: Effect.Effect<ReadonlyArray<PaneInfo>, TmuxError>
  /** The visible screen plus up to `historyLines` lines above it. */
  readonly capture: (pane: PaneId, historyLines: number) => Effect.Effect<string, TmuxError>
  /**
   * Captures several panes in one round trip where it can: a result per pane, in order, up to and
   * including the first capture that failed; the panes after it were not captured (tmux skips the
   * rest of a list after a refusal). Fails as a whole only when no capture was answered. Each
   * screen comes as its lines (what `capture` gives, split on "\n"), each line a string of its own
   * that holds on to nothing else: the output log keeps them as they are. `previous`, per pane, is
   * its last capture's lines, when known: the lines still on the screen come back as those strings.
   */
  readonly captureEach: (
    panes: ReadonlyArray<PaneId>,
    historyLines: number,
    previous?: ReadonlyArray<ReadonlyArray<string> | undefined>
  ) => Effect.Effect<ReadonlyArray<Either.Either<ReadonlyArray<string>, TmuxError>>, TmuxError>
  /** Pastes `text` literally through a tmux buffer (`paste-buffer -p`); no Enter. */
  readonly paste: (pane: PaneId, text: string) => Effect.Effect<void, TmuxError>
  /**
   * Types `text` as `paste` does, after taking the pane out of copy-mode; with `enter`, then
   * presses Enter as its own key: at once when the pane's foreground process is a shell (tmux
   * decides, in the same command list as the paste), else once the application has shown the
   * paste (its echo, at most PASTE_LANDED_TIMEOUT). A failure after the text reached the
   * pane is EnterNotConfirmed. While tmux leaves earlier input unanswered, refused unsent.
   */
  readonly type: (pane: PaneId, text: string, enter: boolean) => Effect.Effect<void, TmuxError | EnterNotConfirmed>
  /** All presses in one command: delivered together or not at all. */
  readonly sendKeys: (pane: PaneId, keys: ReadonlyArray<KeyPress>) => Effect.Effect<void, TmuxError>
  readonly resize: (pane: PaneId, width: number, height: number) => Effect.Effect<void, TmuxError>
  /**
   * The pane's terminal as an attached person sees it (TerminalSnapshot), plus up to `historyLines`
   * lines above the screen. `at` is called where the snapshot falls in the pane's output order (see
   * TmuxControl.runList): output reported before its call is in the snapshot, output after is not.
   */
  readonly snapshot: <A>(
    pane: PaneId,
    historyLines: number,
    at: () => A
  ) => Effect.Effect<readonly [TerminalSnapshot, A], TmuxError>
  /**
   * Writes `bytes` to the pane as a terminal's keyboard would (any byte, escape sequences included),
   * after taking it out of copy-mode; never interpreted by a shell. Empty: nothing happens.
   */
  readonly sendBytes: (pane: PaneId, bytes: Uint8Array) => Effect.Effect<void, TmuxError>
  /**
   * A viewer's size, applied only while no person attached with tmux shows the pane's window (they
   * keep theirs): the window's size afterwards, and whether the request was applied.
   */
  readonly fitToViewer: (pane: PaneId, width: number, height: number) => Effect.Effect<ViewerFit, TmuxError>
  readonly killSession: (name: TmuxName) => Effect.Effect<void, TmuxError>
}>() {}

/**
 * `captureEach` one capture after another, stopping after the first failure as a tmux list does:
 * for bridges that have no list (a process per command, the test double) and for the fallback.
 */
export const captureInTurn = (capture: (pane: PaneId, historyLines: number) => Effect.Effect<string, TmuxError>) =>
(
  panes: ReadonlyArray<PaneId>,
  historyLines: number
): Effect.Effect<ReadonlyArray<Either.Either<ReadonlyArray<string>, TmuxError>>> =>
  Effect.gen(function*() {
    const results: Array<Either.Either<ReadonlyArray<string>, TmuxError>> = []
    for (const pane of panes) {
      const result = yield* Effect.either(capture(pane, historyLines))
      results.push(Either.map(result, (screen) => screenLines(screen).map(detachedLine)))
      if (Either.isLeft(result)) break
    }
    return results
  })
