import { Effect, Schema } from "effect"
import { Agents, type ForkOptions, type LaunchRequest } from "../services/Agents.js"
import { Cache } from "../services/Cache.js"
import { Fleet } from "../services/Fleet.js"
import { Idempotency, type IdempotencyKey } from "../services/Idempotency.js"
import { type CreateSessionRequest, Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { OutcomeUnknown, RemoteTimeout } from "../src/domain/Errors.js"
import type { KeyPress } from "../src/domain/Keys.js"
import { type Agent, type AgentMode, type ComputerName, Session, type SessionId } from "../src/domain/Session.js"
import { FORK_TIMEOUT } from "../src/fleet/Protocol.js"
import { fingerprintOf } from "./IdempotencyLive.js"

export interface LocalCreate extends Omit<CreateSessionRequest, "agent" | "agentMode"> {
  readonly agent?: Agent | undefined
  readonly mode?: AgentMode | undefined
  readonly prompt?: string | undefined
}

export interface LocalFork extends ForkOptions {
  /** Where the fork runs (default: here). */
  readonly computer?: ComputerName | undefined
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
  const fleet = yield* Fleet
  const cache = yield* Cache
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

  // input and keys are the hot path: a request without a key needs no fingerprint (a sha256 of its payload)
  const sendText = (id: SessionId, text: string, enter: boolean, key?: IdempotencyKey) =>
    idempotency.run(
      { key, fingerprint: key === undefined ? "" : fingerprintOf("input", id, { text, enter }), success: Schema.Void },
      sessions.sendText(id, text, enter)
    )

  const sendKeys = (id: SessionId, keys: ReadonlyArray<KeyPress>, key?: IdempotencyKey) =>
    idempotency.run(
      { key, fingerprint: key === undefined ? "" : fingerprintOf("keys", id, keys), success: Schema.Void },
      sessions.sendKeys(id, keys)
    )

  /**
   * Forks one of this computer's agent sessions, here or onto another computer: there, its
   * conversation travels with the request (exported here, written there where the agent looks).
   * The key is kept here, with the forked session, whichever computer runs the fork.
   */
  const fork = (id: SessionId, request: LocalFork, key?: IdempotencyKey) => {
    const { computer, ...options } = request
    const run = computer === undefined || computer === me
      ? agents.fork(id, options)
      : Effect.flatMap(
        agents.exportConversation(id, options),
        ({ conversation, request: create }) =>
          fleet.call(computer, (c) =>
            c.ForkAgent({
              conversation,
              projectDir: create.projectDir,
              ...(create.title === undefined ? {} : { title: create.title }),
              ...(create.mode === undefined ? {} : { mode: create.mode }),
              ...(create.worktree === undefined ? {} : { worktree: create.worktree })
            }), { timeout: FORK_TIMEOUT }).pipe(
              // it may have started there: not "not done"
              Effect.catchIf(
                (error): error is RemoteTimeout => error instanceof RemoteTimeout,
                (error) =>
                  new OutcomeUnknown({
                    message: `${error.message}; the fork may have started on ${computer}: look at its sessions, ` +
                      `or retry with the same Idempotency-Key`
                  })
              ),
              // listed here at once, not only when the fork's computer's event arrives
              Effect.tap((session) => cache.upsertSession(session))
            )
      )
    return idempotency.run({
      key,
      fingerprint: fingerprintOf("fork", id, { computer: computer ?? me, ...options }),
      success: Session
    }, run)
  }

  /** Here, a fork of a conversation exported on another computer, at most once per key. */
  const forkImported = (
    payload: Parameters<typeof agents.forkImported>[0],
    request: Parameters<typeof agents.forkImported>[1],
    key?: IdempotencyKey
  ) =>
    idempotency.run({
      key,
      fingerprint: fingerprintOf("fork-imported", payload.nativeSessionId, {
        projectDir: request.projectDir,
        title: request.title,
        mode: request.mode,
        worktree: request.worktree
      }),
      success: Session
    }, agents.forkImported(payload, request))

  return { create, sendText, sendKeys, fork, forkImported } as const
})
