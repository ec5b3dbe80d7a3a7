import { Duration, Effect, Redacted } from "effect"
import { Redis } from "ioredis"
import { randomBytes, randomUUID } from "node:crypto"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { ComputerName } from "../src/domain/Session.js"
import { encode, open, sign, type UnsignedEnvelope } from "../src/fleet/Envelope.js"
import { FleetKeys, INBOX_MAXLEN, Kinds, STREAM_TTL } from "../src/fleet/Protocol.js"
import {
  api,
  type DaemonEnv,
  leftoverProcesses,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon,
  tmuxServerPid
} from "./support/daemonProcess.js"
import { isAlive } from "./support/processes.js"
import { type RedisForTest, redisForTest } from "./support/redisServer.js"
import { connectStream } from "./support/streamClient.js"

const SECRET = `fleet-process-${randomBytes(8).toString("hex")}`
const INTERVAL_MS = 1000
const TTL_MS = 3 * INTERVAL_MS
/** What measuring through HTTP polling (every 50 ms, plus the call) may add to a delay. */
const POLL_SLACK_MS = 150
/** A discovery loop sleeps one interval after each round, so its period is the interval plus the round (SCAN, MGET). */
const ROUND_SLACK_MS = 150
const run = `${process.pid}-${randomBytes(3).toString("hex")}`
const A = ComputerName.make(`fleet-a-${run}`)
const B = ComputerName.make(`fleet-b-${run}`)

type Call = ReturnType<typeof api>

/** Measured delays, printed after the run (they are what the assertions bound). */
const timings: Record<string, number> = {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `probe` every 50 ms until it returns a value; fails with `what` (and the last value) after `timeoutMs`. */
const eventually = async <A>(
  what: string,
  probe: () => Promise<A | undefined>,
  timeoutMs = 10_000
): Promise<{ readonly value: A; readonly afterMs: number }> => {
  const start = Date.now()
  for (;;) {
    const value = await probe()
    if (value !== undefined) return { value, afterMs: Date.now() - start }
    if (Date.now() - start > timeoutMs) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

const computerNames = async (call: Call): Promise<ReadonlyArray<string>> => {
  const res = await call("GET", "/v1/computers")
  assert.strictEqual(res.status, 200, JSON.stringify(res.body))
  return res.body.map((c: { name: string }) => c.name)
}

const sessionIds = async (call: Call): Promise<ReadonlyArray<string>> => {
  const res = await call("GET", "/v1/sessions")
  assert.strictEqual(res.status, 200, JSON.stringify(res.body))
  return res.body.map((s: { sessionId: string }) => s.sessionId)
}

const fleetState = async (call: Call): Promise<string | null> => {
  const res = await call("GET", "/health").catch(() => undefined)
  return res?.body?.fleet?.state ?? null
}

/** The owner's pane, freshly captured with a deep history (a non-default `lines` is never served from a snapshot). */
const pane = async (call: Call, id: string): Promise<string> => {
  const res = await call("GET", `/v1/sessions/${id}/output?lines=2000`)
  assert.strictEqual(res.status, 200, JSON.stringify(res.body))
  return res.body.screen
}

/** Occurrences of `: <marker>` in a pane: each is one execution of the input that carried it. */
const count = (screen: string, marker: string) =>
  screen.split("\n").filter((line) => line.trimEnd().endsWith(`: ${marker}`)).length

const markerOf = (name: string) => `mk-${name}-${randomBytes(3).toString("hex")}`

const streamClient = connectStream

/** `INFO commandstats` as command → calls. */
const commandCalls = async (client: Redis) => {
  const calls = new Map<string, number>()
  for (const match of (await client.info("commandstats")).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1]!, Number(match[2]))
  }
  return calls
}

/** The daemon's JSON warnings about its inbox (logged after `from` characters) whose message starts with `message`. */
const warnings = (daemon: RunningDaemon, from: number, message: string) =>
  daemon.logs().slice(from).split("\n").flatMap((line) => {
    try {
      const entry = JSON.parse(line) as { logLevel?: string; message?: unknown; annotations?: Record<string, unknown> }
      const text = Array.isArray(entry.message) ? String(entry.message[0]) : String(entry.message)
      return entry.logLevel === "WARN" && text.startsWith(message) && entry.annotations?.stream === "inbox"
        ? [entry]
        : []
    } catch {
      return []
    }
  })

describe("a fleet of two daemons (dist/main.js) on one real Redis", () => {
  let redis: RedisForTest
  let admin: Redis
  let envA: DaemonEnv
  let envB: DaemonEnv
  let daemonA: RunningDaemon
  let daemonB: RunningDaemon
  let callA: Call
  let callB: Call
  /** When (Date.now()) B's heartbeat record first appeared in Redis, and when A first listed B. */
  let join = { recordAt: 0, listedByAAt: 0 }

  const fleetEnv = (name: ComputerName, trusted: string) => ({
    TELEMUX_COMPUTER: name,
    TELEMUX_REDIS_URL: redis.url,
    TELEMUX_FLEET_SECRET: SECRET,
    TELEMUX_HEARTBEAT_INTERVAL: "1 second",
    TELEMUX_TRUSTED_DIRS: trusted
  })
  const startA = () => startDaemon(envA, fleetEnv(A, envA.projectDir))
  const startB = () => startDaemon(envB, fleetEnv(B, `/nonexistent-${run}:${envB.projectDir}`))
  const stop = (daemon: RunningDaemon, signal: NodeJS.Signals = "SIGTERM") => daemon.stop(signal)

  /** Appends raw text to B's inbox behind the daemons' backs, as the protocol's writers do. */
  const appendToInbox = (raw: string) =>
    admin.multi().xadd(FleetKeys.inbox(B), "MAXLEN", "~", INBOX_MAXLEN, "*", "p", raw).pexpire(
      FleetKeys.inbox(B),
      Duration.toMillis(STREAM_TTL)
    ).exec()

  const envelope = (payload: unknown, overrides: Partial<UnsignedEnvelope> = {}): UnsignedEnvelope => {
    const now = Date.now()
    return {
      v: 1,
      id: randomUUID(),
      kind: Kinds.request,
      from: A,
      to: B,
      sentAt: now,
      deadline: now + 60_000,
      payload,
      ...overrides
    }
  }
  let nextCall = 1
  /** A SendText call as a caller's rpc client writes it (src/fleet/Rpcs.ts, layers/FleetRpcTransport.ts). */
  const sendText = (sessionId: string, text: string) => ({
    _tag: "Request",
    id: String(nextCall++),
    tag: "SendText",
    payload: { sessionId, text, enter: true },
    headers: []
  })
  const signed = (unsigned: UnsignedEnvelope, secret = SECRET) => encode(sign(Redacted.make(secret), unsigned))

  /** Creates a session on B through A (a remote create) and returns its id. */
  /**
   * A session on B, once its shell shows its prompt: text typed before the shell reads it is shown
   * twice (echoed by the terminal, then again by readline), which the scenarios would count as
   * having run twice.
   */
  const remoteSession = async (title: string) => {
    const created = await callA("POST", "/v1/sessions", { projectDir: envB.projectDir, computer: B, title })
    assert.strictEqual(created.status, 201, JSON.stringify(created.body))
    const id = created.body.sessionId as string
    await eventually(`the shell's prompt in B's pane`, async () => {
      const last = (await pane(callB, id)).trimEnd().split("\n").at(-1)?.trim() ?? ""
      return /[$#]$/.test(last) ? true : undefined
    })
    return id
  }

  /** Waits until `marker` shows up in B's pane, then returns the pane (callers count the occurrences). */
  const ranOnce = async (id: string, marker: string) =>
    (await eventually(`${marker} in B's pane`, async () => {
      const screen = await pane(callB, id)
      return count(screen, marker) > 0 ? screen : undefined
    })).value

  beforeAll(async () => {
    redis = await redisForTest()
    admin = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 1 })
    // while the server is down (scenario 7) this client reconnects on its own; its errors are expected
    admin.on("error", () => undefined)
    envA = await makeDaemonEnv()
    envB = await makeDaemonEnv()
    callA = api(envA)
    callB = api(envB)
    daemonA = await startA()
    // watched from outside while B starts: its record landing in Redis, then A listing it
    const watching = (async () => {
      const seen = { recordAt: 0, listedByAAt: 0 }
      const deadline = Date.now() + 30_000
      while ((seen.recordAt === 0 || seen.listedByAAt === 0) && Date.now() < deadline) {
        const now = Date.now()
        if (seen.recordAt === 0 && (await admin.exists(FleetKeys.computer(B))) === 1) seen.recordAt = now
        if (seen.listedByAAt === 0 && (await computerNames(callA)).includes(B)) seen.listedByAAt = now
        await sleep(10)
      }
      return seen
    })()
    daemonB = await startB()
    join = await watching
  }, 45_000)

  afterAll(async () => {
    console.info(JSON.stringify(timings, null, 1))
    for (const daemon of [daemonA, daemonB]) {
      if (daemon !== undefined && daemon.child.exitCode === null && daemon.child.signalCode === null) {
        await daemon.stop("SIGKILL").catch(() => undefined)
      }
    }
    for (const env of [envA, envB]) if (env !== undefined) removeDaemonEnv(env)
    admin?.disconnect()
    await redis?.stop()
  }, 30_000)

  it("1. each sees the other in /v1/computers within about one heartbeat; /health shows the link up", async () => {
    assert.isAbove(join.recordAt, 0, "B's heartbeat record never appeared")
    assert.isAbove(join.listedByAAt, 0, "A never listed B")
    const aSawB = join.listedByAAt - join.recordAt
    timings["A lists B after B's first heartbeat (ms)"] = aSawB
    assert.isAtMost(aSawB, INTERVAL_MS + ROUND_SLACK_MS + POLL_SLACK_MS)
    // B discovers as it starts: A is in its list by the time it serves
    const bSawA = await eventually(
      "A in B's computers",
      async () => ((await computerNames(callB)).includes(A) ? true : undefined),
      5000
    )
    timings["B lists A after B serves (ms)"] = bSawA.afterMs
    assert.isAtMost(bSawA.afterMs, INTERVAL_MS + POLL_SLACK_MS)
    const listed = (await callA("GET", "/v1/computers")).body.find((c: { name: string }) => c.name === B)
    assert.strictEqual(listed.online, true)
    assert.strictEqual(await fleetState(callA), "up")
    assert.strictEqual(await fleetState(callB), "up")
  })

  let remoteId = ""
  let localA = ""

  it("2. a remote create runs on B, both lists show it; a dir outside B's trusted dirs is refused", async () => {
    const local = await callA("POST", "/v1/sessions", { projectDir: envA.projectDir, title: "on-a" })
    assert.strictEqual(local.status, 201, JSON.stringify(local.body))
    localA = local.body.sessionId
    const created = await callA("POST", "/v1/sessions", { projectDir: envB.projectDir, computer: B, title: "from-a" })
    assert.strictEqual(created.status, 201, JSON.stringify(created.body))
    assert.strictEqual(created.body.computer, B)
    assert.strictEqual(created.body.title, "from-a")
    remoteId = created.body.sessionId
    // B owns it; A's aggregated list holds its own session and B's
    const onB = await callB("GET", `/v1/sessions/${remoteId}`)
    assert.strictEqual(onB.status, 200, JSON.stringify(onB.body))
    assert.strictEqual(onB.body.computer, B)
    assert.includeMembers([...await sessionIds(callA)], [localA, remoteId])
    await eventually("A's session in B's list", async () => {
      const ids = await sessionIds(callB)
      return ids.includes(localA) && ids.includes(remoteId) ? true : undefined
    }, 3000)

    const outside = await callA("POST", "/v1/sessions", { projectDir: envA.projectDir, computer: B })
    assert.strictEqual(outside.status, 400, JSON.stringify(outside.body))
    assert.strictEqual(outside.body._tag, "InvalidRequest")
    assert.include(outside.body.message, "trusted dir")
    const relative = await callA("POST", "/v1/sessions", { projectDir: "project", computer: B })
    assert.strictEqual(relative.status, 400, JSON.stringify(relative.body))
    // neither left anything behind on B
    assert.deepStrictEqual(
      (await callB("GET", "/v1/sessions?computer=" + B)).body.map((s: { sessionId: string }) => s.sessionId),
      [remoteId]
    )
  })

  it("3. input and keys sent to A for B's session run on B; A's output shows them", async () => {
    const sent = await callA("POST", `/v1/sessions/${remoteId}/input`, { text: "echo hello-$((6*7))" })
    assert.strictEqual(sent.status, 204, JSON.stringify(sent.body))
    await eventually("hello-42 in A's output of B's session", async () => {
      const out = await callA("GET", `/v1/sessions/${remoteId}/output`)
      assert.strictEqual(out.status, 200, JSON.stringify(out.body))
      return out.body.screen.includes("\nhello-42") ? true : undefined
    })
    // typed without Enter, then Enter as a key: only the key makes it run
    const typed = await callA("POST", `/v1/sessions/${remoteId}/input`, { text: "echo keys-$((2+3))", enter: false })
    assert.strictEqual(typed.status, 204)
    await eventually(
      "the typed line",
      async () => ((await pane(callA, remoteId)).includes("echo keys-$((2+3))") ? true : undefined)
    )
    assert.notInclude(await pane(callA, remoteId), "\nkeys-5")
    const keys = await callA("POST", `/v1/sessions/${remoteId}/keys`, { keys: ["Enter"] })
    assert.strictEqual(keys.status, 204, JSON.stringify(keys.body))
    await eventually(
      "keys-5 after the remote Enter",
      async () => ((await pane(callB, remoteId)).includes("\nkeys-5") ? true : undefined)
    )
    const badKey = await callA("POST", `/v1/sessions/${remoteId}/keys`, { keys: ["C-1"] })
    assert.strictEqual(badKey.status, 400)
  })

  it("4. a stream client on A watches B's session: input through A and through B appears", async () => {
    const client = await streamClient(envA)
    try {
      client.send({ type: "subscribe", output: [{ sessionId: remoteId }] })
      await client.waitFor(
        "a first frame",
        (f) => f.sessionId === remoteId && (f.type === "resync" || f.type === "output")
      )
      assert.strictEqual(
        (await callA("POST", `/v1/sessions/${remoteId}/input`, { text: "echo hello-remote" })).status,
        204
      )
      const first = await client.waitFor(
        "hello-remote",
        (f) => f.type === "output" && (f.screen ?? "").includes("\nhello-remote")
      )
      assert.strictEqual(
        (await callB("POST", `/v1/sessions/${remoteId}/input`, { text: "echo hello-from-b" })).status,
        204
      )
      const second = await client.waitFor(
        "hello-from-b",
        (f) => f.type === "output" && (f.screen ?? "").includes("\nhello-from-b")
      )
      assert.isAbove(second.seq!, first.seq!)
      const seqs = client.frames.filter((f) => f.type === "output" && f.sessionId === remoteId).map((f) => f.seq!)
      for (let i = 1; i < seqs.length; i++) assert.isAbove(seqs[i]!, seqs[i - 1]!, "seqs rise")
    } finally {
      await client.close()
    }
    // once nobody watches, A's output request goes to B again rather than a frozen copy
    assert.strictEqual(
      (await callA("POST", `/v1/sessions/${remoteId}/input`, { text: "echo after-$((5*5))" })).status,
      204
    )
    await eventually("after-25 in A's default output", async () => {
      const out = await callA("GET", `/v1/sessions/${remoteId}/output`)
      return out.body.screen.includes("\nafter-25") ? true : undefined
    }, 5000)
  })

  it("5. a remote close through A closes B's session and takes it off both lists", async () => {
    const closed = await callA("DELETE", `/v1/sessions/${remoteId}`)
    assert.strictEqual(closed.status, 200, JSON.stringify(closed.body))
    assert.strictEqual(closed.body.status, "closed")
    const onB = await callB("GET", `/v1/sessions/${remoteId}`)
    assert.isTrue(onB.status === 404 || onB.body.status === "closed", JSON.stringify(onB.body))
    assert.notInclude([...await sessionIds(callA)], remoteId)
    assert.notInclude([...await sessionIds(callB)], remoteId)
    const again = await callA("POST", `/v1/sessions/${remoteId}/input`, { text: "echo too-late" })
    assert.isTrue(again.status === 404 || again.status === 409, JSON.stringify(again))
  })

  it("10. discovery walks keys with SCAN, never KEYS", async () => {
    const before = await commandCalls(admin)
    // both daemons discover every interval: wait for a few rounds
    const { afterMs } = await eventually("four SCANs", async () => {
      const now = await commandCalls(admin)
      return (now.get("scan") ?? 0) - (before.get("scan") ?? 0) >= 4 ? now : undefined
    }, 5000)
    const after = await commandCalls(admin)
    assert.isAtMost(afterMs, 3 * INTERVAL_MS)
    assert.isAbove(after.get("scan") ?? 0, before.get("scan") ?? 0)
    if (redis.server !== undefined) assert.isFalse(after.has("keys"), "a KEYS command reached the server")
    else assert.strictEqual(after.get("keys") ?? 0, before.get("keys") ?? 0)
  })

  it("9. forged, unsigned, stale, non-JSON and wrong-schema requests in B's inbox: none runs, each is logged, B keeps serving", async () => {
    const id = await remoteSession("hostile")
    const logFrom = daemonB.logs().length
    const m = {
      forged: markerOf("forged"),
      unsigned: markerOf("unsigned"),
      stale: markerOf("stale"),
      json: markerOf("json"),
      envelope: markerOf("envelope"),
      request: markerOf("request"),
      valid: markerOf("valid")
    }
    await appendToInbox(signed(envelope(sendText(id, `: ${m.forged}`)), "not-the-fleet-secret"))
    const { sig: _sig, ...unsigned } = JSON.parse(signed(envelope(sendText(id, `: ${m.unsigned}`))))
    await appendToInbox(JSON.stringify(unsigned))
    await appendToInbox(signed(envelope(sendText(id, `: ${m.stale}`), { sentAt: Date.now() - 120_000 })))
    await appendToInbox(`{"v":1,"payload":": ${m.json}"`)
    // an authentic envelope of another version: refused by the envelope schema
    await appendToInbox(signed({ ...envelope(sendText(id, `: ${m.envelope}`)), v: 2 as 1 }))
    // an authentic envelope whose request is not one the protocol knows (a shell string)
    await appendToInbox(signed(envelope({ _tag: "Shell", command: `: ${m.request}` })))

    const valid = await callA("POST", `/v1/sessions/${id}/input`, { text: `: ${m.valid}` })
    assert.strictEqual(valid.status, 204, JSON.stringify(valid.body))
    const screen = await ranOnce(id, m.valid)
    for (const [name, marker] of Object.entries(m)) {
      assert.strictEqual(count(screen, marker), name === "valid" ? 1 : 0, `${name}:\n${screen}`)
    }
    const dropped = await eventually("B's warnings", async () => {
      const found = warnings(daemonB, logFrom, "dropped a fleet message")
      return found.length >= 5 ? found : undefined
    }, 3000)
    assert.sameMembers(
      dropped.value.map((w) => String(w.annotations?.reason)),
      ["forged", "unsigned", "stale", "malformed", "schema"]
    )
    assert.lengthOf(warnings(daemonB, logFrom, "refused a malformed fleet request"), 1)
    assert.strictEqual(await fleetState(callB), "up")
  })

  it(
    "7. Redis restarted mid-traffic: requests fail typed while it is down, the link heals itself, nothing runs twice",
    async (ctx) => {
      const server = redis.server
      if (server === undefined) return ctx.skip()
      const id = await remoteSession("outage")
      const results: Array<{ marker: string; status: number; ms: number }> = []
      let traffic = true
      const sendLoop = (async () => {
        for (let i = 0; traffic; i++) {
          const marker = markerOf(`t${i}`)
          const started = Date.now()
          const res = await callA("POST", `/v1/sessions/${id}/input`, { text: `: ${marker}` })
          results.push({ marker, status: res.status, ms: Date.now() - started })
          await sleep(100)
        }
      })()
      await eventually("traffic flowing", async () => (results.some((r) => r.status === 204) ? true : undefined))

      await server.kill()
      const down = await Promise.all([
        eventually("A's link not up", async () => ((await fleetState(callA)) !== "up" ? true : undefined), 3000),
        eventually("B's link not up", async () => ((await fleetState(callB)) !== "up" ? true : undefined), 3000)
      ])
      timings["link seen down after Redis stopped (ms)"] = Math.max(down[0].afterMs, down[1].afterMs)
      assert.isAtMost(Math.max(down[0].afterMs, down[1].afterMs), 3000)
      const started = Date.now()
      const whileDown = await callA("POST", `/v1/sessions/${id}/input`, { text: `: ${markerOf("down")}` })
      assert.include([503, 504], whileDown.status, JSON.stringify(whileDown.body))
      assert.include(["ComputerUnreachable", "RemoteTimeout"], whileDown.body._tag)
      assert.isBelow(Date.now() - started, 10_500, "bounded by the request deadline")
      const capture = await callA("GET", `/v1/sessions/${id}/output?lines=10`)
      assert.include([503, 504], capture.status, JSON.stringify(capture.body))
      await sleep(500)
      await server.start()

      const healed = await Promise.all([
        eventually("A's link up again", async () => ((await fleetState(callA)) === "up" ? true : undefined), 10_000),
        eventually("B's link up again", async () => ((await fleetState(callB)) === "up" ? true : undefined), 10_000)
      ])
      timings["link up again after Redis started (ms)"] = Math.max(healed[0].afterMs, healed[1].afterMs)
      assert.isAtMost(Math.max(healed[0].afterMs, healed[1].afterMs), 10_000)
      await eventually(
        "B back in A's computers",
        async () => ((await computerNames(callA)).includes(B) ? true : undefined)
      )
      // a request caught mid-outage may wait out its whole deadline (10 s) before the loop moves on
      await eventually("traffic succeeding again", async () => {
        const n = results.length
        await sleep(300)
        return results.slice(n).some((r) => r.status === 204) ? true : undefined
      }, 15_000)
      traffic = false
      await sendLoop
      const after = markerOf("after")
      assert.strictEqual((await callA("POST", `/v1/sessions/${id}/input`, { text: `: ${after}` })).status, 204)
      const screen = await ranOnce(id, after)

      const failed = results.filter((r) => r.status !== 204)
      timings["requests during the outage: failed"] = failed.length
      timings["requests during the outage: slowest failure (ms)"] = Math.max(0, ...failed.map((r) => r.ms))
      // Whether the loop's own requests meet the outage is timing (one in flight may wait it out and
      // succeed): the request sent while the link was down (whileDown, above) is the one that must
      // fail typed; each loop request that failed must have failed the same way.
      for (const r of failed) {
        assert.include([503, 504], r.status)
        assert.isBelow(r.ms, 10_500)
      }
      for (const r of results) {
        const n = count(screen, r.marker)
        if (r.status === 204) assert.strictEqual(n, 1, `${r.marker} ran ${n} times:\n${screen}`)
        else assert.isAtMost(n, 1, `${r.marker} ran ${n} times:\n${screen}`)
      }
    },
    45_000
  )

  it(
    "6 + 8. B stopped (SIGTERM) leaves A's lists within the TTL; requests queued meanwhile: expired ones are refused, valid ones run exactly once, across restarts",
    async () => {
      const id = await remoteSession("queued")
      const bSession = await callB("GET", `/v1/sessions/${id}`)
      assert.strictEqual(bSession.status, 200)

      const stoppedB = await stop(daemonB)
      timings["B SIGTERM to exit (ms)"] = stoppedB.elapsedMs
      assert.strictEqual(stoppedB.code, 0, daemonB.logs().slice(-4000))
      const gone = await eventually(
        "B off A's computers",
        async () => (!(await computerNames(callA)).includes(B) ? true : undefined),
        TTL_MS + 1000
      )
      timings["B gone from A after SIGTERM (ms)"] = gone.afterMs
      assert.isAtMost(gone.afterMs, TTL_MS)
      assert.notInclude([...await sessionIds(callA)], id)

      const repliesBefore = (await admin.xrevrange(FleetKeys.replies(A), "+", "-", "COUNT", 1))[0]?.[0] ?? "0-0"
      const expired = [markerOf("expired1"), markerOf("expired2")]
      const valid = [markerOf("valid1"), markerOf("valid2")]
      const expiredIds: Array<string> = []
      const validIds: Array<string> = []
      for (const [i, marker] of expired.entries()) {
        const late = sendText(id, `: ${marker}`)
        expiredIds.push(late.id)
        await appendToInbox(signed(envelope(late, { deadline: Date.now() - 1 })))
        const ok = sendText(id, `: ${valid[i]}`)
        validIds.push(ok.id)
        await appendToInbox(signed(envelope(ok)))
      }

      daemonB = await startB()
      for (const marker of valid) await ranOnce(id, marker)
      const replies = await eventually("replies to the queued requests", async () => {
        const entries = await admin.xrange(FleetKeys.replies(A), `(${repliesBefore}`, "+")
        const decoded = await Promise.all(entries.map(async ([, fields]) => {
          const env = await Effect.runPromise(
            open(Redacted.make(SECRET), fields[1]!, Date.now(), { replayWindow: "30 seconds" })
          )
          return env.payload as {
            readonly requestId: string
            readonly exit: { readonly _tag: string; readonly cause?: { readonly error?: { readonly _tag: string } } }
          }
        }))
        const mine = decoded.filter((r) => [...expiredIds, ...validIds].includes(r.requestId))
        return mine.length >= 4 ? mine : undefined
      }, 5000)
      for (const reply of replies.value) {
        if (expiredIds.includes(reply.requestId)) {
          assert.strictEqual(reply.exit._tag, "Failure")
          assert.strictEqual(reply.exit.cause?.error?._tag, "RemoteTimeout")
        } else assert.strictEqual(reply.exit._tag, "Success")
      }
      assert.lengthOf(replies.value, 4)

      // restarted once more: nothing from the inbox runs again
      assert.strictEqual((await stop(daemonB)).code, 0)
      daemonB = await startB()
      await eventually(
        "B back in A's computers",
        async () => ((await computerNames(callA)).includes(B) ? true : undefined)
      )
      // B's sessions are loaded into A's lists just after B is seen again (until then A answers 503, try again)
      await eventually(
        "B's session listed on A again",
        async () => ((await sessionIds(callA)).includes(id) ? true : undefined)
      )
      const later = markerOf("later")
      assert.strictEqual((await callA("POST", `/v1/sessions/${id}/input`, { text: `: ${later}` })).status, 204)
      const screen = await ranOnce(id, later)
      for (const marker of valid) assert.strictEqual(count(screen, marker), 1, `${marker}:\n${screen}`)
      for (const marker of expired) assert.strictEqual(count(screen, marker), 0, `${marker}:\n${screen}`)
      await eventually(
        "B's session back in A's list",
        async () => ((await sessionIds(callA)).includes(id) ? true : undefined),
        3000
      )
    },
    45_000
  )

  it("6. B killed (SIGKILL) leaves A's lists within the TTL plus one interval; then nothing is left behind", async () => {
    const ids = (await callB("GET", `/v1/sessions?computer=${B}`)).body.map((s: { sessionId: string }) => s.sessionId)
    assert.isAbove(ids.length, 0)
    const tmuxA = tmuxServerPid(envA.socket)
    const tmuxB = tmuxServerPid(envB.socket)
    await stop(daemonB, "SIGKILL")
    const gone = await eventually(
      "B off A's computers",
      async () => (!(await computerNames(callA)).includes(B) ? true : undefined),
      TTL_MS + INTERVAL_MS + 2000
    )
    timings["B gone from A after SIGKILL (ms)"] = gone.afterMs
    assert.isAtMost(gone.afterMs, TTL_MS + INTERVAL_MS + ROUND_SLACK_MS + POLL_SLACK_MS)
    const listed = await sessionIds(callA)
    for (const id of ids) assert.notInclude([...listed], id)
    const unreachable = await callA("POST", "/v1/sessions", { projectDir: envB.projectDir, computer: B })
    assert.strictEqual(unreachable.status, 503, JSON.stringify(unreachable.body))

    const stoppedA = await stop(daemonA)
    timings["A SIGTERM to exit (ms)"] = stoppedA.elapsedMs
    assert.strictEqual(stoppedA.code, 0, daemonA.logs().slice(-4000))
    assert.deepStrictEqual(leftoverProcesses(envA.marker, tmuxA), [])
    // B's tmux clients outlive it only until they read the end of their input (its pipes died with
    // it): within a bound, never for good
    const orphansGone = await eventually(
      "B's orphaned tmux clients to exit",
      async () => (leftoverProcesses(envB.marker, tmuxB).length === 0 ? true : undefined),
      3000
    ).catch(() => undefined)
    assert.deepStrictEqual(leftoverProcesses(envB.marker, tmuxB), [])
    timings["B's orphaned clients gone after A stopped (ms)"] = orphansGone?.afterMs ?? -1
    removeDaemonEnv(envA)
    removeDaemonEnv(envB)
    const redisPid = redis.server?.pid()
    await redis.stop()
    if (redisPid !== undefined) assert.isFalse(isAlive(redisPid), "redis-server stopped")
  })
})
