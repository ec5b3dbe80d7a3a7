/** Commands on one session: send, keys, tail, watch, attach, close. */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import { attachCommand, runAttached } from "./Attach.js"
import { CliEnvironment, DaemonTarget } from "./CliEnvironment.js"
import { RequestRefused } from "./CliError.js"
import { DaemonClient } from "./DaemonClient.js"
import { parseKeyArgs } from "./KeyArgs.js"
import { resolve, sessionId, withDaemon } from "./Root.js"
import { readAll } from "./Stdin.js"
import { watch } from "./Watch.js"

export const send = Command.make(
  "send",
  {
    noEnter: Options.boolean("no-enter").pipe(Options.withDescription("type the text without pressing Enter")),
    id: sessionId,
    text: Args.text({ name: "text" }).pipe(
      Args.atLeast(1),
      Args.withDescription("text to type (words are joined by spaces); `-` reads it from stdin")
    )
  },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const env = yield* CliEnvironment
      const text = options.text.length === 1 && options.text[0] === "-"
        ? (yield* readAll(env.stdin)).replace(/\r?\n$/, "")
        : options.text.join(" ")
      const session = yield* resolve(options.id)
      yield* Effect.flatMap(DaemonClient, (client) => client.sendText(session.sessionId, text, !options.noEnter))
    }))
).pipe(Command.withDescription("type text into a session (then Enter)"))

export const keys = Command.make(
  "keys",
  {
    id: sessionId,
    keys: Args.text({ name: "key" }).pipe(
      Args.atLeast(1),
      Args.withDescription(
        "Enter, Escape, Tab, BTab, BSpace, Up, Down, Left, Right, Home, End, PPage, NPage, DC, " +
          "Space or C-<a-z>; Name*N repeats (BSpace*5)"
      )
    )
  },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const parsed = yield* Either.match(parseKeyArgs(options.keys), { onLeft: Effect.fail, onRight: Effect.succeed })
      const session = yield* resolve(options.id)
      yield* Effect.flatMap(DaemonClient, (client) => client.sendKeys(session.sessionId, parsed))
    }))
).pipe(Command.withDescription("press keys in a session"))

export const tail = Command.make(
  "tail",
  {
    lines: Options.integer("lines").pipe(
      Options.withDescription("lines of history above the screen (default 100)"),
      Options.optional
    ),
    id: sessionId
  },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const client = yield* DaemonClient
      const session = yield* resolve(options.id)
      const output = yield* client.output(session.sessionId, Option.getOrUndefined(options.lines))
      yield* Console.log(output.screen.replace(/\s+$/, ""))
    }))
).pipe(Command.withDescription("print a session's screen"))

export const watchCommand = Command.make(
  "watch",
  { id: sessionId },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const session = yield* resolve(options.id)
      if (session.status === "closed") {
        return yield* new RequestRefused({ detail: `session ${session.sessionId} is closed` })
      }
      yield* watch(session)
    }))
).pipe(Command.withDescription("follow a session's screen live until Ctrl+C"))

export const attach = Command.make(
  "attach",
  { id: sessionId },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const client = yield* DaemonClient
      const { settings } = yield* DaemonTarget
      const { env } = yield* CliEnvironment
      const session = yield* resolve(options.id)
      const [health, computers] = yield* Effect.all([client.health, client.computers], { concurrency: 2 })
      const argv = yield* attachCommand({
        session,
        localComputer: health.computer,
        computers,
        tmuxSocket: settings.tmuxSocket
      })
      yield* runAttached(argv, env)
    }))
).pipe(Command.withDescription("attach this terminal to a session with tmux (over ssh for another computer)"))

export const close = Command.make(
  "close",
  { id: sessionId },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const client = yield* DaemonClient
      const session = yield* resolve(options.id)
      const closed = yield* client.close(session.sessionId)
      yield* Console.log(`closed ${closed.sessionId}`)
    }))
).pipe(Command.withDescription("close a session (kills its tmux session; the row stays as history)"))
