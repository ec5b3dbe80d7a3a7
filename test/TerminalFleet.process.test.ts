/**
 * A session's terminal on another computer of the fleet, through its owner: two daemons
 * (dist/main.js) on one real Redis, a WebSocket client of the first subscribing to a session of
 * the second — its snapshot, its chunks, keystrokes and a resize go through the owner, and
 * `telemux attach` at the first shows and types into it through that stream; a lost
 * owner is told (terminalLost) and, once it is back, the terminal is drawn again by itself.
 */
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import WebSocket from "ws"
import { decodeChunkFrame } from "../src/api/TerminalFrames.js"
import { DIST_CLI } from "./support/cliProcess.js"
import {
  api,
  type DaemonEnv,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon
} from "./support/daemonProcess.js"
import { type RedisForTest, redisForTest } from "./support/redisServer.js"
import { tuiInTmux } from "./support/tuiInTmux.js"

const run = `${process.pid}-${randomBytes(3).toString("hex")}`
const A = `term-a-${run}`
const B = `term-b-${run}`
const SECRET = `terminal-fleet-${randomBytes(8).toString("hex")}`

interface JsonFrame {
  readonly type: string
  readonly sessionId?: string
  readonly seq?: number
  readonly error?: string
  readonly applied?: boolean
  readonly cols?: number
  readonly snapshot?: { readonly width: number; readonly screen: ReadonlyArray<string> }
}

/** A terminal client of a daemon's stream: what it was sent, the text of the chunks after its last snapshot. */
const terminalClient = async (env: DaemonEnv) => {
  const token = fs.readFileSync(path.join(env.home, "token"), "utf8").trim()
  const ws = new WebSocket(`ws://127.0.0.1:${env.port}/v1/stream`, { headers: { authorization: `Bearer ${token}` } })
  const frames: Array<JsonFrame> = []
  let text = ""
  let lastSeq = -1
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      const frame = JSON.parse(data.toString()) as JsonFrame
      frames.push(frame)
      if (frame.type === "terminal") {
        lastSeq = frame.seq!
        text = ""
      }
      return
    }
    const chunk = decodeChunkFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))!
    // chunks apply in order after the snapshot: a seq that does not follow would be a gap
    if (chunk.seq !== lastSeq + 1) text += `<gap ${lastSeq}→${chunk.seq}>`
    lastSeq = chunk.seq
    text += Buffer.from(chunk.bytes).toString("utf8")
  })
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve())
    ws.once("error", reject)
  })
  return {
    frames,
    text: () => text,
    send: (message: unknown) => ws.send(JSON.stringify(message)),
    close: () => ws.close()
  }
}

const eventually = async <A>(what: string, probe: () => A | undefined, timeoutMs = 15_000): Promise<A> => {
  const start = Date.now()
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() - start > timeoutMs) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe("a terminal on another computer of the fleet (two daemons, real Redis)", () => {
  let redis: RedisForTest
  let envA: DaemonEnv
  let envB: DaemonEnv
  let daemonA: RunningDaemon
  let daemonB: RunningDaemon | undefined

  const fleetEnv = (name: string, trusted: string) => ({
    TELEMUX_COMPUTER: name,
    TELEMUX_REDIS_URL: redis.url,
    TELEMUX_FLEET_SECRET: SECRET,
    TELEMUX_HEARTBEAT_INTERVAL: "1 second",
    TELEMUX_TRUSTED_DIRS: trusted
  })

  beforeAll(async () => {
    redis = await redisForTest()
    envA = await makeDaemonEnv()
    envB = await makeDaemonEnv()
    daemonA = await startDaemon(envA, fleetEnv(A, envA.projectDir))
    daemonB = await startDaemon(envB, fleetEnv(B, envB.projectDir))
  }, 60_000)

  afterAll(async () => {
    await daemonA?.stop()
    await daemonB?.stop()
    for (const env of [envA, envB]) if (env !== undefined) removeDaemonEnv(env)
    await redis?.stop()
  }, 60_000)

  it(
    "streams B's session to A's client: snapshot, chunks, keystrokes, resize; a lost owner is told, then redrawn",
    async () => {
      const callA = api(envA)
      // A can start a session on B once it has seen B's heartbeat: until then the create is refused
      let created: { status: number; body: { sessionId: string; computer: string } } | undefined
      const start = Date.now()
      while (Date.now() - start < 20_000) {
        created = await callA("POST", "/v1/sessions", { projectDir: envB.projectDir, computer: B })
        if (created.status === 201) break
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
      assert.strictEqual(created?.status, 201, JSON.stringify(created?.body))
      const id = created!.body.sessionId
      assert.strictEqual(created!.body.computer, B)

      const client = await terminalClient(envA)
      client.send({ type: "subscribe", terminal: [{ sessionId: id }] })
      const first = await eventually("the remote snapshot", () => client.frames.find((f) => f.type === "terminal"))
      assert.strictEqual(first.sessionId, id)
      assert.isAbove(first.snapshot!.width, 0)

      // keystrokes typed at A run on B; their output comes back as chunks through the owner
      client.send({ type: "input", sessionId: id, data: "echo remote-$((6*7))\r" })
      await eventually("the command's output in the chunks", () => client.text().includes("remote-42") || undefined)
      assert.notInclude(client.text(), "<gap", "chunks arrive in seq order after the snapshot")
      assert.isUndefined(client.frames.find((f) => f.type === "inputFailed"))

      // a resize through the owner: applied (nobody is attached with tmux), then every watcher redrawn at the size
      client.send({ type: "resize", sessionId: id, cols: 91, rows: 27 })
      const size = await eventually("the size answer", () => client.frames.find((f) => f.type === "size"))
      assert.isTrue(size.applied)
      await eventually(
        "a redraw at the new size",
        () => client.frames.find((f) => f.type === "terminal" && f.snapshot!.width === 91)
      )

      // `telemux attach` at A to B's session: by default through A's terminal stream, no ssh needed
      const outer = tuiInTmux(envA, daemonA, { socketPrefix: "telemux-fleet-attach", waitTimeoutMs: 30_000 })
      try {
        outer.start(100, 30, "PS1='outer> ' exec bash --norc --noprofile")
        await outer.waitScreen("the outer shell's prompt", (text) => text.includes("outer>"))
        outer.keys("-l", `${process.execPath} ${DIST_CLI} attach ${id.slice(0, 8)}; echo ATTACH-EXIT=$?`)
        outer.keys("Enter")
        await outer.waitScreen("the attached view", (text) => text.includes("detach with Ctrl+]"))
        outer.keys("-l", "echo via-attach-$((7*8))")
        outer.keys("Enter")
        await outer.waitScreen("the command's output in the attached view", (text) => /^via-attach-56\s*$/m.test(text))
        outer.keys("C-]")
        const after = await outer.waitScreen("the attach to end", (text) => /ATTACH-EXIT=\d/.test(text))
        assert.match(after, /ATTACH-EXIT=0/)
      } finally {
        execFileSync("tmux", ["-L", outer.socket, "kill-server"], { stdio: "ignore" })
      }

      // the owner goes away: the client is told (typed), not left with a frozen terminal
      await daemonB!.stop("SIGKILL")
      daemonB = undefined
      const lost = await eventually("terminalLost", () => client.frames.find((f) => f.type === "terminalLost"), 30_000)
      assert.strictEqual(lost.sessionId, id)
      assert.oneOf(lost.error, ["ComputerUnreachable", "RemoteTimeout"])

      // back: the session is adopted again and the terminal drawn again by itself, then live
      const framesBefore = client.frames.length
      daemonB = await startDaemon(envB, fleetEnv(B, envB.projectDir))
      await eventually(
        "a new snapshot after the owner came back",
        () => client.frames.slice(framesBefore).find((f) => f.type === "terminal"),
        30_000
      )
      client.send({ type: "input", sessionId: id, data: "echo back-$((5*5))\r" })
      await eventually("output after the owner came back", () => client.text().includes("back-25") || undefined)
      client.close()
    },
    120_000
  )
})
