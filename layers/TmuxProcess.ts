import * as Command from "@effect/platform/Command"
import { Duration, Effect } from "effect"
import {
  KILL_GRACE,
  TMUX_COMMAND_TIMEOUT,
  TmuxCommandFailed,
  type TmuxSessionNotFound,
  TmuxTimeout
} from "../services/TerminalBridge.js"
import { commandFailure, subcommandOf, tmuxArgv } from "../src/tmux/Commands.js"
import { runBounded, type SubprocessResult } from "./Subprocess.js"
import * as TmuxMetrics from "./TmuxMetrics.js"

export interface TmuxProcessOptions {
  /** Name of the private server socket (`tmux -L <socket>`). */
  readonly socket: string
  /** Path of the tmux executable; tests point it at stand-ins. */
  readonly tmuxBinary?: string
  readonly timeout?: Duration.DurationInput
  readonly killGrace?: Duration.DurationInput
  /** Count and time each spawned command in the tmux metrics; on unless false. */
  readonly metrics?: boolean
}

/** The daemon's one way to spawn tmux: a process per command on its socket, bounded and reaped. */
export interface TmuxProcess {
  /** Runs `tmux …args` to its end; the exit code and output, whatever they say. */
  readonly exec: (
    args: ReadonlyArray<string>,
    stdin?: string
  ) => Effect.Effect<SubprocessResult, TmuxTimeout | TmuxCommandFailed>
  /** Runs a command addressed at `target`: its stdout, or the refusal classified by `commandFailure`. */
  readonly run: (
    target: string,
    args: ReadonlyArray<string>,
    stdin?: string
  ) => Effect.Effect<string, TmuxTimeout | TmuxCommandFailed | TmuxSessionNotFound>
}

export const makeTmuxProcess = (options: TmuxProcessOptions): TmuxProcess => {
  const binary = options.tmuxBinary ?? "tmux"
  const timeout = Duration.decode(options.timeout ?? TMUX_COMMAND_TIMEOUT)
  const killGrace = options.killGrace ?? KILL_GRACE
  const measure = options.metrics ?? true

  const exec: TmuxProcess["exec"] = (args, stdin) => {
    const command = subcommandOf(args)
    const run = runBounded(Command.make(binary, ...tmuxArgv(options.socket, args)), {
      timeout,
      killGrace,
      ...(stdin === undefined ? {} : { stdin }),
      onTimeout: () => new TmuxTimeout({ command, timeout })
    }).pipe(
      Effect.mapError((e) =>
        e._tag === "TmuxTimeout" ? e : new TmuxCommandFailed({ command, exitCode: null, stderr: e.message, cause: e })
      )
    )
    if (!measure) return run
    return Effect.suspend(() => {
      const started = performance.now()
      return Effect.onExit(run, (exit) =>
        Effect.sync(() => {
          const result = TmuxMetrics.resultOf(exit, (done) => done.exitCode === 0)
          if (result !== undefined) {
            TmuxMetrics.recordCommand(command, "spawn", result, (performance.now() - started) / 1000)
          }
        }))
    })
  }

  const run: TmuxProcess["run"] = (target, args, stdin) =>
    Effect.flatMap(exec(args, stdin), (result) =>
      result.exitCode === 0
        ? Effect.succeed(result.stdout)
        : Effect.fail(
          commandFailure({ command: subcommandOf(args), target, exitCode: result.exitCode, stderr: result.stderr })
        ))

  return { exec, run }
}
