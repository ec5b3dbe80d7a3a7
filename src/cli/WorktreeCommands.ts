/**
 * Commands on sessions' git worktrees: `diff` (what a session's worktree changed, paged and
 * coloured), `worktree commit|push|merge|discard` (finishing, each explicit), `worktree list` and
 * `worktree clean`, and `fork` (a new session continuing an agent's conversation). The `--worktree`
 * options of `new` and `fork` are here too.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as path from "node:path"
import { AgentMode, ComputerName, type Session } from "../domain/Session.js"
import { type FinishAction, SALVAGE_REF_PREFIX } from "../domain/Worktree.js"
import { CliEnvironment } from "./CliEnvironment.js"
import { RequestRefused } from "./CliError.js"
import { colorWanted } from "./Color.js"
import { DaemonClient } from "./DaemonClient.js"
import { requireFleet, worktreeRequestOf } from "./NewChecks.js"
import { page } from "./Pager.js"
import { argument, json, resolve, sessionId, terminalWidth, textOption, withDaemon } from "./Root.js"
import { cleanupText, diffText, finishText, worktreesTable } from "./WorktreeRender.js"

/** `--worktree [--branch NAME] [--base REF] [--existing]`, for `new` and `fork`. */
export const worktreeOptions = {
  worktree: Options.boolean("worktree").pipe(
    Options.withDescription(
      "run it in a new git worktree of the repository, on a branch of its own (named after the title unless --branch)"
    )
  ),
  branch: Options.text("branch").pipe(
    Options.withDescription("with --worktree: the new branch's name (or, with --existing, the branch to check out)"),
    Options.optional
  ),
  base: Options.text("base").pipe(
    Options.withDescription("with --worktree: the branch or commit the new branch starts from (default: HEAD)"),
    Options.optional
  ),
  existing: Options.boolean("existing").pipe(
    Options.withDescription("with --worktree --branch NAME: check out the existing branch NAME instead of a new one")
  )
}

/** A session's worktree, or a refusal that says how to get one. */
const requireWorktree = (session: Session, doing: string) =>
  session.worktree === undefined
    ? Effect.fail(
      new RequestRefused({
        detail: `session ${session.sessionId} runs in no worktree (it was started in ${session.workingDirectory}), ` +
          `so there is nothing to ${doing}: start one with \`telemux new DIR --worktree\`, or \`telemux fork ` +
          `${session.sessionId.slice(0, 8)} --worktree\` for an agent's conversation`
      })
    )
    : Effect.succeed(session.worktree)

export const diff = Command.make(
  "diff",
  {
    stat: Options.boolean("stat").pipe(Options.withDescription("only the per-file stats, not the patch")),
    noColor: Options.boolean("no-color").pipe(Options.withDescription("no colours (as NO_COLOR=1)")),
    id: sessionId
  },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const env = yield* CliEnvironment
      const client = yield* DaemonClient
      const session = yield* resolve(options.id)
      const worktree = yield* requireWorktree(session, "diff")
      const result = yield* client.diff(session.sessionId, options.stat)
      const color = !options.noColor && colorWanted(env.env, env.stdout)
      const text = diffText(result, { color, worktreePath: worktree.path })
      // stats alone are a few lines: straight out; a patch may be long
      if (options.stat) return yield* Console.log(text)
      yield* page(text, {
        env: env.env,
        isTTY: env.stdout.isTTY === true,
        write: (t) => Console.log(t)
      })
    }))
).pipe(
  Command.withDescription(
    "what a session's worktree changed against its base (tracked, untracked, deleted): stats, then the patch through $PAGER"
  )
)

/** One finish request on the session `id` names, its result printed. */
const runFinish = (
  action: FinishAction,
  id: string,
  options: { readonly message?: string; readonly remote?: string; readonly force?: boolean },
  asJson: boolean
) =>
  withDaemon(Effect.gen(function*() {
    const client = yield* DaemonClient
    const session = yield* resolve(id)
    yield* requireWorktree(session, action)
    const result = yield* client.finish(session.sessionId, { action, ...options }).pipe(
      Effect.catchTag("RequestRefused", (error) =>
        Effect.fail(
          action === "discard" && options.force !== true
            ? new RequestRefused({
              detail: `${error.detail} (to discard it anyway: \`telemux worktree discard --force ${
                session.sessionId.slice(0, 8)
              }\`; a salvage ref under ${SALVAGE_REF_PREFIX} keeps the work)`
            })
            : error
        ))
    )
    yield* Console.log(asJson ? JSON.stringify(result) : finishText(result))
  }))

const commit = Command.make(
  "commit",
  {
    json,
    message: textOption("message").pipe(
      Options.withDescription("the commit message (without one, the session's agent is asked to commit)"),
      Options.optional
    ),
    id: sessionId
  },
  (options) =>
    runFinish(
      "commit",
      options.id,
      Option.match(options.message, { onNone: () => ({}), onSome: (message) => ({ message }) }),
      options.json
    )
).pipe(Command.withDescription("commit everything in the session's worktree, untracked files too"))

const push = Command.make(
  "push",
  {
    json,
    remote: Options.text("remote").pipe(
      Options.withDescription("the remote (default: the branch's configured remote, else origin)"),
      Options.optional
    ),
    id: sessionId
  },
  (options) =>
    runFinish(
      "push",
      options.id,
      Option.match(options.remote, { onNone: () => ({}), onSome: (remote) => ({ remote }) }),
      options.json
    )
).pipe(Command.withDescription("push the worktree's branch"))

const merge = Command.make(
  "merge",
  { json, id: sessionId },
  (options) => runFinish("merge", options.id, {}, options.json)
).pipe(Command.withDescription("merge the worktree's branch into its base (a conflict is refused, naming the files)"))

const discard = Command.make(
  "discard",
  {
    json,
    force: Options.boolean("force").pipe(
      Options.withDescription(
        `remove even uncommitted or unpushed work (kept in a salvage ref under ${SALVAGE_REF_PREFIX})`
      )
    ),
    id: sessionId
  },
  (options) => runFinish("discard", options.id, options.force ? { force: true } : {}, options.json)
).pipe(
  Command.withDescription(
    "remove the session's worktree and the branch telemux made for it (never the default branch); refused " +
      "when it holds work, unless --force"
  )
)

const list = Command.make(
  "list",
  {
    json,
    computer: Options.text("computer").pipe(
      Options.withSchema(ComputerName),
      Options.withDescription("only this computer's worktrees (default: every computer of the fleet)"),
      Options.optional
    )
  },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const client = yield* DaemonClient
      const entries = yield* client.worktrees(Option.getOrUndefined(options.computer))
      yield* Console.log(
        options.json ? JSON.stringify(entries, null, 2) : worktreesTable(entries, yield* terminalWidth)
      )
    }))
).pipe(Command.withDescription("list the sessions' worktrees: whose, open or not, dirty, unpushed commits"))

const clean = Command.make(
  "clean",
  {
    force: Options.boolean("force").pipe(
      Options.withDescription("remove dirty trees and unpushed work too (a salvage ref keeps each)")
    ),
    computer: Options.text("computer").pipe(
      Options.withSchema(ComputerName),
      Options.withDescription("the computer whose worktrees to clean (default: this one)"),
      Options.optional
    ),
    paths: argument("path").pipe(
      Args.repeated,
      Args.withDescription(
        "only these worktrees (default: every one whose session ended or is unknown)"
      )
    )
  },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const client = yield* DaemonClient
      const { cwd } = yield* CliEnvironment
      const report = yield* client.cleanup({
        ...(options.paths.length === 0 ? {} : { paths: options.paths.map((p) => path.resolve(cwd, p)) }),
        ...(options.force ? { force: true } : {}),
        ...(Option.isSome(options.computer) ? { computer: options.computer.value } : {})
      })
      yield* Console.log(cleanupText(report, options.force))
    }))
).pipe(
  Command.withDescription(
    "remove worktrees whose session ended: clean ones only, unless --force (which keeps a salvage ref of each)"
  )
)

export const worktree = Command.make("worktree").pipe(
  Command.withDescription("finish a session's worktree (commit, push, merge, discard), list and clean worktrees"),
  Command.withSubcommands([
    commit,
    push,
    merge,
    discard,
    list,
    clean
  ])
)

export const fork = Command.make(
  "fork",
  {
    json,
    computer: Options.text("computer").pipe(
      Options.withSchema(ComputerName),
      Options.withDescription("start the fork on this computer of the fleet (default: the session's own)"),
      Options.optional
    ),
    title: textOption("title").pipe(Options.withDescription("the fork's title"), Options.optional),
    mode: Options.choice("mode", AgentMode.literals).pipe(
      Options.withDescription("the fork's mode (default: the session's)"),
      Options.optional
    ),
    ...worktreeOptions,
    id: sessionId
  },
  (options) =>
    Effect.flatMap(worktreeRequestOf(options), (worktreeRequest) =>
      withDaemon(Effect.gen(function*() {
        const client = yield* DaemonClient
        const session = yield* resolve(options.id)
        if (session.agent === null) {
          return yield* new RequestRefused({
            detail: `session ${session.sessionId} runs a shell, not an agent: there is no conversation to fork; ` +
              "`telemux new DIR --agent claude|codex|gemini` starts an agent"
          })
        }
        if (Option.isSome(options.computer)) yield* requireFleet(client, options.computer.value)
        const forked = yield* client.fork(session.sessionId, {
          ...(Option.isSome(options.computer) ? { computer: options.computer.value } : {}),
          ...(worktreeRequest === undefined ? {} : { worktree: worktreeRequest }),
          ...(Option.isSome(options.title) ? { title: options.title.value } : {}),
          ...(Option.isSome(options.mode) ? { mode: options.mode.value } : {})
        })
        yield* Console.log(options.json ? JSON.stringify(forked) : forked.sessionId)
      })))
).pipe(
  Command.withDescription(
    "a new session continuing an agent's conversation under a new id (optionally in a new worktree, or on another computer); prints its id"
  )
)
