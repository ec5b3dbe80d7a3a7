import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Redis } from "ioredis"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { ComputerName } from "../../src/domain/Session.js"
import { FleetKeys } from "../../src/fleet/Protocol.js"
import {
  type DaemonEnv,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon
} from "../support/daemonProcess.js"
import { type RedisTestServer, startRedisServer } from "../support/redisServer.js"

/**
 * Faults of the fleet link, against two real daemons (dist/main.js) on a private redis-server
 * without persistence (a restart loses everything, as a cache-only Redis does):
 * (i) a poisoned inbox — an entry with a far-future id, then the stream deleted — with and without
 *     a restart of the poisoned daemon: requests to it work again within a bound, /health shows the reset;
 * (ii) Redis at maxmemory (noeviction, 1 byte): typed 503/504 with no Redis text, /health not "up",
 *     no 404, then recovery;
 * (iii) Redis restarted mid-traffic: 0 404s, every failure a 503/504, then recovery;
 * (iv) Redis holding writes past the transport's bound (CLIENT PAUSE WRITE): input sent meanwhile
 *     lands once, and is answered done or unknown, never "not reachable".
 * Each scenario is bounded in time and prints what it counted.
 */

const SECRET = `fleet-faults-${randomBytes(8).toString("hex")}`
const run = `${process.pid}-${randomBytes(3).toString("hex")}`
const A = ComputerName.make(`faults-a-${run}`)
const B = ComputerName.make(`faults-b-${run}`)
const FAR = "99999999999999-0"
/** Redis's own words, which must never reach a client. */
const RAW_REDIS = /OOM command|EXECABORT|WRONGTYPE|ReplyError|ERR |NOSCRIPT|MISCONF|READONLY/

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const eventually = async <T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number
): Promise<{ value: T; afterMs: number }> => {
  const start = Date.now()
  for (;;) {
    const value = await probe()
    if (value !== undefined) return { value, afterMs: Date.now() - start }
    if (Date.now() - start > timeoutMs) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

interface Answer {
  readonly status: number
  readonly text: string
  readonly body:
    | { readonly _tag?: string; readonly message?: string; readonly fleet?: { readonly state?: string } }
    | undefined
}

/** One API call with a bound of its own (a request deadline is 10 s; 15 s means no answer at all). */
const caller = (env: DaemonEnv) => async (method: string, route: string, body?: unknown): Promise<Answer> => {
  const token = fs.readFileSync(path.join(env.home, "token"), "utf8").trim()
  try {
    const res = await fetch(`http://127.0.0.1:${env.port}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000)
    })
    const text = await res.text()
    let parsed: Answer["body"]
    try {
      parsed = text === "" ? undefined : JSON.parse(text)
    } catch {
      parsed = undefined
    }
    return { status: res.status, text, body: parsed }
  } catch (error) {
    return { status: 0, text: String(error), body: undefined }
  }
}

/** What a stretch of traffic met. */
class Tally {
  ok = 0
  notFound = 0
  emptyLists = 0
  /** `status tag` → count, for every 503/504. */
  readonly failures = new Map<string, number>()
  /** Anything else (other statuses, no answer), with its body. */
  readonly other: Array<string> = []
  /** Bodies that carried Redis's own text. */
  readonly leaks: Array<string> = []

  record(what: string, answer: Answer, sessionId: string) {
    if (RAW_REDIS.test(answer.text)) this.leaks.push(`${what}: ${answer.text}`)
    if (answer.status >= 200 && answer.status < 300) {
      if (what === "list" && !answer.text.includes(sessionId)) this.emptyLists++
      else this.ok++
    } else if (answer.status === 404) {
      this.notFound++
      this.other.push(`${what} 404: ${answer.text}`)
    } else if (answer.status === 503 || answer.status === 504) {
      const key = `${answer.status} ${answer.body?._tag ?? "untyped"}`
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1)
    } else this.other.push(`${what} ${answer.status}: ${answer.text}`)
  }

  get failed() {
    return Array.from(this.failures.values()).reduce((a, b) => a + b, 0)
  }

  summary() {
    const failures = Array.from(this.failures, ([k, n]) => `${k}×${n}`).join(", ") || "none"
    return `ok ${this.ok}, 404 ${this.notFound}, empty lists ${this.emptyLists}, failed ${this.failed} (${failures}), ` +
      `other ${this.other.length}, raw Redis text ${this.leaks.length}`
  }

  /** The rules every scenario holds to: never 404, never an empty list for a live session, only typed 503/504, no Redis text. */
  assertHonest() {
    assert.strictEqual(this.notFound, 0, this.other.join("\n"))
    assert.strictEqual(this.emptyLists, 0)
    assert.deepStrictEqual(this.other, [])
    assert.deepStrictEqual(this.leaks, [])
    for (const key of this.failures.keys()) {
      assert.match(key, /^(503 ComputerUnreachable|504 RemoteTimeout|504 OutcomeUnknown|503 TerminalUnavailable)$/, key)
    }
  }
}

describe("fault: the fleet link (two dist/main.js daemons, private redis-server without persistence)", () => {
  let server: RedisTestServer
  let admin: Redis
  let envA: DaemonEnv
  let envB: DaemonEnv
  let daemonA: RunningDaemon | undefined
  let daemonB: RunningDaemon | undefined
  let callA: ReturnType<typeof caller>
  let callB: ReturnType<typeof caller>
  let sessionId = ""
  const printed: Array<string> = []

  const fleetEnv = (name: ComputerName, trusted: string) => ({
    TELEMUX_COMPUTER: name,
    TELEMUX_REDIS_URL: server.url,
    TELEMUX_FLEET_SECRET: SECRET,
    TELEMUX_HEARTBEAT_INTERVAL: "1 second",
    TELEMUX_TRUSTED_DIRS: trusted
  })
  const startB = () => startDaemon(envB, fleetEnv(B, envB.projectDir))
  const fleetState = async (call: ReturnType<typeof caller>) =>
    (await call("GET", "/health")).body?.fleet?.state ?? null
  const health = async (call: ReturnType<typeof caller>) =>
    (await call("GET", "/health")).body as {
      fleet: { state: string; lastError: string | null; lastReset?: { stream: string; from: string } | null }
    }
  const report = (line: string) => {
    printed.push(line)
    console.log(line)
  }

  /**
   * Requests from A for B's session, as clients would send them, until `until` resolves; every
   * answer tallied. Several clients at once, so one waiting out a 10 s deadline leaves no gap.
   */
  const traffic = async (until: Promise<unknown>, clients = 4) => {
    const tally = new Tally()
    let going = true
    void until.finally(() => (going = false))
    const client = async (c: number) => {
      for (let i = 0; going; i++) {
        tally.record(
          "input",
          await callA("POST", `/v1/sessions/${sessionId}/input`, { text: `: c${c}t${i}`, enter: true }),
          sessionId
        )
        tally.record("get", await callA("GET", `/v1/sessions/${sessionId}`), sessionId)
        tally.record("capture", await callA("GET", `/v1/sessions/${sessionId}/output?lines=5`), sessionId)
        tally.record("list", await callA("GET", `/v1/sessions?computer=${B}`), sessionId)
        await sleep(50)
      }
    }
    await Promise.all(Array.from({ length: clients }, (_, c) => client(c)))
    return tally
  }

  /** Sends input from A to B's session until one is answered 204; how long that took (ms). */
  const firstSuccess = async (boundMs: number) =>
    (await eventually("a request to B answered", async () => {
      const res = await callA("POST", `/v1/sessions/${sessionId}/input`, { text: ": probe", enter: true })
      return res.status === 204 ? true : undefined
    }, boundMs)).afterMs

  beforeAll(async () => {
    server = await startRedisServer({ extraArgs: ["--appendonly", "no"] })
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 })
    admin.on("error", () => undefined)
    envA = await makeDaemonEnv()
    envB = await makeDaemonEnv()
    callA = caller(envA)
    callB = caller(envB)
    daemonA = await startDaemon(envA, fleetEnv(A, envA.projectDir))
    daemonB = await startB()
    await eventually("A lists B", async () => {
      const res = await callA("GET", "/v1/computers")
      return Array.isArray(res.body) && (res.body as Array<{ name: string }>).some((c) => c.name === B)
        ? true
        : undefined
    }, 10_000)
    const created = await callA("POST", "/v1/sessions", { projectDir: envB.projectDir, computer: B, title: "faults" })
    assert.strictEqual(created.status, 201, created.text)
    sessionId = (created.body as { sessionId: string }).sessionId
  }, 60_000)

  afterAll(async () => {
    for (const daemon of [daemonA, daemonB]) await daemon?.stop("SIGKILL").catch(() => undefined)
    for (const env of [envA, envB]) if (env !== undefined) removeDaemonEnv(env)
    admin?.disconnect()
    await server?.stop()
    console.log(`fleet faults:\n  ${printed.join("\n  ")}`)
  }, 30_000)

  it(
    "(i) a poisoned inbox (far-future id, then DEL), also across a restart: requests work again within a bound; /health shows the reset",
    async () => {
      const inbox = FleetKeys.inbox(B)
      const poison = async (daemon: RunningDaemon) => {
        const from = daemon.logs().length
        await admin.xadd(inbox, FAR, "p", "poison")
        // B reads the entry (and drops it, unsigned): its saved position is now the far id
        await eventually(
          "B dropped the poison",
          async () => (daemon.logs().slice(from).includes("dropped a fleet message") ? true : undefined),
          5000
        )
      }

      await poison(daemonB!)
      await admin.del(inbox)
      const live = await firstSuccess(8000)
      const shown = await health(callB)
      assert.strictEqual(shown.fleet.lastReset?.from, FAR)
      assert.strictEqual(shown.fleet.lastReset?.stream, inbox)
      assert.strictEqual(shown.fleet.state, "up")

      // the same, with the daemon restarted while its saved position is poisoned
      await poison(daemonB!)
      assert.strictEqual((await daemonB!.stop()).code, 0)
      await admin.del(inbox)
      const restartedAt = Date.now()
      daemonB = await startB()
      const afterRestart = await firstSuccess(12_000)
      const restarted = await health(callB)
      assert.strictEqual(restarted.fleet.lastReset?.from, FAR)
      assert.include(daemonB.logs(), "beyond its stream's last generated id")
      report(
        `(i) poisoned inbox: answered again ${live} ms after the DEL (live); ${
          Date.now() - restartedAt
        } ms after B restarted ` +
          `(${afterRestart} ms after it served); /health lastReset ${restarted.fleet.lastReset?.from} → 0-0`
      )
      assert.isAtMost(live, 5000)
      assert.isAtMost(afterRestart, 10_000)
    },
    60_000
  )

  it(
    "(ii) Redis at maxmemory (noeviction): typed 503/504 without Redis's text, /health not up, no 404; then recovery",
    async () => {
      await firstSuccess(10_000)
      await admin.config("SET", "maxmemory-policy", "noeviction")
      await admin.config("SET", "maxmemory", "1")
      let tally: Tally
      let shown: {
        readonly afterMs: number
        readonly states: ReadonlyArray<string | null>
        readonly lastError: string | null
      } | undefined
      try {
        const watching = (async () => {
          const start = Date.now()
          while (Date.now() - start < 5000) {
            const states = [await fleetState(callA), await fleetState(callB)]
            if (states.every((s) => s !== null && s !== "up")) {
              return { afterMs: Date.now() - start, states, lastError: (await health(callA)).fleet.lastError }
            }
            await sleep(50)
          }
          return undefined
        })() // traffic through the whole outage: longer than the heartbeat TTL (3 s), so every record expires meanwhile
        ;[tally, shown] = await Promise.all([traffic(sleep(6000)), watching])
      } finally {
        await admin.config("SET", "maxmemory", "0")
      }
      const recovered = await firstSuccess(15_000)
      const up = await eventually(
        "both links up",
        async () => (await fleetState(callA)) === "up" && (await fleetState(callB)) === "up" ? true : undefined,
        5000
      )
      report(
        `(ii) maxmemory: ${tally.summary()}; /health ${
          shown === undefined ? "stayed up" : `${shown.states.join("/")} after ${shown.afterMs} ms`
        }; ` +
          `recovered after ${recovered} ms (links up after ${up.afterMs + recovered} ms)`
      )
      assert.isDefined(shown, "/health stayed up while Redis refused writes")
      assert.deepStrictEqual(shown?.states, ["degraded", "degraded"])
      assert.include(shown?.lastError ?? "", "out of memory")
      assert.notMatch(shown?.lastError ?? "", RAW_REDIS)
      tally.assertHonest()
      assert.isAbove(tally.failed, 0, "the outage was met")
    },
    60_000
  )

  it(
    "(iii) Redis restarted (empty) mid-traffic, three times: 0 404s, every failure a typed 503/504, then recovery",
    async () => {
      await firstSuccess(10_000)
      const outage = (async () => {
        await sleep(1000)
        for (let restart = 0; restart < 3; restart++) {
          await server.kill()
          await sleep(500)
          await server.start()
          // traffic on until both links are up again, and past the heartbeat TTL (3 s) after that
          await eventually(
            "both links up",
            async () => (await fleetState(callA)) === "up" && (await fleetState(callB)) === "up" ? true : undefined,
            15_000
          )
          await sleep(3500)
        }
      })()
      const tally = await traffic(outage)
      await outage
      const recovered = await firstSuccess(15_000)
      report(
        `(iii) Redis restarted 3 times: ${tally.summary()}; a request succeeded ${recovered} ms after the traffic stopped`
      )
      tally.assertHonest()
      assert.isAbove(tally.ok, 0)
      // B stayed listed throughout: nothing was forgotten for one empty SCAN
      const computers = await callA("GET", "/v1/computers")
      assert.isTrue((computers.body as unknown as Array<{ name: string }>).some((c) => c.name === B))
    },
    90_000
  )

  it(
    "(iv) Redis holds writes 4 s (CLIENT PAUSE WRITE, as in a failover): input sent meanwhile lands once, and its answer is never 'not done'",
    async () => {
      await firstSuccess(10_000)
      const marker = `held-${randomBytes(4).toString("hex")}`
      await admin.call("CLIENT", "PAUSE", "4000", "WRITE")
      const started = Date.now()
      // A's append of the request waits on Redis past the transport's 2 s bound; Redis runs it at 4 s
      const answer = await callA("POST", `/v1/sessions/${sessionId}/input`, { text: `: ${marker}`, enter: true })
      const tookMs = Date.now() - started
      const landed = await eventually("the input on B's pane", async () => {
        const screen = (await callB("GET", `/v1/sessions/${sessionId}/output?lines=50`)).text
        const times = screen.split(marker).length - 1
        return times > 0 ? times : undefined
      }, 15_000)
      await sleep(1000)
      const screen = (await callB("GET", `/v1/sessions/${sessionId}/output?lines=50`)).text
      report(
        `(iv) writes held 4 s: the input answered ${answer.status} ${answer.body?._tag ?? ""} after ${tookMs} ms; ` +
          `on B's pane ${landed.afterMs} ms after the answer, ${screen.split(marker).length - 1} time(s)`
      )
      // it ran on B: the answer may be its success, or "unknown", never a failure that says it did not run
      assert.isTrue(
        answer.status === 204 || (answer.status === 504 && answer.body?._tag === "OutcomeUnknown"),
        `answered ${answer.status}: ${answer.text}`
      )
      assert.strictEqual(screen.split(marker).length - 1, 1, screen)
    },
    60_000
  )
})
