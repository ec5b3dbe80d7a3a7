import { Duration } from "effect"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { SHELL_QUIET } from "../layers/LiveOutputWorkers.js"
import { FAKE_AGENTS, runHookProcess } from "./fixtures/agents/hookBuild.js"
import { agentDaemonEnvs, createClaudeSession } from "./support/agentDaemon.js"
import { api, startDaemon } from "./support/daemonProcess.js"
import { connectStream, type Frame } from "./support/streamClient.js"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const QUIET_MS = Duration.toMillis(SHELL_QUIET)
/** What the rule allows beyond the quiet time: the status tick, one capture, the answer's trip. */
const MARGIN_MS = 1500

type Call = ReturnType<typeof api>

/** Polls the session's status every 50 ms until `accept`s; the milliseconds it took, or a failure after `withinMs`. */
const statusWithin = async (call: Call, id: string, accept: (status: string) => boolean, withinMs: number) => {
  const started = Date.now()
  let last = ""
  while (Date.now() - started <= withinMs) {
    last = (await call("GET", `/v1/sessions/${id}`)).body.status
    if (accept(last)) return Date.now() - started
    await sleep(50)
  }
  throw new Error(`status still ${last} after ${withinMs} ms`)
}

/**
 * Ctrl-C, pressed again until the pane (read with tmux, not through the daemon) ends in its
 * prompt: bash carries on with a loop whose program caught the interrupt between its fork and its
 * exec (seen here about once in 20 runs: `^C` echoed, the dates going on). A person presses it again;
 * the status was right to stay running. The time the last press was sent.
 */
const interrupt = async (call: Call, socket: string, id: string, pane: string) => {
  for (let press = 1; press <= 5; press++) {
    const sentAt = Date.now()
    assert.strictEqual((await call("POST", `/v1/sessions/${id}/keys`, { keys: ["C-c"] })).status, 204)
    while (Date.now() - sentAt < 1500) {
      await sleep(100)
      const screen = execFileSync("tmux", ["-L", socket, "capture-pane", "-p", "-t", pane], { encoding: "utf8" })
      if (/[#$] *$/.test(screen.trimEnd())) return sentAt
    }
  }
  throw new Error(`the pane ${pane} is not back at its prompt after 5 presses of Ctrl-C`)
}

/** Every status the session shows over `forMs` (looked at every 100 ms). */
const statusesOver = async (call: Call, id: string, forMs: number) => {
  const seen = new Set<string>()
  const until = Date.now() + forMs
  while (Date.now() < until) {
    seen.add((await call("GET", `/v1/sessions/${id}`)).body.status)
    await sleep(100)
  }
  return seen
}

describe("status tells the truth (dist/main.js, real tmux)", () => {
  const envs = agentDaemonEnvs()

  it(
    "a shell loop is running within 1 s and stays so; idle within the quiet time after it ends; a silent program is running",
    async () => {
      const env = await envs.make()
      const daemon = await startDaemon(env)
      const call = api(env)
      try {
        const created = await call("POST", "/v1/sessions", { projectDir: env.projectDir })
        assert.strictEqual(created.status, 201, JSON.stringify(created.body))
        const id: string = created.body.sessionId
        const pane: string = created.body.paneId
        // a new shell settles at its prompt
        await statusWithin(call, id, (s) => s === "idle", QUIET_MS + 5000)

        const typed = await call("POST", `/v1/sessions/${id}/input`, { text: "while true; do date; sleep 0.5; done" })
        assert.strictEqual(typed.status, 204)
        await statusWithin(call, id, (s) => s === "running", 1000)
        // the loop is the shell's own (tmux sees bash, date, sleep in turn): it is running throughout
        const during = await statusesOver(call, id, QUIET_MS + 1500)
        assert.deepStrictEqual([...during], ["running"])

        let pressedAt = await interrupt(call, env.socket, id, pane)
        await statusWithin(call, id, (s) => s === "idle", QUIET_MS + MARGIN_MS - (Date.now() - pressedAt))

        // a program that prints nothing holds the foreground: running, however long it is quiet
        await call("POST", `/v1/sessions/${id}/input`, { text: "sleep 60" })
        await statusWithin(call, id, (s) => s === "running", 1000)
        const silent = await statusesOver(call, id, QUIET_MS + 1500)
        assert.deepStrictEqual([...silent], ["running"])
        pressedAt = await interrupt(call, env.socket, id, pane)
        await statusWithin(call, id, (s) => s === "idle", QUIET_MS + MARGIN_MS - (Date.now() - pressedAt))
      } finally {
        await daemon.stop()
      }
    },
    60_000
  )

  it(
    "an agent's hooks drive its status: running while its turn runs, idle when it ends, waiting_input when it asks",
    async () => {
      const env = await envs.withClaudeHooks()
      const daemon = await startDaemon(env, { TELEMUX_AGENT_CLAUDE: path.join(FAKE_AGENTS, "claude") })
      const call = api(env)
      const stream = await connectStream(env)
      try {
        stream.send({ type: "subscribe", sessions: true })
        const created = await createClaudeSession(call, env)
        const id: string = created.sessionId
        type SessionFrame = Frame & { readonly session?: { readonly sessionId: string; readonly status: string } }
        /** This session's statuses on the stream, from the `from`-th frame on. */
        const statuses = (from: number) =>
          (stream.frames.slice(from) as Array<SessionFrame>).flatMap((f) =>
            f.type === "session" && f.session?.sessionId === id ? [f.session.status] : []
          )
        const reached = async (status: string, from: number) => {
          const deadline = Date.now() + 20_000
          while (!statuses(from).includes(status)) {
            if (Date.now() > deadline) throw new Error(`no ${status} on the stream; saw ${statuses(from).join(",")}`)
            await sleep(50)
          }
        }
        await reached("idle", 0)
        // the agent waits at its own prompt, still: the hooks said idle, and nothing else changes it
        await sleep(QUIET_MS + 500)
        assert.strictEqual((await call("GET", `/v1/sessions/${id}`)).body.status, "idle")

        // the hooks alone, as the agent runs them in its pane: a long turn stays running however quiet
        const hook = (event: string, extra: Record<string, unknown> = {}) => {
          const ran = runHookProcess(
            ["claude", event],
            { TELEMUX_HOME: env.home, TELEMUX_SESSION_ID: id },
            JSON.stringify({
              session_id: "native-1",
              transcript_path: "/nonexistent.jsonl",
              cwd: env.projectDir,
              hook_event_name: event,
              ...extra
            })
          )
          assert.strictEqual(ran.status, 0, ran.stderr)
        }
        hook("UserPromptSubmit", { prompt: "a long task" })
        await statusWithin(call, id, (s) => s === "running", 5000)
        const turn = await statusesOver(call, id, QUIET_MS + 1000)
        assert.deepStrictEqual([...turn], ["running"])
        hook("Notification", { message: "which branch?", notification_type: "permission_prompt" })
        await statusWithin(call, id, (s) => s === "waiting_input", 5000)
        hook("Stop", { stop_hook_active: false, last_assistant_message: "done with the long task" })
        await statusWithin(call, id, (s) => s === "idle", 5000)
        const session = (await call("GET", `/v1/sessions/${id}`)).body
        assert.strictEqual(session.lastOutput, "done with the long task")
        assert.strictEqual(session.promptDelivery.state, "delivered", JSON.stringify(session.promptDelivery))
      } finally {
        await stream.close()
        await daemon.stop()
      }
    },
    60_000
  )
})
