/** Commands for agents: resume, restart, listen, and the agents' hooks (install / uninstall). */
import { Command, Options } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Console, Duration, Effect, Option, Schedule } from "effect"
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import { type HookFileReport, install, uninstall } from "../agents/HookInstall.js"
import { Agent, type Session } from "../domain/Session.js"
import { CliEnvironment } from "./CliEnvironment.js"
import { OutcomeUnconfirmed, PromptNotDelivered, RequestRefused } from "./CliError.js"
import { DaemonClient } from "./DaemonClient.js"
import { json, resolve, sessionId, withDaemon } from "./Root.js"

const sessionJson = (session: unknown) => JSON.stringify(session)

const resumeLike = (name: "resume" | "restart", description: string) =>
  Command.make(name, { json, id: sessionId }, (options) =>
    withDaemon(Effect.gen(function*() {
      const client = yield* DaemonClient
      const session = yield* resolve(options.id)
      const resumed = yield* client.resume(session.sessionId, name === "restart")
      yield* Console.log(options.json ? sessionJson(resumed) : resumed.sessionId)
    }))).pipe(Command.withDescription(description))

export const resume = resumeLike(
  "resume",
  "start a session's agent again on its conversation (by its id, else the latest)"
)
export const restart = resumeLike(
  "restart",
  "interrupt a session's agent (Ctrl+C twice), wait for the shell, resume it"
)

export const listen = Command.make(
  "listen",
  {
    listener: Options.text("listener").pipe(
      Options.withDescription("the session to tell (default: the one this command runs in, $TELEMUX_SESSION_ID)"),
      Options.optional
    ),
    id: sessionId
  },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const client = yield* DaemonClient
      const { env } = yield* CliEnvironment
      const listenerInput = Option.getOrUndefined(options.listener) ?? env.TELEMUX_SESSION_ID
      if (listenerInput === undefined || listenerInput.trim() === "") {
        return yield* new RequestRefused({ detail: "give --listener, or run this inside a telemux session" })
      }
      const target = yield* resolve(options.id)
      const listener = yield* resolve(listenerInput)
      yield* client.listen(target.sessionId, listener.sessionId)
      yield* Console.log(`${listener.sessionId} will be told when ${target.sessionId} stops or asks for input`)
    }))
).pipe(Command.withDescription("tell a session (a line typed into it) each time another one stops or asks for input"))

/** The hook command the agents run: this installation's dist/hook.js, with the node running us. */
export const hookCommand = (): ReadonlyArray<string> => [
  process.execPath,
  fileURLToPath(new URL("./hook.js", import.meta.url))
]

const agentsOption = Options.choice("agent", Agent.literals).pipe(
  Options.repeated,
  Options.withDescription("only this agent's settings (repeatable; default: claude, codex and gemini)")
)

const report = (reports: ReadonlyArray<HookFileReport>) =>
  Effect.forEach(reports, (r) => Console.log(`${r.outcome.padEnd(9)} ${r.agent.padEnd(6)} ${r.file}`), {
    discard: true
  })

const hooksAction = (name: "install" | "uninstall") =>
  Command.make(name, { agents: agentsOption }, (options) =>
    Effect.gen(function*() {
      const { env } = yield* CliEnvironment
      const home = env.HOME ?? os.homedir()
      const run = name === "install" ? install : uninstall
      const reports = yield* run({
        home,
        hookCommand: hookCommand(),
        ...(options.agents.length === 0 ? {} : { agents: options.agents })
      }).pipe(Effect.provide(NodeContext.layer))
      yield* report(reports)
      if (reports.some((r) => r.outcome === "failed")) {
        return yield* new RequestRefused({ detail: "some agent settings could not be changed (see above)" })
      }
    })).pipe(
      Command.withDescription(
        name === "install"
          ? "add telemux's hooks to Claude Code, Codex and Gemini settings (merged, idempotent, backed up)"
          : "remove telemux's hooks from the agents' settings, restoring what they replaced"
      )
    )

export const hooks = Command.make("hooks").pipe(
  Command.withDescription("the agents' hooks that report turns and questions to telemux"),
  Command.withSubcommands([hooksAction("install"), hooksAction("uninstall")])
)

/** Longest wait for the daemon to report the first prompt's outcome (its own attempts end well within it). */
export const PROMPT_OUTCOME_WAIT = Duration.seconds(90)
const PROMPT_OUTCOME_POLL = Duration.millis(250)

/**
 * A session started with a prompt, once the daemon knows whether the prompt reached its agent;
 * fails with PromptNotDelivered when it did not (the session runs: the message says what to do).
 */
export const awaitPromptDelivery = (session: Session) =>
  Effect.gen(function*() {
    if (session.promptDelivery?.state !== "pending") return session
    const client = yield* DaemonClient
    const settled = yield* client.session(session.sessionId).pipe(
      Effect.repeat(
        Schedule.spaced(PROMPT_OUTCOME_POLL).pipe(
          Schedule.whileInput((s: Session) => s.promptDelivery?.state === "pending" && s.status !== "closed"),
          Schedule.passthrough
        )
      ),
      Effect.timeoutFail({
        duration: PROMPT_OUTCOME_WAIT,
        onTimeout: () =>
          new OutcomeUnconfirmed({
            detail: `the daemon did not say within ${
              Duration.format(PROMPT_OUTCOME_WAIT)
            } whether the first prompt of session ${session.sessionId} reached its agent`
          })
      })
    )
    if (settled.promptDelivery?.state === "delivered") return settled
    return yield* new PromptNotDelivered({
      sessionId: session.sessionId,
      detail: settled.promptDelivery?.detail ??
        `not delivered: the session closed (${
          settled.closeReason ?? "unknown reason"
        }) before its agent took the prompt`
    })
  })
