import * as Command from "@effect/platform/Command"
import { Data, Duration, Effect, HashMap, Option } from "effect"
import { type ChildProcess, spawn } from "node:child_process"

/** Most bytes collected from stdout (and, separately, stderr) before the run fails. */
export const SUBPROCESS_OUTPUT_MAX_BYTES = 8 * 1024 * 1024

/** The child could not be started (binary missing, not executable, bad cwd…). */
export class SubprocessSpawnError extends Data.TaggedError("SubprocessSpawnError")<{
  readonly command: string
  readonly cause: unknown
}> {
  override get message() {
    return `could not start ${this.command}: ${String(this.cause)}`
  }
}

/** Reading the child's output or writing its input failed. */
export class SubprocessIoError extends Data.TaggedError("SubprocessIoError")<{
  readonly command: string
  readonly stream: "stdin" | "stdout" | "stderr"
  readonly cause: unknown
}> {
  override get message() {
    return `${this.stream} of ${this.command} failed: ${String(this.cause)}`
  }
}

/** The child wrote more than the cap to one stream; it was killed rather than truncated silently. */
export class SubprocessOutputTooLarge extends Data.TaggedError("SubprocessOutputTooLarge")<{
  readonly command: string
  readonly stream: "stdout" | "stderr"
  readonly limit: number
}> {
  override get message() {
    return `${this.command} wrote more than ${this.limit} bytes to ${this.stream}`
  }
}

export type SubprocessError = SubprocessSpawnError | SubprocessIoError | SubprocessOutputTooLarge

export interface SubprocessResult {
  readonly pid: number
  /** `null` when the child was ended by a signal. */
  readonly exitCode: number | null
  readonly stdout: string
  readonly stderr: string
  /** stdout was cut at `maxOutputBytes` (only with `stdoutOverflow: "truncate"`). */
  readonly stdoutTruncated?: boolean
}

export interface RunBoundedOptions<E> {
  /** Wall-clock budget from spawn to exit with all output read. */
  readonly timeout: Duration.DurationInput
  /** Time between SIGTERM and SIGKILL when the child has to be stopped. */
  readonly killGrace: Duration.DurationInput
  /** Written to the child's stdin, which is then closed. Without it stdin is closed at once. */
  readonly stdin?: string | Uint8Array
  /** Per-stream cap; past it the child is killed and the run fails with SubprocessOutputTooLarge. */
  readonly maxOutputBytes?: number
  /**
   * Past the cap on stdout: `fail` (the default) as above; `truncate` keeps the first
   * `maxOutputBytes`, stops the child and returns them with `stdoutTruncated` — for a reader that
   * wants a bounded prefix of an unbounded output (a diff) without holding the rest.
   */
  readonly stdoutOverflow?: "fail" | "truncate"
  readonly onTimeout: () => E
}

export const describeCommand = (command: Command.Command): string =>
  Command.flatten(command)
    .map((c) => [c.command, ...c.args].join(" "))
    .join(" | ")

/** Signals the process group led by `pid` (a child spawned detached), or the process alone; never fails. */
export const signalGroup = (pid: number, signal: NodeJS.Signals) =>
  Effect.try(() => process.kill(-pid, signal)).pipe(
    Effect.orElse(() => Effect.try(() => process.kill(pid, signal))),
    Effect.ignore
  )

/** A spawned child with its output gathered from the first byte on. */
interface Running {
  readonly child: ChildProcess
  /** Settles once the child has exited and its stdio has closed (it is reaped). */
  readonly closed: Promise<void>
  readonly isClosed: () => boolean
}

/**
 * Stops a child that is still running: SIGTERM to its process group, `killGrace` to exit, then
 * SIGKILL; returns only once the child has been reaped.
 */
const stopAndReap = (running: Running, killGrace: Duration.DurationInput) =>
  Effect.gen(function*() {
    const pid = running.child.pid
    if (pid === undefined || running.isClosed()) return
    const awaitClosed = Effect.promise(() => running.closed)
    yield* signalGroup(pid, "SIGTERM")
    // Runs uninterruptibly (as a canceller); the wait must be interruptible or the timeout cannot cut it.
    const exited = yield* Effect.interruptible(awaitClosed).pipe(Effect.timeoutOption(killGrace))
    if (Option.isNone(exited)) {
      yield* signalGroup(pid, "SIGKILL")
      yield* Effect.interruptible(awaitClosed).pipe(Effect.timeoutOption(Duration.seconds(5)))
    }
    // Members of the group that ignored SIGTERM outlive a leader that obeyed it.
    yield* signalGroup(pid, "SIGKILL")
  })

/**
 * Runs a command to completion, bounded in time and output.
 *
 * Built on node:child_process rather than the platform's executor: the child's stdout and stderr
 * are read from the moment it is spawned. Node discards a stream nobody reads when the child
 * exits, so a reader attached a scheduler tick later (as the platform's stream does) loses the
 * output of a fast command once the event loop is busy. `Command` only describes what to run, so
 * no CommandExecutor is needed.
 *
 * On timeout — and equally when the caller interrupts — the child's process group is stopped
 * (SIGTERM, `killGrace`, SIGKILL) and reaped before the effect completes.
 */
export const runBounded = <E>(
  command: Command.Command,
  options: RunBoundedOptions<E>
): Effect.Effect<SubprocessResult, E | SubprocessError> => {
  const name = describeCommand(command)
  if (command._tag !== "StandardCommand") {
    return Effect.fail(new SubprocessSpawnError({ command: name, cause: "piped commands are not supported" }))
  }
  if (HashMap.size(command.env) > 0) {
    // Children inherit the daemon's environment; per-command variables go in as arguments
    // (`tmux new-session -e`), so nothing here needs to read or rebuild the environment.
    return Effect.fail(new SubprocessSpawnError({ command: name, cause: "per-command environment is not supported" }))
  }
  const limit = options.maxOutputBytes ?? SUBPROCESS_OUTPUT_MAX_BYTES

  const run = Effect.async<SubprocessResult, SubprocessError>((resume) => {
    let child: ChildProcess
    try {
      child = spawn(command.command, command.args, {
        cwd: Option.getOrUndefined(command.cwd),
        detached: true,
        stdio: ["pipe", "pipe", "pipe"]
      })
    } catch (cause) {
      resume(Effect.fail(new SubprocessSpawnError({ command: name, cause })))
      return
    }
    let settled = false
    let isClosed = false
    let markClosed: () => void = () => {}
    const closed = new Promise<void>((resolve) => (markClosed = resolve))
    const running: Running = { child, closed, isClosed: () => isClosed }
    const finish = (effect: Effect.Effect<SubprocessResult, SubprocessError>) => {
      if (settled) return
      settled = true
      resume(effect)
    }
    let stdoutTruncated = false
    const gather = (stream: "stdout" | "stderr") => {
      const chunks: Array<Buffer> = []
      let size = 0
      child[stream]!.on("data", (chunk: Buffer) => {
        if (stdoutTruncated && stream === "stdout") return
        size += chunk.length
        if (size > limit && stream === "stdout" && options.stdoutOverflow === "truncate") {
          stdoutTruncated = true
          chunks.push(chunk.subarray(0, chunk.length - (size - limit)))
          finish(
            stopAndReap(running, 0).pipe(Effect.map(() => ({
              pid: child.pid ?? -1,
              exitCode: null,
              stdout: stdout(),
              stderr: stderr(),
              stdoutTruncated: true
            })))
          )
        } else if (size > limit) {
          finish(
            stopAndReap(running, 0).pipe(
              Effect.zipRight(Effect.fail(new SubprocessOutputTooLarge({ command: name, stream, limit })))
            )
          )
        } else {
          chunks.push(chunk)
        }
      })
      child[stream]!.on(
        "error",
        (cause) => finish(Effect.fail(new SubprocessIoError({ command: name, stream, cause })))
      )
      // Decoded once at the end so a multi-byte character split across reads stays intact.
      return () => Buffer.concat(chunks).toString("utf8")
    }
    const stdout = gather("stdout")
    const stderr = gather("stderr")
    child.on("error", (cause) => {
      if (child.pid === undefined) {
        isClosed = true
        markClosed()
        finish(Effect.fail(new SubprocessSpawnError({ command: name, cause })))
      }
    })
    child.on("close", (code) => {
      isClosed = true
      markClosed()
      finish(Effect.succeed({ pid: child.pid ?? -1, exitCode: code, stdout: stdout(), stderr: stderr() }))
    })
    // A child that exits without reading its input makes the write fail (EPIPE); its exit code
    // already tells the caller what happened, so a failed write is not an error of its own.
    child.stdin!.on("error", () => {})
    if (options.stdin === undefined) child.stdin!.end()
    else child.stdin!.end(typeof options.stdin === "string" ? options.stdin : Buffer.from(options.stdin))
    return stopAndReap(running, options.killGrace)
  })

  return run.pipe(Effect.timeoutFail({ duration: options.timeout, onTimeout: options.onTimeout }))
}
