/**
 * One bot for the whole fleet: two daemons (dist/main.js) on one real Redis, both given the bot's
 * token. Only the holder of the fleet lease polls; `kill -9` it and the other takes the lease over
 * once it expired (TELEMUX_LEASE_TTL) and goes on from the last update handled: every update —
 * sent before the kill, and while nobody polled — is typed into the session once, none twice.
 */
import { Redis } from "ioredis"
import { randomBytes } from "node:crypto"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import {
  api,
  type DaemonEnv,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon
} from "./support/daemonProcess.js"
import { type FakeBotApi, startFakeBotApi, textMessage } from "./support/fakeBotApi.js"
import { type RedisForTest, redisForTest } from "./support/redisServer.js"
import { CHAT, TOKEN, USER } from "./support/telegramLayers.js"

const run = `${process.pid}-${randomBytes(3).toString("hex")}`
const A = `tg-a-${run}`
const B = `tg-b-${run}`
const SECRET = `telegram-fleet-${randomBytes(8).toString("hex")}`
const LEASE_TTL_MS = 3000
const LEASE_KEY = "telemux:v1:lease:{telegram}"

const eventually = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> => {
  const start = Date.now()
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() - start > timeoutMs) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe("one Telegram poller for a fleet of two daemons (real Redis, a fake Bot API)", () => {
  let redis: RedisForTest
  let reader: Redis
  let fake: FakeBotApi
  const envs: Record<string, DaemonEnv> = {}
  const daemons: Record<string, RunningDaemon> = {}

  beforeAll(async () => {
    redis = await redisForTest()
    reader = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
    await reader.connect()
    fake = await startFakeBotApi()
    for (const name of [A, B]) {
      envs[name] = await makeDaemonEnv()
      daemons[name] = await startDaemon(envs[name], {
        TELEMUX_COMPUTER: name,
        TELEMUX_REDIS_URL: redis.url,
        TELEMUX_FLEET_SECRET: SECRET,
        TELEMUX_HEARTBEAT_INTERVAL: "1 second",
        TELEMUX_TRUSTED_DIRS: envs[name].projectDir,
        TELEMUX_LEASE_TTL: `${LEASE_TTL_MS / 1000} seconds`,
        TELEMUX_TELEGRAM_TOKEN: TOKEN,
        TELEMUX_TELEGRAM_CHAT: String(CHAT),
        TELEMUX_TELEGRAM_USERS: String(USER),
        TELEMUX_TELEGRAM_API_ROOT: fake.apiRoot
      })
    }
  }, 60_000)

  afterAll(async () => {
    for (const daemon of Object.values(daemons)) if (daemon.child.exitCode === null) await daemon.stop()
    for (const env of Object.values(envs)) removeDaemonEnv(env)
    await fake?.close()
    await reader?.del(LEASE_KEY).catch(() => undefined)
    reader?.disconnect()
    await redis?.stop()
  }, 60_000)

  it(
    "only the holder polls; killed with -9, the other takes over within the lease and types each update once",
    async () => {
      const holder = await eventually("a poller to take the lease", async () => {
        const value = await reader.get(LEASE_KEY)
        return value === null ? undefined : value.split(":")[0]!
      })
      const other = holder === A ? B : A
      // one holder at a time: the other is not polling (it never logged that it started to)
      await fake.waitFor("the first getUpdates", () => fake.callsOf("getUpdates").length > 0, 20_000)
      assert.include(daemons[holder]!.logs(), "polling Telegram")
      assert.notInclude(daemons[other]!.logs(), "polling Telegram")
      for (const name of [A, B]) {
        const health = await api(envs[name]!)("GET", "/health")
        assert.deepStrictEqual(health.body.telegram, { poller: holder, users: 1 }, name)
      }

      // the two have found each other (the holder types into the other's session through it)
      await eventually("each daemon to see the other online", async () => {
        const seen = await Promise.all(
          [[A, B], [B, A]].map(async ([self, peer]) => {
            const listed = await api(envs[self!]!)("GET", "/v1/computers")
            return (listed.body as Array<{ name: string; online: boolean }>).some((c) => c.name === peer && c.online)
          })
        )
        return seen.every(Boolean) ? true : undefined
      })
      // a shell on the daemon that will survive; the poller opens its topic
      const call = api(envs[other]!)
      const created = await call("POST", "/v1/sessions", { projectDir: envs[other]!.projectDir, title: "fleet" })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      const id: string = created.body.sessionId
      await fake.waitFor("the session's topic", () => fake.callsOf("createForumTopic").length === 1, 20_000)
      const thread = 100 // the fake's first topic
      // typed once the poller knows the topic (its first tail is in it), as a person can only then
      await fake.waitFor(
        "the first tail in the topic",
        () => fake.callsOf("sendMessage").some((c) => Number(c.payload.message_thread_id) === thread),
        20_000
      )

      const screen = async () => {
        const output = await call("GET", `/v1/sessions/${id}/output?lines=200`)
        return String(output.body.screen ?? "")
      }
      /** How many times the command of update `n` ran (its output line, not its echo). */
      const ran = (text: string, n: number) => text.split("\n").filter((line) => line.trim() === `update-${n}`).length
      const send = (n: number) => fake.inject(textMessage(USER, CHAT, `echo update-$((${n}+0))`, thread))

      for (const n of [1, 2, 3]) send(n)
      await eventually("updates 1–3 typed", async () => {
        const text = await screen()
        return [1, 2, 3].every((n) => ran(text, n) === 1) ? true : undefined
      }).catch(async (e) => {
        console.log("SCREEN", await screen())
        console.log(
          "CALLS",
          JSON.stringify(fake.calls.map((c) => [c.method, c.payload.text ?? c.payload.name ?? ""]).slice(-30))
        )
        console.log(
          "LOGS",
          daemons[holder]!.logs().split("\n").filter((l) => /elegram|WARN|ERROR/.test(l)).slice(-30).join("\n")
        )
        throw e
      })

      daemons[holder]!.child.kill("SIGKILL")
      const killedAt = Date.now()
      await daemons[holder]!.exited
      // sent while nobody polls: the successor must pick them up, once each
      for (const n of [4, 5, 6]) send(n)
      const successor = await eventually("the other daemon to take the lease", async () => {
        const value = await reader.get(LEASE_KEY)
        return value?.startsWith(`${other}:`) ? Date.now() : undefined
      })
      // the lease expires LEASE_TTL after the holder's last renewal; a contender tries every TTL/3 (±25 %)
      assert.isBelow(successor - killedAt, LEASE_TTL_MS * 1.5 + 1000, "taken over within the lease time")
      await eventually("updates 4–6 typed by the successor", async () => {
        const text = await screen()
        return [4, 5, 6].every((n) => ran(text, n) === 1) ? true : undefined
      })
      assert.include(daemons[other]!.logs(), "polling Telegram")
      // /health (and so `telemux doctor`) says who polls now
      const health = await api(envs[other]!)("GET", "/health")
      assert.deepStrictEqual(health.body.telegram, { poller: other, users: 1 })
      // and nothing twice, now that the successor has read everything there was
      await new Promise((resolve) => setTimeout(resolve, 1500))
      const text = await screen()
      assert.deepStrictEqual([1, 2, 3, 4, 5, 6].map((n) => ran(text, n)), [1, 1, 1, 1, 1, 1], text)
    },
    120_000
  )
})
