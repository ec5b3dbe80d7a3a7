import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import { Data, Duration, Effect, Schedule, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import { rmSync } from "node:fs"
import { runBounded } from "../../layers/Subprocess.js"

/** A socket name no other test (or the user's own tmux) shares. */
export const uniqueSocketName = (): string => `telemux-test-${process.pid}-${randomBytes(4).toString("hex")}`

class KillServerTimeout extends Data.TaggedError("KillServerTimeout")<{}> {}

const runTmux = (socket: string, ...args: ReadonlyArray<string>) =>
  runBounded(Command.make("tmux", "-L", socket, ...args), {
    timeout: Duration.seconds(5),
    killGrace: Duration.millis(200),
    onTimeout: () => new KillServerTimeout()
  })

/** Kills the server and removes its socket file, which tmux leaves behind; never fails. */
export const killServer = (socket: string): Effect.Effect<void, never, CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    yield* runTmux(socket, "kill-server").pipe(Effect.ignore)
    // Where `tmux -L` puts its sockets (tmux(1), -L); the server may already have exited on its own.
    const dir = `${process.env.TMUX_TMPDIR || "/tmp"}/tmux-${process.getuid?.() ?? 0}`
    yield* Effect.sync(() => rmSync(`${dir}/${socket}`, { force: true }))
  })

/** A fresh private socket whose tmux server is killed when the scope closes. */
export const scopedTmuxSocket: Effect.Effect<string, never, Scope.Scope | CommandExecutor.CommandExecutor> = Effect
  .acquireRelease(Effect.sync(uniqueSocketName), killServer)

export class ConditionNotMet extends Data.TaggedError("ConditionNotMet")<{
  readonly what: string
  readonly last: string
}> {
  override get message() {
    return `gave up waiting for ${this.what}; last seen:\n${this.last}`
  }
}

/**
 * Re-reads `read` every `interval` until `accept` holds, at most `attempts` times; fails with the
 * last value seen so a failing test shows the screen it was looking at.
 */
export const waitUntil = <E, R>(
  what: string,
  read: Effect.Effect<string, E, R>,
  accept: (text: string) => boolean,
  options: { readonly interval?: Duration.DurationInput; readonly attempts?: number } = {}
): Effect.Effect<string, E | ConditionNotMet, R> =>
  read.pipe(
    Effect.filterOrFail(accept, (last) => new ConditionNotMet({ what, last })),
    Effect.retry({
      while: (e) => e instanceof ConditionNotMet,
      schedule: Schedule.spaced(options.interval ?? Duration.millis(50)),
      times: (options.attempts ?? 100) - 1
    })
  )

class TmuxHelperFailed
  extends Data.TaggedError("TmuxHelperFailed")<{ readonly args: ReadonlyArray<string>; readonly stderr: string }>
{}

/** Runs `tmux -L <socket> …args` directly (for setting up or inspecting what the bridge cannot). */
export const tmuxCommand = (socket: string, ...args: ReadonlyArray<string>) =>
  runBounded(Command.make("tmux", "-L", socket, ...args), {
    timeout: Duration.seconds(5),
    killGrace: Duration.millis(200),
    onTimeout: () => new TmuxHelperFailed({ args, stderr: "timed out" })
  }).pipe(
    Effect.filterOrFail(
      (result) => result.exitCode === 0,
      (result) => new TmuxHelperFailed({ args, stderr: result.stderr })
    ),
    Effect.map((result) => result.stdout)
  )
