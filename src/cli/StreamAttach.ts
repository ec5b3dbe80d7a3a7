/**
 * `telemux attach --via stream`: the session's terminal in this terminal, through the daemon's
 * `/v1/stream` (no tmux client here, no ssh). This terminal goes to raw mode on the alternate
 * screen; what the person types goes to the session as input messages (KeystrokeMessages.ts) but
 * for the detach key (DetachKey.ts); the session's snapshot and byte chunks are written as they
 * come (StreamAttachView.ts, through ScreenGuard.ts); this terminal's size is asked for at the start
 * and on every SIGWINCH (the daemon applies it while no person attached with tmux shows the session).
 *
 * How it ends: the detach key (exit 0), the session closing (exit 0), the daemon refusing the
 * terminal (exit 7), or the stream lost and ATTACH_RECONNECT_TRIES reconnects failed (exit 3).
 * Every way out (SIGTERM included: the runtime interrupts, finalizers run) gives the terminal back
 * as it was: cooked mode, the person's own screen, the session's modes turned off.
 */
import { Deferred, Duration, Effect, Exit, FiberHandle, Option, Queue, Ref, Schedule, type Scope, Stream } from "effect"
import type { ClientMessage } from "../api/StreamProtocol.js"
import type { Session, SessionId } from "../domain/Session.js"
import { CliEnvironment, DaemonTarget } from "./CliEnvironment.js"
import { type CliError, DaemonUnreachable, RequestRefused, UsageError } from "./CliError.js"
import type { DetachKey } from "./DetachKey.js"
import { makeDetachScanner } from "./DetachKey.js"
import { sliceToWidth } from "./DisplayWidth.js"
import { keystrokeMessages } from "./KeystrokeMessages.js"
import { ENTER_SCREEN, LEAVE_SCREEN } from "./ScreenGuard.js"
import {
  type AttachContext,
  type AttachMessage,
  type Ending,
  initialViewState,
  onAttachMessage,
  redrawRequest,
  subscription
} from "./StreamAttachView.js"
import { connectTerminal, RECONNECT_DELAY_MIN, reconnectSchedule, type StreamConnection } from "./StreamConnection.js"

/** Reconnects tried (on the reconnect backoff: about 6 s in all) after the stream is lost, before giving up. */
export const ATTACH_RECONNECT_TRIES = 5
/** How long a notice stays over the last line before the screen is redrawn without it. */
export const NOTICE_DURATION = Duration.seconds(4)
/** Reads of stdin waiting to be sent (while the stream reconnects); past this a read is dropped. */
export const KEYSTROKE_READS_MAX = 1024

export type AttachEnd = Ending | { readonly _tag: "Detached" }

export interface StreamAttachOptions {
  readonly session: Pick<Session, "sessionId" | "computer">
  readonly detachKey: DetachKey
  /** The session runs on this computer (for what to try when the daemon refuses its terminal). */
  readonly local: boolean
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/g

/** Notices shown at once, newest at the bottom; an older one goes when a newer one would be one too many. */
export const NOTICES_SHOWN_MAX = 3

/**
 * `lines` in reverse video on the terminal's last lines, each erased to its end first, the cursor
 * and its attributes kept (DECSC/DECRC).
 */
const overlay = (lines: ReadonlyArray<string>, columns: number, rows: number): string => {
  const top = Math.max(1, rows - lines.length + 1)
  const drawn = lines.map((line, i) =>
    `\x1b[${top + i};1H\x1b[0m\x1b[2K\x1b[7m ${
      sliceToWidth(line.replace(CONTROL, " "), Math.max(1, columns - 2))
    } \x1b[0m`
  )
  return `\x1b7${drawn.join("")}\x1b8`
}

const resizeMessage = (sessionId: SessionId, stdout: NodeJS.WriteStream): ClientMessage => ({
  type: "resize",
  sessionId,
  cols: Math.max(1, stdout.columns || 80),
  rows: Math.max(1, stdout.rows || 24)
})

/** Raw mode and the alternate screen for the scope; both given back when it closes, however it closes. */
const takeTerminal = (stdin: NodeJS.ReadStream, stdout: NodeJS.WriteStream) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      stdin.setRawMode(true)
      stdin.resume()
      stdout.write(ENTER_SCREEN)
    }),
    () =>
      Effect.sync(() => {
        stdout.write(LEAVE_SCREEN)
        stdin.setRawMode(false)
        stdin.pause()
      })
  )

/** A node event listener for the scope. */
const listen = <A extends Array<unknown>>(
  emitter: NodeJS.EventEmitter,
  event: string,
  listener: (...args: A) => void
) =>
  Effect.acquireRelease(
    Effect.sync(() => emitter.on(event, listener as (...args: Array<unknown>) => void)),
    () => Effect.sync(() => emitter.off(event, listener as (...args: Array<unknown>) => void))
  )

/** Runs the attach in this terminal until it ends; how it ended (a refusal and a lost stream fail). */
const attachInTerminal = (
  options: StreamAttachOptions
): Effect.Effect<AttachEnd, CliError, CliEnvironment | DaemonTarget | Scope.Scope> =>
  Effect.gen(function*() {
    const { stdin, stdout } = yield* CliEnvironment
    const target = yield* DaemonTarget
    const sessionId = options.session.sessionId
    const context = (): AttachContext => ({
      columns: stdout.columns,
      rows: stdout.rows,
      detachKeyName: options.detachKey.name
    })

    yield* takeTerminal(stdin, stdout)
    const keystrokes = yield* Queue.dropping<Uint8Array>(KEYSTROKE_READS_MAX)
    const resized = yield* Queue.sliding<void>(1)
    const detached = yield* Deferred.make<void>()
    // node's callbacks hand over without waiting: a queue offer, a deferred completed
    const scan = makeDetachScanner(options.detachKey)
    yield* listen(stdin, "data", (data: Buffer) => {
      const read = scan(data)
      if (read.keys.length > 0) Queue.unsafeOffer(keystrokes, read.keys)
      if (read.detach) Deferred.unsafeDone(detached, Exit.void)
    })
    yield* listen(stdin, "end", () => Deferred.unsafeDone(detached, Exit.void))
    yield* listen(stdout, "resize", () => Queue.unsafeOffer(resized, undefined))

    const state = yield* Ref.make(initialViewState(sessionId))
    const current = yield* Ref.make(Option.none<StreamConnection<AttachMessage>>())
    const redrawDue = yield* Ref.make(false)
    const noticeTimer = yield* FiberHandle.make()
    const notices = yield* Ref.make<ReadonlyArray<string>>([])

    /** A fresh snapshot through the connection of the moment, or at the next one. */
    const redraw = Effect.flatMap(Ref.get(current), (connection) =>
      Option.match(connection, {
        onNone: () => Ref.set(redrawDue, true),
        onSome: (c) => Effect.ignore(c.send(redrawRequest(sessionId)))
      }))

    const showNotices = Effect.flatMap(Ref.get(notices), (lines) =>
      Effect.sync(() => {
        if (lines.length > 0) stdout.write(overlay(lines, stdout.columns, stdout.rows))
      }))

    /** Shown with the others still up, until NOTICE_DURATION after the last one; then the screen is redrawn without them. */
    const notice = (text: string) =>
      Effect.gen(function*() {
        yield* Ref.update(notices, (lines) => [...lines, text].slice(-NOTICES_SHOWN_MAX))
        yield* showNotices
        yield* FiberHandle.run(
          noticeTimer,
          Effect.sleep(NOTICE_DURATION).pipe(Effect.zipRight(Ref.set(notices, [])), Effect.zipRight(redraw))
        )
      })

    const handle = (connection: StreamConnection<AttachMessage>) => (message: AttachMessage) =>
      Effect.gen(function*() {
        const [next, actions] = onAttachMessage(yield* Ref.get(state), message, context())
        yield* Ref.set(state, next)
        for (const action of actions) {
          switch (action._tag) {
            case "Write":
              yield* Effect.sync(() => stdout.write(action.bytes))
              break
            case "Draw":
              yield* Effect.sync(() => stdout.write(action.bytes))
              yield* showNotices
              break
            case "Send":
              yield* connection.send(action.message)
              break
            case "Notice":
              yield* notice(action.text)
              break
            case "End":
              return Option.some(action.ending)
          }
        }
        return Option.none<Ending>()
      })

    /** One connection: size, subscription, keystrokes and resizes sent, messages handled until an end or the link breaks. */
    const serve = (connection: StreamConnection<AttachMessage>) =>
      Effect.gen(function*() {
        yield* Ref.set(current, Option.some(connection))
        yield* Effect.addFinalizer(() => Ref.set(current, Option.none()))
        // the size first: the snapshot that answers the subscription is then drawn at it
        yield* connection.send(resizeMessage(sessionId, stdout))
        yield* connection.send(subscription(yield* Ref.get(state)))
        if (yield* Ref.getAndSet(redrawDue, false)) yield* connection.send(redrawRequest(sessionId))
        yield* Queue.take(keystrokes).pipe(
          Effect.flatMap((read) =>
            Effect.forEach(keystrokeMessages(sessionId, read), connection.send, { discard: true })
          ),
          Effect.forever,
          Effect.forkScoped
        )
        yield* Queue.take(resized).pipe(
          Effect.zipRight(Effect.suspend(() => connection.send(resizeMessage(sessionId, stdout)))),
          Effect.forever,
          Effect.forkScoped
        )
        return yield* connection.messages.pipe(
          Stream.mapEffect(handle(connection)),
          Stream.filterMap((ending) => ending),
          Stream.runHead
        )
      })

    const isFatal = (error: CliError) => error._tag === "TokenRejected"
    const connected = connectTerminal(target.address, target.token).pipe(
      Effect.retry({
        schedule: Schedule.intersect(reconnectSchedule, Schedule.recurs(ATTACH_RECONNECT_TRIES)),
        while: (error) => !isFatal(error)
      })
    )

    const follow = Effect.gen(function*() {
      for (let round = 0;; round++) {
        const ended = yield* Effect.scoped(
          Effect.flatMap(
            connected.pipe(
              Effect.mapError((error) =>
                round === 0 || error._tag !== "DaemonUnreachable"
                  ? error
                  : new DaemonUnreachable({
                    address: error.address,
                    detail: `the stream was lost and ${ATTACH_RECONNECT_TRIES} reconnects failed, the last with ` +
                      `${error.detail}; the session keeps running — attach again once the daemon runs`
                  })
              )
            ),
            (connection) =>
              serve(connection).pipe(Effect.catchIf((error) => !isFatal(error), () => Effect.succeed(Option.none())))
          )
        )
        if (Option.isSome(ended)) return ended.value
        yield* notice(`telemux: the stream to the daemon was lost; reconnecting (${options.detachKey.name} detaches)`)
        yield* Effect.sleep(RECONNECT_DELAY_MIN)
      }
    })

    return yield* Effect.raceFirst(
      Effect.as(Deferred.await(detached), { _tag: "Detached" } as const),
      follow
    )
  })

/** `telemux attach --via stream`: attaches until the person detaches or the session closes. */
export const streamAttach = (
  options: StreamAttachOptions
): Effect.Effect<void, CliError, CliEnvironment | DaemonTarget> =>
  Effect.gen(function*() {
    const { stderr, stdin, stdout } = yield* CliEnvironment
    if (stdin.isTTY !== true || stdout.isTTY !== true) {
      return yield* new UsageError({
        detail: "telemux attach needs a terminal (stdin and stdout must be a TTY); " +
          "`telemux watch ID` follows a session from a script, `telemux send ID TEXT` types into it"
      })
    }
    const id = options.session.sessionId
    const say = (line: string) => Effect.sync(() => (stderr ?? stdout).write(`${line}\n`))
    yield* say(`telemux: attaching to ${id} through the daemon's stream; detach with ${options.detachKey.name}`)
    const ended = yield* Effect.scoped(attachInTerminal(options))
    switch (ended._tag) {
      case "Detached":
        return yield* say(
          `telemux: detached from ${id}; it keeps running — \`telemux attach ${id.slice(0, 8)}\` comes back`
        )
      case "Closed":
        return yield* say(`telemux: session ${id} closed; \`telemux ls\` lists the open ones`)
      case "Refused":
        return yield* new RequestRefused({
          detail: `${ended.detail} — ${
            options.local
              ? "attach with tmux instead (leave --via out)"
              : "attach with --via ssh instead (it needs ssh keys for that computer and its host key known)"
          }`
        })
    }
  })
