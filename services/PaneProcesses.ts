import { Context, Duration, type Effect } from "effect"
import type { PaneInfo } from "./TerminalBridge.js"

/** Longest wait for a login shell to tell the PATH the panes' shells will use. */
export const LOGIN_PATH_TIMEOUT = Duration.seconds(3)

/** Where a configured command was looked for, and what was found. */
export type CommandLookup =
  | { readonly _tag: "Found"; readonly program: string; readonly path: string }
  /** The command's program could not be found or run; `reason` says which and why. */
  | { readonly _tag: "Missing"; readonly program: string; readonly reason: string; readonly searched: string }
  /** The program is only known once a shell expands it (quotes, `$VAR`, a builtin): not checked. */
  | { readonly _tag: "Unchecked" }

/**
 * What runs in a pane, as its processes tell it: whether the pane's own shell holds the terminal
 * (at its prompt) or a program it started does, and where the panes' shells find a command.
 */
export class PaneProcesses extends Context.Tag("telemux/PaneProcesses")<PaneProcesses, {
  /**
   * True while the pane's shell is its terminal's foreground process group: at its prompt (or
   * running a loop of its own between the programs it starts). False while a program runs in the
   * foreground — a script run by an interpreter that is itself a shell (a wrapper) included.
   */
  readonly atShell: (pane: PaneInfo) => Effect.Effect<boolean>
  /**
   * Finds the program of a configured command line (its first word after `NAME=value`
   * assignments) as a new pane's shell would: on the PATH its login shell sets, an absolute path
   * as it is, a relative one from `cwd`.
   */
  readonly findCommand: (commandLine: string, cwd: string) => Effect.Effect<CommandLookup>
}>() {}
