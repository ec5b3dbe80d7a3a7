import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { createHmac, timingSafeEqual } from "node:crypto"
import * as http from "node:http"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { install } from "../src/agents/HookInstall.js"
import { buildHook, FAKE_AGENTS, HOOK_COMMAND } from "./fixtures/agents/hookBuild.js"
import { api, type DaemonEnv, makeDaemonEnv, removeDaemonEnv, startDaemon } from "./support/daemonProcess.js"

const SECRET = "a-shared-secret"

interface Received {
  readonly event: string
  readonly body: any
  readonly signed: boolean
}

/** A webhook receiver as a user would write one: it checks each request's signature. */
const startSink = (status: number) =>
  new Promise<{ url: string; received: Array<Received>; close: () => void }>((resolve) => {
    const received: Array<Received> = []
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        const mac = createHmac("sha256", SECRET).update(`${req.headers["x-telemux-timestamp"]}.${text}`).digest("hex")
        const expected = Buffer.from(`sha256=${mac}`)
        const given = Buffer.from(String(req.headers["x-telemux-signature"]))
        received.push({
          event: String(req.headers["x-telemux-event"]),
          body: JSON.parse(text),
          signed: given.length === expected.length && timingSafeEqual(given, expected)
        })
        res.writeHead(status).end()
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      resolve({
        url: `http://127.0.0.1:${port}/hook`,
        received,
        close: () => {
          server.closeAllConnections()
          server.close()
        }
      })
    })
  })

const eventually = async <A>(what: string, probe: () => A | undefined | Promise<A | undefined>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe("notifications from a real daemon (dist/main.js, real tmux, fake agent with its hooks, HTTP sinks)", () => {
  const envs: Array<DaemonEnv> = []
  const closers: Array<() => void> = []
  beforeAll(() => void buildHook())
  afterAll(() => {
    for (const close of closers) close()
    for (const env of envs) removeDaemonEnv(env)
  })

  it(
    "an agent's turn, its question (once) and a session that died reach the webhook; a target that is down is retried, then dropped, and the daemon goes on",
    async () => {
      const sink = await startSink(204)
      const down = await startSink(503)
      closers.push(sink.close, down.close)
      const env = await makeDaemonEnv()
      envs.push(env)
      await Effect.runPromise(
        install({ home: env.home, hookCommand: HOOK_COMMAND, agents: ["claude"] }).pipe(
          Effect.provide(NodeContext.layer)
        )
      )
      const daemon = await startDaemon(env, {
        TELEMUX_AGENT_CLAUDE: path.join(FAKE_AGENTS, "claude"),
        TELEMUX_NOTIFY: `webhook:${sink.url} ${down.url}`,
        TELEMUX_NOTIFY_SECRET: SECRET
      })
      const call = api(env)
      try {
        const created = await call("POST", "/v1/sessions", {
          projectDir: env.projectDir,
          agent: "claude",
          prompt: "first task"
        })
        assert.strictEqual(created.status, 201, JSON.stringify(created.body))
        const id: string = created.body.sessionId
        await eventually(
          "the first turn's notification",
          () => sink.received.find((r) => r.event === "turn_finished" && r.body.sessionId === id)
        )

        // a question: UserPromptSubmit (running), Notification (waiting_input), Stop (idle)
        assert.strictEqual((await call("POST", `/v1/sessions/${id}/input`, { text: "ask: which branch?" })).status, 204)
        await eventually(
          "the question's turn ending",
          () =>
            sink.received.filter((r) => r.event === "turn_finished" && r.body.sessionId === id).length === 2
              ? true
              : undefined
        )
        const questions = sink.received.filter((r) => r.event === "waiting_input")
        assert.strictEqual(questions.length, 1, JSON.stringify(sink.received.map((r) => r.event)))
        assert.strictEqual(questions[0]!.body.detail, "which branch?")
        assert.strictEqual(questions[0]!.body.computer, "testbox")

        // a shell whose tmux session is killed behind telemux's back
        const shell = (await call("POST", "/v1/sessions", { projectDir: env.projectDir, title: "doomed" })).body
        execFileSync("tmux", ["-L", env.socket, "kill-session", "-t", shell.tmuxName])
        const died = await eventually(
          "the dead session's notification",
          () => sink.received.find((r) => r.event === "session_died"),
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
        const drops = await eventually("the down target's drops", () => {
          const lines = daemon.logs().split("\n").filter((l) => l.includes("notification dropped after 4 attempts"))
          return lines.length >= 4 ? lines.map((l) => JSON.parse(l)) : undefined
        }, 40_000)
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
