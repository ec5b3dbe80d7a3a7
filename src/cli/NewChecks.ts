/**
 * `telemux new`'s command line, checked before anything is started: an empty directory would
 * resolve to the current one, `--mode`/`--prompt` without `--agent` would be dropped without a
 * word, and `--computer` on a daemon in no fleet is a setting to make, not a failure of the daemon.
 */
import { Effect, Option } from "effect"
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
