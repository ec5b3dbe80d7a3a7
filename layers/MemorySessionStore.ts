import { DateTime, Effect, Layer, Option, Ref } from "effect"
import {
  type ClosedMark,
  type OutputMark,
  type SessionPatch,
  type SessionQuery,
  SessionStore,
  StoreError
} from "../services/SessionStore.js"
import { OPEN_STATUSES, Session, type SessionId } from "../src/domain/Session.js"

const normaliseLimit = (limit: number | undefined): number | undefined =>
  limit === undefined || !Number.isFinite(limit) ? undefined : Math.max(0, Math.trunc(limit))

const matches = (query: SessionQuery) => (session: Session): boolean =>
  (query.status === undefined
    ? OPEN_STATUSES.includes(session.status)
    : query.status === "all" || session.status === query.status) &&
  (query.computer === undefined || session.computer === query.computer)

const PATCH_KEYS: ReadonlySet<string> = new Set<keyof SessionPatch>([
  "paneId",
  "title",
  "workingDirectory",
  "status",
  "lastActivityAt",
  "lastOutputAt",
  "lastInput",
  "lastOutput",
  "agent",
  "agentMode",
  "nativeSessionId",
  "nativeLogFile"
])

/** Like the SQLite store: only `SessionPatch` keys count, and `undefined` means "leave as is". */
const patchFields = (patch: SessionPatch): SessionPatch =>
  Object.fromEntries(
    Object.entries(patch).filter(([key, value]) => value !== undefined && PATCH_KEYS.has(key))
  ) as SessionPatch

const withPatch = (session: Session, patch: SessionPatch): Session =>
  new Session({
    ...session,
    ...patchFields(patch),
    // Closed is terminal, as in the SQLite store.
    status: session.status === "closed" ? "closed" : patch.status ?? session.status
  })

/** The same semantics as the SQLite store, over a Map (insertion order stands in for rowid). */
export const make = Effect.gen(function*() {
  const rows = yield* Ref.make(new Map<SessionId, Session>())

  const modify = <A>(f: (map: Map<SessionId, Session>) => A) =>
    Ref.modify(rows, (map) => {
      const next = new Map(map)
      return [f(next), next] as const
    })

  return SessionStore.of({
    getSessions: Effect.fn("SessionStore.getSessions")(function*(query: SessionQuery) {
      const map = yield* Ref.get(rows)
      // Newest first; among equal createdAt the later insert first, like `rowid DESC`.
      const found = Array.from(map.values()).reverse().filter(matches(query)).sort((a, b) =>
        DateTime.toEpochMillis(b.createdAt) - DateTime.toEpochMillis(a.createdAt)
      )
      const limit = normaliseLimit(query.limit)
      return limit === undefined ? found : found.slice(0, limit)
    }),
    getSession: Effect.fn("SessionStore.getSession")(function*(id: SessionId) {
      return Option.fromNullable((yield* Ref.get(rows)).get(id))
    }),
    insert: Effect.fn("SessionStore.insert")(function*(session: Session) {
      const inserted = yield* modify((map) => {
        if (map.has(session.sessionId)) return false
        map.set(session.sessionId, session)
        return true
      })
      if (!inserted) {
        return yield* new StoreError({ operation: "insert", cause: `duplicate session id ${session.sessionId}` })
      }
    }),
    update: Effect.fn("SessionStore.update")((id: SessionId, patch: SessionPatch) =>
      modify((map) =>
        Option.map(Option.fromNullable(map.get(id)), (session) => {
          const updated = withPatch(session, patch)
          map.set(id, updated)
          return updated
        })
      )
    ),
    recordOutput: (marks: ReadonlyArray<OutputMark>) =>
      modify((map) => {
        for (const { id, lastOutput, lastOutputAt } of marks) {
          const session = map.get(id)
          if (session !== undefined && session.status !== "closed") {
            map.set(id, withPatch(session, { lastOutput, lastOutputAt }))
          }
        }
      }),
    markClosed: Effect.fn("SessionStore.markClosed")((id: SessionId, mark: ClosedMark) =>
      modify((map) =>
        Option.map(Option.fromNullable(map.get(id)), (session) => {
          const closed = new Session({
            ...session,
            status: "closed",
            closedAt: session.closedAt ?? mark.at,
            closeReason: session.closeReason ?? mark.reason
          })
          map.set(id, closed)
          return closed
        })
      )
    ),
    pruneClosed: Effect.fn("SessionStore.pruneClosed")((before: DateTime.Utc) =>
      modify((map) => {
        let deleted = 0
        for (const [id, session] of map) {
          if (session.status === "closed" && session.closedAt !== null && DateTime.lessThan(session.closedAt, before)) {
            map.delete(id)
            deleted++
          }
        }
        return deleted
      })
    )
  })
})

export const layer: Layer.Layer<SessionStore> = Layer.effect(SessionStore, make)
