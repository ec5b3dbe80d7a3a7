import { Clock, DateTime, Duration, Effect } from "effect"
import { INPUT_LOCKS_MAX, KEYSTROKE_ACTIVITY_INTERVAL, TERMINAL_INPUT_MAX_BYTES } from "../services/Sessions.js"
import type { SessionPatch } from "../services/SessionStore.js"
import { type EnterNotConfirmed, mayHaveRun, type TerminalBridge, type TmuxError } from "../services/TerminalBridge.js"
import { KeyedMutex, LockTableFull } from "../src/concurrency/KeyedMutex.js"
import {
  InvalidRequest,
  OutcomeUnknown,
  type SessionClosed,
  type SessionNotFound,
  type StorageFailure,
  TerminalUnavailable
} from "../src/domain/Errors.js"
import type { KeyPress } from "../src/domain/Keys.js"
import { type PaneId, type Session, type SessionId, summarise } from "../src/domain/Session.js"

/** What input needs of the sessions it types into (Sessions' own steps, see SessionsLive.make). */
export interface SessionInputDeps {
  readonly bridge: TerminalBridge["Type"]
  /** An open session with a pane. */
  readonly openPane: (
    id: SessionId
  ) => Effect.Effect<
    { readonly session: Session; readonly pane: PaneId },
    SessionNotFound | SessionClosed | TerminalUnavailable | StorageFailure
  >
  /** tmux said the pane is missing: closes the session only if a listing confirms it, and fails either way. */
  readonly confirmGone: (session: Session) => Effect.Effect<never, TerminalUnavailable | SessionClosed | StorageFailure>
  readonly save: (id: SessionId, patch: SessionPatch) => Effect.Effect<unknown, StorageFailure>
}

type StepError = TerminalUnavailable | OutcomeUnknown | SessionClosed | StorageFailure

/**
 * The answer for a failed step that changes the pane: "not done" when tmux refused it or never got
 * it, "unknown" when it may have run (no answer in time, the channel lost after sending).
 */
const mutationFailed = (what: string) => (error: TmuxError): TerminalUnavailable | OutcomeUnknown =>
  mayHaveRun(error)
    ? new OutcomeUnknown({
      message: `tmux did not confirm ${what} (${error.message}); it may have happened: look at the session ` +
        "before sending it again, or retry with the same Idempotency-Key"
    })
    : new TerminalUnavailable({ message: error.message })

/** Text and keys into sessions' panes: serialised per session, each outcome answered honestly. */
export const makeSessionInput = ({ bridge, confirmGone, openPane, save }: SessionInputDeps) => {
  const inputLocks = new KeyedMutex<SessionId>(INPUT_LOCKS_MAX)

  const serialised =
    (id: SessionId) => <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | TerminalUnavailable> =>
      inputLocks.withLock(id)(effect).pipe(
        Effect.catchIf(
          (error): error is LockTableFull => error instanceof LockTableFull,
          (error) => Effect.fail(new TerminalUnavailable({ message: error.message }))
        )
      )

  /** After the pane got the input: a failure to record it is logged, never answered as "not done". */
  const recordInput = (id: SessionId, text: string | undefined) =>
    DateTime.now.pipe(
      Effect.flatMap((now) =>
        save(id, text === undefined ? { lastActivityAt: now } : { lastActivityAt: now, lastInput: summarise(text) })
      ),
      Effect.catchAll((error) =>
        Effect.logError("input was delivered but could not be recorded", error).pipe(
          Effect.annotateLogs({ sessionId: id })
        )
      )
    )

  /** When each session's keystrokes last recorded its activity (bounded as the input locks are). */
  const keystrokesRecorded = new Map<SessionId, number>()
  const recordKeystrokes = (id: SessionId) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const last = keystrokesRecorded.get(id)
      if (last !== undefined && now - last < Duration.toMillis(KEYSTROKE_ACTIVITY_INTERVAL)) return Effect.void
      keystrokesRecorded.delete(id)
      keystrokesRecorded.set(id, now)
      if (keystrokesRecorded.size > INPUT_LOCKS_MAX) keystrokesRecorded.delete(keystrokesRecorded.keys().next().value!)
      return recordInput(id, undefined)
    })

  /**
   * A step that changes the pane: a missing pane is confirmed as for any step; text typed whose Enter
   * was not confirmed is half done (unknown, whatever the cause); other failures per mutationFailed.
   */
  const mutate =
    (session: Session, what: string) =>
    <A>(effect: Effect.Effect<A, TmuxError | EnterNotConfirmed>): Effect.Effect<A, StepError> =>
      effect.pipe(Effect.catchAll((error): Effect.Effect<never, StepError> => {
        switch (error._tag) {
          case "EnterNotConfirmed":
            return Effect.fail(
              mayHaveRun(error.cause)
                ? mutationFailed("the Enter after the text")(error.cause)
                : new OutcomeUnknown({
                  message:
                    `the text was typed but its Enter failed (${error.cause.message}): look at the session before sending it again`
                })
            )
          case "TmuxSessionNotFound":
            return confirmGone(session)
          default:
            return Effect.fail(mutationFailed(what)(error))
        }
      }))

  /**
   * The pane steps of one input run to their end once started (a caller that goes away does not
   * leave text without its Enter): the outcome is then known, and kept for an idempotent retry.
   */
  const sendText = Effect.fn("Sessions.sendText")(function*(id: SessionId, text: string, enter: boolean) {
    const { pane, session } = yield* openPane(id)
    // tmux turns each LF into CR on paste; a CRLF would otherwise become two line ends
    const typed = bridge.type(pane, text.replace(/\r\n/g, "\n"), enter)
    yield* serialised(id)(mutate(session, "the input")(typed).pipe(Effect.uninterruptible))
    yield* recordInput(id, text === "" ? undefined : text)
  })

  /** Every press in one tmux command: the keys are sent together or not at all (or, on a timeout, unknown). */
  const sendKeys = Effect.fn("Sessions.sendKeys")(function*(id: SessionId, keys: ReadonlyArray<KeyPress>) {
    const { pane, session } = yield* openPane(id)
    yield* serialised(id)(mutate(session, "the keys")(bridge.sendKeys(pane, keys)).pipe(Effect.uninterruptible))
    yield* recordInput(id, undefined)
  })

  /**
   * A terminal's keystrokes, byte for byte, in one command list: written together or not at all
   * (unknown on a timeout). The activity time is recorded, at most once per KEYSTROKE_ACTIVITY_INTERVAL;
   * the bytes are not a "last input" summary.
   */
  const sendBytes = Effect.fn("Sessions.sendBytes")(function*(id: SessionId, bytes: Uint8Array) {
    if (bytes.length > TERMINAL_INPUT_MAX_BYTES) {
      return yield* new InvalidRequest({
        message: `a keystroke message carries at most ${TERMINAL_INPUT_MAX_BYTES} bytes (got ${bytes.length}); ` +
          "send a longer paste in several messages"
      })
    }
    const { pane, session } = yield* openPane(id)
    if (bytes.length === 0) return
    yield* serialised(id)(mutate(session, "the keystrokes")(bridge.sendBytes(pane, bytes)).pipe(Effect.uninterruptible))
    yield* recordKeystrokes(id)
  })

  return { sendText, sendKeys, sendBytes } as const
}
