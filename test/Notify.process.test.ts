import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { FAKE_AGENTS } from "./fixtures/agents/hookBuild.js"
import { agentDaemonEnvs, createClaudeSession } from "./support/agentDaemon.js"
import { eventually } from "./support/cliProcess.js"
import { api, startDaemon } from "./support/daemonProcess.js"
import { startWebhookSink } from "./support/webhookSink.js"

const SECRET = "a-shared-secret"

describe("notifications from a real daemon (dist/main.js, real tmux, fake agent with its hooks, HTTP sinks)", () => {
  const envs = agentDaemonEnvs()
  const closers: Array<() => Promise<void>> = []
  afterAll(() => Promise.all(closers.map((close) => close())))

  it(
    "an agent's turn, its question (once) and a session that died reach the webhook; a target that is down is retried, then dropped, and the daemon goes on",
    async () => {
      const sink = await startWebhookSink(SECRET, () => 204)
      const down = await startWebhookSink(SECRET, () => 503)
      closers.push(sink.close, down.close)
      const env = await envs.withClaudeHooks()
      const daemon = await startDaemon(env, {
        TELEMUX_AGENT_CLAUDE: path.join(FAKE_AGENTS, "claude"),
        TELEMUX_NOTIFY: `webhook:${sink.url}/hook ${down.url}/hook`,
        TELEMUX_NOTIFY_SECRET: SECRET
      })
      const call = api(env)
      try {
        const created = await createClaudeSession(call, env)
        const id: string = created.sessionId
        await eventually(
          async () => sink.received.find((r) => r.event === "turn_finished" && r.body.sessionId === id),
          "the first turn's notification",
          20_000
        )

        // a question: UserPromptSubmit (running), Notification (waiting_input), Stop (idle)
        assert.strictEqual((await call("POST", `/v1/sessions/${id}/input`, { text: "ask: which branch?" })).status, 204)
        await eventually(
          async () =>
            sink.received.filter((r) => r.event === "turn_finished" && r.body.sessionId === id).length === 2
              ? true
              : undefined,
          "the question's turn ending",
          20_000
        )
        const questions = sink.received.filter((r) => r.event === "waiting_input")
        assert.strictEqual(questions.length, 1, JSON.stringify(sink.received.map((r) => r.event)))
        assert.strictEqual(questions[0]!.body.detail, "which branch?")
        assert.strictEqual(questions[0]!.body.computer, "testbox")

        // a shell whose tmux session is killed behind telemux's back
        const shell = (await call("POST", "/v1/sessions", { projectDir: env.projectDir, title: "doomed" })).body
        execFileSync("tmux", ["-L", env.socket, "kill-session", "-t", shell.tmuxName])
        const died = await eventually(
          async () => sink.received.find((r) => r.event === "session_died"),
          "the dead session's notification",
          30_000
        )
        assert.strictEqual(died.body.sessionId, shell.sessionId)
        assert.match(died.body.text, /^doomed ended unexpectedly \(testbox\): closed: (tmux_gone|pane_dead)$/)
        // a user's close is not news
        const closedByUser = (await call("POST", "/v1/sessions", { projectDir: env.projectDir, title: "bye" })).body
        assert.strictEqual((await call("DELETE", `/v1/sessions/${closedByUser.sessionId}`)).status, 200)

        assert.isTrue(sink.received.every((r) => r.signed), "every request carries a valid signature")
        assert.deepStrictEqual(sink.received.map((r) => r.event), [
          "turn_finished",
          "waiting_input",
          "turn_finished",
          "session_died"
        ])

        // the target answering 503 got each notification 4 times (1 s, 2 s, 4 s apart, jittered), then dropped it
        const drops = await eventually(
          async () => {
            const lines = daemon.logs().split("\n").filter((l) => l.includes("notification dropped after 4 attempts"))
            return lines.length >= 4 ? lines.map((l) => JSON.parse(l)) : undefined
          },
          "the down target's drops",
          40_000
        )
        assert.isTrue(
          drops.every((l) => l.logLevel === "WARN" && l.message.endsWith("answered 503")),
          JSON.stringify(drops)
        )
        assert.strictEqual(down.received.length, 16)
        assert.deepStrictEqual(sink.received.length, 4)
        // and the daemon is fine
        assert.strictEqual((await fetch(`http://127.0.0.1:${env.port}/health`)).status, 200)
        const sent = await call("POST", `/v1/sessions/${id}/input`, { text: "after" })
        assert.strictEqual(sent.status, 204)
      } finally {
        const stopped = await daemon.stop()
        assert.strictEqual(stopped.code, 0, daemon.logs())
      }
    },
    120_000
  )
})
