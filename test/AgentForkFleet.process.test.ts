import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { claudeProjectDir, geminiChatsDir } from "../src/agents/Conversations.js"
import { install } from "../src/agents/HookInstall.js"
import { buildHook, HOOK_COMMAND } from "./fixtures/agents/hookBuild.js"
import { eventually } from "./support/cliProcess.js"
import {
  api,
  type DaemonEnv,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon
} from "./support/daemonProcess.js"
import { fakeAgentVariables, recordedArgv } from "./support/fakeAgents.js"
import { type RedisForTest, redisForTest } from "./support/redisServer.js"

const run = `${process.pid}-${randomBytes(3).toString("hex")}`
const A = `alpha-${run}`
const B = `beta-${run}`
const SECRET = `fork-fleet-${randomBytes(8).toString("hex")}`

/** The agents' directories under a computer's HOME (the daemon's, which its panes inherit). */
const homesOf = (env: DaemonEnv) => ({
  claude: path.join(env.home, ".claude"),
  codex: path.join(env.home, ".codex"),
  gemini: path.join(env.home, ".gemini")
})

describe("a fork onto another computer carries its conversation (two daemons, one Redis, a HOME each)", () => {
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
    "claude forked through alpha onto beta, gemini forked through beta (the request forwarded to alpha): the conversation written in beta's HOME where the agent looks, the fake on beta forks or resumes it",
    async () => {
      redis = await redisForTest()
      const [envA, envB] = [await makeDaemonEnv(), await makeDaemonEnv()]
      envs.push(envA, envB)
      for (const env of [envA, envB]) {
        await Effect.runPromise(
          install({ home: env.home, hookCommand: HOOK_COMMAND, agents: ["claude", "gemini"] }).pipe(
            Effect.provide(NodeContext.layer)
          )
        )
      }
      const fleet = (name: string) => ({
        ...fakeAgentVariables,
        TELEMUX_COMPUTER: name,
        TELEMUX_REDIS_URL: redis!.url,
        TELEMUX_FLEET_SECRET: SECRET,
        TELEMUX_HEARTBEAT_INTERVAL: "1 second"
      })
      daemons.push(await startDaemon(envA, fleet(A)))
      // beta starts forks in alpha's project dir (one machine here): it must trust it
      daemons.push(await startDaemon(envB, { ...fleet(B), TELEMUX_TRUSTED_DIRS: envA.projectDir }))
      const [callA, callB] = [api(envA), api(envB)]
      for (const [call, other] of [[callA, B], [callB, A]] as const) {
        await eventually(async () => {
          const names = (await call("GET", "/v1/computers")).body.map((c: { name: string }) => c.name)
          return names.includes(other) ? true : undefined
        }, `${other} in the fleet`)
      }
      const screenOf = async (call: typeof callA, id: string) =>
        (await call("GET", `/v1/sessions/${id}/output?lines=200`)).body.screen as string
      const started = async (agent: "claude" | "gemini", prompt: string) => {
        const created = await callA("POST", "/v1/sessions", {
          projectDir: envA.projectDir,
          agent,
          mode: "fast",
          prompt
        })
        assert.strictEqual(created.status, 201, JSON.stringify(created.body))
        return eventually(
          async () => {
            const s = (await callA("GET", `/v1/sessions/${created.body.sessionId}`)).body
            return s.nativeSessionId !== null && (await screenOf(callA, s.sessionId)).includes(`reply: ${prompt}`)
              ? s
              : undefined
          },
          `${agent}'s conversation on alpha`,
          20_000
        )
      }
      const onBeta = (id: string, not: string) =>
        eventually(
          async () => {
            const s = (await callB("GET", `/v1/sessions/${id}`)).body
            return s.computer === B && s.nativeSessionId !== null && s.nativeSessionId !== not ? s : undefined
          },
          "the fork on beta with its own conversation id",
          20_000
        ).catch(async (e) => {
          throw new Error(
            `${e.message}\n--- screen:\n${await screenOf(callB, id)}\n--- beta:\n${
              daemons[1]!.logs().split("\n").filter((l) => /agent|fork|rror/i.test(l)).slice(-20).join("\n")
            }`
          )
        })

      // -- claude: forked through alpha (its owner) onto beta --------------------------------------
      const claude = await started("claude", "remember 42")
      const claudeId: string = claude.nativeSessionId
      const expected = path.join(claudeProjectDir(homesOf(envB), envA.projectDir), `${claudeId}.jsonl`)
      assert.isFalse(fs.existsSync(expected), "beta has no copy before the fork")
      const forked = await callA("POST", `/v1/sessions/${claude.sessionId}/fork`, { computer: B })
      assert.strictEqual(forked.status, 201, JSON.stringify(forked.body))
      assert.strictEqual(forked.body.computer, B)
      const claudeFork = await onBeta(forked.body.sessionId, claudeId)
      // the conversation file travelled: in beta's HOME, where claude looks for alpha's project dir
      assert.include(fs.readFileSync(expected, "utf8"), "remember 42")
      // the fake on beta (its argv recorded in beta's HOME) forked it: --fork-session finds the file or fails
      assert.deepStrictEqual(recordedArgv(envB.home, "claude").at(-1), [
        "--model",
        "haiku",
        "--resume",
        claudeId,
        "--fork-session"
      ])
      assert.include(await screenOf(callB, claudeFork.sessionId), `forked ${claudeId} as ${claudeFork.nativeSessionId}`)
      assert.include(fs.readFileSync(claudeFork.nativeLogFile, "utf8"), "remember 42")
      assert.isTrue(claudeFork.nativeLogFile.startsWith(envB.home), claudeFork.nativeLogFile)
      // listed on both computers
      const listedOnA = await eventually(async () => {
        const s = await callA("GET", `/v1/sessions/${claudeFork.sessionId}`)
        return s.status === 200 ? s.body : undefined
      }, "the fork in alpha's list")
      assert.strictEqual(listedOnA.computer, B)

      // -- gemini: the fork asked of beta, the session being alpha's: alpha exports, beta forks ------
      const gemini = await started("gemini", "remember 7")
      const geminiId: string = gemini.nativeSessionId
      const geminiForked = await callB("POST", `/v1/sessions/${gemini.sessionId}/fork`, {
        computer: B,
        title: "gemini on beta"
      })
      assert.strictEqual(geminiForked.status, 201, JSON.stringify(geminiForked.body))
      assert.strictEqual(geminiForked.body.title, "gemini on beta")
      const geminiFork = await onBeta(geminiForked.body.sessionId, geminiId)
      const copyId: string = geminiFork.nativeSessionId
      const chats = geminiChatsDir(homesOf(envB), envA.projectDir)
      const copies = fs.readdirSync(chats).filter((name) =>
        JSON.parse(fs.readFileSync(path.join(chats, name), "utf8")).sessionId === copyId
      )
      assert.strictEqual(copies.length, 1, fs.readdirSync(chats).join(", "))
      assert.include(fs.readFileSync(path.join(chats, copies[0]!), "utf8"), "remember 7")
      assert.deepStrictEqual(recordedArgv(envB.home, "gemini").at(-1), [
        "-m",
        "gemini-2.5-flash-lite",
        "--resume",
        copyId
      ])
      // alpha's own conversation is untouched, and alpha ran no fork
      assert.isFalse(recordedArgv(envA.home, "gemini").some((argv) => argv.includes(copyId)))
    },
    120_000
  )
})
