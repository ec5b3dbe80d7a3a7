import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type { DaemonEnv } from "./daemonProcess.js"
import { killTmuxServer, removeDaemonEnv } from "./daemonProcess.js"

export const DIST_CLI = path.resolve(import.meta.dirname, "../../dist/cli.js")

/** The environment a person's shell would have to reach the test daemon: the same configuration names. */
export const cliEnv = (env: DaemonEnv, extra: Record<string, string> = {}): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: env.home,
  TELEMUX_HOME: env.home,
  TELEMUX_TMUX_SOCKET: env.socket,
  TELEMUX_PORT: String(env.port),
  TELEMUX_TEST_MARKER: env.marker,
  ...extra
})

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** A running `node dist/cli.js …` whose output is collected. */
export interface CliProcess {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<CliResult>
  /** Resolves once stdout contains `text`; rejects after `timeoutMs` with what was printed. */
  readonly waitForOutput: (text: string | RegExp, timeoutMs?: number) => Promise<void>
}

export const spawnCli = (
  args: ReadonlyArray<string>,
  options: { readonly env: Record<string, string>; readonly cwd?: string; readonly input?: string }
): CliProcess => {
  if (!fs.existsSync(DIST_CLI)) throw new Error(`${DIST_CLI} is missing: run npm run build (npm test does)`)
  const child = spawn(process.execPath, [DIST_CLI, ...args], {
    env: options.env,
    cwd: options.cwd ?? options.env.HOME,
    stdio: ["pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  const listeners = new Set<() => void>()
  child.stdout!.on("data", (chunk) => {
    stdout += chunk
    for (const listener of listeners) listener()
  })
  child.stderr!.on("data", (chunk) => (stderr += chunk))
  if (options.input !== undefined) child.stdin!.end(options.input)
  else child.stdin!.end()
  const exited = new Promise<CliResult>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  )
  const waitForOutput = (text: string | RegExp, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (typeof text === "string" ? stdout.includes(text) : text.test(stdout)) {
          listeners.delete(check)
          clearTimeout(timer)
          resolve()
        }
      }
      const timer = setTimeout(() => {
        listeners.delete(check)
        reject(new Error(`no ${String(text)} within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`))
      }, timeoutMs)
      listeners.add(check)
      check()
    })
  return { child, stdout: () => stdout, stderr: () => stderr, exited, waitForOutput }
}

/** Runs `node dist/cli.js …` to completion (killed after `timeoutMs`). */
export const runCli = async (
  args: ReadonlyArray<string>,
  options: {
    readonly env: Record<string, string>
    readonly cwd?: string
    readonly input?: string
    readonly timeoutMs?: number
  }
): Promise<CliResult> => {
  const running = spawnCli(args, options)
  const timer = setTimeout(() => running.child.kill("SIGKILL"), options.timeoutMs ?? 20_000)
  try {
    return await running.exited
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `probe` until it returns a value (bounded). */
export const eventually = async <A>(
  probe: () => Promise<A | undefined>,
  what: string,
  timeoutMs = 10_000
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Kills a tmux server and removes the socket file tmux leaves behind. */
export const removeTmuxServer = (socket: string) => {
  killTmuxServer(socket)
  // Where `tmux -L` puts its sockets (tmux(1), -L).
  fs.rmSync(path.join(process.env.TMUX_TMPDIR || "/tmp", `tmux-${process.getuid?.() ?? 0}`, socket), { force: true })
}

/** removeDaemonEnv (its processes killed before its state dir goes), and the tmux socket file removed too. */
export const removeEnv = (env: DaemonEnv) => {
  removeTmuxServer(env.socket)
  removeDaemonEnv(env)
}

/** A directory holding an executable `name` that records its argv (one per line) and TMUX into `<dir>/<name>.log`, then exits with `code`. */
export const fakeCommand = (dir: string, name: string, code = 0): string => {
  fs.mkdirSync(dir, { recursive: true })
  const log = path.join(dir, `${name}.log`)
  fs.writeFileSync(
    path.join(dir, name),
    `#!/bin/sh\n: > "${log}"\nfor arg in "$@"; do printf '%s\\n' "$arg" >> "${log}"; done\nprintf 'TMUX=%s\\n' "$TMUX" >> "${log}"\nexit ${code}\n`,
    { mode: 0o755 }
  )
  return log
}
