import { Data, Effect, type Scope } from "effect"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const REDIS_INSTALL_HINT = "install it with `apt-get install -y redis-server` (or run `bash .ci/run`)"

export class RedisServerError extends Data.TaggedError("RedisServerError")<{ readonly message: string }> {}

/** A Redis for one test file: its URL, a key prefix no other test shares, and control over the server when it is ours. */
export interface RedisForTest {
  readonly url: string
  /** Unique per call: tests write only under it, so a shared server (`REDIS_URL`) is never flushed. */
  readonly keyPrefix: string
  /** The server this helper started, or undefined when `REDIS_URL` points at someone else's. */
  readonly server: RedisTestServer | undefined
  /** Stops the server when it is ours; leaves a shared one alone. */
  readonly stop: () => Promise<void>
}

/** A `redis-server` of our own on a free loopback port, with AOF (fsync always) in a temp dir. */
export interface RedisTestServer {
  readonly url: string
  readonly port: number
  readonly dir: string
  /** Pid of the running process, undefined while it is down. */
  readonly pid: () => number | undefined
  /** SIGTERM, then waits for the process to exit (SIGKILL after 5 s). The data dir stays. */
  readonly kill: () => Promise<void>
  /** Starts it again on the same port and dir (AOF reloaded). */
  readonly start: () => Promise<void>
  /** `kill` then `start`. */
  readonly restart: () => Promise<void>
  /** Kills it and removes its dir; safe to call twice. */
  readonly stop: () => Promise<void>
}

export const uniqueKeyPrefix = (): string => `telemux:v1:test:${process.pid}-${randomBytes(4).toString("hex")}:`

const requireRedisServer = () => {
  const probe = spawnSync("redis-server", ["--version"], { stdio: "ignore", timeout: 5000 })
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      `redis-server is required by the Redis integration tests and was not found on PATH: ${REDIS_INSTALL_HINT}`
    )
  }
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      probe.close(() => resolve(port))
    })
  })

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once("exit", () => resolve())
  })

/** Spawns redis-server and resolves once it accepts connections; rejects (with its log) if it exits first. */
const spawnServer = (port: number, dir: string, options: RedisServerOptions) =>
  new Promise<ChildProcess>((resolve, reject) => {
    const listen = options.tls === undefined
      ? ["--port", String(port)]
      : [
        "--port",
        "0",
        "--tls-port",
        String(port),
        "--tls-cert-file",
        options.tls.certFile,
        "--tls-key-file",
        options.tls.keyFile,
        "--tls-auth-clients",
        "no"
      ]
    const child = spawn("redis-server", [
      ...listen,
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      "--dir",
      dir,
      ...(options.extraArgs ?? [])
    ], { stdio: ["ignore", "pipe", "pipe"] })
    let log = ""
    let ready = false
    const deadline = globalThis.setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`redis-server on port ${port} was not ready within 10 s:\n${log}`))
    }, 10_000)
    const onData = (chunk: Buffer) => {
      log += chunk.toString()
      if (log.includes("Ready to accept connections")) {
        ready = true
        globalThis.clearTimeout(deadline)
        child.stdout?.off("data", onData)
        child.stdout?.resume()
        resolve(child)
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", (chunk: Buffer) => {
      if (!ready) log += chunk.toString()
    })
    child.once("error", (error) => {
      globalThis.clearTimeout(deadline)
      reject(error)
    })
    child.once("exit", (code, signal) => {
      globalThis.clearTimeout(deadline)
      reject(new Error(`redis-server on port ${port} exited (${code ?? signal}) before it was ready:\n${log}`))
    })
  })

const running = new Set<ChildProcess>()
let exitHookInstalled = false
/** Last resort if a test process dies without its teardown: no redis-server outlives it. */
const installExitHook = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL")
  })
}

export interface RedisServerOptions {
  /** Appended to the server's command line. */
  readonly extraArgs?: ReadonlyArray<string>
  /** Serve TLS only (no plain port); the URL is then `rediss://`. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string }
}

/** Starts a private redis-server on a free loopback port. */
export const startRedisServer = async (options: RedisServerOptions = {}): Promise<RedisTestServer> => {
  requireRedisServer()
  installExitHook()
  const dir = mkdtempSync(join(tmpdir(), "telemux-redis-"))
  let child: ChildProcess | undefined
  let port = 0
  for (let tries = 0; child === undefined; tries++) {
    port = await freePort()
    try {
      child = await spawnServer(port, dir, options)
    } catch (error) {
      // another process may have taken the port between probe and bind
      if (tries >= 2) {
        rmSync(dir, { recursive: true, force: true })
        throw error
      }
    }
  }
  running.add(child)

  const kill = async () => {
    const current = child
    if (current === undefined) return
    child = undefined
    current.kill("SIGTERM")
    const escalate = globalThis.setTimeout(() => current.kill("SIGKILL"), 5000)
    await exited(current)
    globalThis.clearTimeout(escalate)
    running.delete(current)
  }
  const start = async () => {
    if (child !== undefined) return
    const started = await spawnServer(port, dir, options)
    child = started
    running.add(started)
  }
  let removed = false
  return {
    url: `${options.tls === undefined ? "redis" : "rediss"}://127.0.0.1:${port}`,
    port,
    dir,
    pid: () => child?.pid,
    kill,
    start,
    restart: async () => {
      await kill()
      await start()
    },
    stop: async () => {
      await kill()
      if (!removed) {
        removed = true
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}

/**
 * The Redis integration tests run against: `REDIS_URL` when set (shared: never flushed, keys only
 * under `keyPrefix`), otherwise a private server started here.
 */
export const redisForTest = async (): Promise<RedisForTest> => {
  const shared = process.env.REDIS_URL
  if (shared !== undefined && shared !== "") {
    return { url: shared, keyPrefix: uniqueKeyPrefix(), server: undefined, stop: async () => {} }
  }
  const server = await startRedisServer()
  return { url: server.url, keyPrefix: uniqueKeyPrefix(), server, stop: server.stop }
}

/** `redisForTest` for the length of a scope. */
export const scopedRedisForTest: Effect.Effect<RedisForTest, RedisServerError, Scope.Scope> = Effect.acquireRelease(
  Effect.tryPromise({ try: redisForTest, catch: (e) => new RedisServerError({ message: String(e) }) }),
  (redis) => Effect.promise(redis.stop)
)

/** A private server (never `REDIS_URL`: restarts and ACL changes need one of our own) for the length of a scope. */
export const scopedRedisServer = (
  options: RedisServerOptions = {}
): Effect.Effect<RedisTestServer, RedisServerError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => startRedisServer(options),
      catch: (e) => new RedisServerError({ message: String(e) })
    }),
    (server) => Effect.promise(server.stop)
  )
