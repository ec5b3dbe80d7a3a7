/**
 * Attaching from the TUI: the detach hint (the prefix read from the real tmux server on a private
 * socket), how it rides on the attach command locally and through ssh, and the erase of what tmux
 * and ssh leave on the normal screen.
 */
import { execFileSync } from "node:child_process"
import { afterAll, assert, describe, it } from "vitest"
import { attachLeftovers, detachHint, tmuxPrefix, withDetachHint } from "../src/cli/Attach.js"
import { removeTmuxServer } from "./support/cliProcess.js"
import { uniqueSocketName } from "./support/tmuxSocket.js"

describe("TUI: attach hint and clean-up", () => {
  const socket = uniqueSocketName()
  afterAll(() => removeTmuxServer(socket))

  it("reads the prefix of the tmux server it attaches to, and tmux's default when none answers", () => {
    const { TMUX: _ignored, ...env } = process.env
    assert.strictEqual(tmuxPrefix(socket, env), "C-b")
    execFileSync("tmux", ["-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", "x"], { env, timeout: 5000 })
    execFileSync("tmux", ["-L", socket, "set-option", "-g", "prefix", "C-a"], { env, timeout: 5000 })
    assert.strictEqual(tmuxPrefix(socket, env), "C-a")
    assert.strictEqual(detachHint("C-a"), "telemux: detach with Ctrl+a then d")
  })

  it("shows the hint in tmux's status line after attaching, quoted for the remote shell through ssh", () => {
    const local = ["tmux", "-L", "telemux", "attach-session", "-t", "=tmx_0000abcd"]
    assert.deepStrictEqual(withDetachHint(local, "telemux: detach with Ctrl+b then d"), [
      ...local,
      ";",
      "display-message",
      "-d",
      "4000",
      "telemux: detach with Ctrl+b then d"
    ])
    const remote = ["ssh", "-t", "me@box", ...local]
    assert.deepStrictEqual(withDetachHint(remote, "it's: detach"), [
      ...remote,
      "\\;",
      "display-message",
      "-d",
      "4000",
      "'its: detach'"
    ])
  })

  it("erases tmux's last line after a local attach, and ssh's too after a remote one", () => {
    assert.strictEqual(attachLeftovers(["tmux"], true), "\x1b[1F\x1b[J")
    assert.strictEqual(attachLeftovers(["tmux"], false), "\x1b[1F\x1b[J")
    assert.strictEqual(attachLeftovers(["ssh"], true), "\x1b[2F\x1b[J")
    assert.strictEqual(attachLeftovers(["ssh"], false), "\x1b[1F\x1b[J")
  })
})
