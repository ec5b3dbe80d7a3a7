import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Ref } from "effect"
import { PositionStoreError, StreamPositions } from "../services/StreamPositions.js"

const keyOf = (reader: string) => `stream-position:${reader}`

/** Positions in the daemon's database (`kv` table), on the store's connection. */
export const layer: Layer.Layer<StreamPositions, never, SqlClient.SqlClient> = Layer.effect(
  StreamPositions,
  Effect.map(SqlClient.SqlClient, (sql) =>
    StreamPositions.of({
      get: (reader) =>
        sql<{ value: string }>`SELECT value FROM kv WHERE key = ${keyOf(reader)}`.pipe(
          Effect.map((rows) => Option.fromNullable(rows[0]?.value)),
          Effect.mapError((cause) => new PositionStoreError({ operation: "get", cause }))
        ),
      set: (reader, id) =>
        sql`INSERT INTO kv (key, value) VALUES (${keyOf(reader)}, ${id})
            ON CONFLICT (key) DO UPDATE SET value = excluded.value`.pipe(
          Effect.asVoid,
          Effect.mapError((cause) => new PositionStoreError({ operation: "set", cause }))
        )
    }))
)

/** Positions in memory, for unit tests. */
export const layerMemory: Layer.Layer<StreamPositions> = Layer.effect(
  StreamPositions,
  Effect.map(Ref.make(new Map<string, string>()), (ref) =>
    StreamPositions.of({
      get: (reader) => Effect.map(Ref.get(ref), (m) => Option.fromNullable(m.get(reader))),
      set: (reader, id) => Ref.update(ref, (m) => new Map(m).set(reader, id))
    }))
)
