import { NodeContext } from "@effect/platform-node"
import * as Command from "@effect/platform/Command"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Data, Duration, Effect, Fiber, Scheduler } from "effect"
import { runBounded } from "../layers/Subprocess.js"
import { isAlive } from "./support/processes.js"
import { waitUntil } from "./support/tmuxSocket.js"

class TestTimeout extends Data.TaggedError("TestTimeout")<{}> {}

const onTimeout = () => new TestTimeout()

/** A shell that ignores SIGTERM (so does its `sleep`) and records its pid in `$1` first. */
const stubborn = (pidFile: string) =>
  Command.make("sh", "-c", "trap '' TERM; echo $$ > \"$1\"; sleep 60", "sh", pidFile)

const readPid = (file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* waitUntil(
      "the child to write its pid",
      fs.readFileString(file).pipe(Effect.orElseSucceed(() => "")),
      (t) => /^\d+\n$/.test(t)
    )
    return Number(text.trim())
  })

const elapsedMillis = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = Date.now()
    const result = yield* self
    return [result, Date.now() - start] as const
  })

describe("runBounded", () => {
  it.live("keeps a fast command's output when fibers run a tick after the child exits", () =>
    // Fibers batched onto setImmediate run after Node has handled the child's exit; a reader
    // attached only then finds the output discarded. Forty runs make a lucky pass unlikely.
    Effect.gen(function*() {
      const outputs = yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) =>
        runBounded(Command.make("echo", `out-${i}`), {
          timeout: Duration.seconds(5),
          killGrace: Duration.millis(200),
          onTimeout: () =>
            new TestTimeout()
        }).pipe(Effect.map((r) => r.stdout)))
      assert.deepStrictEqual(
        outputs,
        Array.from({ length: 40 }, (_, i) =>
          `out-${i}\n`)
      )
    }).pipe(
      Effect.withScheduler(Scheduler.makeBatched((runBatch) => setImmediate(runBatch))),
      Effect.provide(NodeContext.layer)
    ))

  it.live("collects stdout, stderr and a non-zero exit code as a result", () =>
    Effect.gen(function*() {
      const result = yield* runBounded(
        Command.make("sh", "-c", "printf 'out\\nput'; printf 'oops' >&2; exit 3"),
        { timeout: Duration.seconds(5), killGrace: Duration.millis(200), onTimeout }
      )
      assert.strictEqual(result.exitCode, 3)
      assert.strictEqual(result.stdout, "out\nput")
      assert.strictEqual(result.stderr, "oops")
      assert.isAbove(result.pid, 0)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("reports a child ended by a signal with a null exit code", () =>
    Effect.gen(function*() {
      const result = yield* runBounded(Command.make("sh", "-c", "kill -KILL $$"), {
        timeout: Duration.seconds(5),
        killGrace: Duration.millis(200),
        onTimeout
      })
      assert.isNull(result.exitCode)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("feeds stdin byte for byte and closes it", () =>
    Effect.gen(function*() {
      const text = "line one\n'quoted' \"double\" $HOME \\back\n-dash; semi\nünïcødé ✓\n"
      const result = yield* runBounded(Command.make("cat"), {
        timeout: Duration.seconds(5),
        killGrace: Duration.millis(200),
        stdin: text,
        onTimeout
      })
      assert.strictEqual(result.exitCode, 0)
      assert.strictEqual(result.stdout, text)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("moves more than a pipe buffer through stdin and stdout at once", () =>
    Effect.gen(function*() {
      const text = "0123456789abcdef".repeat(64 * 1024) // 1 MiB
      const result = yield* runBounded(Command.make("cat"), {
        timeout: Duration.seconds(10),
        killGrace: Duration.millis(200),
        stdin: text,
        onTimeout
      })
      assert.strictEqual(result.stdout.length, text.length)
      assert.isTrue(result.stdout === text)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("closes stdin when none is given, so a reader sees end of file", () =>
    Effect.gen(function*() {
      const result = yield* runBounded(Command.make("cat"), {
        timeout: Duration.seconds(5),
        killGrace: Duration.millis(200),
        onTimeout
      })
      assert.strictEqual(result.exitCode, 0)
      assert.strictEqual(result.stdout, "")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("fails typed when the binary does not exist", () =>
    Effect.gen(function*() {
      const error = yield* runBounded(Command.make("/nonexistent/telemux-no-such-binary"), {
        timeout: Duration.seconds(5),
        killGrace: Duration.millis(200),
        onTimeout
      }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "SubprocessSpawnError")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("kills a child that writes past the output cap", () =>
    Effect.gen(function*() {
      const [error, ms] = yield* elapsedMillis(
        runBounded(Command.make("sh", "-c", "trap '' TERM; yes"), {
          timeout: Duration.seconds(10),
          killGrace: Duration.millis(200),
          maxOutputBytes: 64 * 1024,
          onTimeout
        }).pipe(Effect.flip)
      )
      assert.strictEqual(error._tag, "SubprocessOutputTooLarge")
      assert.isBelow(ms, 3000)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("with stdoutOverflow truncate keeps exactly the cap's first bytes and stops the child", () =>
    Effect.gen(function*() {
      const [result, ms] = yield* elapsedMillis(
        runBounded(Command.make("sh", "-c", "trap '' TERM; yes"), {
          timeout: Duration.seconds(10),
          killGrace: Duration.millis(200),
          maxOutputBytes: 64 * 1024,
          stdoutOverflow: "truncate",
          onTimeout
        })
      )
      assert.isTrue(result.stdoutTruncated)
      assert.strictEqual(result.stdout, "y\n".repeat(32 * 1024))
      assert.isFalse(isAlive(result.pid))
      assert.isBelow(ms, 3000)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("on timeout escalates SIGTERM → SIGKILL and reaps the child before failing", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const pidFile = `${dir}/pid`
      const [error, ms] = yield* elapsedMillis(
        runBounded(stubborn(pidFile), {
          timeout: Duration.millis(500),
          killGrace: Duration.millis(300),
          onTimeout
        }).pipe(Effect.flip)
      )
      assert.strictEqual(error._tag, "TestTimeout")
      const pid = Number((yield* fs.readFileString(pidFile)).trim())
      assert.isAbove(pid, 0)
      assert.isFalse(isAlive(pid), `child ${pid} still exists after the timeout error`)
      // It ignores SIGTERM, so only SIGKILL after the grace period can have ended it.
      assert.isAtLeast(ms, 750)
      assert.isBelow(ms, 2000)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("a child that obeys SIGTERM is not made to wait for the grace period", () =>
    Effect.gen(function*() {
      const [error, ms] = yield* elapsedMillis(
        runBounded(Command.make("sleep", "60"), {
          timeout: Duration.millis(200),
          killGrace: Duration.seconds(10),
          onTimeout
        }).pipe(Effect.flip)
      )
      assert.strictEqual(error._tag, "TestTimeout")
      assert.isBelow(ms, 2000)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("interrupting the caller kills and reaps the child", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const pidFile = `${dir}/pid`
      const fiber = yield* Effect.fork(
        runBounded(stubborn(pidFile), {
          timeout: Duration.seconds(30),
          killGrace: Duration.millis(200),
          onTimeout
        })
      )
      const pid = yield* readPid(pidFile)
      assert.isTrue(isAlive(pid))
      const [exit, ms] = yield* elapsedMillis(Fiber.interrupt(fiber))
      assert.isTrue(exit._tag === "Failure")
      assert.isFalse(isAlive(pid), `child ${pid} still exists after the interruption`)
      assert.isBelow(ms, 2000)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})
