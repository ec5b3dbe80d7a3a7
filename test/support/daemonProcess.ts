import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { commandLine, parentOf, pidsWithEnv } from "./processes.js"

export const DIST_MAIN = path.resolve(import.meta.dirname, "../../dist/main.js")

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

export interface DaemonEnv {
  readonly home: string
  readonly socket: string
  readonly port: number
  /** Inherited by every process the daemon starts, so leaks can be found afterwards. */
  readonly marker: string
  readonly projectDir: string
}

export const makeDaemonEnv = async (): Promise<DaemonEnv> => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-daemon-"))
  const projectDir = path.join(home, "project")
  fs.mkdirSync(projectDir)
  const marker = `telemux-test-${process.pid}-${Math.random().toString(16).slice(2)}`
  return { home, socket: marker, port: await freePort(), marker, projectDir }
}

export interface RunningDaemon {
  readonly child: ChildProcess
  readonly logs: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>
  readonly stop: (
    signal?: NodeJS.Signals
  ) => Promise<{ code: number | null; signal: NodeJS.Signals | null; elapsedMs: number }>
}

/** The environment variables a test daemon runs with (its own HOME, state dir, socket, port and marker), then `extra`. */
export const daemonVariables = (env: DaemonEnv, extra: Record<string, string> = {}): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  // A home of its own: the shells in its panes read no ~/.bashrc, tmux no ~/.tmux.conf.
  HOME: env.home,
  // the panes' shells die with the tmux server as the test removes HOME; they must not write into it then
  HISTFILE: "/dev/null",
  TELEMUX_HOME: env.home,
  TELEMUX_TMUX_SOCKET: env.socket,
  TELEMUX_PORT: String(env.port),
  TELEMUX_COMPUTER: "testbox",
  TELEMUX_TEST_MARKER: env.marker,
  ...extra
})

export const startDaemon = async (env: DaemonEnv, extra: Record<string, string> = {}): Promise<RunningDaemon> => {
  if (!fs.existsSync(DIST_MAIN)) throw new Error(`${DIST_MAIN} is missing: run npm run build (npm test does)`)
  const child = spawn(process.execPath, [DIST_MAIN], {
    env: daemonVariables(env, { TELEMUX_LOG_LEVEL: "Debug", ...extra }),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const started = Date.now()
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, afterMs: Date.now() - started }))
  )
  const deadline = Date.now() + 20_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`daemon exited early (${child.exitCode}):\n${output}`)
    try {
      const res = await fetch(`http://127.0.0.1:${env.port}/health`, { signal: AbortSignal.timeout(1000) })
      if (res.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`daemon did not become healthy within 20 s:\n${output}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    child,
    logs: () => output,
    exited,
    stop: async (signal = "SIGTERM") => {
      const sent = Date.now()
      child.kill(signal)
      const result = await Promise.race([
        exited,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000))
      ])
      if (result === undefined) {
        child.kill("SIGKILL")
        throw new Error(`daemon ignored ${signal} for 10 s:\n${output}`)
      }
      return { code: result.code, signal: result.signal, elapsedMs: Date.now() - sent }
    }
  }
}

/** The tmux server's pid on `socket`, or undefined when none runs. */
export const tmuxServerPid = (socket: string): number | undefined => {
  try {
    return Number(
      execFileSync("tmux", ["-L", socket, "display-message", "-p", "#{pid}"], { timeout: 5000 }).toString().trim()
    )
  } catch {
    return undefined
  }
}

/**
 * Live processes carrying `marker` in their environment, other than the tmux server and its
 * descendants (sessions are meant to outlive the daemon).
 */
export const leftoverProcesses = (marker: string, tmuxPid: number | undefined): ReadonlyArray<string> =>
  markedProcesses(marker).flatMap((pid) => {
    let ancestor: number | undefined = pid
    for (let depth = 0; ancestor !== undefined && ancestor > 1 && depth < 64; depth++) {
      if (ancestor === tmuxPid) return []
      ancestor = parentOf(ancestor)
    }
    return [`${pid}: ${commandLine(pid)}`]
  })

/** Pids of the live processes carrying `marker` in their environment: the daemon and all it started. */
export const markedProcesses = (marker: string): ReadonlyArray<number> => pidsWithEnv("TELEMUX_TEST_MARKER", marker)

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/**
 * SIGKILLs every process carrying `marker` until none is left (one killed between two looks may
 * have started another); throws naming the survivors if some still live after `timeoutMs`.
 */
export const killMarkedProcesses = (marker: string, timeoutMs = 10_000): void => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const pids = markedProcesses(marker)
    if (pids.length === 0) return
    if (Date.now() > deadline) {
      throw new Error(
        `processes of ${marker} survived SIGKILL:\n${pids.map((pid) => `${pid}: ${commandLine(pid)}`).join("\n")}`
      )
    }
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // gone meanwhile
      }
    }
    sleepSync(10)
  }
}

export const api = (env: DaemonEnv) => {
  const token = () => fs.readFileSync(path.join(env.home, "token"), "utf8").trim()
  return async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${env.port}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${token()}`,
        ...(body === undefined ? {} : { "content-type": "application/json" })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await res.text()
    return { status: res.status, body: text === "" ? undefined : JSON.parse(text) }
  }
}

/**
 * `api` as a lean client would call it, for latency benchmarks: one keep-alive connection
 * (node:http) and the token read once — what is timed is the daemon, not fetch's own overhead.
 */
export const keepAliveApi = (env: DaemonEnv) => {
  const token = fs.readFileSync(path.join(env.home, "token"), "utf8").trim()
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
  /**
   * A request sent on a kept-alive socket just as the daemon closed it for idling (its keep-alive
   * timeout) is reset unread: sent again once on a fresh socket, as Node's docs advise
   * (`request.reusedSocket`). The daemon never read it, so it never ran. Seen: the terminal
   * section's DELETEs after a quiet spell of keystrokes, `socket hang up`.
   */
  const call = (
    method: string,
    route: string,
    body?: unknown,
    retried = false
  ): Promise<{ status: number; body: any }> =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body)
      const headers: Record<string, string | number> = { authorization: `Bearer ${token}` }
      if (data !== undefined) {
        headers["content-type"] = "application/json"
        headers["content-length"] = Buffer.byteLength(data)
      }
      const request = http.request(
        { host: "127.0.0.1", port: env.port, path: route, method, agent, headers },
        (response) => {
          const chunks: Array<Buffer> = []
          response.on("data", (chunk: Buffer) => chunks.push(chunk))
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8")
            resolve({ status: response.statusCode ?? 0, body: text === "" ? undefined : JSON.parse(text) })
          })
          response.on("error", reject)
        }
      )
      request.on("error", (error: NodeJS.ErrnoException) => {
        if (!retried && request.reusedSocket && error.code === "ECONNRESET") {
          resolve(call(method, route, body, true))
        } else reject(error)
      })
      request.end(data)
    })
  return (method: string, route: string, body?: unknown) => call(method, route, body)
}

export const killTmuxServer = (socket: string) => {
  try {
    execFileSync("tmux", ["-L", socket, "kill-server"], { stdio: "ignore", timeout: 5000 })
  } catch {
    // no server
  }
}

/**
 * Kills the environment's tmux server, then every process still carrying its marker, and only then
 * removes its state dir. `tmux kill-server` returns before the panes' processes get their SIGHUP
 * (50–200 ms later, measured), and until then a fake agent's hook may still be writing its outbox
 * (outbox.db, -wal, -shm) into the state dir or making it anew. rmSync lists a directory once and
 * then only retries its rmdir, so a single entry made after that listing failed it with ENOTEMPTY
 * after ~10 s of retries, or the hook left the directory behind. With no process of the
 * environment left nothing writes there: no retries are needed, and a failure is a real one.
 */
export const removeDaemonEnv = (env: DaemonEnv) => {
  killTmuxServer(env.socket)
  killMarkedProcesses(env.marker)
  fs.rmSync(env.home, { recursive: true, force: true })
}
