import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { DaemonEnv } from "./daemonProcess.js"

/** Tools for fault-injection tests against real daemons: HTTP answers that never throw, tmux frozen, a full disk. */

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `probe` until it gives a value; fails naming `what` after `timeoutMs`. */
export const eventually = async <A>(
  what: string,
  probe: () => A | undefined | Promise<A | undefined>,
  timeoutMs = 10_000
): Promise<{ readonly value: A; readonly afterMs: number }> => {
  const start = Date.now()
  for (;;) {
    const value = await probe()
    if (value !== undefined) return { value, afterMs: Date.now() - start }
    if (Date.now() - start > timeoutMs) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

export interface Answer {
  /** 0 when no HTTP answer came (connection refused or reset, or no answer within the bound). */
  readonly status: number
  /** The error's `_tag`, when the body carried one. */
  readonly tag: string | undefined
  readonly text: string
  readonly body: unknown
}

/**
 * An API caller for `env`'s daemon that never throws: every outcome is an Answer. Each call is
 * bounded by `timeoutMs`; the token is read per call (a restarted daemon keeps its token file).
 */
export const caller = (env: DaemonEnv, timeoutMs = 30_000) =>
async (
  method: string,
  route: string,
  body?: unknown,
  headers: Readonly<Record<string, string>> = {}
): Promise<Answer> => {
  try {
    const token = fs.readFileSync(path.join(env.home, "token"), "utf8").trim()
    const res = await fetch(`http://127.0.0.1:${env.port}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs)
    })
    const text = await res.text()
    let parsed: unknown
    try {
      parsed = text === "" ? undefined : JSON.parse(text)
    } catch {
      parsed = undefined
    }
    const tag = typeof parsed === "object" && parsed !== null && "_tag" in parsed ? String(parsed._tag) : undefined
    return { status: res.status, tag, text, body: parsed }
  } catch (error) {
    return { status: 0, tag: undefined, text: String(error), body: undefined }
  }
}

/** `status tag` of an answer, as tallies print it (e.g. `504 OutcomeUnknown`, `204`, `0`). */
export const answerKind = (
  answer: Answer
) => (answer.tag === undefined ? String(answer.status) : `${answer.status} ${answer.tag}`)

const tmux = (socket: string, ...args: ReadonlyArray<string>) =>
  execFileSync("tmux", ["-L", socket, ...args], { timeout: 5000, stdio: ["ignore", "pipe", "pipe"] }).toString()

/** Names of the sessions on the tmux server of `socket` (empty when no server runs). */
export const tmuxSessionNames = (socket: string): ReadonlyArray<string> => {
  try {
    return tmux(socket, "list-sessions", "-F", "#{session_name}").split("\n").filter((name) => name !== "")
  } catch {
    return []
  }
}

/** Names of the paste buffers on the tmux server of `socket`. */
export const tmuxBufferNames = (socket: string): ReadonlyArray<string> => {
  try {
    return tmux(socket, "list-buffers", "-F", "#{buffer_name}").split("\n").filter((name) => name !== "")
  } catch {
    return []
  }
}

/** The command running in `pane` (`#{pane_current_command}`), or undefined when tmux does not say. */
export const paneCommand = (socket: string, pane: string): string | undefined => {
  try {
    return tmux(socket, "display-message", "-p", "-t", pane, "#{pane_current_command}").trim()
  } catch {
    return undefined
  }
}

/** Stops (SIGSTOP) a process until the returned function continues it (SIGCONT); continuing twice is harmless. */
export const freeze = (pid: number): () => void => {
  process.kill(pid, "SIGSTOP")
  let frozen = true
  return () => {
    if (!frozen) return
    frozen = false
    try {
      process.kill(pid, "SIGCONT")
    } catch {
      // gone meanwhile
    }
  }
}

export interface Tmpfs {
  readonly dir: string
  /** Bytes free on it now. */
  readonly free: () => number
  /** Writes one file until the filesystem refuses (ENOSPC); returns its path and size. */
  readonly fill: () => { readonly file: string; readonly bytes: number }
  /** Removes what is on it, unmounts it and removes the mount point; never throws. */
  readonly remove: () => void
}

/**
 * A tmpfs of `sizeBytes` mounted on a fresh dir (mode 0700), for a full disk. Needs root (or
 * CAP_SYS_ADMIN): when mounting is refused, this throws saying so — a test must not skip silently.
 */
export const mountTmpfs = (sizeBytes: number): Tmpfs => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-tmpfs-"))
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0700`, "tmpfs", dir], {
      timeout: 5000,
      stdio: "pipe"
    })
  } catch (error) {
    fs.rmdirSync(dir)
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? String(error)
    throw new Error(
      `mount -t tmpfs was refused (${stderr}): the full-disk scenario needs root or CAP_SYS_ADMIN to mount a small tmpfs`
    )
  }
  const free = () => {
    const stats = fs.statfsSync(dir)
    return stats.bavail * stats.bsize
  }
  const fill = () => {
    const file = path.join(dir, "filler")
    const fd = fs.openSync(file, "a")
    const chunk = Buffer.alloc(64 * 1024, 0x78)
    let bytes = 0
    try {
      for (;;) {
        const size = Math.max(1, Math.min(chunk.length, free()))
        bytes += fs.writeSync(fd, chunk, 0, size)
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error
    } finally {
      fs.closeSync(fd)
    }
    return { file, bytes }
  }
  const remove = () => {
    try {
      for (const entry of fs.readdirSync(dir)) fs.rmSync(path.join(dir, entry), { recursive: true, force: true })
    } catch {
      // unmounted already
    }
    try {
      execFileSync("umount", ["-l", dir], { timeout: 5000, stdio: "ignore" })
    } catch {
      // not mounted
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return { dir, free, fill, remove }
}
