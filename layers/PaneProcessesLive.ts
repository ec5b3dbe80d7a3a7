import * as Command from "@effect/platform/Command"
import { Config, Effect, Layer, Option } from "effect"
import { constants } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { type CommandLookup, LOGIN_PATH_TIMEOUT, PaneProcesses } from "../services/PaneProcesses.js"
import { KILL_GRACE, type PaneInfo } from "../services/TerminalBridge.js"
import { programOf } from "../src/agents/CommandWord.js"
import { isShell } from "../src/domain/Screen.js"
import { runBounded } from "./Subprocess.js"

/**
 * The foreground process group of a process's terminal (`tpgid`, field 8 of `/proc/PID/stat`).
 * The command name (field 2) is in parentheses and may hold spaces or parentheses: fields are
 * counted from the last `)`.
 */
export const foregroundGroupOf = (stat: string): number | undefined => {
  const close = stat.lastIndexOf(")")
  if (close < 0) return undefined
  const tpgid = Number(stat.slice(close + 2).split(" ")[5])
  return Number.isInteger(tpgid) ? tpgid : undefined
}

/** tmux's own view: the foreground process's name is a shell's (a wrapper script run by `sh` passes too). */
const byName = (pane: PaneInfo) => isShell(pane.currentCommand)

const PATH_MARK = "telemux-path:"

/** Why `file` cannot be run as a program, or undefined when it can. */
const executableProblem = (file: string) =>
  Effect.tryPromise(() => fs.stat(file)).pipe(
    Effect.flatMap((stat) =>
      stat.isDirectory()
        ? Effect.succeed("is a directory")
        : Effect.tryPromise(() => fs.access(file, constants.X_OK)).pipe(
          Effect.as(undefined),
          Effect.orElseSucceed(() => "is not executable (chmod +x it)")
        )
    ),
    Effect.orElseSucceed(() => "does not exist")
  )

/**
 * On Linux the pane's foreground is read from `/proc`: the pane's shell is at its prompt when it
 * is its terminal's foreground process group (and still a shell: not replaced by `exec`).
 * Elsewhere tmux's command name is all there is.
 *
 * The PATH of a new pane's shell is the one its login shell sets (Debian's /etc/profile, for one,
 * replaces the daemon's): asked of `$SHELL -l` at each lookup, bounded by LOGIN_PATH_TIMEOUT;
 * the daemon's own PATH when that shell does not answer.
 */
export const make = Effect.gen(function*() {
  const shell = Option.getOrElse(
    yield* Config.option(Config.nonEmptyString("SHELL")),
    () => os.userInfo().shell ?? "/bin/sh"
  )
  const daemonPath = yield* Config.string("PATH").pipe(Config.withDefault("/usr/bin:/bin"))
  const home = Option.getOrUndefined(yield* Config.option(Config.nonEmptyString("HOME")))

  const atShell = (pane: PaneInfo) =>
    Effect.tryPromise(() => fs.readFile(`/proc/${pane.panePid}/stat`, "utf8")).pipe(
      Effect.map((stat) => {
        const group = foregroundGroupOf(stat)
        return group === undefined ? byName(pane) : group === pane.panePid && byName(pane)
      }),
      Effect.orElseSucceed(() => byName(pane))
    )

  const printPath = path.basename(shell) === "fish"
    ? `printf '${PATH_MARK}%s' (string join : $PATH)`
    : `printf '${PATH_MARK}%s' "$PATH"`

  /** The PATH a login shell sets, and how to name it in a message. */
  const loginPath = runBounded(Command.make(shell, "-l", "-c", printPath), {
    timeout: LOGIN_PATH_TIMEOUT,
    killGrace: KILL_GRACE,
    onTimeout: () => "timeout"
  }).pipe(
    Effect.flatMap((result) => {
      const at = result.stdout.lastIndexOf(PATH_MARK)
      return result.exitCode === 0 && at >= 0
        ? Effect.succeed({ path: result.stdout.slice(at + PATH_MARK.length).trim(), origin: `${shell} -l` })
        : Effect.fail("no PATH")
    }),
    Effect.orElse(() => Effect.succeed({ path: daemonPath, origin: `the daemon's (${shell} -l did not tell its own)` }))
  )

  const findCommand = (commandLine: string, cwd: string): Effect.Effect<CommandLookup> =>
    Effect.gen(function*() {
      const program = programOf(commandLine, home)
      if (program._tag === "ShellOnly") return { _tag: "Unchecked" } as const
      const word = program.word
      if (word.includes("/")) {
        const full = path.resolve(cwd, word)
        const problem = yield* executableProblem(full)
        return problem === undefined
          ? { _tag: "Found", program: word, path: full } as const
          : { _tag: "Missing", program: word, reason: `${full} ${problem}`, searched: "" } as const
      }
      const searched = yield* loginPath
      for (const dir of searched.path.split(":")) {
        const full = path.resolve(cwd, dir, word)
        if ((yield* executableProblem(full)) === undefined) return { _tag: "Found", program: word, path: full } as const
      }
      return {
        _tag: "Missing",
        program: word,
        reason: `"${word}" is on no directory of the PATH of a new session's shell (${searched.origin})`,
        searched: searched.path
      } as const
    })

  return PaneProcesses.of({ atShell, findCommand })
})

export const layer = Layer.effect(PaneProcesses, make)

/**
 * For tests on doubles: the foreground by the pane's command name, and the programs named in
 * `found` (by their last path segment) the only ones that exist.
 */
export const layerByName = (found: ReadonlyArray<string> = ["claude", "codex", "gemini"]) =>
  Layer.succeed(
    PaneProcesses,
    PaneProcesses.of({
      atShell: (pane) => Effect.succeed(byName(pane)),
      findCommand: (commandLine) => {
        const program = programOf(commandLine, undefined)
        if (program._tag === "ShellOnly") return Effect.succeed({ _tag: "Unchecked" })
        const name = path.basename(program.word)
        return Effect.succeed(
          found.includes(name)
            ? { _tag: "Found", program: program.word, path: program.word }
            : {
              _tag: "Missing",
              program: program.word,
              reason: `"${program.word}" is not installed`,
              searched: "/test"
            }
        )
      }
    })
  )
