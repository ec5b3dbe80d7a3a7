/**
 * Daemon environments for the process tests of agents (fake agent CLIs with their hooks): the hook
 * program built before the tests, every environment removed after them.
 */
import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import { afterAll, assert, beforeAll } from "vitest"
import { install } from "../../src/agents/HookInstall.js"
import { buildHook, HOOK_COMMAND } from "../fixtures/agents/hookBuild.js"
import { type api, type DaemonEnv, makeDaemonEnv, removeDaemonEnv } from "./daemonProcess.js"

/** Call inside a describe: registers the build and the clean-up, and makes that describe's environments. */
export const agentDaemonEnvs = () => {
  const envs: Array<DaemonEnv> = []
  beforeAll(() => void buildHook())
  afterAll(() => {
    for (const env of envs) removeDaemonEnv(env)
  })
  const make = async (): Promise<DaemonEnv> => {
    const env = await makeDaemonEnv()
    envs.push(env)
    return env
  }
  return {
    make,
    /** An environment whose panes' HOME (the daemon's state dir) has claude's hook settings installed. */
    withClaudeHooks: async (): Promise<DaemonEnv> => {
      const env = await make()
      await Effect.runPromise(
        install({ home: env.home, hookCommand: HOOK_COMMAND, agents: ["claude"] }).pipe(
          Effect.provide(NodeContext.layer)
        )
      )
      return env
    }
  }
}

/** Creates a claude session with `prompt` in the environment's project; the daemon's answer's body, which must be a 201. */
export const createClaudeSession = async (
  call: ReturnType<typeof api>,
  env: DaemonEnv,
  prompt = "first task"
): Promise<any> => {
  const created = await call("POST", "/v1/sessions", { projectDir: env.projectDir, agent: "claude", prompt })
  assert.strictEqual(created.status, 201, JSON.stringify(created.body))
  return created.body
}
