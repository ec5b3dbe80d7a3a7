import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { FAKE_AGENTS } from "./fixtures/agents/hookBuild.js"
import { agentDaemonEnvs, createClaudeSession } from "./support/agentDaemon.js"
import { cliEnv, eventually, runCli } from "./support/cliProcess.js"
import { api, startDaemon } from "./support/daemonProcess.js"
import { connectStream } from "./support/streamClient.js"

const tmuxName = (id: string) => `tmx_${id.replace(/-/g, "").slice(0, 8)}`
const count = (text: string, needle: string) => text.split(needle).length - 1

/** An executable script in `dir`. */
const script = (dir: string, name: string, body: string) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  return file
}

describe("launching agents (dist/main.js, real tmux)", () => {
  const envs = agentDaemonEnvs()

  it(
    "an agent whose command cannot run is refused with a 400 naming it and the PATH of the session's shell; nothing starts",
    async () => {
      const env = await envs.make()
      // on the daemon's PATH, but a new pane's login shell sets its own
      const daemonBin = path.join(env.home, "daemon-bin")
      fs.mkdirSync(daemonBin)
      script(daemonBin, "gemini", "exit 0")
      const daemonPath = `${daemonBin}:${process.env.PATH ?? "/usr/bin:/bin"}`
      const shell = os.userInfo().shell ?? "/bin/sh"
      const loginPath = execFileSync(shell, ["-l", "-c", "printf %s \"$PATH\""], {
        env: { HOME: env.home, PATH: daemonPath },
        encoding: "utf8"
      })
      assert.notInclude(loginPath, daemonBin, "the login shell keeps the daemon's PATH here: nothing to show")
      const daemon = await startDaemon(env, {
        PATH: daemonPath,
        TELEMUX_AGENT_CODEX: "/nonexistent/bin/codex --full-auto",
        TELEMUX_AGENT_CLAUDE: "FOO=1 claude-not-installed --flag"
      })
      const call = api(env)
      try {
        const onPath = await call("POST", "/v1/sessions", { projectDir: env.projectDir, agent: "gemini", prompt: "hi" })
        assert.strictEqual(onPath.status, 400, JSON.stringify(onPath.body))
        assert.strictEqual(onPath.body._tag, "AgentCommandNotFound")
        assert.strictEqual(onPath.body.command, "gemini")
        assert.strictEqual(onPath.body.path, loginPath)
        assert.include(onPath.body.message, loginPath)
        assert.include(onPath.body.message, "TELEMUX_AGENT_GEMINI")

        const assigned = await call("POST", "/v1/sessions", { projectDir: env.projectDir, agent: "claude" })
        assert.strictEqual(assigned.status, 400)
        assert.strictEqual(assigned.body.command, "claude-not-installed")

        const absolute = await call("POST", "/v1/sessions", { projectDir: env.projectDir, agent: "codex" })
        assert.strictEqual(absolute.status, 400)
        assert.strictEqual(absolute.body._tag, "AgentCommandNotFound")
        assert.include(absolute.body.message, "/nonexistent/bin/codex does not exist")

        assert.deepStrictEqual((await call("GET", "/v1/sessions?status=all")).body, [])

        // the CLI: a configuration problem, said as the daemon said it
        const cli = await runCli(["new", env.projectDir, "--agent", "gemini", "--prompt", "hello"], {
          env: cliEnv(env)
        })
        assert.strictEqual(cli.code, 2, cli.stderr)
        assert.strictEqual(cli.stdout, "")
        assert.include(cli.stderr, "gemini")
        assert.include(cli.stderr, loginPath)
        assert.deepStrictEqual((await call("GET", "/v1/sessions?status=all")).body, [])
      } finally {
        await daemon.stop()
      }
    },
    60_000
  )

  it(
    "an agent run by a wrapper script gets its prompt once; resume is refused with a 409 while it runs and works once it has exited",
    async () => {
      const env = await envs.withClaudeHooks()
      // no exec: the pane's foreground process is the script's sh, which tmux names a shell
      const wrapper = script(
        env.home,
        "claude-wrapper",
        `node ${JSON.stringify(path.join(FAKE_AGENTS, "fake-agent.mjs"))} claude "$@"`
      )
      const daemon = await startDaemon(env, { TELEMUX_AGENT_CLAUDE: wrapper })
      const call = api(env)
      const screen = async (id: string) => (await call("GET", `/v1/sessions/${id}/output`)).body.screen as string
      try {
        const created = await createClaudeSession(call, env)
        const id: string = created.sessionId
        assert.strictEqual(created.promptDelivery.state, "pending")

        const delivered = await eventually(
          async () => {
            const s = (await call("GET", `/v1/sessions/${id}`)).body
            return s.promptDelivery.state === "pending" ? undefined : s.promptDelivery
          },
          "the prompt's outcome",
          60_000
        )
        assert.strictEqual(delivered.state, "delivered", JSON.stringify(delivered))
        await eventually(
          async () => ((await screen(id)).includes("reply: first task") ? true : undefined),
          "the reply"
        )
        assert.strictEqual(count(await screen(id), "reply: first task"), 1, await screen(id))
        const command = execFileSync(
          "tmux",
          ["-L", env.socket, "display-message", "-p", "-t", `=${tmuxName(id)}:`, "#{pane_current_command}"],
          { encoding: "utf8" }
        ).trim()
        assert.strictEqual(command, "sh", "the wrapper case: tmux sees the script's interpreter")

        // resume into the running agent would be typed to it as a prompt
        const busy = await call("POST", `/v1/sessions/${id}/resume`)
        assert.strictEqual(busy.status, 409, JSON.stringify(busy.body))
        assert.strictEqual(busy.body._tag, "AgentBusy")
        assert.include(busy.body.message, "restart")
        const cliBusy = await runCli(["resume", id], { env: cliEnv(env) })
        assert.strictEqual(cliBusy.code, 7, cliBusy.stderr)
        assert.include(cliBusy.stderr, "still running")
        assert.notInclude(await screen(id), "--continue")

        // the agent exits (Ctrl+D at its empty prompt): the pane is at its shell, and resume starts it again
        assert.strictEqual((await call("POST", `/v1/sessions/${id}/keys`, { keys: ["C-d"] })).status, 204)
        const resumed = await eventually(
          async () => {
            const answer = await call("POST", `/v1/sessions/${id}/resume`)
            return answer.status === 409 ? undefined : answer
          },
          "the agent to exit",
          10_000
        )
        assert.strictEqual(resumed.status, 200, JSON.stringify(resumed.body))
        await eventually(
          async () => (/(resumed|continued) /.test(await screen(id)) ? true : undefined),
          "the resumed agent"
        )
      } finally {
        await daemon.stop()
      }
    },
    90_000
  )

  it(
    "a prompt that cannot be delivered is on the session and the stream, and new --prompt exits non-zero saying what to do",
    async () => {
      const env = await envs.make()
      // found and executable, but it never becomes an agent: it holds the pane's foreground for a
      // moment (long enough to be seen there) and exits to the shell, which must not get the prompt
      const broken = script(env.home, "claude-broken", "sleep 0.5; echo 'claude-broken: no licence' >&2; exit 1")
      const daemon = await startDaemon(env, { TELEMUX_AGENT_CLAUDE: broken })
      const call = api(env)
      const stream = await connectStream(env)
      try {
        stream.send({ type: "subscribe", sessions: true })
        // the daemon gives the agent PROMPT_READY_TIMEOUT (30 s) to take the pane's foreground
        const cli = await runCli(["new", env.projectDir, "--agent", "claude", "--prompt", "hello"], {
          env: cliEnv(env),
          timeoutMs: 80_000
        })
        assert.strictEqual(cli.code, 8, `${cli.stdout}\n${cli.stderr}`)
        const id = cli.stdout.trim()
        assert.match(id, /^[0-9a-f-]{36}$/)
        assert.include(cli.stderr, `session ${id} started, but its first prompt was not delivered`)
        assert.include(cli.stderr, "the agent did not start")
        assert.include(cli.stderr, `telemux send ${id}`)
        const session = (await call("GET", `/v1/sessions/${id}`)).body
        assert.strictEqual(session.promptDelivery.state, "failed")
        assert.strictEqual(session.status === "closed", false)
        // the shell never got the prompt: nothing was typed after the agent's exit
        const screen = (await call("GET", `/v1/sessions/${id}/output`)).body.screen as string
        assert.include(screen, "no licence")
        assert.notInclude(screen, "hello")
        const shown = await stream.waitFor("the failed prompt on the stream", (f) => {
          const frame = f as { type: string; session?: { sessionId: string; promptDelivery?: { state: string } } }
          return frame.type === "session" && frame.session?.sessionId === id &&
            frame.session.promptDelivery?.state === "failed"
        })
        assert.include(JSON.stringify(shown), "telemux send")
      } finally {
        await stream.close()
        await daemon.stop()
      }
    },
    90_000
  )
})
