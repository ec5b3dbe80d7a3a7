import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { buildHook, FAKE_AGENTS } from "./fixtures/agents/hookBuild.js"
import { cliEnv, eventually, removeEnv, runCli } from "./support/cliProcess.js"
import { type DaemonEnv, makeDaemonEnv, startDaemon } from "./support/daemonProcess.js"

describe("telemux for agents: hooks, new --agent, restart, the caller told", () => {
  const envs: Array<DaemonEnv> = []
  beforeAll(() => void buildHook())
  afterAll(() => {
    for (const env of envs) removeEnv(env)
  })

  it("hooks install merges and is idempotent; uninstall puts the settings back", async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    const settings = path.join(env.home, ".claude", "settings.json")
    fs.mkdirSync(path.dirname(settings), { recursive: true })
    const mine = { theme: "dark", hooks: { Stop: [{ hooks: [{ type: "command", command: "say done" }] }] } }
    fs.writeFileSync(settings, JSON.stringify(mine, null, 2) + "\n")

    const first = await runCli(["hooks", "install", "--agent", "claude"], { env: cliEnv(env) })
    assert.strictEqual(first.code, 0, first.stderr)
    assert.match(first.stdout, /changed\s+claude/)
    const installed = fs.readFileSync(settings, "utf8")
    assert.include(installed, path.join("dist", "hook.js"))
    assert.include(installed, "say done")
    assert.strictEqual(JSON.parse(installed).theme, "dark")

    const again = await runCli(["hooks", "install", "--agent", "claude"], { env: cliEnv(env) })
    assert.match(again.stdout, /unchanged\s+claude/)
    assert.strictEqual(fs.readFileSync(settings, "utf8"), installed)

    const removed = await runCli(["hooks", "uninstall", "--agent", "claude"], { env: cliEnv(env) })
    assert.strictEqual(removed.code, 0, removed.stderr)
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(settings, "utf8")), mine)
  })

  it(
    "new --agent --mode --prompt starts the agent and delivers the prompt; restart resumes; a session that types into another is told when it stops",
    async () => {
      const env = await makeDaemonEnv()
      envs.push(env)
      const cli = cliEnv(env)
      assert.strictEqual((await runCli(["hooks", "install", "--agent", "claude"], { env: cli })).code, 0)
      const daemon = await startDaemon(env, { TELEMUX_AGENT_CLAUDE: path.join(FAKE_AGENTS, "claude") })
      try {
        const created = await runCli([
          "new",
          env.projectDir,
          "--agent",
          "claude",
          "--mode",
          "slow",
          "--prompt",
          "hello agent"
        ], {
          env: cli
        })
        assert.strictEqual(created.code, 0, created.stderr)
        const id = created.stdout.trim()
        const tail = async (which: string) => (await runCli(["tail", which], { env: cli })).stdout
        await eventually(
          async () => ((await tail(id)).includes("reply: hello agent") ? true : undefined),
          "the prompt's reply"
        )
        assert.include(await tail(id), "model=opus")

        // a shell session messages the agent through the CLI, from inside its own pane's identity
        const boss = (await runCli(["new", env.projectDir, "--title", "boss"], { env: cli })).stdout.trim()
        const sent = await runCli(["send", id, "from the boss"], { env: { ...cli, TELEMUX_SESSION_ID: boss } })
        assert.strictEqual(sent.code, 0, sent.stderr)
        const notice = await eventually(
          async () => {
            const text = await tail(boss)
            return text.includes("[telemux]") ? text : undefined
          },
          "the notice in the boss's pane",
          15_000
        )
        assert.include(notice, `(${id.slice(0, 8)}) on testbox finished its turn`)

        const restarted = await runCli(["restart", id], { env: cli })
        assert.strictEqual(restarted.code, 0, restarted.stderr)
        await eventually(
          async () => ((await tail(id)).includes("resumed ") ? true : undefined),
          "the resumed agent",
          15_000
        )

        // a plain shell has no agent to resume: refused with the request-refused exit code
        const refused = await runCli(["resume", boss], { env: cli })
        assert.strictEqual(refused.code, 7, refused.stderr)
      } finally {
        await daemon.stop()
      }
    },
    90_000
  )
})
