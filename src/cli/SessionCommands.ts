/** Commands on one session: send, keys, tail, watch, attach, close. */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import { CAPTURE_HISTORY_DEFAULT, CAPTURE_HISTORY_MAX } from "../../services/TerminalBridge.js"
import {
  ATTACH_WAYS,
  attachCommand,
  chooseAttachWay,
  detachHint,
  runAttached,
  tmuxPrefix,
  withDetachHint
} from "./Attach.js"
import { CliEnvironment, DaemonTarget } from "./CliEnvironment.js"
import { RequestRefused, UsageError } from "./CliError.js"
import { DaemonClient } from "./DaemonClient.js"
import { DEFAULT_DETACH_KEY, type DetachKey, parseDetachKey } from "./DetachKey.js"
import { KEYS_HINT, parseKeyArgs } from "./KeyArgs.js"
import { argument, resolve, sessionId, withDaemon } from "./Root.js"
import { readAll } from "./Stdin.js"
import { streamAttach } from "./StreamAttach.js"
import { watch } from "./Watch.js"

export const send = Command.make(
  "send",
  {
    noEnter: Options.boolean("no-enter").pipe(Options.withDescription("type the text without pressing Enter")),
    id: sessionId,
    text: argument("text").pipe(
      Args.atLeast(1),
      Args.withDescription(
        "text to type (words are joined by spaces); `-` reads it from stdin. Every word after the id is " +
          "text, even one starting with - (options go before the id)"
      )
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
    keys: argument("key").pipe(
      Args.atLeast(1),
      Args.withDescription(`${KEYS_HINT}; names are case-insensitive but for M-'s letter`)
    )
  },
  (options) =>
    Effect.gen(function*() {
      const parsed = yield* Either.match(parseKeyArgs(options.keys), { onLeft: Effect.fail, onRight: Effect.succeed })
      return yield* withDaemon(Effect.gen(function*() {
        const session = yield* resolve(options.id)
        yield* Effect.flatMap(DaemonClient, (client) => client.sendKeys(session.sessionId, parsed))
      }))
    })
).pipe(Command.withDescription("press keys in a session (Enter, C-c, Up*3, F5, M-x…)"))

/** `--lines`, checked here: the daemon's refusal of a bad one reads like a version mismatch. */
const historyLines = (lines: Option.Option<number>): Effect.Effect<Option.Option<number>, UsageError> =>
  Option.match(lines, {
    onNone: () => Effect.succeed(lines),
    onSome: (n) =>
      n >= 0 && n <= CAPTURE_HISTORY_MAX
        ? Effect.succeed(lines)
        : Effect.fail(
          new UsageError({
            detail: `--lines takes 0 to ${CAPTURE_HISTORY_MAX} (lines of history above the screen), not ${n}`
          })
        )
  })

export const tail = Command.make(
  "tail",
  {
    lines: Options.integer("lines").pipe(
      Options.withDescription(
        `lines of history above the screen, 0 to ${CAPTURE_HISTORY_MAX} (default ${CAPTURE_HISTORY_DEFAULT})`
      ),
      Options.optional
    ),
    id: sessionId
  },
  (options) =>
    Effect.flatMap(historyLines(options.lines), (lines) =>
      withDaemon(Effect.gen(function*() {
        const client = yield* DaemonClient
        const session = yield* resolve(options.id)
        const output = yield* client.output(session.sessionId, Option.getOrUndefined(lines))
        yield* Console.log(output.screen.replace(/\s+$/, ""))
      })))
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

const attachVia = Options.choice("via", ATTACH_WAYS).pipe(
  Options.withDescription(
    "how to attach: tmux (a session of this computer; the default for one), ssh (`ssh -t host tmux attach`: " +
      "needs ssh keys for that computer and its host key known), stream (the daemon's terminal stream in " +
      "this terminal, no ssh; the default for a session of another computer). Default: $TELEMUX_ATTACH_VIA " +
      "where it applies"
  ),
  Options.optional
)

const detachKeyOption = Options.text("detach-key").pipe(
  Options.withDescription(
    "the key that ends an attach --via stream, leaving the session running: a Ctrl key written C-<key> " +
      `(C-q, C-\\, …). Default: $TELEMUX_DETACH_KEY, else ${DEFAULT_DETACH_KEY} (Ctrl+])`
  ),
  Options.optional
)

/** `--detach-key`, else TELEMUX_DETACH_KEY, else Ctrl+]; a refusal names where the bad value came from. */
const detachKeyOf = (option: Option.Option<string>, env: NodeJS.ProcessEnv): Effect.Effect<DetachKey, UsageError> => {
  const fromEnv = (env.TELEMUX_DETACH_KEY ?? "").trim()
  const [text, source] = Option.isSome(option)
    ? [option.value, "--detach-key"]
    : fromEnv !== ""
    ? [fromEnv, "TELEMUX_DETACH_KEY"]
    : [DEFAULT_DETACH_KEY, "the default"]
  return Either.match(parseDetachKey(text), {
    onLeft: (why) => Effect.fail(new UsageError({ detail: `${source} is "${text}": ${why}` })),
    onRight: Effect.succeed
  })
}

export const attach = Command.make(
  "attach",
  { via: attachVia, detachKey: detachKeyOption, id: sessionId },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const client = yield* DaemonClient
      const { settings } = yield* DaemonTarget
      const { env } = yield* CliEnvironment
      const session = yield* resolve(options.id)
      const health = yield* client.health
      const local = session.computer === health.computer
      const way = yield* Either.match(
        chooseAttachWay({ via: options.via, preferred: env.TELEMUX_ATTACH_VIA, local }),
        { onLeft: Effect.fail, onRight: Effect.succeed }
      )
      if (way === "stream") {
        if (session.status === "closed") {
          return yield* new RequestRefused({ detail: `session ${session.sessionId} is closed; nothing to attach to` })
        }
        const detachKey = yield* detachKeyOf(options.detachKey, env)
        return yield* streamAttach({ session, detachKey, local })
      }
      const computers = local ? [] : yield* client.computers
      const argv = yield* attachCommand({
        session,
        localComputer: health.computer,
        computers,
        tmuxSocket: settings.tmuxSocket
      })
      // said before tmux takes the screen (it stays in the scrollback) and, for a few seconds, in tmux's
      // status line; the remote server's prefix is not known here, the local one is the best guess
      const hint = detachHint(tmuxPrefix(settings.tmuxSocket, env))
      const { stderr, stdout } = yield* CliEnvironment
      yield* Effect.sync(() => (stderr ?? stdout).write(`${hint}\n`))
      yield* runAttached(withDetachHint(argv, hint), env)
    }))
).pipe(
  Command.withDescription(
    "attach this terminal to a session: tmux for one of this computer, the daemon's terminal stream for one " +
      "of another (or --via ssh)"
  )
)

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
