import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { type DaemonEnv, daemonVariables, DIST_MAIN } from "./daemonProcess.js"

/** How a daemon process ended, and when (performance.now() of its `exit` event in this process). */
export interface DaemonExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly at: number
}

export interface SpawnedDaemon {
  readonly child: ChildProcess
  readonly pid: number
  /** performance.now() when the process was spawned. */
  readonly spawnedAt: number
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<DaemonExit>
  /** Sends `signal` and waits for the exit (at most `boundMs`, then SIGKILL); `elapsedMs` runs from the signal to the `exit` event. */
  readonly signal: (
    signal: NodeJS.Signals,
    boundMs?: number
  ) => Promise<DaemonExit & { readonly elapsedMs: number; readonly timedOut: boolean }>
}

/**
 * `node dist/main.js` in the environment startDaemon gives it (same variables, same marker), but
 * without waiting for it to become healthy: for tests of start-up itself and of daemons that must
 * refuse to start. stdout (JSON logs) and stderr are kept apart.
 */
export const spawnDaemon = (env: DaemonEnv, extra: Record<string, string> = {}): SpawnedDaemon => {
  if (!fs.existsSync(DIST_MAIN)) throw new Error(`${DIST_MAIN} is missing: run npm run build (npm test does)`)
  const spawnedAt = performance.now()
  const child = spawn(process.execPath, [DIST_MAIN], {
    env: daemonVariables(env, { TELEMUX_LOG_LEVEL: "Debug", ...extra }),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk) => (stdout += chunk))
  child.stderr!.on("data", (chunk) => (stderr += chunk))
  const exited = new Promise<DaemonExit>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, at: performance.now() }))
  )
  return {
    child,
    pid: child.pid!,
    spawnedAt,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    signal: async (signal, boundMs = 10_000) => {
      const sent = performance.now()
      child.kill(signal)
      let timer: NodeJS.Timeout | undefined
      const result = await Promise.race([
        exited,
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), boundMs)))
      ])
      clearTimeout(timer)
      if (result !== undefined) return { ...result, elapsedMs: result.at - sent, timedOut: false }
      child.kill("SIGKILL")
      const killed = await exited
      return { ...killed, elapsedMs: killed.at - sent, timedOut: true }
    }
  }
}

/** Resident memory of `pid` in bytes (VmRSS), or undefined once it is gone. */
export const residentBytes = (pid: number): number | undefined => {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    return match === null ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}
