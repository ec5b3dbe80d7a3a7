/**
 * The terminal UI's I/O: the daemon's stream turned into UI messages, and UI commands turned into
 * API requests whose outcome comes back as messages. The UI never waits for any of it: requests
 * run in their own fibers and report through `dispatch`.
 *
 * The stream carries the session list (always) and the output of the one session being previewed;
 * when the link breaks it reconnects (keepConnected: a fresh backoff for each outage), subscribing
 * again to what the UI follows at that moment.
 */
import { Effect, Option, Ref, Stream } from "effect"
import { DaemonTarget } from "../cli/CliEnvironment.js"
import type { CliError } from "../cli/CliError.js"
import { DaemonClient } from "../cli/DaemonClient.js"
import { connect, keepConnected, type StreamConnection } from "../cli/StreamConnection.js"
import type { KeyInput } from "../domain/Keys.js"
import type { ComputerName, SessionId } from "../domain/Session.js"
import type { Cmd, Msg } from "./Model.js"
import { applyServerMessage } from "./Update.js"

export type Dispatch = (msg: Msg) => void

const keyLabel = (key: KeyInput) => typeof key === "string" ? key : `${key.key}*${key.repeat ?? 1}`

export const makeTuiClient = Effect.gen(function*() {
  const client = yield* DaemonClient
  const target = yield* DaemonTarget
  const live = yield* Ref.make<Option.Option<StreamConnection>>(Option.none())
  const watched = yield* Ref.make<SessionId | undefined>(undefined)
  // Subscribing on (re)connect and moving the output subscription never interleave.
  const lock = yield* Effect.makeSemaphore(1)

  /** Follows the stream until interrupted; fails only when the daemon refuses the token. */
  const follow = (dispatch: Dispatch): Effect.Effect<void, CliError> =>
    keepConnected({
      connect: connect(target.address, target.token),
      serve: (connection) =>
        Effect.gen(function*() {
          yield* lock.withPermits(1)(Effect.gen(function*() {
            const id = yield* Ref.get(watched)
            yield* connection.send({
              type: "subscribe",
              sessions: true,
              ...(id === undefined ? {} : { output: [{ sessionId: id }] })
            })
            yield* Ref.set(live, Option.some(connection))
          }))
          yield* Effect.sync(() => dispatch({ _tag: "Link", link: "live" }))
          yield* connection.messages.pipe(
            Stream.runForEach((message) => Effect.sync(() => applyServerMessage(dispatch, message)))
          )
          return Option.none<never>()
        }).pipe(Effect.ensuring(Ref.set(live, Option.none()))),
      isFatal: (error: CliError) => error._tag === "TokenRejected",
      onLost: () => Effect.sync(() => dispatch({ _tag: "Link", link: "reconnecting" }))
    })

  /** Moves the output subscription to `id` (or drops it). */
  const watchOutput = (id: SessionId | undefined) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const previous = yield* Ref.getAndSet(watched, id)
      if (previous === id) return
      const connection = yield* Ref.get(live)
      if (Option.isNone(connection)) return
      if (previous !== undefined) yield* connection.value.send({ type: "unsubscribe", output: [previous] })
      if (id !== undefined) yield* connection.value.send({ type: "subscribe", output: [{ sessionId: id }] })
    })).pipe(Effect.ignore)

  const request = <A>(
    dispatch: Dispatch,
    effect: Effect.Effect<A, CliError>,
    onSuccess: (a: A) => ReadonlyArray<Msg>
  ) =>
    Effect.sync(() => dispatch({ _tag: "RequestStarted" })).pipe(
      Effect.zipRight(effect),
      Effect.match({
        onFailure: (error) => [{ _tag: "RequestFailed", text: error.message } as Msg],
        onSuccess
      }),
      Effect.flatMap((msgs) => Effect.sync(() => msgs.forEach(dispatch)))
    )

  /** Runs a request command; Quit, Attach and WatchOutput belong to the caller. */
  const perform = (dispatch: Dispatch, command: Cmd): Effect.Effect<void> => {
    switch (command._tag) {
      case "Create":
        return Effect.sync(() => dispatch({ _tag: "RequestStarted" })).pipe(
          Effect.zipRight(client.create(command.dir, command.title, {
            computer: command.computer as ComputerName | undefined,
            agent: command.agent,
            mode: command.mode,
            prompt: command.prompt,
            worktree: command.worktree
          })),
          Effect.match({
            onFailure: (error): ReadonlyArray<Msg> => [{ _tag: "CreateFailed", text: error.message }],
            onSuccess: (session): ReadonlyArray<Msg> => [
              { _tag: "Created", session },
              {
                _tag: "RequestSucceeded",
                text: `started ${session.sessionId.slice(0, 8)} in ${session.workingDirectory}`
              }
            ]
          }),
          Effect.flatMap((msgs) => Effect.sync(() => msgs.forEach(dispatch)))
        )
      case "LoadDiff":
        return Effect.sync(() => dispatch({ _tag: "RequestStarted" })).pipe(
          Effect.zipRight(client.diff(command.sessionId, false)),
          Effect.match({
            onFailure: (error): Msg => ({ _tag: "DiffFailed", sessionId: command.sessionId, text: error.message }),
            onSuccess: (diff): Msg => ({ _tag: "DiffLoaded", sessionId: command.sessionId, diff })
          }),
          Effect.flatMap((msg) => Effect.sync(() => dispatch(msg)))
        )
      case "Fork":
        return Effect.sync(() => dispatch({ _tag: "RequestStarted" })).pipe(
          Effect.zipRight(client.fork(command.sessionId, {
            ...(command.computer === undefined ? {} : { computer: command.computer as ComputerName }),
            ...(command.worktree === undefined ? {} : { worktree: command.worktree }),
            ...(command.title === undefined ? {} : { title: command.title })
          })),
          Effect.match({
            onFailure: (error): ReadonlyArray<Msg> => [{ _tag: "ForkFailed", text: error.message }],
            onSuccess: (session): ReadonlyArray<Msg> => [
              { _tag: "Created", session },
              { _tag: "RequestSucceeded", text: `forked into ${session.sessionId.slice(0, 8)} on ${session.computer}` }
            ]
          }),
          Effect.flatMap((msgs) => Effect.sync(() => msgs.forEach(dispatch)))
        )
      case "SendText":
        return request(dispatch, client.sendText(command.sessionId, command.text, true), () => [
          { _tag: "RequestSucceeded", text: "sent" }
        ])
      case "SendKeys":
        return request(dispatch, client.sendKeys(command.sessionId, command.keys), () => [
          { _tag: "RequestSucceeded", text: `sent ${command.keys.map(keyLabel).join(" ")}` }
        ])
      case "Close":
        return request(dispatch, client.close(command.sessionId), (session) => [
          { _tag: "SessionUpserted", session },
          { _tag: "RequestSucceeded", text: `closed ${session.sessionId.slice(0, 8)}` }
        ])
      case "LoadProjects":
        return request(dispatch, client.projects, (projects) => [
          { _tag: "ProjectsLoaded", projects },
          { _tag: "RequestSucceeded" }
        ])
      case "LoadComputers":
        return request(dispatch, client.computers, (computers) => [
          { _tag: "ComputersLoaded", computers: computers.map((c) => ({ name: c.name, online: c.online })) },
          { _tag: "RequestSucceeded" }
        ])
      case "LoadHistory":
        return request(dispatch, client.sessions({ status: "closed" }), (sessions) => [
          { _tag: "HistoryLoaded", sessions },
          { _tag: "RequestSucceeded" }
        ])
      case "WatchOutput":
        return watchOutput(command.sessionId)
      case "Attach":
      case "Quit":
        return Effect.void
    }
  }

  return { follow, perform, watchOutput }
})
