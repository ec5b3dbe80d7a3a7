import { SqlClient } from "@effect/sql"
import { Clock, Effect, Layer, Ref } from "effect"
import { type Listener, Listeners, LISTENERS_PER_SESSION_MAX, ListenerStoreError } from "../services/Listeners.js"
import type { ComputerName, SessionId } from "../src/domain/Session.js"

const failed = (operation: string) => (cause: unknown) => new ListenerStoreError({ operation, cause })

/** Listeners in the daemon's database (`listeners` table, migration 0002), on the store's connection. */
export const layer: Layer.Layer<Listeners, never, SqlClient.SqlClient> = Layer.effect(
  Listeners,
  Effect.map(SqlClient.SqlClient, (sql) => {
    const of = (target: SessionId) =>
      sql<{ listener_session_id: SessionId; listener_computer: ComputerName }>`
        SELECT listener_session_id, listener_computer FROM listeners
        WHERE target_session_id = ${target} ORDER BY created_at`.pipe(
        Effect.map((rows) =>
          rows.map((row): Listener => ({
            target,
            listener: row.listener_session_id,
            listenerComputer: row.listener_computer
          }))
        ),
        Effect.mapError(failed("of"))
      )
    return Listeners.of({
      add: (listener) =>
        sql.withTransaction(Effect.gen(function*() {
          const [{ n }] = yield* sql<{ n: number }>`
            SELECT count(*) AS n FROM listeners WHERE target_session_id = ${listener.target}`
          const [{ present }] = yield* sql<{ present: number }>`
            SELECT count(*) AS present FROM listeners
            WHERE target_session_id = ${listener.target} AND listener_session_id = ${listener.listener}`
          if (present > 0) return true
          if (n >= LISTENERS_PER_SESSION_MAX) return false
          yield* sql`INSERT INTO listeners (target_session_id, listener_session_id, listener_computer, created_at)
            VALUES (${listener.target}, ${listener.listener}, ${listener.listenerComputer}, ${yield* Clock
            .currentTimeMillis})`
          return true
        })).pipe(Effect.mapError(failed("add"))),
      of,
      forget: (session) =>
        sql`DELETE FROM listeners WHERE target_session_id = ${session} OR listener_session_id = ${session}`.pipe(
          Effect.asVoid,
          Effect.mapError(failed("forget"))
        ),
      count: sql<{ n: number }>`SELECT count(*) AS n FROM listeners`.pipe(
        Effect.map((rows) => rows[0]?.n ?? 0),
        Effect.mapError(failed("count"))
      )
    })
  })
)

/** Listeners in memory, for unit tests. */
export const layerMemory: Layer.Layer<Listeners> = Layer.effect(
  Listeners,
  Effect.map(Ref.make<ReadonlyArray<Listener>>([]), (ref) =>
    Listeners.of({
      add: (listener) =>
        Ref.modify(ref, (all) => {
          const mine = all.filter((l) => l.target === listener.target)
          if (mine.some((l) => l.listener === listener.listener)) return [true, all]
          if (mine.length >= LISTENERS_PER_SESSION_MAX) return [false, all]
          return [true, [...all, listener]]
        }),
      of: (target) => Effect.map(Ref.get(ref), (all) => all.filter((l) => l.target === target)),
      forget: (session) => Ref.update(ref, (all) => all.filter((l) => l.target !== session && l.listener !== session)),
      count: Effect.map(Ref.get(ref), (all) => all.length)
    }))
)
