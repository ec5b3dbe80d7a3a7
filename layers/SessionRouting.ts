import { Effect } from "effect"
import { Cache } from "../services/Cache.js"
import { Fleet } from "../services/Fleet.js"
import { type CreateSessionRequest, Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import type { KeyPress } from "../src/domain/Keys.js"
import type { ComputerName, Session, SessionId } from "../src/domain/Session.js"

/**
 * Every operation on a session id goes to the computer that owns it: this daemon's Sessions for
 * its own, a fleet request for another's. Clients never need to know where a session lives.
 */
export const make = Effect.gen(function*() {
  const sessions = yield* Sessions
  const fleet = yield* Fleet
  const cache = yield* Cache
  const { computer: me } = yield* TelemuxConfig

  const isLocal = (session: Session) => session.computer === me

  const create = (request: CreateSessionRequest & { readonly computer?: ComputerName | undefined }) => {
    const { computer, ...local } = request
    if (computer === undefined || computer === me) return sessions.create(local)
    return fleet.request(computer, {
      _tag: "CreateSession",
      projectDir: local.projectDir,
      ...(local.title === undefined ? {} : { title: local.title })
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

  return { create, sendText, sendKeys, capture, close, isLocal } as const
})
