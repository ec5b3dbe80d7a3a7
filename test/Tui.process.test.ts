/**
 * `telemux tui` as a person uses it: the built CLI in a pane of a tmux server of its own (a
 * private socket, not the daemon's), driven with send-keys and read with capture-pane, against a
 * real daemon.
 */
import { assert, describe, it } from "vitest"
import { eventually } from "./support/cliProcess.js"
import { api, startDaemon } from "./support/daemonProcess.js"
import { tuiTests } from "./support/tuiInTmux.js"

describe("telemux tui in a terminal", () => {
  const tests = tuiTests()

  it("creates a session with n, sends `echo hi` with s, shows hi in the preview, and quits with q", async () => {
    const env = await tests.makeEnv()
    const daemon = await startDaemon(env)
    const call = api(env)
    const { end, keys, start, waitScreen } = tests.tuiInTmux(env, daemon, {
      socketPrefix: "telemux-tui-test",
      waitTimeoutMs: 10_000
    })

    try {
      start(150, 40)
      await waitScreen(
        "the TUI live with no sessions",
        (text) => text.includes("● live") && text.includes("no sessions"),
        20_000
      )

      // n: the dialog offers the working directory; Enter creates the session
      keys("n")
      await waitScreen("the new-session dialog", (text) => text.includes(`Directory ${env.projectDir}`))
      keys("Enter")
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
      keys("s")
      await waitScreen("the send field", (text) => text.includes("send to project: "))
      keys("-l", "echo hi")
      await waitScreen("the typed text", (text) => text.includes("send to project: echo hi"))
      keys("Enter")
      // a preview line that is just "hi", inside the preview's border
      const shown = await waitScreen("hi in the preview", (text) => /│hi\s*│/.test(text))
      assert.match(shown, /│\S*[$#] echo hi\s*│/)
      const output = (await call("GET", `/v1/sessions/${created.sessionId}/output`)).body.screen as string
      assert.include(output, "\nhi\n")

      keys("q")
      await waitScreen("the TUI to exit", (text) => text.includes("TUI-EXIT=0"))
    } finally {
      await end()
    }
  }, 60_000)
})
