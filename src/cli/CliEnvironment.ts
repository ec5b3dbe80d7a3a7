/**
 * The process the CLI runs in, handed over by the entry point (src/cli.ts) so that nothing under
 * src/cli reads globals: environment for child processes, working directory, terminals.
 */
import { Context, type Option, type Redacted } from "effect"
import type { TelemuxSettings } from "../../services/TelemuxConfig.js"
import type { DaemonAddress } from "./Connection.js"

export class CliEnvironment extends Context.Tag("telemux/cli/CliEnvironment")<CliEnvironment, {
  /** Passed to `tmux attach` / `ssh` (without TMUX). */
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string
  readonly stdin: NodeJS.ReadStream
  readonly stdout: NodeJS.WriteStream
  /** Where errors go; colour there is decided by whether it is a terminal. */
  readonly stderr?: NodeJS.WriteStream
}>() {}

/** The daemon this command talks to, resolved from the configuration names. */
export class DaemonTarget extends Context.Tag("telemux/cli/DaemonTarget")<DaemonTarget, {
  readonly settings: TelemuxSettings
  readonly address: DaemonAddress
  readonly token: Option.Option<Redacted.Redacted<string>>
}>() {}
