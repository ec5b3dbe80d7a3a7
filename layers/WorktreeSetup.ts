import * as Command from "@effect/platform/Command"
import { Duration, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { WORKTREE_SETUP_TIMEOUT } from "../services/Worktrees.js"
import { WORKTREE_SETUP_FILE, WorktreeSetupFailed } from "../src/domain/Worktree.js"
import { tailOf } from "../src/git/GitOutput.js"
import { runBounded } from "./Subprocess.js"

/** The commands of a setup file: each non-empty line that is not a `#` comment. */
export const setupCommands = (text: string): Array<string> =>
  text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"))

/**
 * Runs a new worktree's WORKTREE_SETUP_FILE, if it has one: each command with `/bin/sh -c` in the
 * worktree, in order, stopping at the first that fails; all of them within `timeout` together
 * (a command still running then is stopped). The caller runs it only for a trusted project.
 */
export const runSetup = (dir: string, timeout: Duration.DurationInput = WORKTREE_SETUP_TIMEOUT) =>
  Effect.gen(function*() {
    const file = path.join(dir, WORKTREE_SETUP_FILE)
    const text = yield* Effect.sync(() => {
      try {
        return fs.readFileSync(file, "utf8")
      } catch {
        return null
      }
    })
    if (text === null) return
    let output = ""
    const failed = (message: string) => new WorktreeSetupFailed({ file, output: tailOf(output), message })
    const all = Effect.forEach(setupCommands(text), (line) =>
      Effect.gen(function*() {
        const result = yield* runBounded(
          Command.make("/bin/sh", "-c", line).pipe(Command.workingDirectory(dir)),
          { timeout, killGrace: Duration.seconds(2), onTimeout: () => failed(`\`${line}\` did not finish in time`) }
        ).pipe(
          Effect.catchTags({
            SubprocessSpawnError: (error) => Effect.fail(failed(error.message)),
            SubprocessIoError: (error) => Effect.fail(failed(error.message)),
            SubprocessOutputTooLarge: (error) => Effect.fail(failed(error.message))
          })
        )
        output = tailOf(`${output}$ ${line}\n${result.stdout}${result.stderr}`, 16_000)
        if (result.exitCode !== 0) {
          return yield* failed(
            `the setup command \`${line}\` of ${WORKTREE_SETUP_FILE} failed (exit ${
              result.exitCode ?? "by signal"
            }): the worktree was removed`
          )
        }
      }), { discard: true })
    yield* all.pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          failed(`${WORKTREE_SETUP_FILE} did not finish within ${Duration.format(timeout)}: the worktree was removed`)
      })
    )
  })
