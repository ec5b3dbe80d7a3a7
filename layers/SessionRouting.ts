import { Effect } from "effect"
import { Agents } from "../services/Agents.js"
import { Cache } from "../services/Cache.js"
import { Fleet } from "../services/Fleet.js"
import { type CreateSessionRequest, Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import type { KeyPress } from "../src/domain/Keys.js"
import type { Agent, AgentMode, ComputerName, Session, SessionId } from "../src/domain/Session.js"

export interface RoutedCreate extends Omit<CreateSessionRequest, "agent" | "agentMode"> {
  readonly computer?: ComputerName | undefined
  readonly agent?: Agent | undefined
  readonly mode?: AgentMode | undefined
  readonly prompt?: string | undefined
}

/**
 * Every operation on a session id goes to the computer that owns it: this daemon's Sessions for
 * its own, a fleet request for another's. Clients never need to know where a session lives.
 */
export const make = Effect.gen(function*() {
  const sessions = yield* Sessions
  const fleet = yield* Fleet
  const cache = yield* Cache
  const agents = yield* Agents
  const { computer: me } = yield* TelemuxConfig

  const isLocal = (session: Session) => session.computer === me

  const create = (request: RoutedCreate) => {
    const { agent, computer, mode, prompt, ...local } = request
    if (computer === undefined || computer === me) {
      if (agent === undefined) return sessions.create(local)
      return agents.launch({
        ...local,
        agent,
        ...(mode === undefined ? {} : { mode }),
        ...(prompt === undefined ? {} : { prompt })
      })
    }
    return fleet.request(computer, {
      _tag: "CreateSession",
      projectDir: local.projectDir,
      ...(local.title === undefined ? {} : { title: local.title }),
      ...(agent === undefined ? {} : { agent }),
      ...(mode === undefined ? {} : { mode }),
      ...(prompt === undefined ? {} : { prompt }),
      ...(local.initiatorSessionId === undefined ? {} : { initiatorSessionId: local.initiatorSessionId })
    }).pipe(
      // listed here at once, not only when the owner's event arrives
      Effect.tap((session) => cache.upsertSession(session))
    )
  }

  const sendText = (id: SessionId, text: string, enter: boolean) =>
    Effect.flatMap(sessions.get(id), (session) =>
      isLocal(session)
        ? sessions.sendText(id, text, enter)
        : Effect.asVoid(fleet.request(session.computer, { _tag: "SendText", sessionId: id, text, enter })))

  const sendKeys = (id: SessionId, keys: ReadonlyArray<KeyPress>) =>
    Effect.flatMap(sessions.get(id), (session) => {
      if (isLocal(session)) return sessions.sendKeys(id, keys)
      const [first, ...rest] = keys
      if (first === undefined) return Effect.void
      return Effect.asVoid(fleet.request(session.computer, { _tag: "SendKeys", sessionId: id, keys: [first, ...rest] }))
    })

  const capture = (id: SessionId, lines: number) =>
    Effect.flatMap(sessions.get(id), (session) =>
      isLocal(session)
        ? sessions.capture(id, lines)
        : fleet.request(session.computer, { _tag: "Capture", sessionId: id, lines }))

  const close = (id: SessionId) =>
    Effect.flatMap(sessions.get(id), (session) =>
      isLocal(session) || session.status === "closed"
        ? sessions.close(id, "user")
        : fleet.request(session.computer, { _tag: "CloseSession", sessionId: id }).pipe(
          Effect.tap(() => cache.removeSession(id))
        ))

  const resume = (id: SessionId, restart: boolean) =>
    Effect.flatMap(sessions.get(id), (session) =>
      isLocal(session)
        ? restart ? agents.restart(id) : agents.resume(id)
        : fleet.request(session.computer, { _tag: "ResumeAgent", sessionId: id, restart }))

  return { create, sendText, sendKeys, capture, close, resume, isLocal } as const
})
