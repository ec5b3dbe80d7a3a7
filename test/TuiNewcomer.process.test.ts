/**
 * `telemux tui` as a newcomer meets it, on an 80×24 terminal: the built CLI in a pane of a tmux
 * server of its own (a private socket, not the daemon's), driven with send-keys and read with
 * capture-pane, against a real daemon. The help overlay, the new-session dialog with the daemon's
 * refusal in it, coloured statuses and ticking ages, Esc and pastes in prompts, the attach hint and
 * a clean screen after detaching, and the History view.
 */
import { assert, describe, it } from "vitest"
import { eventually } from "./support/cliProcess.js"
import { api, startDaemon } from "./support/daemonProcess.js"
import { tuiTests } from "./support/tuiInTmux.js"

const ESC = String.fromCharCode(27)
const COLUMNS = 80
const ROWS = 24

describe("telemux tui on an 80-column terminal", () => {
  const tests = tuiTests()

  it(
    "help, the new-session dialog and its errors, statuses and ages, prompts, attach and detach, history",
    async () => {
      const env = await tests.makeEnv()
      // the project the dialog completes
      const daemon = await startDaemon(env, { TELEMUX_TRUSTED_DIRS: env.projectDir })
      const call = api(env)
      const { end, keys, start, tmux, waitScreen } = tests.tuiInTmux(env, daemon, {
        socketPrefix: "telemux-tui-newcomer",
        waitTimeoutMs: 20_000
      })

      try {
        start(COLUMNS, ROWS)
        let text = await waitScreen(
          "the TUI live with no sessions, and its footer",
          (t) => t.includes("● live") && t.includes("no sessions") && /\? help\s*$/m.test(t),
          // the CLI's start-up on a loaded machine
          60_000
        )
        // the header fits on its line (a spinner may turn while the projects load)
        assert.match(text.split("\n")[0]!, /^telemux {2}1 Sessions 2 Projects 3 History\s+\S?\s*● live$/, text)

        // ?: every key, from the key tables; Esc closes
        keys("?")
        text = await waitScreen("the help overlay", (t) => t.includes("Every view") && t.includes("this help"))
        assert.include(text, "new session (a dialog)")
        keys("Escape")
        await waitScreen("the help closed", (t) => !t.includes("Every view") && t.includes("no sessions"))

        // n: the dialog; a directory that does not exist is refused by the daemon, in the dialog
        keys("n")
        await waitScreen("the dialog", (t) => t.includes("New session") && t.includes(`Directory ${env.projectDir}`))
        keys("C-u")
        keys("-l", "/no/such/dir")
        keys("Enter")
        text = await waitScreen("the daemon's refusal in the dialog", (t) => /✕ .*\/no\/such\/dir/.test(t))
        assert.include(text, "Directory /no/such/dir")
        assert.include(text, "New session")
        assert.deepStrictEqual((await call("GET", "/v1/sessions")).body, [])

        // Tab completes the project; a title; Enter creates it and closes the dialog
        keys("C-u")
        keys("-l", env.projectDir.slice(0, -3))
        // the Tab after the text has been read: sent at once, a loaded machine can deliver both in one
        // read, which the terminal reads as typed text (a person's Tab comes after what they typed)
        await waitScreen(
          "the typed start of the project",
          (t) => t.includes(`Directory ${env.projectDir.slice(0, -3)}▏`)
        )
        keys("Tab")
        await waitScreen("the project completed", (t) => t.includes(`Directory ${env.projectDir}▏`))
        keys("Down", "Down", "Down")
        keys("-l", "first")
        keys("Enter")
        const created = await eventually(
          async () => {
            const sessions = (await call("GET", "/v1/sessions")).body as Array<{ sessionId: string; title: string }>
            return sessions.length === 1 ? sessions[0]! : undefined
          },
          "the session the dialog created",
          30_000
        )
        assert.strictEqual(created.title, "first")
        text = await waitScreen(
          "the new session in the tree with symbol, word and age",
          (t) => !t.includes("New session") && /[◌▶○?] (creating|running|idle|waiting)\s+\d+s first/.test(t)
        )

        // the status symbol is drawn in its colour (Ink colours for tmux's TERM)
        const coloured = tmux("capture-pane", "-p", "-e", "-t", "tui")
        assert.match(coloured, new RegExp(`${ESC}\\[(3[0-9]|9[0-7])m[◌▶○?]`))

        // ages tick with nothing else happening
        const ageOf = (t: string) => Number(/[◌▶○?] \w+\s+(\d+)s first/.exec(t)?.[1])
        const firstAge = ageOf(text)
        await waitScreen("the age to count on", (t) => ageOf(t) >= firstAge + 2)

        // s, then text and Enter in one chunk (a paste): sent as typed
        keys("s")
        await waitScreen("the send field", (t) => t.includes("send to first: "))
        keys("-l", "echo pasted-$((6*7))\r")
        await eventually(
          async () => {
            const output = (await call("GET", `/v1/sessions/${created.sessionId}/output`)).body.screen as string
            return output.includes("\npasted-42") ? output : undefined
          },
          "the pasted line run in the session",
          30_000
        )
        await waitScreen("the preview showing it", (t) => /│pasted-42\s*│/.test(t))

        // x then Esc: cancelled, nothing sent; x then "Escape" Enter sends Escape by name
        keys("x")
        await waitScreen("the key prompt", (t) => t.includes("key for first: press it, or type a name"))
        keys("Escape")
        await waitScreen("the key prompt cancelled", (t) => t.includes("no key sent"))
        keys("x")
        keys("-l", "Escape\r")
        await waitScreen("Escape sent by name", (t) => t.includes("sent Escape"))

        // a: tmux shows the detach hint; C-b d comes back to the UI; nothing of tmux stays on screen
        keys("a")
        await waitScreen("attached, with the detach hint", (t) => t.includes("telemux: detach with Ctrl+b then d"))
        keys("C-b")
        keys("d")
        await waitScreen("the UI back after detaching", (t) => t.includes("● live") && t.includes("first"))

        // d y closes; 3 shows it in the history
        keys("d")
        await waitScreen("the close question", (t) => t.includes("close first"))
        keys("y")
        await waitScreen("the session gone", (t) => t.includes("no sessions"))
        keys("3")
        text = await waitScreen("the history", (t) => /✕\s+\d+s first \w{8} user/.test(t))
        assert.include(text, "dir: testbox:")

        keys("q")
        text = await waitScreen("the TUI to exit", (t) => t.includes("TUI-EXIT=0"))
        assert.notInclude(text, "[detached")
        assert.notInclude(text, "detach with")
      } finally {
        await end()
      }
    },
    240_000
  )
})
