import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { openSqlite } from "../src/agents/SqliteFile.js"
import { FAKE_AGENTS } from "./fixtures/agents/hookBuild.js"
import { agentDaemonEnvs } from "./support/agentDaemon.js"
import { api, startDaemon } from "./support/daemonProcess.js"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `probe` until it returns a value, or fails with `what` after `timeoutMs`. */
const eventually = async <A>(what: string, probe: () => Promise<A | undefined>, timeoutMs = 15_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

const count = (text: string, needle: string) => text.split(needle).length - 1

describe("agents end to end (dist/main.js, real tmux, fake agent CLIs with their hooks)", () => {
  const envs = agentDaemonEnvs()

  it(
    "launch delivers the prompt once; hooks drive idle / waiting_input; listeners are told; restart resumes; hooks fired while the daemon is down arrive after it starts",
    async () => {
      // the daemon's panes run with HOME = the state dir: the agents' hook settings go there
      const env = await envs.withClaudeHooks()
      // panes run login shells, which set their own PATH: the agent commands are configured by path
      const daemonEnv = { TELEMUX_AGENT_CLAUDE: path.join(FAKE_AGENTS, "claude") }
      let daemon = await startDaemon(env, daemonEnv)
      const call = api(env)
      const screen = async (id: string) => (await call("GET", `/v1/sessions/${id}/output`)).body.screen as string
      const session = async (id: string) => (await call("GET", `/v1/sessions/${id}`)).body
      try {
        const created = await call("POST", "/v1/sessions", {
          projectDir: env.projectDir,
          agent: "claude",
          mode: "fast",
          prompt: "first task"
        })
        assert.strictEqual(created.status, 201, JSON.stringify(created.body))
        const id: string = created.body.sessionId
        assert.strictEqual(created.body.agent, "claude")
        assert.strictEqual(created.body.agentMode, "fast")

        // started with the mode's flags, the prompt pasted once the agent was ready, answered once
        await eventually(
          "the reply to the first prompt",
          async () => ((await screen(id)).includes("reply: first task") ? true : undefined)
        )
          .catch(async (e) => {
            throw new Error(
              `${e.message}\n--- screen:\n${await screen(id)}\n--- daemon:\n${
                daemon.logs().split("\n").filter((l) => /agent|prompt|hook|rror/i.test(l)).slice(-20).join("\n")
              }`
            )
          })
        const started = await screen(id)
        assert.include(started, "model=haiku")
        await sleep(1500)
        assert.strictEqual(count(await screen(id), "reply: first task"), 1, await screen(id))

        // SessionStart stored the native id; Stop made the session idle with the agent's last message
        const idle = await eventually("idle after the turn", async () => {
          const s = await session(id)
          return s.status === "idle" && s.nativeSessionId !== null ? s : undefined
        })
        assert.include(idle.lastOutput, "reply: first task")
        const nativeId: string = idle.nativeSessionId

        // a plain shell session listens to the agent
        const listener = (await call("POST", "/v1/sessions", { projectDir: env.projectDir, title: "boss" })).body
        assert.strictEqual(
          (await call("POST", `/v1/sessions/${id}/listeners`, { listener: listener.sessionId })).status,
          204
        )

        // a question: waiting_input with its message, and the listener is told
        await call("POST", `/v1/sessions/${id}/input`, { text: "ask: which branch?" })
        await eventually("waiting_input", async () => {
          const s = await session(id)
          return s.status === "waiting_input" || (s.status === "idle" && s.lastOutput?.includes("ask: which branch"))
            ? s
            : undefined
        })
        const notice = await eventually("the notice in the listener's pane", async () => {
          const text = await screen(listener.sessionId)
          return text.includes("[telemux]") ? text : undefined
        })
        assert.include(notice, `(${id.slice(0, 8)}) on testbox`)
        assert.include(notice, `telemux tail ${id}`)

        // the question's turn ends (its Stop hook) before the restart interrupts the agent
        await eventually("idle after the question's turn", async () => {
          const s = await session(id)
          return s.status === "idle" && s.lastOutput?.includes("ask: which branch") ? s : undefined
        })

        // restart: two interrupts, back at the shell, resumed by the stored native id
        const restarted = await call("POST", `/v1/sessions/${id}/restart`)
        assert.strictEqual(restarted.status, 200, JSON.stringify(restarted.body))
        await eventually(
          "the resumed agent",
          async () => ((await screen(id)).includes(`resumed ${nativeId}`) ? true : undefined)
        )
        assert.include(await screen(id), "--resume")

        // the listener closes: its pairs go with it
        assert.strictEqual((await call("DELETE", `/v1/sessions/${listener.sessionId}`)).status, 200)
        const db = openSqlite(path.join(env.home, "telemux.db"), { readonly: true })
        try {
          await eventually("the listener pair removed", async () => {
            const row = db.prepare("SELECT count(*) AS n FROM listeners").get() as { n: number }
            return row.n === 0 ? true : undefined
          })
        } finally {
          db.close()
        }

        // hooks fired while the daemon is stopped wait in the outbox and arrive when it is back
        await eventually(
          "idle again after the resume",
          async () => ((await session(id)).status === "idle" ? true : undefined)
        )
          .catch(async (e) => {
            throw new Error(
              `${e.message}: ${JSON.stringify(await session(id))}\n${await screen(id)}\n${
                daemon.logs().split("\n").filter((l) => /agent|hook|outbox/i.test(l)).slice(-15).join("\n")
              }`
            )
          })
        const stopped = await daemon.stop()
        assert.strictEqual(stopped.code, 0, daemon.logs())
        const target = `tmx_${id.replace(/-/g, "").slice(0, 8)}`
        execFileSync("tmux", ["-L", env.socket, "send-keys", "-t", `=${target}:`, "-l", "while the daemon was down"])
        execFileSync("tmux", ["-L", env.socket, "send-keys", "-t", `=${target}:`, "Enter"])
        const outbox = openSqlite(path.join(env.home, "outbox.db"), { readonly: true })
        try {
          await eventually("hook rows in the outbox", async () => {
            const row = outbox.prepare("SELECT count(*) AS n FROM hook_outbox").get() as { n: number }
            return row.n >= 2 ? true : undefined
          })
        } finally {
          outbox.close()
        }
        daemon = await startDaemon(env, daemonEnv)
        const back = await eventually("the turn stop delivered after the restart", async () => {
          const s = await session(id)
          return s.status === "idle" && s.lastOutput?.includes("while the daemon was down") ? s : undefined
        })
        assert.include(back.lastOutput, "reply: while the daemon was down")
        const drained = openSqlite(path.join(env.home, "outbox.db"), { readonly: true })
        try {
          await eventually("an empty outbox", async () => {
            const row = drained.prepare("SELECT count(*) AS n FROM hook_outbox").get() as { n: number }
            return row.n === 0 ? true : undefined
          })
        } finally {
          drained.close()
        }
      } finally {
        await daemon.stop()
      }
    },
    90_000
  )

  it("a mode the agent does not have is a typed 400 and starts nothing", async () => {
    const env = await envs.make()
    const daemon = await startDaemon(env, { TELEMUX_AGENT_GEMINI: path.join(FAKE_AGENTS, "gemini") })
    const call = api(env)
    try {
      const refused = await call("POST", "/v1/sessions", { projectDir: env.projectDir, agent: "gemini", mode: "deep" })
      assert.strictEqual(refused.status, 400)
      assert.strictEqual(refused.body._tag, "AgentModeUnsupported")
      assert.deepStrictEqual((await call("GET", "/v1/sessions")).body, [])
    } finally {
      await daemon.stop()
    }
  })
})
