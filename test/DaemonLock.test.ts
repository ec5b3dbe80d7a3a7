import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Scope } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import * as DaemonLock from "../layers/DaemonLock.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "telemux-lock-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const settingsIn = (root: string, home = "home", socket = "sock") => ({
  home: path.join(root, home),
  lockDir: path.join(root, "locks"),
  tmuxSocket: socket,
  host: "127.0.0.1"
})

const mode = (file: string) => fs.statSync(file).mode & 0o777

describe("DaemonLock", () => {
  it.scopedLive("one daemon per state dir and per tmux socket; the second names the first; released with the scope", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const first = yield* Scope.make()
      const lock = yield* DaemonLock.acquire(settingsIn(root)).pipe(Scope.extend(first))
      yield* lock.publish(4781)

      const sameHome = yield* Effect.flip(Effect.scoped(DaemonLock.acquire(settingsIn(root, "home", "other-sock"))))
      assert.strictEqual(sameHome._tag, "DaemonAlreadyRunning")
      if (sameHome._tag === "DaemonAlreadyRunning") {
        assert.strictEqual(sameHome.resource, "state dir")
        assert.strictEqual(sameHome.owner?.pid, process.pid)
        assert.strictEqual(sameHome.owner?.port, 4781)
        assert.include(sameHome.message, `pid ${process.pid}`)
        assert.include(sameHome.message, "TELEMUX_HOME")
      }
      const sameSocket = yield* Effect.flip(Effect.scoped(DaemonLock.acquire(settingsIn(root, "home2", "sock"))))
      assert.strictEqual(sameSocket._tag, "DaemonAlreadyRunning")
      if (sameSocket._tag === "DaemonAlreadyRunning") {
        assert.strictEqual(sameSocket.resource, "tmux socket")
        assert.include(sameSocket.message, "TELEMUX_TMUX_SOCKET")
      }
      // the failed attempt on home2 released what it had taken: home2 with another socket is free
      yield* Effect.scoped(DaemonLock.acquire(settingsIn(root, "home2", "sock3")))

      assert.strictEqual(mode(path.join(root, "home")), 0o700)
      assert.strictEqual(mode(path.join(root, "locks")), 0o700)
      assert.strictEqual(mode(path.join(root, "home", "daemon.lock")), 0o600)
      assert.strictEqual(mode(path.join(root, "home", "daemon.json")), 0o600)
      assert.isTrue(Option.isSome(yield* DaemonLock.inspect(settingsIn(root))), "doctor sees it held")

      yield* Scope.close(first, Exit.void)
      assert.isFalse(fs.existsSync(path.join(root, "home", "daemon.json")), "the record goes with the daemon")
      assert.isTrue(Option.isNone(yield* DaemonLock.inspect(settingsIn(root))))
      yield* Effect.scoped(DaemonLock.acquire(settingsIn(root)))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a lock dir that belongs to another user is refused; an open one is tightened", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      fs.mkdirSync(path.join(root, "locks"), { mode: 0o777 })
      fs.chmodSync(path.join(root, "locks"), 0o777)
      yield* Effect.scoped(DaemonLock.acquire(settingsIn(root)))
      assert.strictEqual(mode(path.join(root, "locks")), 0o700)
      if (process.getuid?.() === 0) {
        const foreign = path.join(root, "foreign")
        fs.mkdirSync(foreign)
        fs.chownSync(foreign, 65534, 65534)
        const error = yield* Effect.flip(Effect.scoped(DaemonLock.acquire({ ...settingsIn(root), lockDir: foreign })))
        assert.strictEqual(error._tag, "DaemonLockFailed")
        assert.include(error.message, "65534")
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a holder killed with SIGKILL leaves the lock free (the kernel drops it)", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const lockFile = path.join(root, "home", "daemon.lock")
      fs.mkdirSync(path.dirname(lockFile), { recursive: true })
      const holder = spawn(process.execPath, [
        "-e",
        `const D = require(${JSON.stringify(createRequire(import.meta.url).resolve("better-sqlite3"))});
         const db = new D(${JSON.stringify(lockFile)}, { timeout: 0 });
         db.pragma("locking_mode = EXCLUSIVE");
         db.exec("CREATE TABLE IF NOT EXISTS held (pid INTEGER NOT NULL); DELETE FROM held");
         console.log("held"); setInterval(() => {}, 1000)`
      ], { stdio: ["ignore", "pipe", "inherit"] })
      yield* Effect.async<void>((resume) => void holder.stdout.once("data", () => resume(Effect.void)))
      const held = yield* Effect.flip(Effect.scoped(DaemonLock.acquire(settingsIn(root))))
      assert.strictEqual(held._tag, "DaemonAlreadyRunning")
      holder.kill("SIGKILL")
      yield* Effect.async<void>((resume) => void holder.once("exit", () => resume(Effect.void)))
      yield* Effect.scoped(DaemonLock.acquire(settingsIn(root)))
    }).pipe(Effect.provide(NodeContext.layer)))
})
