/**
 * removeDaemonEnv, the teardown of every daemon process test: it must remove the state dir even
 * while processes of the environment still write into it (a fake agent's hook still appending to
 * its outbox when the tmux server is killed made rmSync fail with ENOTEMPTY, or left the dir behind).
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { afterAll, assert, describe, it } from "vitest"
import { eventually } from "./support/cliProcess.js"
import { type DaemonEnv, makeDaemonEnv, markedProcesses, removeDaemonEnv } from "./support/daemonProcess.js"

describe("removeDaemonEnv", () => {
  const envs: Array<DaemonEnv> = []
  afterAll(() => {
    for (const env of envs) removeDaemonEnv(env)
  })

  it("kills the environment's processes still writing into its state dir, then removes it for good", async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    // Writers as a hook is one: files at the top of the state dir, the dir made anew if it is gone,
    // and one a grandchild of what was started (a hook under `sh -c` under the agent).
    const writer = spawn(
      "sh",
      [
        "-c",
        `sh -c 'while :; do mkdir -p "$HOME/d"; : > "$HOME/d/f.$$"; : > "$HOME/outbox.db-wal"; done' &
         while :; do mkdir -p "$HOME"; : > "$HOME/hook.log"; done`
      ],
      {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: env.home, TELEMUX_TEST_MARKER: env.marker },
        stdio: "ignore",
        detached: true
      }
    )
    writer.unref()
    await eventually(
      async () => fs.existsSync(`${env.home}/outbox.db-wal`) && fs.existsSync(`${env.home}/hook.log`) || undefined,
      "both writers' files"
    )
    assert.isAtLeast(markedProcesses(env.marker).length, 2, "both writers run")

    removeDaemonEnv(env)

    // none is left that could make it anew
    assert.deepStrictEqual(markedProcesses(env.marker), [], "no process of the environment is left")
    assert.isFalse(fs.existsSync(env.home), "the state dir is gone")
  })
})
