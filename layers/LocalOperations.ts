import { Effect, Schema } from "effect"
import { Agents, type LaunchRequest } from "../services/Agents.js"
import { Idempotency, type IdempotencyKey } from "../services/Idempotency.js"
import { type CreateSessionRequest, Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import type { KeyPress } from "../src/domain/Keys.js"
import { type Agent, type AgentMode, Session, type SessionId } from "../src/domain/Session.js"
import { fingerprintOf } from "./IdempotencyLive.js"

export interface LocalCreate extends Omit<CreateSessionRequest, "agent" | "agentMode"> {
  readonly agent?: Agent | undefined
  readonly mode?: AgentMode | undefined
  readonly prompt?: string | undefined
}

/**
 * The operations that change a session, as this computer runs them for anyone — the HTTP API
 * (SessionRouting) and other computers (FleetHandler) alike — each at most once per
 * `Idempotency-Key` (services/Idempotency.ts). The owner of a session is the one place that
 * remembers its keys, so a retry sent through another computer still finds the first outcome.
 */
export const make = Effect.gen(function*() {
  const sessions = yield* Sessions
  const agents = yield* Agents
  const idempotency = yield* Idempotency
  const { computer: me } = yield* TelemuxConfig

  const create = (request: LocalCreate, key?: IdempotencyKey) => {
    const { agent, mode, prompt, ...shell } = request
    const run = agent === undefined
      ? sessions.create(shell)
      : agents.launch(
        {
          ...shell,
          agent,
          ...(mode === undefined ? {} : { mode }),
          ...(prompt === undefined ? {} : { prompt })
        } satisfies LaunchRequest
      )
    return idempotency.run({
      key,
      fingerprint: fingerprintOf("create", me, {
        projectDir: request.projectDir,
        title: request.title,
        agent,
        mode,
        prompt,
        initiator: request.initiatorSessionId,
        worktree: request.worktree
      }),
      success: Session
    }, run)
  }

  const sendText = (id: SessionId, text: string, enter: boolean, key?: IdempotencyKey) =>
    idempotency.run(
      { key, fingerprint: fingerprintOf("input", id, { text, enter }), success: Schema.Void },
      sessions.sendText(id, text, enter)
    )

  const sendKeys = (id: SessionId, keys: ReadonlyArray<KeyPress>, key?: IdempotencyKey) =>
    idempotency.run(
      { key, fingerprint: fingerprintOf("keys", id, keys), success: Schema.Void },
      sessions.sendKeys(id, keys)
    )

  return { create, sendText, sendKeys } as const
})
