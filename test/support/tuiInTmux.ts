/**
 * The built CLI's `telemux tui` in a pane of a tmux server of its own (a private socket, not the
 * daemon's), driven with send-keys and read with capture-pane: what the TUI process tests share.
 */
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { afterAll, assert } from "vitest"
import { cliEnv, DIST_CLI, eventually, removeEnv, removeTmuxServer } from "./cliProcess.js"
import { type DaemonEnv, leftoverProcesses, makeDaemonEnv, type RunningDaemon, tmuxServerPid } from "./daemonProcess.js"

export interface TuiInTmux {
  /** The private tmux socket's name (`tmux -L`); remove it with removeTmuxServer. */
  readonly socket: string
  readonly tmux: (...args: ReadonlyArray<string>) => string
  /** send-keys to the TUI's pane. */
  readonly keys: (...args: ReadonlyArray<string>) => string
  /** The TUI's pane as text. */
  readonly screen: () => string
  /** The screen once `accept` takes it; on a timeout the error carries the last screen and the daemon's log tail. */
  readonly waitScreen: (what: string, accept: (text: string) => boolean, timeoutMs?: number) => Promise<string>
  /**
   * Starts `telemux tui` (or `command`, run by sh) in a detached session "tui" of that size, in the
   * environment's project dir.
   */
  readonly start: (columns: number, rows: number, command?: string) => void
  /** Removes the TUI's tmux server, then stops the daemon: it must exit 0 and leave nothing of the test running but its tmux server. */
  readonly end: () => Promise<void>
}

export const tuiInTmux = (
  env: DaemonEnv,
  daemon: RunningDaemon,
  options: { readonly socketPrefix: string; readonly waitTimeoutMs: number }
): TuiInTmux => {
  const socket = `${options.socketPrefix}-${process.pid}-${randomBytes(4).toString("hex")}`
  const tmux = (...args: ReadonlyArray<string>) =>
    execFileSync("tmux", ["-L", socket, ...args], { env: cliEnv(env), timeout: 5000 }).toString()
  const screen = () => tmux("capture-pane", "-p", "-t", "tui")
  return {
    socket,
    tmux,
    keys: (...args) => tmux("send-keys", "-t", "tui", ...args),
    screen,
    waitScreen: async (what, accept, timeoutMs = options.waitTimeoutMs) => {
      let last = ""
      try {
        return await eventually(
          async () => {
            last = screen()
            return accept(last) ? last : undefined
          },
          what,
          timeoutMs
        )
      } catch (error) {
        throw new Error(`${String(error)}; the screen:\n${last}\ndaemon log tail:\n${daemon.logs().slice(-3000)}`)
      }
    },
    start: (columns, rows, command = `${process.execPath} ${DIST_CLI} tui; echo TUI-EXIT=$?; sleep 60`) => {
      tmux(
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "tui",
        "-x",
        String(columns),
        "-y",
        String(rows),
        "-c",
        env.projectDir,
        command
      )
    },
    end: async () => {
      removeTmuxServer(socket)
      const tmuxPid = tmuxServerPid(env.socket)
      const stopped = await daemon.stop()
      assert.strictEqual(stopped.code, 0, daemon.logs())
      assert.deepStrictEqual(leftoverProcesses(env.marker, tmuxPid), [])
    }
  }
}

/** Call inside a describe: the daemon environments and TUI tmux servers it makes are removed after its tests. */
export const tuiTests = () => {
  const envs: Array<DaemonEnv> = []
  const sockets: Array<string> = []
  afterAll(() => {
    for (const socket of sockets) removeTmuxServer(socket)
    for (const env of envs) removeEnv(env)
  })
  return {
    makeEnv: async (): Promise<DaemonEnv> => {
      const env = await makeDaemonEnv()
      envs.push(env)
      return env
    },
    tuiInTmux: (...args: Parameters<typeof tuiInTmux>): TuiInTmux => {
      const tui = tuiInTmux(...args)
      sockets.push(tui.socket)
      return tui
    }
  }
}
