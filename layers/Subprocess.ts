import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import { Chunk, Data, Duration, Effect, Option, Stream } from "effect"

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
  readonly onTimeout: () => E
}

export const describeCommand = (command: Command.Command): string =>
  Command.flatten(command)
    .map((c) => [c.command, ...c.args].join(" "))
    .join(" | ")

const signalGroup = (pid: number, signal: NodeJS.Signals) =>
  Effect.try(() => process.kill(-pid, signal)).pipe(
    Effect.orElse(() => Effect.try(() => process.kill(pid, signal))),
    Effect.ignore
  )

/** The exit code, or null when a signal ended the child (the platform reports that as a failure). */
const awaitExit = (proc: CommandExecutor.Process): Effect.Effect<number | null> =>
  proc.exitCode.pipe(
    Effect.map((code): number | null => code),
    Effect.orElseSucceed(() => null)
  )

/**
 * Stops a child that is still running: SIGTERM to its process group, `killGrace` to exit, then
 * SIGKILL; returns only once the child has been reaped. Registered after the platform's own release
 * (which sends SIGTERM and then waits forever), so it runs first and that wait finds the child gone.
 */
const stopAndReap = (proc: CommandExecutor.Process, killGrace: Duration.DurationInput) =>
  Effect.gen(function*() {
    const running = yield* proc.isRunning.pipe(Effect.orElseSucceed(() => false))
    if (!running) return
    yield* signalGroup(proc.pid, "SIGTERM")
    // Finalizers run uninterruptibly; the wait must be interruptible or the timeout cannot cut it short.
    const exited = yield* Effect.interruptible(awaitExit(proc)).pipe(Effect.timeoutOption(killGrace))
    if (Option.isNone(exited)) {
      yield* signalGroup(proc.pid, "SIGKILL")
      yield* awaitExit(proc)
    }
    // Members of the group that ignored SIGTERM outlive a leader that obeyed it.
    yield* signalGroup(proc.pid, "SIGKILL")
  })

const collect = (
  stream: Stream.Stream<Uint8Array, unknown>,
  name: "stdout" | "stderr",
  command: string,
  limit: number
) =>
  Stream.runFoldEffect(
    stream.pipe(Stream.mapError((cause) => new SubprocessIoError({ command, stream: name, cause }))),
    { chunks: Chunk.empty<Uint8Array>(), size: 0 },
    (acc, bytes) =>
      acc.size + bytes.length > limit
        ? Effect.fail(new SubprocessOutputTooLarge({ command, stream: name, limit }))
        : Effect.succeed({ chunks: Chunk.append(acc.chunks, bytes), size: acc.size + bytes.length })
  ).pipe(
    // Decoded once at the end so a multi-byte character split across reads stays intact.
    Effect.map(({ chunks }) => Buffer.concat(Chunk.toReadonlyArray(chunks)).toString("utf8"))
  )

/**
 * Runs `command` to completion within `timeout`. A non-zero exit is a result, not an error. On
 * timeout — and equally when the caller interrupts — the child's process group is stopped
 * (SIGTERM, `killGrace`, SIGKILL) and reaped before the effect completes.
 */
export const runBounded = <E>(
  command: Command.Command,
  options: RunBoundedOptions<E>
): Effect.Effect<SubprocessResult, E | SubprocessError, CommandExecutor.CommandExecutor> => {
  const name = describeCommand(command)
  const limit = options.maxOutputBytes ?? SUBPROCESS_OUTPUT_MAX_BYTES
  const input = options.stdin === undefined
    ? Stream.empty
    : Stream.succeed(typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin)

  const run = Effect.gen(function*() {
    const executor = yield* CommandExecutor.CommandExecutor
    const proc = yield* Effect.acquireRelease(
      executor.start(Command.stdin(command, "pipe")).pipe(
        Effect.mapError((cause) => new SubprocessSpawnError({ command: name, cause }))
      ),
      (proc) => stopAndReap(proc, options.killGrace)
    )
    // A child that exits without reading its input makes the write fail (EPIPE); its exit code
    // already tells the caller what happened, so a failed write is not an error of its own.
    yield* Effect.forkScoped(Stream.run(input, proc.stdin).pipe(Effect.ignore))
    const [stdout, stderr, exitCode] = yield* Effect.all(
      [collect(proc.stdout, "stdout", name, limit), collect(proc.stderr, "stderr", name, limit), awaitExit(proc)],
      { concurrency: "unbounded" }
    )
    return { pid: proc.pid, exitCode, stdout, stderr } satisfies SubprocessResult
  })

  return Effect.scoped(run).pipe(
    Effect.timeoutFail({ duration: options.timeout, onTimeout: options.onTimeout })
  )
}
