import * as Command from "@effect/platform/Command"
import { Duration, Effect } from "effect"
import { GIT_TIMEOUT } from "../services/Worktrees.js"
import { GitFailed } from "../src/domain/Worktree.js"
import { tailOf } from "../src/git/GitOutput.js"
import { runBounded, type SubprocessResult } from "./Subprocess.js"

/**
 * git as the worktree layer runs it: an argv (never a shell), bounded in time and output, in a
 * fixed environment — no prompt (`GIT_TERMINAL_PROMPT=0`: a credential ask fails instead of waiting
 * out the timeout), no pager, C locale (messages and output the readers understand), and none of
 * the repository-selecting variables the daemon might have inherited (`GIT_DIR` from a hook, say),
 * so `cwd` alone says which repository is meant.
 */

const BASE_ENV: Readonly<Record<string, string | undefined>> = {
  GIT_TERMINAL_PROMPT: "0",
  LC_ALL: "C",
  LANGUAGE: undefined,
  GIT_PAGER: "cat",
  PAGER: "cat",
  GIT_EDITOR: "true",
  GIT_DIR: undefined,
  GIT_WORK_TREE: undefined,
  GIT_INDEX_FILE: undefined,
  GIT_COMMON_DIR: undefined,
  GIT_OBJECT_DIRECTORY: undefined,
  GIT_ALTERNATE_OBJECT_DIRECTORIES: undefined,
  GIT_NAMESPACE: undefined,
  GIT_PREFIX: undefined,
  GIT_CEILING_DIRECTORIES: undefined
}

export interface GitRun {
  readonly cwd: string
  /** A read: `GIT_OPTIONAL_LOCKS=0`, so e.g. `git status` never refreshes (writes) the index. */
  readonly read?: boolean
  readonly timeout?: Duration.DurationInput
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly maxOutputBytes?: number
  /** Past `maxOutputBytes` keep the prefix (`stdoutTruncated`) instead of failing. */
  readonly truncate?: boolean
}

export interface Git {
  /** Runs git; any exit code is a result. Only a git that cannot run, times out or floods fails. */
  readonly run: (args: ReadonlyArray<string>, options: GitRun) => Effect.Effect<SubprocessResult, GitFailed>
  /** Runs git and fails with GitFailed unless it exits 0; its stdout. */
  readonly ok: (args: ReadonlyArray<string>, options: GitRun) => Effect.Effect<string, GitFailed>
  /** `ok`, its stdout without the final newline (one value: a commit, a path). */
  readonly line: (args: ReadonlyArray<string>, options: GitRun) => Effect.Effect<string, GitFailed>
}

/**
 * git's environment through `env(1)` (`-u NAME` removes, `NAME=value` sets): still an argv, and the
 * daemon's own environment is neither read nor rebuilt (children inherit it, see Subprocess.ts).
 */
const envArgs = (vars: Readonly<Record<string, string | undefined>>): Array<string> => {
  const unset: Array<string> = []
  const set: Array<string> = []
  for (const [name, value] of Object.entries(vars)) {
    if (value === undefined) unset.push("-u", name)
    else set.push(`${name}=${value}`)
  }
  return [...unset, ...set]
}

export const describeGit = (args: ReadonlyArray<string>) => ["git", ...args].join(" ")

export const gitFailed = (args: ReadonlyArray<string>, result: SubprocessResult, what?: string) =>
  new GitFailed({
    command: describeGit(args),
    stderr: tailOf(result.stderr),
    message: `${what ?? describeGit(args)} failed (exit ${result.exitCode ?? "by signal"}): ${
      tailOf(result.stderr.trim() || result.stdout.trim(), 500)
    }`
  })

/** `env` goes over the fixed environment: tests give git a HOME of their own. */
export const makeGit = (env: Readonly<Record<string, string | undefined>> = {}): Git => {
  const run: Git["run"] = (args, options) => {
    const timeout = options.timeout ?? GIT_TIMEOUT
    const argv = [
      ...envArgs({
        ...BASE_ENV,
        ...(options.read === true ? { GIT_OPTIONAL_LOCKS: "0" } : {}),
        ...env,
        ...options.env
      }),
      "git",
      ...args
    ]
    return runBounded(Command.make("env", ...argv).pipe(Command.workingDirectory(options.cwd)), {
      timeout,
      killGrace: Duration.seconds(2),
      ...(options.maxOutputBytes === undefined ? {} : { maxOutputBytes: options.maxOutputBytes }),
      ...(options.truncate === true ? { stdoutOverflow: "truncate" as const } : {}),
      onTimeout: () =>
        new GitFailed({
          command: describeGit(args),
          stderr: "",
          message: `${describeGit(args)} did not finish within ${
            Duration.format(timeout)
          } (a lock, a hook or a remote?)`
        })
    }).pipe(
      Effect.catchTags({
        SubprocessSpawnError: (error) =>
          Effect.fail(
            new GitFailed({
              command: describeGit(args),
              stderr: "",
              message: `could not run git in ${options.cwd}: ${
                String(error.cause)
              } (is git installed, does the directory exist?)`
            })
          ),
        SubprocessIoError: (error) =>
          Effect.fail(new GitFailed({ command: describeGit(args), stderr: "", message: error.message })),
        SubprocessOutputTooLarge: (error) =>
          Effect.fail(new GitFailed({ command: describeGit(args), stderr: "", message: error.message }))
      })
    )
  }
  const ok: Git["ok"] = (args, options) =>
    run(args, options).pipe(
      Effect.flatMap((result) =>
        result.exitCode === 0 ? Effect.succeed(result.stdout) : Effect.fail(gitFailed(args, result))
      )
    )
  const line: Git["line"] = (args, options) => ok(args, options).pipe(Effect.map((out) => out.replace(/\n$/, "")))
  return { run, ok, line }
}
