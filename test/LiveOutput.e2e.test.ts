import { afterAll, assert, describe, it } from "vitest"
import { api, type DaemonEnv, makeDaemonEnv, removeDaemonEnv, startDaemon } from "./support/daemonProcess.js"
import { childrenOf } from "./support/processes.js"
import { connectStream } from "./support/streamClient.js"

const connect = connectStream

describe("live output end to end (dist/main.js, real tmux, WebSocket)", () => {
  const envs: Array<DaemonEnv> = []
  afterAll(() => {
    for (const env of envs) removeDaemonEnv(env)
  })

  it("a client sees echo output appear, resumes with since after a disconnect, and is resynced when since is gone", async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    const daemon = await startDaemon(env)
    const call = api(env)
    try {
      const session = (await call("POST", "/v1/sessions", { projectDir: env.projectDir })).body
      const id: string = session.sessionId

      const first = await connect(env)
      first.send({ type: "subscribe", output: [{ sessionId: id }] })
      await first.waitFor(
        "the first snapshot",
        (f) => f.sessionId === id && (f.type === "resync" || f.type === "output")
      )
      await call("POST", `/v1/sessions/${id}/input`, { text: "echo hello-$((3*4))" })
      const hello = await first.waitFor(
        "hello on screen",
        (f) => f.type === "output" && (f.screen ?? "").includes("\nhello-12")
      )
      await first.close()

      // the default output request is answered from the same watched snapshot
      const snapshot = (await call("GET", `/v1/sessions/${id}/output`)).body
      assert.include(snapshot.screen, "hello-12")

      const lastSeen = Math.max(...first.frames.filter((f) => f.type === "output").map((f) => f.seq!))
      assert.isAtLeast(lastSeen, hello.seq!)
      await call("POST", `/v1/sessions/${id}/input`, { text: "echo missed-$((1+1))" })
      for (let i = 0; i < 100; i++) {
        if ((await call("GET", `/v1/sessions/${id}/output`)).body.screen.includes("\nmissed-2")) break
        await new Promise((r) => setTimeout(r, 50))
      }

      const second = await connect(env)
      second.send({ type: "subscribe", output: [{ sessionId: id, since: lastSeen }] })
      await second.waitFor("the missed output", (f) => f.type === "output" && (f.screen ?? "").includes("\nmissed-2"))
      // its screen frames (a `command` or `directory` frame of the session may come between them)
      const resumed = second.frames.filter((f) =>
        f.sessionId === id && (f.type === "output" || f.type === "patch" || f.type === "resync")
      )
      assert.isTrue(resumed.every((f) => f.type === "output"), JSON.stringify(resumed.map((f) => f.type)))
      const seqs = resumed.map((f) => f.seq!)
      assert.strictEqual(seqs[0], lastSeen + 1, "resumes right after the last seq seen")
      for (let i = 1; i < seqs.length; i++) assert.strictEqual(seqs[i], seqs[i - 1]! + 1, "no gap, no duplicate")
      await second.close()

      const third = await connect(env)
      third.send({ type: "subscribe", output: [{ sessionId: id, since: 1 }] })
      const resync = await third.waitFor("a resync", (f) => f.sessionId === id)
      assert.strictEqual(resync.type, "resync")
      assert.include(resync.screen, "missed-2")
      await third.close()

      // one control client, whatever the number of sessions
      for (let i = 0; i < 5; i++) await call("POST", "/v1/sessions", { projectDir: env.projectDir })
      const tmuxClients = childrenOf(daemon.child.pid!).filter((cmd) => /\btmux\b/.test(cmd))
      assert.isAtMost(tmuxClients.length, 2, tmuxClients.join("\n"))
    } finally {
      const stopped = await daemon.stop()
      assert.strictEqual(stopped.code, 0, daemon.logs())
    }
  })

  it("the pane's foreground command drives running ⇄ idle", async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    const daemon = await startDaemon(env)
    const call = api(env)
    try {
      const id: string = (await call("POST", "/v1/sessions", { projectDir: env.projectDir })).body.sessionId
      const statusBecomes = async (status: string) => {
        for (let i = 0; i < 100; i++) {
          if ((await call("GET", `/v1/sessions/${id}`)).body.status === status) return
          await new Promise((r) => setTimeout(r, 100))
        }
        assert.fail(`status never became ${status}`)
      }
      await statusBecomes("idle")
      await call("POST", `/v1/sessions/${id}/input`, { text: "sleep 30" })
      await statusBecomes("running")
      await call("POST", `/v1/sessions/${id}/keys`, { keys: ["C-c"] })
      await statusBecomes("idle")
      const row = (await call("GET", `/v1/sessions/${id}`)).body
      assert.include(row.lastInput, "sleep 30")
    } finally {
      await daemon.stop()
    }
  })
})
