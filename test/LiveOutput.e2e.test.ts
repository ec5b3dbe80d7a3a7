import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import WebSocket from "ws"
import { api, type DaemonEnv, makeDaemonEnv, removeDaemonEnv, startDaemon } from "./support/daemonProcess.js"
import { childrenOf } from "./support/processes.js"

interface Frame {
  readonly type: string
  readonly sessionId?: string
  readonly seq?: number
  readonly screen?: string
}

/** A WebSocket client of /v1/stream that keeps every frame and can wait for one. */
const connect = async (env: DaemonEnv) => {
  const token = fs.readFileSync(path.join(env.home, "token"), "utf8").trim()
  const ws = new WebSocket(`ws://127.0.0.1:${env.port}/v1/stream`, { headers: { authorization: `Bearer ${token}` } })
  const frames: Array<Frame> = []
  const listeners = new Set<() => void>()
  ws.on("message", (raw) => {
    frames.push(JSON.parse(raw.toString()))
    for (const listener of listeners) listener()
  })
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve())
    ws.once("error", reject)
  })
  const waitFor = (what: string, accept: (frame: Frame) => boolean, timeoutMs = 10_000) =>
    new Promise<Frame>((resolve, reject) => {
      const check = () => {
        const found = frames.find(accept)
        if (found === undefined) return
        listeners.delete(check)
        clearTimeout(timer)
        resolve(found)
      }
      const timer = setTimeout(() => {
        listeners.delete(check)
        reject(new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(frames.map((f) => [f.type, f.seq]))}`))
      }, timeoutMs)
      listeners.add(check)
      check()
    })
  const closed = () => new Promise<void>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.once("close", () => resolve())))
  return {
    frames,
    waitFor,
    send: (message: unknown) => ws.send(JSON.stringify(message)),
    close: async () => {
      ws.close()
      await closed()
    }
  }
}

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
      await first.waitFor("the first snapshot", (f) => f.sessionId === id && (f.type === "resync" || f.type === "output"))
      await call("POST", `/v1/sessions/${id}/input`, { text: "echo hello-$((3*4))" })
      const hello = await first.waitFor("hello on screen", (f) => f.type === "output" && (f.screen ?? "").includes("\nhello-12"))
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
      const resumed = second.frames.filter((f) => f.sessionId === id)
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
