/**
 * `telemux tui`: mounts the Ink app on the alternate screen, wires the store to the client, and
 * runs until `q`. Attaching suspends the UI: Ink is unmounted and the alternate screen left,
 * `tmux attach` runs synchronously with this terminal, then the UI is mounted again on the
 * state it left (the store outlives the components).
 */
import { Deferred, Duration, Effect, FiberSet, Schedule } from "effect"
import { type Instance, render } from "ink"
import { createElement } from "react"
import { attachCommand, attachLeftovers, detachHint, runAttached, tmuxPrefix, withDetachHint } from "../cli/Attach.js"
import { CliEnvironment, DaemonTarget } from "../cli/CliEnvironment.js"
import { type CliError, UsageError } from "../cli/CliError.js"
import { DaemonClient } from "../cli/DaemonClient.js"
import type { SessionId } from "../domain/Session.js"
import { App } from "./App.js"
import { type Cmd, initialState } from "./Model.js"
import { makeStore, type Store } from "./Store.js"
import { makeTuiClient } from "./TuiClient.js"

/** How often the spinner turns while a request is in flight. */
export const SPINNER_INTERVAL = Duration.millis(100)
/** How often ages are counted again (a second is their finest unit). */
export const CLOCK_INTERVAL = Duration.seconds(1)

const ENTER_ALT_SCREEN = "\x1b[?1049h\x1b[H"
const LEAVE_ALT_SCREEN = "\x1b[?1049l"

export const runTui = Effect.gen(function*() {
  const env = yield* CliEnvironment
  const client = yield* DaemonClient
  const target = yield* DaemonTarget
  if (env.stdin.isTTY !== true || env.stdout.isTTY !== true) {
    return yield* new UsageError({ detail: "telemux tui needs a terminal (stdin and stdout must be a TTY)" })
  }
  // Fails at once, before the screen is taken, when the daemon is down.
  const health = yield* client.health
  const tui = yield* makeTuiClient

  yield* Effect.scoped(Effect.gen(function*() {
    const done = yield* Deferred.make<void, CliError>()
    const run = yield* FiberSet.makeRuntime<never, void, never>()
    let instance: Instance | undefined
    const store: Store = makeStore(
      initialState({ defaultDir: env.cwd, localComputer: health.computer, now: Date.now() }),
      (command) => {
        run(perform(command))
      }
    )

    const mount = () => {
      env.stdout.write(ENTER_ALT_SCREEN)
      instance = render(createElement(App, { store: store }), {
        stdin: env.stdin,
        stdout: env.stdout,
        exitOnCtrlC: false,
        patchConsole: false
      })
    }
    const unmount = () => {
      instance?.unmount()
      instance = undefined
      env.stdout.write(LEAVE_ALT_SCREEN)
    }

    const attach = (id: SessionId) =>
      Effect.gen(function*() {
        const session = store.getState().sessions.get(id) ?? (yield* client.session(id))
        const computers = yield* client.computers
        const argv = yield* attachCommand({
          session,
          localComputer: health.computer,
          computers,
          tmuxSocket: target.settings.tmuxSocket
        })
        // The remote server's prefix is not known here; the local one is the best guess.
        const hint = detachHint(tmuxPrefix(target.settings.tmuxSocket, env.env))
        const hinted = withDetachHint(argv, hint)
        yield* Effect.sync(unmount)
        const result = yield* Effect.either(runAttached(hinted, env.env))
        yield* Effect.sync(() => env.stdout.write(attachLeftovers(hinted, result._tag === "Right")))
        yield* Effect.sync(mount)
        if (result._tag === "Left") return yield* result.left
      }).pipe(
        Effect.catchAll((error) =>
          Effect.sync(() => store.dispatch({ _tag: "Notice", notice: { kind: "error", text: error.message } }))
        )
      )

    const perform = (command: Cmd) => {
      switch (command._tag) {
        case "Quit":
          return Deferred.succeed(done, undefined)
        case "Attach":
          return attach(command.sessionId)
        default:
          return tui.perform(store.dispatch, command)
      }
    }

    yield* Effect.acquireRelease(Effect.sync(mount), () => Effect.sync(unmount))

    yield* tui.follow(store.dispatch).pipe(
      Effect.catchAll((error) => Deferred.fail(done, error)),
      Effect.forkScoped
    )
    yield* Effect.sync(() => store.dispatch({ _tag: "Tick" })).pipe(
      Effect.repeat(Schedule.spaced(SPINNER_INTERVAL)),
      Effect.forkScoped
    )
    yield* Effect.sync(() => store.dispatch({ _tag: "Clock", now: Date.now() })).pipe(
      Effect.repeat(Schedule.spaced(CLOCK_INTERVAL)),
      Effect.forkScoped
    )
    run(tui.perform(store.dispatch, { _tag: "LoadProjects" }))
    yield* Deferred.await(done)
  }))
})
