import { NodeContext } from "@effect/platform-node"
import * as Command from "@effect/platform/Command"
import { Context, Data, Duration, Effect, Exit, Layer, Logger, LogLevel, Schedule, Scope } from "effect"
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { rmSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { runBounded } from "../layers/Subprocess.js"
import * as TmuxControlLive from "../layers/TmuxControl.js"
import { TmuxControl } from "../services/TmuxControl.js"
import { type BenchRow, formatRate, printRows, ratio } from "./measure.js"

/** Long enough for a stable rate, short enough that the spawning side stays a few seconds. */
const CHANNEL_OPS = 3000
const SPAWN_OPS = 300
const PIPELINED = 16

class BenchFailed extends Data.TaggedError("BenchFailed")<{ readonly reason: string }> {}

const nsPerOp = <A, E, R>(ops: number, op: Effect.Effect<A, E, R>, concurrency = 1) =>
  Effect.gen(function*() {
    const start = process.hrtime.bigint()
    yield* Effect.forEach(Array.from({ length: ops }), () => op, { concurrency, discard: true })
    return Number(process.hrtime.bigint() - start) / ops
  })

/**
 * `capture-pane` of one 200x50 pane with a full screen: through the control channel (one line
 * written, one reply block read) beside spawning `tmux capture-pane` per call, in one run.
 */
export const benchControl = async (): Promise<ReadonlyArray<BenchRow>> => {
  const socket = `telemux-bench-${process.pid}-${randomBytes(4).toString("hex")}`
  const tmux = (...args: ReadonlyArray<string>) => execFileSync("tmux", ["-L", socket, ...args], { timeout: 5000 })
  try {
    tmux(
      "new-session",
      "-d",
      "-s",
      "tmx_bench000",
      "-x",
      "200",
      "-y",
      "50",
      "for i in $(seq 1 60); do echo \"telemux bench ✓ line $i\"; done; exec tail -f /dev/null"
    )
    const pane = tmux("display-message", "-p", "-t", "=tmx_bench000:", "#{pane_id}").toString().trim()
    const captureArgs = ["capture-pane", "-p", "-t", pane]

    return await Effect.runPromise(
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const control = Context.get(yield* Layer.buildWithScope(TmuxControlLive.layer({ socket }), scope), TmuxControl)
        const overChannel = control.run(captureArgs)
        const spawned = runBounded(Command.make("tmux", "-u", "-L", socket, ...captureArgs), {
          timeout: Duration.seconds(5),
          killGrace: Duration.millis(500),
          onTimeout: () => new BenchFailed({ reason: "tmux capture-pane timed out" })
        })
        // Both sides must read the same (settled) screen for the comparison to be fair.
        yield* Effect.gen(function*() {
          const [viaChannel, viaSpawn] = [yield* overChannel, yield* spawned]
          if (viaChannel.join("\n").trimEnd() !== viaSpawn.stdout.trimEnd() || !viaSpawn.stdout.includes("line 60")) {
            return yield* new BenchFailed({ reason: "the channel and the spawned tmux captured different screens" })
          }
        }).pipe(Effect.retry({ schedule: Schedule.spaced(Duration.millis(50)), times: 100 }))
        yield* nsPerOp(200, overChannel)
        const channel = yield* nsPerOp(CHANNEL_OPS, overChannel)
        const pipelined = yield* nsPerOp(CHANNEL_OPS, overChannel, PIPELINED)
        const spawn = yield* nsPerOp(SPAWN_OPS, spawned)
        yield* Scope.close(scope, Exit.void)
        return [
          {
            name: "capture-pane 200x50, one at a time",
            value: `${formatRate(channel)} via control channel`,
            baseline: `${formatRate(spawn)} spawning tmux`,
            ratio: ratio(spawn, channel)
          },
          {
            name: `capture-pane 200x50, ${PIPELINED} in flight`,
            value: `${formatRate(pipelined)} via control channel`,
            baseline: `${formatRate(spawn)} spawning tmux`,
            ratio: ratio(spawn, pipelined)
          }
        ] satisfies ReadonlyArray<BenchRow>
      }).pipe(Logger.withMinimumLogLevel(LogLevel.Error), Effect.provide(NodeContext.layer))
    )
  } finally {
    try {
      tmux("kill-server")
    } catch {
      // already gone
    }
    // tmux leaves its socket file behind (tmux(1), -L).
    rmSync(`${process.env.TMUX_TMPDIR || "/tmp"}/tmux-${process.getuid?.() ?? 0}/${socket}`, { force: true })
  }
}

export const main = async () => printRows("tmux control channel", await benchControl())

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
