import { SqlClient } from "@effect/sql"
import { DateTime, Effect, ManagedRuntime } from "effect"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import * as SqliteSessionStore from "../layers/SqliteSessionStore.js"
import { type SessionQuery, SessionStore } from "../services/SessionStore.js"
import { ComputerName, Session, SessionId, type SessionStatus, tmuxNameFor } from "../src/domain/Session.js"
import { type BenchRow, formatNs, printRows, ratio, time } from "./measure.js"

const ROWS = 10_000
const RUNS = 100
const STATUSES: ReadonlyArray<SessionStatus> = ["creating", "running", "idle", "waiting_input", "closed"]
const T0 = Date.UTC(2025, 0, 1)

/** Every (status, computer) pair equally often; creation times interleaved across both. */
const sessionAt = (i: number): Session => {
  const sessionId = SessionId.make(randomUUID())
  const status = STATUSES[i % STATUSES.length]!
  const createdAt = DateTime.unsafeMake(T0 + i * 1_000)
  return new Session({
    sessionId,
    computer: ComputerName.make(`computer-${Math.floor(i / STATUSES.length) % 10}`),
    tmuxName: tmuxNameFor(sessionId),
    paneId: null,
    title: `session ${i}`,
    workingDirectory: `/home/me/project-${i % 37}`,
    status,
    createdAt,
    lastActivityAt: createdAt,
    lastOutputAt: createdAt,
    lastInput: "please run the tests and fix what fails",
    lastOutput: "All 214 tests passed.",
    agent: i % 2 === 0 ? "claude" : null,
    agentMode: i % 2 === 0 ? "med" : null,
    nativeSessionId: null,
    nativeLogFile: null,
    initiatorSessionId: null,
    initiatorComputer: null,
    closedAt: status === "closed" ? createdAt : null,
    closeReason: status === "closed" ? "user" : null
  }, true) // built right here: validating each of 10,000 cost the bench seconds and measured nothing
}

type Runtime = ManagedRuntime.ManagedRuntime<SessionStore | SqlClient.SqlClient, unknown>

const queryPlan = (runtime: Runtime, query: SessionQuery) =>
  runtime.runSync(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ detail: string }>`EXPLAIN QUERY PLAN ${SqliteSessionStore.sessionsStatement(sql, query)}`
    return rows.map((r) => r.detail).join("; ")
  }))

/**
 * `getSessions` on a 10k-row SQLite file, beside the same query on a copy of that file without
 * the status index, both measured in this run.
 */
export const benchStore = async (): Promise<ReadonlyArray<BenchRow>> => {
  const dir = mkdtempSync(join(tmpdir(), "telemux-bench-"))
  const indexedFile = join(dir, "indexed.db")
  const unindexedFile = join(dir, "unindexed.db")
  const indexed: Runtime = ManagedRuntime.make(SqliteSessionStore.layerFile(indexedFile))
  let unindexed: Runtime | undefined
  try {
    await indexed.runPromise(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* SessionStore
      yield* sql.withTransaction(
        Effect.forEach(Array.from({ length: ROWS }, (_, i) => sessionAt(i)), store.insert, { discard: true })
      )
      yield* sql`VACUUM INTO ${unindexedFile}`
    }))
    unindexed = ManagedRuntime.make(SqliteSessionStore.layerFile(unindexedFile))
    await unindexed.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP INDEX sessions_status`))

    const getSessions = (query: SessionQuery) => (runtime: Runtime) => () =>
      runtime.runSync(Effect.flatMap(SessionStore, (store) => store.getSessions(query)))
    // The statement alone, rows left undecoded: isolates what the index changes.
    const statementOnly = (query: SessionQuery) => (runtime: Runtime) => () =>
      runtime.runSync(Effect.flatMap(SqlClient.SqlClient, (sql) => SqliteSessionStore.sessionsStatement(sql, query)))
    const idle: SessionQuery = { status: "idle" }
    const idlePage: SessionQuery = { status: "idle", limit: 50 }
    const cases: ReadonlyArray<
      readonly [string, SessionQuery, (query: SessionQuery) => (runtime: Runtime) => () => ReadonlyArray<unknown>]
    > = [
      ["getSessions({ status: \"idle\" })", idle, getSessions],
      ["getSessions({ status: \"idle\", limit: 50 })", idlePage, getSessions],
      ["its SQL statement alone, no row decoding", idle, statementOnly]
    ]

    const rows: Array<BenchRow> = []
    for (const [name, query, operation] of cases) {
      const withIndex = operation(query)(indexed)
      const withoutIndex = operation(query)(unindexed)
      const expected = Math.min(ROWS / STATUSES.length, query.limit ?? Infinity)
      for (const [label, op] of [["indexed", withIndex], ["unindexed", withoutIndex]] as const) {
        const found = op().length
        if (found !== expected) throw new Error(`${label} ${name} found ${found} rows, expected ${expected}`)
      }
      // Without the status index SQLite scans every entry (of the table, or of the computer index
      // whose status column lets it filter before fetching rows): a full scan either way.
      const indexedPlan = queryPlan(indexed, query)
      const unindexedPlan = queryPlan(unindexed, query)
      if (!indexedPlan.includes("USING INDEX sessions_status") || !/^SCAN sessions\b/.test(unindexedPlan)) {
        throw new Error(`unexpected query plans: indexed "${indexedPlan}", unindexed "${unindexedPlan}"`)
      }

      const a = time(withIndex, { samples: RUNS, batch: 1 })
      const b = time(withoutIndex, { samples: RUNS, batch: 1 })
      const label = `${name}, ${expected} of ${ROWS.toLocaleString("en")} rows`
      rows.push(
        {
          name: `${label} (median)`,
          value: formatNs(a.medianNs),
          baseline: `${formatNs(b.medianNs)} without status index`,
          ratio: ratio(b.medianNs, a.medianNs)
        },
        {
          name: `${label} (p99)`,
          value: formatNs(a.p99Ns),
          baseline: `${formatNs(b.p99Ns)} without status index`,
          ratio: ratio(b.p99Ns, a.p99Ns)
        }
      )
    }
    return rows
  } finally {
    await indexed.dispose()
    await unindexed?.dispose()
    rmSync(dir, { recursive: true, force: true })
  }
}

export const main = async () => printRows("session store (SQLite file)", await benchStore())

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
