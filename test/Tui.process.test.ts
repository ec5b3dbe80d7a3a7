/**
 * `telemux tui` as a person uses it: the built CLI in a pane of a tmux server of its own (a
 * private socket, not the daemon's), driven with send-keys and read with capture-pane, against a
 * real daemon.
 */
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { afterAll, assert, describe, it } from "vitest"
import { cliEnv, DIST_CLI, eventually, removeEnv, removeTmuxServer } from "./support/cliProcess.js"
import {
  api,
  type DaemonEnv,
  leftoverProcesses,
  makeDaemonEnv,
  startDaemon,
  tmuxServerPid
} from "./support/daemonProcess.js"

describe("telemux tui in a terminal", () => {
  const envs: Array<DaemonEnv> = []
  const sockets: Array<string> = []
  afterAll(() => {
    for (const socket of sockets) removeTmuxServer(socket)
    for (const env of envs) removeEnv(env)
  })

  it("creates a session with n, sends `echo hi` with s, shows hi in the preview, and quits with q", async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    const daemon = await startDaemon(env)
    const call = api(env)
    const socket = `telemux-tui-test-${process.pid}-${randomBytes(4).toString("hex")}`
    sockets.push(socket)
    const tmux = (...args: ReadonlyArray<string>) =>
      execFileSync("tmux", ["-L", socket, ...args], { env: cliEnv(env), timeout: 5000 }).toString()
    const screen = () => tmux("capture-pane", "-p", "-t", "tui")
    const waitScreen = async (what: string, accept: (text: string) => boolean, timeoutMs = 10_000) => {
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
    }

    try {
      tmux(
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "tui",
        "-x",
        "150",
        "-y",
        "40",
        "-c",
        env.projectDir,
        `${process.execPath} ${DIST_CLI} tui; echo TUI-EXIT=$?; sleep 60`
      )
      await waitScreen(
        "the TUI live with no sessions",
        (text) => text.includes("● live") && text.includes("no sessions"),
        20_000
      )

      // n: the dialog offers the working directory; Enter creates the session
      tmux("send-keys", "-t", "tui", "n")
      await waitScreen("the new-session dialog", (text) => text.includes(`Directory ${env.projectDir}`))
      tmux("send-keys", "-t", "tui", "Enter")
      const created = await eventually(async () => {
        const sessions = (await call("GET", "/v1/sessions")).body as Array<{ sessionId: string }>
        return sessions.length === 1 ? sessions[0]! : undefined
      }, "the session the TUI created")
      const shortId = created.sessionId.slice(0, 8)
      await waitScreen(
        "the new session selected in the tree",
        (text) => text.includes("project (1)") && text.includes(shortId)
      )

      // s: type into the field, Enter sends
      tmux("send-keys", "-t", "tui", "s")
      await waitScreen("the send field", (text) => text.includes("send to project: "))
      tmux("send-keys", "-t", "tui", "-l", "echo hi")
      await waitScreen("the typed text", (text) => text.includes("send to project: echo hi"))
      tmux("send-keys", "-t", "tui", "Enter")
      // a preview line that is just "hi", inside the preview's border
      const shown = await waitScreen("hi in the preview", (text) => /│hi\s*│/.test(text))
      assert.match(shown, /│\S*[$#] echo hi\s*│/)
      const output = (await call("GET", `/v1/sessions/${created.sessionId}/output`)).body.screen as string
      assert.include(output, "\nhi\n")

      tmux("send-keys", "-t", "tui", "q")
      await waitScreen("the TUI to exit", (text) => text.includes("TUI-EXIT=0"))
    } finally {
      removeTmuxServer(socket)
      const tmuxPid = tmuxServerPid(env.socket)
      const stopped = await daemon.stop()
      assert.strictEqual(stopped.code, 0, daemon.logs())
      assert.deepStrictEqual(leftoverProcesses(env.marker, tmuxPid), [])
    }
  }, 60_000)
})
