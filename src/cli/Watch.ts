/**
 * `telemux watch <id>`: follow a session's screen through `/v1/stream` until Ctrl+C or until the
 * session closes. On a terminal each screen is redrawn in place; into a pipe each line is printed
 * once (ScreenLog). When the link breaks it reconnects, resuming after the last seq seen, with a
 * backoff that starts again from the shortest wait after each successful connection.
 */
import { Console, Effect, Option, Ref, Stream } from "effect"
import type { ServerMessage } from "../api/StreamProtocol.js"
import type { Session } from "../domain/Session.js"
import { CliEnvironment, DaemonTarget } from "./CliEnvironment.js"
import { type CliError } from "./CliError.js"
import { advance, emptyScreenLog, flush, type ScreenLog } from "./ScreenLog.js"
import { connect, keepConnected } from "./StreamConnection.js"

const CLEAR = "\x1b[H\x1b[2J"

interface WatchState {
  readonly lastSeq: number | undefined
  readonly log: ScreenLog
  readonly closed: boolean
}

export const watch = (session: Session): Effect.Effect<void, CliError, CliEnvironment | DaemonTarget> =>
  Effect.gen(function*() {
    const { stdout } = yield* CliEnvironment
    const target = yield* DaemonTarget
    const tty = stdout.isTTY === true
    const state = yield* Ref.make<WatchState>({ lastSeq: undefined, log: emptyScreenLog, closed: false })
    const id = session.sessionId

    const show = (seq: number | undefined, screen: string | undefined) =>
      Effect.gen(function*() {
        const current = yield* Ref.get(state)
        if (screen === undefined) return yield* Ref.set(state, { ...current, lastSeq: seq ?? current.lastSeq })
        if (tty) {
          yield* Effect.sync(() => stdout.write(CLEAR + screen.replace(/\n+$/, "") + "\n"))
          return yield* Ref.set(state, { ...current, lastSeq: seq })
        }
        const { next, print } = advance(current.log, screen)
        if (print.length > 0) yield* Console.log(print.join("\n"))
        yield* Ref.set(state, { ...current, lastSeq: seq, log: next })
      })

    const handle = (message: ServerMessage): Effect.Effect<void> => {
      switch (message.type) {
        case "output":
          return message.sessionId === id ? show(message.seq, message.screen) : Effect.void
        case "resync":
          return message.sessionId === id ? show(message.seq, message.screen) : Effect.void
        case "session":
          if (
            (message.event === "removed" && message.sessionId === id) ||
            (message.event === "upserted" && message.session.sessionId === id && message.session.status === "closed")
          ) {
            return Ref.update(state, (s) => ({ ...s, closed: true }))
          }
          return Effect.void
        case "sessions":
          return message.sessions.some((s) => s.sessionId === id)
            ? Effect.void
            : Ref.update(state, (s) => ({ ...s, closed: true }))
        default:
          return Effect.void
      }
    }

    /**
     * Follows over one connection after another: subscribe (resuming after lastSeq) and show what
     * comes, until the session closed; a refused token ends it.
     */
    const follow = keepConnected({
      connect: connect(target.address, target.token),
      serve: (connection) =>
        Effect.gen(function*() {
          const { lastSeq } = yield* Ref.get(state)
          yield* connection.send({
            type: "subscribe",
            sessions: true,
            output: [lastSeq === undefined ? { sessionId: id } : { sessionId: id, since: lastSeq }]
          })
          yield* connection.messages.pipe(
            Stream.mapEffect(handle),
            Stream.takeUntilEffect(() => Effect.map(Ref.get(state), (s) => s.closed)),
            Stream.runDrain
          )
          return (yield* Ref.get(state)).closed ? Option.some(undefined) : Option.none()
        }),
      isFatal: (error: CliError) => error._tag === "TokenRejected",
      onLost: (reason) =>
        Console.error(
          `stream ${
            Option.match(reason, {
              onNone: () => "ended",
              onSome: (error) => `lost: ${error.message}`
            })
          }; reconnecting`
        )
    })

    yield* follow.pipe(
      Effect.ensuring(Effect.gen(function*() {
        const final = yield* Ref.get(state)
        if (!tty) {
          const rest = flush(final.log)
          if (rest.length > 0) yield* Console.log(rest.join("\n"))
        }
        if (final.closed) yield* Console.error(`session ${id} closed`)
      }))
    )
  })
