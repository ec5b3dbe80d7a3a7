import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { install } from "../src/agents/HookInstall.js"
import { buildHook, FAKE_AGENTS, HOOK_COMMAND } from "./fixtures/agents/hookBuild.js"
import { cliEnv, eventually, runCli } from "./support/cliProcess.js"
import {
  api,
  type DaemonEnv,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon
} from "./support/daemonProcess.js"
import { type RedisForTest, redisForTest } from "./support/redisServer.js"

const run = `${process.pid}-${randomBytes(3).toString("hex")}`
const A = `boss-${run}`
const B = `worker-${run}`
const SECRET = `agents-fleet-${randomBytes(8).toString("hex")}`

describe("an agent on one computer starts a worker on another and is told when it stops (two daemons, one Redis)", () => {
  const envs: Array<DaemonEnv> = []
  const daemons: Array<RunningDaemon> = []
  let redis: RedisForTest | undefined
  beforeAll(() => void buildHook())
  afterAll(async () => {
    for (const daemon of daemons) await daemon.stop()
    for (const env of envs) removeDaemonEnv(env)
    await redis?.stop()
  })

  it(
    "telemux new --computer --agent from inside a session: the worker runs there, its turn stop is typed into the caller's pane here",
    async () => {
      redis = await redisForTest()
      const [envA, envB] = [await makeDaemonEnv(), await makeDaemonEnv()]
      envs.push(envA, envB)
      // the worker's computer has the agent's hooks installed (panes run with HOME = the state dir)
      await Effect.runPromise(
        install({ home: envB.home, hookCommand: HOOK_COMMAND, agents: ["claude"] }).pipe(
          Effect.provide(NodeContext.layer)
        )
      )
      const fleet = (name: string) => ({
        TELEMUX_COMPUTER: name,
        TELEMUX_REDIS_URL: redis!.url,
        TELEMUX_FLEET_SECRET: SECRET,
        TELEMUX_HEARTBEAT_INTERVAL: "1 second"
      })
      daemons.push(await startDaemon(envA, fleet(A)))
      daemons.push(
        await startDaemon(envB, {
          ...fleet(B),
          TELEMUX_TRUSTED_DIRS: envB.projectDir,
          TELEMUX_AGENT_CLAUDE: path.join(FAKE_AGENTS, "claude")
        })
      )
      const callA = api(envA)
      await eventually(async () => {
        const names = (await callA("GET", "/v1/computers")).body.map((c: { name: string }) => c.name)
        return names.includes(B) ? true : undefined
      }, "beta in alpha's fleet")

      const boss = (await callA("POST", "/v1/sessions", { projectDir: envA.projectDir, title: "boss" })).body
      // what an agent in the boss's pane runs: the CLI passes its TELEMUX_SESSION_ID along
      const created = await runCli(
        ["new", envB.projectDir, "--computer", B, "--agent", "claude", "--mode", "fast", "--prompt", "build the thing"],
        { env: cliEnv(envA, { TELEMUX_SESSION_ID: boss.sessionId }) }
      )
      assert.strictEqual(created.code, 0, created.stderr)
      const worker = created.stdout.trim()

      const screenOf = async (id: string) =>
        (await callA("GET", `/v1/sessions/${id}/output?lines=200`)).body.screen as string
      await eventually(
        async () => ((await screenOf(worker)).includes("reply: build the thing") ? true : undefined),
        "the worker's reply",
        20_000
      )
      const notice = await eventually(
        async () => {
          const text = await screenOf(boss.sessionId)
          return text.includes("[telemux]") ? text : undefined
        },
        "the notice in the boss's pane",
        20_000
      )
      assert.include(notice, `(${worker.slice(0, 8)}) on ${B} finished its turn`)
      assert.include(notice, "reply: build the thing")

      // the worker, as alpha lists it: owned by beta, started by the boss on alpha, idle after its turn
      const listed = await eventually(async () => {
        const s = (await callA("GET", `/v1/sessions/${worker}`)).body
        return s.status === "idle" ? s : undefined
      }, "the worker idle in alpha's list")
      assert.strictEqual(listed.computer, B)
      assert.strictEqual(listed.initiatorSessionId, boss.sessionId)
      assert.strictEqual(listed.initiatorComputer, A)
    },
    90_000
  )
})
