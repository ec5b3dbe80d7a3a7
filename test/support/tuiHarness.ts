/**
 * The terminal UI on ink-testing-library, shared by its tests: the real components over the real
 * store and reducer, fed with stream messages exactly as the live client feeds them (JSON text →
 * decodeServerMessage → applyServerMessage), and keys typed into Ink's stdin. Commands the UI asks
 * for are recorded instead of being sent to a daemon.
 *
 * (JSX needs a .tsx file, which vitest.config.ts does not include; createElement does the same.)
 */
import { DateTime, Either, Schema } from "effect"
import { render } from "ink-testing-library"
import { createElement } from "react"
import { assert } from "vitest"
import { decodeServerMessage, ServerMessage } from "../../src/api/StreamProtocol.js"
import { Project, Todo } from "../../src/domain/Project.js"
import { ComputerName, type SessionId } from "../../src/domain/Session.js"
import { App } from "../../src/tui/App.js"
import { type Cmd, initialState } from "../../src/tui/Model.js"
import { makeStore } from "../../src/tui/Store.js"
import { applyServerMessage } from "../../src/tui/Update.js"
import { makeSession } from "./fixtures.js"

export const KEY = {
  up: "\x1b[A",
  down: "\x1b[B",
  right: "\x1b[C",
  left: "\x1b[D",
  enter: "\r",
  escape: "\x1b",
  tab: "\t",
  ctrlC: "\x03",
  backspace: "\x7f"
} as const

const encodeServer = Schema.encodeSync(ServerMessage)

export const session = (n: number, overrides: Parameters<typeof makeSession>[0] = {}) =>
  makeSession({
    computer: ComputerName.make("alpha"),
    workingDirectory: "/work/app",
    title: `s${n}`,
    status: "idle",
    ...overrides
  }, n)

export const projects = [
  new Project({
    name: "app",
    path: "/work/app",
    description: "the app",
    todos: [
      new Todo({
        slug: "login-page",
        state: "in_progress",
        description: "build it",
        hasRequirements: true,
        hasImplementationPlan: false
      }),
      new Todo({
        slug: "dark-mode",
        state: "pending",
        description: "",
        hasRequirements: false,
        hasImplementationPlan: true
      })
    ]
  }),
  new Project({ name: "lib", path: "/work/lib", description: "", todos: [] })
]

export const tick = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms))

/** The UI over a store whose commands are recorded; `server` sends a stream message the way the client does. */
export const setup = (options: { readonly localComputer?: string; readonly now?: number } = {}) => {
  const commands: Array<Cmd> = []
  const store = makeStore(
    initialState({
      defaultDir: "/home/me",
      localComputer: options.localComputer ?? "alpha",
      ...(options.now === undefined ? {} : { now: options.now })
    }),
    (command) => commands.push(command)
  )
  const ui = render(createElement(App, { store }))
  const server = (message: ServerMessage) => {
    const decoded = decodeServerMessage(JSON.stringify(encodeServer(message)))
    assert.isTrue(Either.isRight(decoded))
    applyServerMessage(store.dispatch, Either.getOrThrow(decoded))
  }
  const press = async (...keys: ReadonlyArray<string>) => {
    for (const key of keys) {
      ui.stdin.write(key)
      await tick(15)
    }
    await tick()
  }
  const frame = async () => {
    await tick()
    return ui.lastFrame() ?? ""
  }
  return { commands, store, ui, server, press, frame }
}

export const screenOf = (id: SessionId, seq: number, screen: string): ServerMessage => ({
  type: "output",
  sessionId: id,
  seq,
  screen,
  changedAt: DateTime.unsafeMake(1_700_000_100_000)
})
