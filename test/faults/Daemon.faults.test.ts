import { afterAll, assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import WebSocket from "ws"
import { STREAM_FRAME_MAX_BYTES, STREAM_PREAUTH_MAX_BYTES } from "../../layers/StreamRoute.js"
import { RETRY_AFTER_SECONDS } from "../../services/HttpListener.js"
import { openSqlite } from "../../src/agents/SqliteFile.js"
import {
  api,
  type DaemonEnv,
  freePort,
  killTmuxServer,
  leftoverProcesses,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon,
  tmuxServerPid
} from "../support/daemonProcess.js"
import { residentBytes, spawnDaemon, type SpawnedDaemon } from "../support/daemonSpawn.js"
import {
  connect,
  connectWhenListening,
  exchangeOn,
  httpRequest,
  openRawWebSocket,
  type RawAnswer,
  streamHugeFrame,
  upgradeRequest
} from "../support/rawHttp.js"

/**
 * Faults of the daemon's process boundary (issue 10, items 1–4, 11, 12), against real
 * `dist/main.js` processes on private tmux sockets and temp state dirs:
 * - start-up: from spawn to ready every request is refused (not yet bound), answered 503 +
 *   Retry-After, or answered 200 — none hangs; an upgrade in that window gets a 503;
 * - SIGTERM with sessions, stream clients, a half-sent request, an idle keep-alive, a POST whose
 *   body stops halfway (surely in flight: it gets the drain grace, then is cut) and a burst of
 *   requests: exit 0 within 1 s, close 1001 to every client, every request settled by the exit,
 *   nothing left running, tmux sessions kept; SIGTERM while still starting: the same bound;
 * - two daemons on one state dir, or one tmux socket: the second exits 1 naming the first and
 *   touches nothing; once the first is SIGKILLed the lock is gone and its sessions are adopted;
 * - the port in use: exit 1 with a message, before tmux is started;
 * - unauthenticated WebSockets announcing 99 MB frames: cut after a few KB, RSS bounded; an
 *   authenticated frame over the bound: close 1009;
 * - auth off: a form POST from another local origin is refused and types nothing.
 * Each scenario is bounded in time and prints one line of what it counted.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const MB = 1024 * 1024
const EXIT_BOUND_MS = 1000
const HUNG_AFTER_MS = 2000

const eventually = async <A>(
  what: string,
  probe: () => A | undefined | Promise<A | undefined>,
  timeoutMs = 10_000
): Promise<A> => {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(25)
  }
}

/** Settles within `ms` or says it did not. */
const within = <A>(promise: Promise<A>, ms: number): Promise<A | "timeout"> => {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)))
  ]).finally(() => clearTimeout(timer))
}

const tokenOf = (env: DaemonEnv) => fs.readFileSync(path.join(env.home, "token"), "utf8").trim()

const tmuxSessions = (socket: string): ReadonlyArray<string> | undefined => {
  try {
    return execFileSync("tmux", ["-L", socket, "list-sessions", "-F", "#{session_name}"], {
      timeout: 5000,
      stdio: ["ignore", "pipe", "ignore"]
    })
      .toString().trim().split("\n").filter(Boolean)
  } catch {
    return undefined
  }
}

/** A /v1/stream client (ws library) that records how it was closed. */
const streamClient = (env: DaemonEnv, token: string | undefined) => {
  const ws = new WebSocket(
    `ws://127.0.0.1:${env.port}/v1/stream`,
    token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }
  )
  ws.on("error", () => undefined)
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() }))
  )
  const ready = new Promise<void>((resolve, reject) => {
    ws.on("message", (raw) => {
      if ((JSON.parse(raw.toString()) as { type?: string }).type === "ready") resolve()
    })
    ws.once("close", (code) => reject(new Error(`closed (${code}) before ready`)))
  })
  return { ws, closed, ready }
}

/** A marker or socket name of the shape makeDaemonEnv gives (no prefix of another). */
const freshName = () => `telemux-test-${process.pid}-${randomBytes(6).toString("hex")}`

const healthRequest = (port: number, extra = "") => `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}\r\n`

describe("fault: the daemon process at its boundary (dist/main.js, real tmux, real SQLite)", () => {
  const envs: Array<DaemonEnv> = []
  const running: Array<RunningDaemon | SpawnedDaemon> = []
  const files: Array<string> = []
  /** tmux sockets of daemons that should never have started a server; killed anyway if one did. */
  const sockets: Array<string> = []
  const printed: Array<string> = []
  const report = (line: string) => {
    printed.push(line)
    console.log(line)
  }
  const newEnv = async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    return env
  }

  afterAll(async () => {
    for (const daemon of running) {
      if (daemon.child.exitCode === null && daemon.child.signalCode === null) {
        daemon.child.kill("SIGKILL")
        await within(new Promise((resolve) => daemon.child.once("exit", resolve)), 5000)
      }
    }
    for (const env of envs) removeDaemonEnv(env)
    for (const socket of sockets) killTmuxServer(socket)
    for (const file of files) fs.rmSync(file, { recursive: true, force: true })
    console.log(`daemon faults:\n  ${printed.join("\n  ")}`)
  }, 30_000)

  it(
    "start-up: refused until bound, then 503 DaemonUnavailable + Retry-After until ready, then 200 — nothing hangs; an upgrade gets a 503",
    async () => {
      const STARTS = 5
      const counts = { refused: 0, unavailable: 0, ok: 0, hung: 0, other: [] as Array<string> }
      const raws: Array<RawAnswer> = []
      const upgrades: Array<RawAnswer> = []
      const windows: Array<number> = []
      for (let start = 0; start < STARTS; start++) {
        const env = await newEnv()
        const daemon = spawnDaemon(env)
        running.push(daemon)
        const deadline = daemon.spawnedAt + 30_000
        let ready = false
        let first503: number | undefined
        let first200: number | undefined
        // the first connection the daemon accepts carries one request, read to the end without a client timeout
        const raw = connectWhenListening(env.port, 30_000).then(({ socket }) =>
          socket === undefined
            ? undefined
            : exchangeOn(socket, healthRequest(env.port, "Connection: close\r\n"), 20_000)
        )
        const upgrade = connectWhenListening(env.port, 30_000).then(({ socket }) =>
          socket === undefined
            ? undefined
            : exchangeOn(socket, upgradeRequest(env.port, "/v1/stream", { authorization: "Bearer x" }), 20_000)
        )
        const poll = async () => {
          while (!ready && performance.now() < deadline && daemon.child.exitCode === null) {
            try {
              const response = await fetch(`http://127.0.0.1:${env.port}/health`, {
                signal: AbortSignal.timeout(HUNG_AFTER_MS)
              })
              const text = await response.text()
              if (response.status === 200) {
                counts.ok++
                first200 ??= performance.now()
                ready = true
              } else if (response.status === 503) {
                const body = JSON.parse(text) as { _tag?: string; state?: string }
                assert.strictEqual(body._tag, "DaemonUnavailable", text)
                assert.strictEqual(body.state, "starting", text)
                assert.strictEqual(response.headers.get("retry-after"), String(RETRY_AFTER_SECONDS))
                counts.unavailable++
                first503 ??= performance.now()
              } else counts.other.push(`${response.status} ${text}`)
            } catch (error) {
              const code = (error as { cause?: { code?: string } }).cause?.code
              if (code === "ECONNREFUSED") counts.refused++
              else if ((error as Error).name === "TimeoutError") counts.hung++
              else counts.other.push(`${(error as Error).name}: ${code ?? (error as Error).message}`)
            }
            await sleep(5)
          }
        }
        await Promise.all([poll(), poll()])
        assert.isTrue(ready, `start ${start} never answered 200:\n${daemon.stdout()}${daemon.stderr()}`)
        const [rawAnswer, upgradeAnswer] = await Promise.all([raw, upgrade])
        assert.isDefined(rawAnswer)
        assert.isDefined(upgradeAnswer)
        raws.push(rawAnswer!)
        upgrades.push(upgradeAnswer!)
        if (first503 !== undefined && first200 !== undefined) windows.push(first200 - first503)
        const stopped = await daemon.signal("SIGTERM", 5000)
        assert.strictEqual(stopped.code, 0, daemon.stderr())
        assert.deepStrictEqual(leftoverProcesses(env.marker, tmuxServerPid(env.socket)), [])
      }
      const statuses = (answers: ReadonlyArray<RawAnswer>) => answers.map((a) => `${a.status ?? a.outcome}`).join(",")
      report(
        `start-up ×${STARTS}: refused ${counts.refused}, 503 DaemonUnavailable ${counts.unavailable} (Retry-After ${RETRY_AFTER_SECONDS}), ` +
          `200 ${counts.ok}, hung ${counts.hung}, other ${counts.other.length}; 503 window ${
            windows.map((w) => w.toFixed(0)).join("/")
          } ms; ` +
          `raw first request ${statuses(raws)} (longest ${
            Math.max(...raws.map((a) => a.ms)).toFixed(0)
          } ms to end); upgrade ${statuses(upgrades)}`
      )
      assert.strictEqual(counts.hung, 0)
      assert.deepStrictEqual(counts.other, [])
      assert.isAtLeast(counts.ok, STARTS)
      assert.isAbove(counts.unavailable, 0, "the start-up window was never met")
      for (const answer of raws) {
        assert.strictEqual(answer.outcome, "ended", JSON.stringify(answer))
        assert.include([503, 200], answer.status, JSON.stringify(answer))
        assert.isBelow(answer.ms, HUNG_AFTER_MS)
        if (answer.status === 503) assert.strictEqual(answer.headers["retry-after"], String(RETRY_AFTER_SECONDS))
      }
      for (const answer of upgrades) {
        assert.strictEqual(answer.outcome, "ended", JSON.stringify(answer))
        assert.strictEqual(answer.status, 503, JSON.stringify(answer))
        assert.strictEqual(answer.headers["retry-after"], String(RETRY_AFTER_SECONDS))
        assert.strictEqual((JSON.parse(answer.body) as { _tag: string })._tag, "DaemonUnavailable")
      }
    },
    120_000
  )

  it(
    "SIGTERM with sessions, stream clients, a half-sent request, an idle keep-alive and requests in flight: exit 0 within 1 s, 1001 to every client, tmux kept",
    async () => {
      const SESSIONS = 3
      const CLIENTS = 10
      const IN_FLIGHT = 40
      const env = await newEnv()
      const daemon = await startDaemon(env)
      running.push(daemon)
      const call = api(env)
      const token = tokenOf(env)
      const sessions: Array<{ sessionId: string; tmuxName: string }> = []
      for (let i = 0; i < SESSIONS; i++) {
        const created = await call("POST", "/v1/sessions", { projectDir: env.projectDir, title: `open-${i}` })
        assert.strictEqual(created.status, 201, JSON.stringify(created.body))
        sessions.push(created.body)
        // some history, so an output read has lines to send
        await call("POST", `/v1/sessions/${created.body.sessionId}/input`, { text: "seq 1 3000" })
      }

      const clients = Array.from({ length: CLIENTS }, () => streamClient(env, token))
      await Promise.all(clients.map((c) => c.ready))
      for (const client of clients) {
        client.ws.send(
          JSON.stringify({
            type: "subscribe",
            sessions: true,
            output: sessions.map((s) => ({ sessionId: s.sessionId }))
          })
        )
      }

      /** What the server sent back on `socket`, and when it closed it. */
      const closedSocket = (socket: net.Socket) => {
        let received = ""
        socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")))
        socket.on("error", () => undefined)
        return new Promise<{ received: string; at: number }>((resolve) =>
          socket.once("close", () => resolve({ received, at: performance.now() }))
        )
      }
      // one idle keep-alive: a whole request answered, the connection left open
      const idle = await connect(env.port)
      assert.notStrictEqual(typeof idle, "string")
      const idleSocket = idle as net.Socket
      const idleClosed = closedSocket(idleSocket)
      idleSocket.write(healthRequest(env.port))
      await eventually("the keep-alive's answer", () => (idleSocket.bytesRead > 0 ? true : undefined))
      // one half-sent request: the request line and one header, and nothing more
      const half = await connect(env.port)
      assert.notStrictEqual(typeof half, "string")
      const halfSocket = half as net.Socket
      const halfClosed = closedSocket(halfSocket)
      halfSocket.write("GET /health HTTP/1.1\r\nHost: localhost\r\n")
      // one request surely in flight: its headers whole, its body stopping halfway while the handler reads it
      const slow = await connect(env.port)
      assert.notStrictEqual(typeof slow, "string")
      const slowSocket = slow as net.Socket
      const slowClosed = closedSocket(slowSocket)
      slowSocket.write(
        `POST /v1/sessions/${
          sessions[0]!.sessionId
        }/input HTTP/1.1\r\nHost: 127.0.0.1:${env.port}\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"text":"echo never-`
      )

      // requests in flight at the signal: long output reads and lists, fired together
      const inFlight = Array.from({ length: IN_FLIGHT }, (_, i) =>
        fetch(
          `http://127.0.0.1:${env.port}${
            i % 2 === 0 ? `/v1/sessions/${sessions[i % SESSIONS]!.sessionId}/output?lines=2000` : "/v1/sessions"
          }`,
          { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) }
        ).then(
          async (response) => ({ status: response.status, body: await response.text(), at: performance.now() }),
          (error: Error) => ({
            status: 0,
            body: `${error.name}: ${(error.cause as { code?: string } | undefined)?.code ?? error.message}`,
            at: performance.now()
          })
        ))
      await sleep(30)

      const tmuxPid = tmuxServerPid(env.socket)
      assert.isDefined(tmuxPid)
      let exitAt = 0
      daemon.child.once("exit", () => (exitAt = performance.now()))
      const sent = performance.now()
      daemon.child.kill("SIGTERM")
      const exit = await within(daemon.exited, 10_000)
      assert.notStrictEqual(exit, "timeout", `SIGTERM ignored for 10 s:\n${daemon.logs()}`)
      const elapsed = exitAt - sent

      const answered = await within(Promise.all(inFlight), 6000)
      assert.notStrictEqual(answered, "timeout", "a request in flight was never settled")
      const requests = answered === "timeout" ? [] : answered
      const closes = await within(Promise.all(clients.map((c) => c.closed)), 3000)
      assert.notStrictEqual(closes, "timeout", "a stream client was never closed")
      const codes = closes === "timeout" ? [] : closes.map((c) => c.code)
      const halfReceived = await within(halfClosed, 3000)
      const idleReceived = await within(idleClosed, 3000)
      const slowReceived = await within(slowClosed, 3000)
      const leftovers = leftoverProcesses(env.marker, tmuxPid)
      const alive = tmuxSessions(env.socket) ?? []

      const answers = { ok: 0, unavailable: 0, cut: 0, lastCutMs: 0, other: [] as Array<string> }
      for (const r of requests) {
        // an answer, when there is one, is whole: the API's, or the listener's 503 once it drains
        if (r.status === 200 && JSON.parse(r.body) !== undefined) answers.ok++
        else if (r.status === 503 && (JSON.parse(r.body) as { _tag?: string })._tag === "DaemonUnavailable") {
          answers.unavailable++
        } else if (r.status === 0) {
          answers.cut++
          answers.lastCutMs = Math.max(answers.lastCutMs, r.at - sent)
        } else answers.other.push(`${r.status} ${r.body}`)
      }
      report(
        `SIGTERM with ${SESSIONS} sessions, ${CLIENTS} stream clients, 1 half-sent, 1 idle keep-alive, 1 POST with half a body, ${IN_FLIGHT} requests: ` +
          `exit ${exit === "timeout" ? "none" : exit.code} after ${elapsed.toFixed(0)} ms; closes ${
            codes.filter((c) => c === 1001).length
          }×1001 ` +
          `of ${CLIENTS}; requests 200×${answers.ok}, 503×${answers.unavailable}, connection cut×${answers.cut} (the last ${
            answers.lastCutMs.toFixed(0)
          } ms after the signal), ` +
          `other ${answers.other.length}; half-sent ${
            halfReceived === "timeout" ? "open" : `closed (${halfReceived.received.length} bytes back)`
          }, ` +
          `POST with half a body ${
            slowReceived === "timeout"
              ? "open"
              : `cut ${
                (slowReceived.at - sent).toFixed(0)
              } ms after the signal (${slowReceived.received.length} bytes back)`
          }, ` +
          `idle keep-alive ${
            idleReceived === "timeout" ? "open" : "closed"
          }; leftover processes ${leftovers.length}; ` +
          `tmux sessions alive ${sessions.filter((s) => alive.includes(s.tmuxName)).length}/${SESSIONS}`
      )
      assert.strictEqual(exit !== "timeout" && exit.code, 0, daemon.logs())
      assert.isAtMost(elapsed, EXIT_BOUND_MS, "SIGTERM → exit")
      assert.deepStrictEqual(codes, clients.map(() => 1001))
      assert.notStrictEqual(halfReceived, "timeout")
      assert.notStrictEqual(idleReceived, "timeout")
      assert.notStrictEqual(slowReceived, "timeout")
      assert.notMatch(
        slowReceived === "timeout" ? "" : slowReceived.received,
        /^HTTP\/1\.1 2/,
        "a request with half its body succeeded"
      )
      assert.deepStrictEqual(answers.other, [])
      assert.isAbove(answers.ok, 0, "no request was answered")
      // nothing outlived the daemon: every request was settled by the time it exited
      for (const r of requests) assert.isBelow(r.at - exitAt, 500, JSON.stringify(r))
      assert.deepStrictEqual(leftovers, [])
      for (const s of sessions) assert.include(alive, s.tmuxName)
    },
    60_000
  )

  it("SIGTERM while still starting (answering 503) exits within 1 s and leaves nothing running", async () => {
    const DELAYS_MS = [0, 50, 100]
    const results: Array<string> = []
    let whileStarting = 0
    for (const delay of DELAYS_MS) {
      const env = await newEnv()
      const daemon = spawnDaemon(env)
      running.push(daemon)
      await eventually("a 503 while starting", async () => {
        try {
          const response = await fetch(`http://127.0.0.1:${env.port}/health`, {
            signal: AbortSignal.timeout(HUNG_AFTER_MS)
          })
          await response.text()
          assert.notStrictEqual(response.status, 200, "ready before a 503 was seen")
          return response.status === 503 ? true : undefined
        } catch {
          return undefined
        }
      }, 20_000)
      await sleep(delay)
      const phase = daemon.stdout().includes("telemux listening") ? "serving" : "starting"
      if (phase === "starting") whileStarting++
      const stopped = await daemon.signal("SIGTERM", 5000)
      const leftovers = leftoverProcesses(env.marker, tmuxServerPid(env.socket))
      results.push(
        `+${delay} ms (${phase}): exit ${stopped.code ?? stopped.signal} after ${
          stopped.elapsedMs.toFixed(0)
        } ms, leftovers ${leftovers.length}`
      )
      assert.isFalse(stopped.timedOut, `SIGTERM ignored while starting:\n${daemon.stdout()}${daemon.stderr()}`)
      assert.isAtMost(stopped.elapsedMs, EXIT_BOUND_MS, `SIGTERM → exit while starting (+${delay} ms)`)
      assert.strictEqual(stopped.code, 0, daemon.stderr())
      assert.deepStrictEqual(leftovers, [])
    }
    assert.isAbove(whileStarting, 0, "no signal landed while the daemon was starting")
    report(`SIGTERM during start-up: ${results.join("; ")}`)
  }, 90_000)

  it(
    "two daemons on one state dir, or one tmux socket: the second exits 1 naming the first and touches nothing; after SIGKILL the lock is free and sessions are adopted",
    async () => {
      const envA = await newEnv()
      const a = await startDaemon(envA)
      running.push(a)
      const created = await api(envA)("POST", "/v1/sessions", { projectDir: envA.projectDir, title: "owned-by-a" })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      const session = created.body as { sessionId: string; tmuxName: string }

      const dbFiles = ["telemux.db", "telemux.db-wal"].map((name) => path.join(envA.home, name))
      const dbState = () => {
        const stats = dbFiles.map((
          file
        ) => (fs.existsSync(file) ? `${fs.statSync(file).size}@${fs.statSync(file).mtimeMs}` : "none"))
        const db = openSqlite(dbFiles[0]!, { readonly: true, fileMustExist: true })
        try {
          return JSON.stringify({ stats, rows: db.prepare("SELECT * FROM sessions ORDER BY session_id").all() })
        } finally {
          db.close()
        }
      }
      // A at rest: its shell at the prompt (idle) and the screen's summary flushed, then two looks a second apart agree
      await eventually("A's session at rest", async () => {
        const { body } = await api(envA)("GET", `/v1/sessions/${session.sessionId}`)
        return body.status === "idle" && body.lastOutput !== null ? true : undefined
      })
      let before = dbState()
      await eventually("A's database at rest", async () => {
        await sleep(1000)
        const now = dbState()
        const same = now === before
        before = now
        return same ? true : undefined
      })

      /** Starts a daemon that must refuse; returns what it said and how long it took. */
      const refusedStart = async (env: DaemonEnv) => {
        const b = spawnDaemon(env)
        running.push(b)
        const exit = await within(b.exited, 15_000)
        assert.notStrictEqual(exit, "timeout", `the second daemon kept running:\n${b.stdout()}`)
        const code = exit === "timeout" ? null : exit.code
        return { b, code, ms: exit === "timeout" ? Infinity : exit.at - b.spawnedAt, stderr: b.stderr().trim() }
      }
      const assertUntouched = (env: DaemonEnv, refused: Awaited<ReturnType<typeof refusedStart>>) => {
        assert.strictEqual(refused.code, 1, refused.stderr)
        // node's own start-up is most of it: the refusal comes before tmux, SQLite or the network
        assert.isBelow(refused.ms, 5000)
        assert.include(refused.stderr, `pid ${a.child.pid}`)
        assert.include(refused.stderr, `:${envA.port}`)
        assert.include(refused.stderr, `kill ${a.child.pid}`)
        assert.match(refused.stderr, /^telemux: /)
        assert.notInclude(refused.b.stdout(), "tmux found")
        assert.notInclude(refused.b.stdout(), "telemux listening")
        assert.deepStrictEqual(leftoverProcesses(env.marker, undefined), [])
      }
      const sessionOpen = async () => {
        const got = await api(envA)("GET", `/v1/sessions/${session.sessionId}`)
        return got.status === 200 && got.body.status !== "closed" &&
          (tmuxSessions(envA.socket) ?? []).includes(session.tmuxName)
      }

      // B on A's state dir, with a socket and port of its own
      const sameHome: DaemonEnv = { ...envA, socket: freshName(), port: await freePort(), marker: freshName() }
      sockets.push(sameHome.socket)
      const onHome = await refusedStart(sameHome)
      assertUntouched(sameHome, onHome)
      assert.include(onHome.stderr, "TELEMUX_HOME")
      assert.isUndefined(tmuxServerPid(sameHome.socket), "B started a tmux server")
      assert.isUndefined(tmuxSessions(sameHome.socket))
      assert.strictEqual(dbState(), before, "B wrote to A's database")
      assert.isTrue(await sessionOpen(), "A's session was closed")

      // C on A's tmux socket, with a state dir of its own
      const cHome = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-daemon-"))
      files.push(cHome)
      const sameSocket: DaemonEnv = {
        ...envA,
        home: cHome,
        port: await freePort(),
        marker: freshName(),
        projectDir: cHome
      }
      const onSocket = await refusedStart(sameSocket)
      assertUntouched(sameSocket, onSocket)
      assert.include(onSocket.stderr, "TELEMUX_TMUX_SOCKET")
      assert.isFalse(fs.existsSync(path.join(cHome, "telemux.db")), "C created a database")
      assert.strictEqual(dbState(), before, "C wrote to A's database")
      assert.isTrue(await sessionOpen(), "A's session was closed")

      const stillOpen = await sessionOpen()

      // A dies hard: its locks die with it; the next daemon on its home and socket starts and adopts its session
      const tmuxPid = tmuxServerPid(envA.socket)
      a.child.kill("SIGKILL")
      await a.exited
      const next: DaemonEnv = { ...envA, port: await freePort() }
      const started = performance.now()
      const d = await startDaemon(next)
      running.push(d)
      const startMs = performance.now() - started
      const adopted = await api(next)("GET", `/v1/sessions/${session.sessionId}`)
      const listed = await api(next)("GET", "/v1/sessions")
      report(
        `two daemons: same home → exit ${onHome.code} after ${
          onHome.ms.toFixed(0)
        } ms, same socket → exit ${onSocket.code} after ${onSocket.ms.toFixed(0)} ms ` +
          `(tmux servers started 0, database writes 0, A's session ${stillOpen ? "open" : "closed"}); ` +
          `after SIGKILL of A: started in ${
            startMs.toFixed(0)
          } ms, adopted ${listed.body.length} session(s) (${adopted.body.status})`
      )
      assert.strictEqual(adopted.status, 200)
      assert.notStrictEqual(adopted.body.status, "closed", JSON.stringify(adopted.body))
      assert.deepStrictEqual(listed.body.map((s: { sessionId: string }) => s.sessionId), [session.sessionId])
      assert.strictEqual(tmuxServerPid(envA.socket), tmuxPid, "the tmux server was replaced")
      const stopped = await d.stop()
      assert.strictEqual(stopped.code, 0)
      assert.deepStrictEqual(leftoverProcesses(envA.marker, tmuxServerPid(envA.socket)), [])
    },
    90_000
  )

  it("the port in use: exit 1 naming the port, before tmux or SQLite is touched, nothing left running", async () => {
    const env = await newEnv()
    const blocker = net.createServer((socket) =>
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
    )
    await new Promise<void>((resolve) => blocker.listen(env.port, "127.0.0.1", resolve))
    try {
      const daemon = spawnDaemon(env)
      running.push(daemon)
      const exit = await within(daemon.exited, 15_000)
      assert.notStrictEqual(exit, "timeout", `the daemon kept running:\n${daemon.stdout()}`)
      const stderr = daemon.stderr().trim()
      const logLines = daemon.stdout().trim().split("\n")
      const errors = logLines.map((line) => JSON.parse(line) as { logLevel?: string }).filter((l) =>
        l.logLevel === "ERROR"
      )
      const leftovers = leftoverProcesses(env.marker, undefined)
      report(
        `port in use: exit ${exit === "timeout" ? "none" : exit.code} after ${
          exit === "timeout" ? "-" : (exit.at - daemon.spawnedAt).toFixed(0)
        } ms; ` +
          `stderr ${JSON.stringify(stderr)}; error log lines ${errors.length}; tmux server ${
            tmuxServerPid(env.socket) ?? "none"
          }; ` +
          `database ${
            fs.existsSync(path.join(env.home, "telemux.db")) ? "created" : "none"
          }; leftover processes ${leftovers.length}`
      )
      assert.strictEqual(exit !== "timeout" && exit.code, 1)
      assert.include(stderr, `port ${env.port}`)
      assert.include(stderr, "in use")
      assert.strictEqual(stderr.split("\n").length, 1)
      assert.match(stderr, /^telemux: /)
      assert.strictEqual(errors.length, 1, daemon.stdout())
      assert.throws(() => execFileSync("tmux", ["-L", env.socket, "ls"], { stdio: "ignore", timeout: 5000 }))
      assert.isFalse(fs.existsSync(path.join(env.home, "telemux.db")))
      assert.deepStrictEqual(leftovers, [])
    } finally {
      await new Promise((resolve) => blocker.close(resolve))
    }
  }, 30_000)

  it(
    "memory before auth: unauthenticated clients announcing 99 MB frames are cut after a few KB, RSS bounded; an authenticated frame over the bound gets 1009",
    async () => {
      const ANNOUNCED = 99 * MB
      const RSS_GROWTH_MAX = 50 * MB
      const env = await newEnv()
      const daemon = await startDaemon(env)
      running.push(daemon)
      const pid = daemon.child.pid!
      const rss = () => residentBytes(pid) ?? 0

      const wave = async (clients: number) => {
        const before = Math.max(rss(), (await sleep(100), rss()))
        let peak = before
        let sampling = true
        const sampler = (async () => {
          while (sampling) {
            peak = Math.max(peak, rss())
            await sleep(5)
          }
        })()
        const sockets = await Promise.all(
          Array.from({ length: clients }, () => openRawWebSocket(env.port, "/v1/stream"))
        )
        const attempts = await Promise.all(sockets.map((socket) => streamHugeFrame(socket, ANNOUNCED, 15_000)))
        await sleep(300)
        sampling = false
        await sampler
        return { before, peak, attempts }
      }
      const describeWave = (clients: number, w: Awaited<ReturnType<typeof wave>>) =>
        `${clients} clients: RSS ${(w.before / MB).toFixed(1)} → peak ${(w.peak / MB).toFixed(1)} MB (+${
          ((w.peak - w.before) / MB).toFixed(1)
        }), ` +
        `cut ${w.attempts.filter((a) => a.cut).length}/${clients} after ≤ ${
          (Math.max(...w.attempts.map((a) => a.sent)) / 1024).toFixed(0)
        } KB sent ` +
        `in ≤ ${Math.max(...w.attempts.map((a) => a.ms)).toFixed(0)} ms`
      const assertWave = (clients: number, w: Awaited<ReturnType<typeof wave>>) => {
        assert.isBelow(w.peak - w.before, RSS_GROWTH_MAX, describeWave(clients, w))
        for (const attempt of w.attempts) {
          assert.isTrue(attempt.cut, `a client was not disconnected: ${JSON.stringify(attempt)}`)
          assert.isBelow(attempt.sent, ANNOUNCED)
          assert.isBelow(attempt.ms, 5000)
        }
      }

      const five = await wave(5)
      const fifteen = await wave(15)

      const authed = streamClient(env, tokenOf(env))
      await authed.ready
      authed.ws.send("z".repeat(STREAM_FRAME_MAX_BYTES + 1))
      const overBound = await within(authed.closed, 5000)
      const health = await fetch(`http://127.0.0.1:${env.port}/health`, { signal: AbortSignal.timeout(HUNG_AFTER_MS) })
        .then((r) => r.status, () => 0)
      report(
        `memory before auth (frames of ${ANNOUNCED / MB} MB announced, pre-auth bound ${
          STREAM_PREAUTH_MAX_BYTES / 1024
        } KB): ${describeWave(5, five)}; ` +
          `${describeWave(15, fifteen)}; authenticated frame of ${STREAM_FRAME_MAX_BYTES + 1} bytes → close ${
            overBound === "timeout" ? "none" : overBound.code
          }; ` +
          `daemon ${daemon.child.exitCode === null ? "alive" : `exited ${daemon.child.exitCode}`}, /health ${health}`
      )
      assertWave(5, five)
      assertWave(15, fifteen)
      assert.strictEqual(overBound !== "timeout" && overBound.code, 1009)
      assert.strictEqual(health, 200, daemon.logs().slice(-3000))
      assert.isNull(daemon.child.exitCode)
    },
    90_000
  )

  it(
    "auth off: a form POST from another local origin (or any non-JSON body) is refused and types nothing into the pane",
    async () => {
      const env = await newEnv()
      const daemon = await startDaemon(env, { TELEMUX_AUTH: "false" })
      running.push(daemon)
      const own = `http://127.0.0.1:${env.port}`
      const json = { "content-type": "application/json" }
      const created = await httpRequest(env.port, {
        method: "POST",
        path: "/v1/sessions",
        headers: json,
        body: JSON.stringify({ projectDir: env.projectDir, title: "auth-off" })
      })
      assert.strictEqual(created.status, 201, created.body)
      const { sessionId } = JSON.parse(created.body) as { sessionId: string }
      const input = `/v1/sessions/${sessionId}/input`
      const tag = randomBytes(4).toString("hex")
      const marker = (n: number) => {
        const file = path.join(os.tmpdir(), `telemux-pwned-${tag}-${n}`)
        files.push(file)
        return file
      }

      const form = "application/x-www-form-urlencoded"
      const attacks: ReadonlyArray<
        { what: string; headers: Record<string, string>; body: (file: string) => string; expect: number }
      > = [
        {
          what: "form from localhost:3000",
          headers: { origin: "http://localhost:3000", "sec-fetch-site": "same-site", "content-type": form },
          body: (f) => `text=touch%20${encodeURIComponent(f)}`,
          expect: 403
        },
        {
          what: "form from localhost:3000, no Sec-Fetch",
          headers: { origin: "http://localhost:3000", "content-type": form },
          body: (f) => `text=touch%20${encodeURIComponent(f)}`,
          expect: 403
        },
        {
          what: "text/plain JSON from 127.0.0.1:3000",
          headers: { origin: "http://127.0.0.1:3000", "content-type": "text/plain" },
          body: (f) => JSON.stringify({ text: `touch ${f}` }),
          expect: 403
        },
        {
          what: "form from the daemon's own origin",
          headers: { origin: own, "sec-fetch-site": "same-origin", "content-type": form },
          body: (f) => `text=touch%20${encodeURIComponent(f)}`,
          expect: 415
        },
        {
          what: "text/plain JSON, no Origin",
          headers: { "content-type": "text/plain" },
          body: (f) => JSON.stringify({ text: `touch ${f}` }),
          expect: 415
        },
        {
          what: "multipart from the daemon's own origin",
          headers: { origin: own, "content-type": "multipart/form-data; boundary=x" },
          body: (f) => `--x\r\nContent-Disposition: form-data; name="text"\r\n\r\ntouch ${f}\r\n--x--\r\n`,
          expect: 415
        }
      ]
      const statuses = new Map<number, number>()
      const refusedFiles: Array<string> = []
      for (const [n, attack] of attacks.entries()) {
        const file = marker(n)
        refusedFiles.push(file)
        const answer = await httpRequest(env.port, {
          method: "POST",
          path: input,
          headers: attack.headers,
          body: attack.body(file)
        })
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
        assert.strictEqual(answer.status, attack.expect, `${attack.what}: ${answer.body}`)
        assert.include(
          ["HostNotAllowed", "UnsupportedMediaType"],
          (JSON.parse(answer.body) as { _tag: string })._tag,
          attack.what
        )
      }
      // the control: the same input as JSON from the daemon's own origin is typed, and runs (after anything typed before it)
      const control = marker(99)
      const accepted = await httpRequest(env.port, {
        method: "POST",
        path: input,
        headers: { ...json, origin: own },
        body: JSON.stringify({ text: `touch ${control}` })
      })
      assert.strictEqual(accepted.status, 204, accepted.body)
      await eventually("the control command to run", () => (fs.existsSync(control) ? true : undefined))
      const pane = execFileSync("tmux", [
        "-L",
        env.socket,
        "capture-pane",
        "-p",
        "-S",
        "-200",
        "-t",
        `=${JSON.parse(created.body).tmuxName}:`
      ], { timeout: 5000 }).toString()
      const created_ = refusedFiles.filter((file) => fs.existsSync(file)).length
      const typed = refusedFiles.filter((file) => pane.includes(path.basename(file))).length
      report(
        `auth off: ${attacks.length} cross-origin or non-JSON POSTs → ${
          [...statuses].map(([s, n]) => `${s}×${n}`).join(", ")
        }; ` +
          `marker files created ${created_}, typed into the pane ${typed}; the JSON control from the own origin ran (${
            fs.existsSync(control)
          })`
      )
      assert.strictEqual(created_, 0)
      assert.strictEqual(typed, 0, pane)
      assert.include(pane, path.basename(control))
    },
    60_000
  )
})
