import { type SqlClient, SqlError } from "@effect/sql"
import { Effect, Option } from "effect"

/**
 * `sql.withTransaction`, with a failed COMMIT or ROLLBACK as a failure: `withTransaction` turns
 * it into a defect (`orDie`), and a full disk fails the COMMIT (SQLite has rolled back by then:
 * nothing is left open). That is a storage error like any other, answered as such — not a crash.
 */
export const inTransaction = (sql: SqlClient.SqlClient) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  sql.withTransaction(effect).pipe(
    Effect.catchSomeDefect((
      defect
    ) => (defect instanceof SqlError.SqlError ? Option.some(Effect.fail(defect)) : Option.none()))
  )
