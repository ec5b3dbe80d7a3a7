/**
 * `telemux new`'s command line, checked before anything is started: an empty directory would
 * resolve to the current one, `--mode`/`--prompt` without `--agent` would be dropped without a
 * word, and `--computer` on a daemon in no fleet is a setting to make, not a failure of the daemon.
 */
import { Effect, Option } from "effect"
import type { WorktreeRequest } from "../domain/Worktree.js"
import { UsageError } from "./CliError.js"
import type { DaemonClient } from "./DaemonClient.js"

export interface NewOptions {
  readonly dir: string
  readonly agent: Option.Option<string>
  readonly mode: Option.Option<string>
  readonly prompt: Option.Option<string>
}

const refuse = (detail: string) => Effect.fail(new UsageError({ detail }))

export const checkNewOptions = (options: NewOptions): Effect.Effect<void, UsageError> => {
  if (options.dir.trim() === "") {
    return refuse("name the directory to start the session in (`telemux new .` for the current one)")
  }
  if (Option.isNone(options.agent)) {
    const given = [Option.isSome(options.mode) ? "--mode" : "", Option.isSome(options.prompt) ? "--prompt" : ""]
      .filter((name) => name !== "")
    if (given.length > 0) {
      return refuse(
        `${given.join(" and ")} ${given.length === 1 ? "is" : "are"} for an agent: add --agent claude|codex|gemini, ` +
          `or leave ${given.length === 1 ? "it" : "them"} out to start a shell`
      )
    }
  }
  if (Option.isSome(options.prompt) && options.prompt.value.trim() === "") {
    return refuse("--prompt is empty: give the agent's first prompt, or leave --prompt out")
  }
  return Effect.void
}

/**
 * `--computer NAME` needs this daemon in a fleet unless NAME is this computer. Asked of the daemon
 * (`/health`) because the fleet is the daemon's setting, not the CLI's.
 */
export const requireFleet = (
  client: DaemonClient["Type"],
  computer: string
) =>
  Effect.flatMap(client.health, (health) =>
    health.computer === computer || health.fleet != null
      ? Effect.void
      : refuse(
        `--computer ${computer}: this daemon (computer ${health.computer}) is in no fleet. To start sessions on ` +
          "other computers, set TELEMUX_REDIS_URL and TELEMUX_FLEET_SECRET for the daemon on each computer and " +
          "restart them (`telemux doctor` shows the fleet link); leave --computer out to start it here"
      ))

export interface WorktreeOptions {
  readonly worktree: boolean
  readonly branch: Option.Option<string>
  readonly base: Option.Option<string>
  readonly existing: boolean
}

/**
 * `--worktree [--branch NAME] [--base REF] [--existing]` as the API's request: `--worktree` alone
 * is a new branch named after the title; the others without `--worktree` would be dropped without
 * a word, and `--existing` needs the branch it names (and has no base: the branch is what it is).
 */
export const worktreeRequestOf = (
  options: WorktreeOptions
): Effect.Effect<WorktreeRequest | undefined, UsageError> => {
  const branch = Option.map(options.branch, (b) => b.trim())
  const base = Option.map(options.base, (b) => b.trim())
  if (!options.worktree) {
    const given = [
      Option.isSome(branch) ? "--branch" : "",
      Option.isSome(base) ? "--base" : "",
      options.existing ? "--existing" : ""
    ].filter((name) => name !== "")
    return given.length === 0 ? Effect.succeed(undefined) : refuse(
      `${given.join(", ")} ${given.length === 1 ? "is" : "are"} for a worktree: add --worktree, or leave ` +
        `${given.length === 1 ? "it" : "them"} out to run in the directory itself`
    )
  }
  if (Option.isSome(branch) && branch.value === "") {
    return refuse("--branch is empty: name the branch, or leave --branch out for one named after the title")
  }
  if (Option.isSome(base) && base.value === "") {
    return refuse("--base is empty: name a branch or commit, or leave --base out to start from the current HEAD")
  }
  if (options.existing && Option.isNone(branch)) {
    return refuse("--existing checks out a branch that exists: name it with --branch NAME")
  }
  if (options.existing && Option.isSome(base)) {
    return refuse("--base is for a new branch; an --existing branch starts where it is: leave --base out")
  }
  return Effect.succeed({
    ...(Option.isSome(branch) ? { branch: branch.value } : {}),
    ...(Option.isSome(base) ? { base: base.value } : {}),
    ...(options.existing ? { existing: true } : {})
  })
}
