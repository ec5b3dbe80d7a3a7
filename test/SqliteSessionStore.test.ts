import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, Option, Schema } from "effect"
import { randomUUID } from "node:crypto"
import * as MemorySessionStore from "../layers/MemorySessionStore.js"
import * as SqliteSessionStore from "../layers/SqliteSessionStore.js"
import { type SessionPatch, SessionStore, SQLITE_BUSY_TIMEOUT_MS } from "../services/SessionStore.js"
import {
  Agent,
  AgentMode,
  CloseReason,
  ComputerName,
  newSession,
  PaneId,
  Session,
  SessionId,
  SessionStatus
} from "../src/domain/Session.js"

// ---------------------------------------------------------------------------
// Fixtures

const T0 = 1_700_000_000_123
const at = (ms: number) => DateTime.unsafeMake(ms)
const c1 = ComputerName.make("alpha")
const c2 = ComputerName.make("beta")

const makeSession = (fields: Partial<typeof Session.Type> = {}): Session => {
  const sessionId = fields.sessionId ?? SessionId.make(randomUUID())
  return new Session({
    ...newSession({ sessionId, computer: c1, title: "shell", workingDirectory: "/home/me/project", createdAt: at(T0) }),
    status: "running",
    ...fields
  })
}

const fullSession = () =>
  makeSession({
    computer: c2,
    paneId: PaneId.make("%42"),
    title: "claude on telemux — ünïcode",
    workingDirectory: "/srv/work/telemux",
    status: "waiting_input",
    createdAt: at(T0 + 1),
    lastActivityAt: at(T0 + 2_345),
    lastOutputAt: at(T0 + 6_789),
    lastInput: "fix the tests",
    lastOutput: "Which file? (y/n)",
    agent: "claude",
    agentMode: "deep",
    nativeSessionId: "native-123",
    nativeLogFile: "/home/me/.claude/log.jsonl",
    initiatorSessionId: SessionId.make(randomUUID()),
    initiatorComputer: c1,
    closedAt: at(T0 + 9_999),
    closeReason: "pane_dead"
  })

/** Plain data (ISO dates to the ms) so a mismatch shows as a readable diff. */
const plain = (session: Session) => Schema.encodeSync(Session)(session)
const plainAll = (sessions: ReadonlyArray<Session>) => sessions.map(plain)
const ids = (sessions: ReadonlyArray<Session>) => sessions.map((s) => s.sessionId)

const assertSome = (found: Option.Option<Session>, expected: Session) => {
  assert.isTrue(Option.isSome(found), "expected a session")
  if (Option.isSome(found)) assert.deepStrictEqual(plain(found.value), plain(expected))
}

// ---------------------------------------------------------------------------
// Behaviour shared by every SessionStore

const behavesAsSessionStore = (name: string, storeLayer: () => Layer.Layer<SessionStore, unknown>) =>
  describe(name, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, SessionStore>) => Effect.provide(effect, storeLayer())

    it.effect("round-trips a fully populated session and a mostly-null one", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore
        const full = fullSession()
        const sparse = makeSession()
        yield* store.insert(full)
        yield* store.insert(sparse)
        assertSome(yield* store.getSession(full.sessionId), full)
        assertSome(yield* store.getSession(sparse.sessionId), sparse)
        const got = yield* store.getSession(full.sessionId)
        assert.strictEqual(
          Option.map(got, (s) => DateTime.toEpochMillis(s.lastActivityAt!)).pipe(Option.getOrNull),
          T0 + 2_345
        )
        assert.isTrue(Option.isNone(yield* store.getSession(SessionId.make(randomUUID()))))
      })))

    it.effect("stores every status, agent, mode and close reason the domain defines", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore
        const sessions = [
          ...SessionStatus.literals.map((status) => makeSession({ status })),
          ...Agent.literals.map((agent) => makeSession({ agent })),
          ...AgentMode.literals.map((agentMode) => makeSession({ agentMode })),
          ...CloseReason.literals.map((closeReason) => makeSession({ status: "closed", closeReason, closedAt: at(T0) }))
        ]
        yield* Effect.forEach(sessions, store.insert, { discard: true })
        for (const session of sessions) {
          assertSome(yield* store.getSession(session.sessionId), session)
        }
      })))

    it.effect("refuses a second insert of the same id with a StoreError", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore
        const session = makeSession()
        yield* store.insert(session)
        const error = yield* Effect.flip(store.insert(makeSession({ sessionId: session.sessionId, title: "other" })))
        assert.strictEqual(error._tag, "StoreError")
        assert.strictEqual(error.operation, "insert")
        assertSome(yield* store.getSession(session.sessionId), session)
      })))

    describe("getSessions", () => {
      // Inserted out of creation order so the ordering is the query's doing.
      const a = makeSession({ computer: c1, status: "running", createdAt: at(T0 + 1_000) })
      const b = makeSession({ computer: c1, status: "idle", createdAt: at(T0 + 2_000) })
      const c = makeSession({ computer: c2, status: "idle", createdAt: at(T0 + 3_000) })
      const d = makeSession({
        computer: c2,
        status: "closed",
        createdAt: at(T0 + 4_000),
        closedAt: at(T0 + 4_500),
        closeReason: "user"
      })
      const e = makeSession({ computer: c1, status: "waiting_input", createdAt: at(T0 + 5_000) })
      const f = makeSession({ computer: c2, status: "creating", createdAt: at(T0 + 500) })
      const seeded = <A, E>(body: (store: SessionStore["Type"]) => Effect.Effect<A, E>) =>
        run(Effect.gen(function*() {
          const store = yield* SessionStore
          yield* Effect.forEach([c, a, e, d, f, b], store.insert, { discard: true })
          return yield* body(store)
        }))

      it.effect("leaves closed sessions out by default, newest first", () =>
        seeded((store) =>
          Effect.gen(function*() {
            const found = yield* store.getSessions({})
            assert.deepStrictEqual(ids(found), ids([e, c, b, a, f]))
            assert.deepStrictEqual(plainAll(found), plainAll([e, c, b, a, f]))
          })
        ))

      it.effect("filters by status, including closed and all", () =>
        seeded((store) =>
          Effect.gen(function*() {
            assert.deepStrictEqual(ids(yield* store.getSessions({ status: "idle" })), ids([c, b]))
            assert.deepStrictEqual(ids(yield* store.getSessions({ status: "creating" })), ids([f]))
            assert.deepStrictEqual(ids(yield* store.getSessions({ status: "closed" })), ids([d]))
            assert.deepStrictEqual(ids(yield* store.getSessions({ status: "all" })), ids([e, d, c, b, a, f]))
          })
        ))

      it.effect("filters by computer, alone and with a status", () =>
        seeded((store) =>
          Effect.gen(function*() {
            assert.deepStrictEqual(ids(yield* store.getSessions({ computer: c1 })), ids([e, b, a]))
            assert.deepStrictEqual(ids(yield* store.getSessions({ computer: c2 })), ids([c, f]))
            assert.deepStrictEqual(ids(yield* store.getSessions({ computer: c2, status: "all" })), ids([d, c, f]))
            assert.deepStrictEqual(ids(yield* store.getSessions({ computer: c1, status: "idle" })), ids([b]))
            assert.deepStrictEqual(ids(yield* store.getSessions({ computer: ComputerName.make("gamma") })), [])
          })
        ))

      it.effect("limits after filtering and ordering", () =>
        seeded((store) =>
          Effect.gen(function*() {
            assert.deepStrictEqual(ids(yield* store.getSessions({ limit: 2 })), ids([e, c]))
            assert.deepStrictEqual(ids(yield* store.getSessions({ status: "all", limit: 3 })), ids([e, d, c]))
            assert.deepStrictEqual(ids(yield* store.getSessions({ computer: c1, limit: 1 })), ids([e]))
            assert.deepStrictEqual(ids(yield* store.getSessions({ limit: 0 })), [])
            assert.deepStrictEqual(ids(yield* store.getSessions({ limit: 100 })), ids([e, c, b, a, f]))
          })
        ))

      it.effect("orders sessions created in the same millisecond by insertion, latest first", () =>
        run(Effect.gen(function*() {
          const store = yield* SessionStore
          const first = makeSession({ createdAt: at(T0) })
          const second = makeSession({ createdAt: at(T0) })
          yield* store.insert(first)
          yield* store.insert(second)
          assert.deepStrictEqual(ids(yield* store.getSessions({})), ids([second, first]))
        })))
    })

    describe("update", () => {
      it.effect("changes only the fields in the patch and returns the row", () =>
        run(Effect.gen(function*() {
          const store = yield* SessionStore
          const session = fullSession()
          yield* store.insert(session)
          const updated = yield* store.update(session.sessionId, {
            title: "renamed",
            lastOutputAt: at(T0 + 50_001),
            lastOutput: null
          })
          const expected = new Session({
            ...session,
            title: "renamed",
            lastOutputAt: at(T0 + 50_001),
            lastOutput: null
          })
          assertSome(updated, expected)
          assertSome(yield* store.getSession(session.sessionId), expected)
        })))

      it.effect("keeps both of two updates to different fields", () =>
        run(Effect.gen(function*() {
          const store = yield* SessionStore
          const session = makeSession()
          yield* store.insert(session)
          yield* store.update(session.sessionId, { lastInput: "ls -la" })
          yield* store.update(session.sessionId, { status: "idle", paneId: PaneId.make("%7") })
          assertSome(
            yield* store.getSession(session.sessionId),
            new Session({ ...session, lastInput: "ls -la", status: "idle", paneId: PaneId.make("%7") })
          )
        })))

      it.effect("ignores keys outside SessionPatch and undefined values", () =>
        run(Effect.gen(function*() {
          const store = yield* SessionStore
          const session = makeSession()
          yield* store.insert(session)
          // A whole Session passed (untyped) as a patch: its identity and close fields must not apply.
          const other = fullSession()
          const updated = yield* store.update(session.sessionId, other as unknown as SessionPatch)
          const expected = new Session({
            ...other,
            sessionId: session.sessionId,
            computer: session.computer,
            tmuxName: session.tmuxName,
            createdAt: session.createdAt,
            initiatorSessionId: session.initiatorSessionId,
            initiatorComputer: session.initiatorComputer,
            closedAt: null,
            closeReason: null
          })
          assertSome(updated, expected)
          const loose = { title: undefined } as unknown as SessionPatch
          assertSome(yield* store.update(session.sessionId, loose), expected)
          assert.isTrue(Option.isNone(yield* store.getSession(other.sessionId)))
        })))

      it.effect("returns the row unchanged for an empty patch, and none for an unknown id", () =>
        run(Effect.gen(function*() {
          const store = yield* SessionStore
          const session = fullSession()
          yield* store.insert(session)
          assertSome(yield* store.update(session.sessionId, {}), session)
          assert.isTrue(Option.isNone(yield* store.update(SessionId.make(randomUUID()), { title: "x" })))
          assert.isTrue(Option.isNone(yield* store.update(SessionId.make(randomUUID()), {})))
        })))

      it.effect("never reopens a closed session, but still records its other fields", () =>
        run(Effect.gen(function*() {
          const store = yield* SessionStore
          const session = makeSession()
          yield* store.insert(session)
          yield* store.markClosed(session.sessionId, { reason: "user", at: at(T0 + 10) })
          const updated = yield* store.update(session.sessionId, { status: "running", lastOutput: "bye" })
          assert.strictEqual(Option.map(updated, (s) => s.status).pipe(Option.getOrNull), "closed")
          assert.strictEqual(Option.map(updated, (s) => s.lastOutput).pipe(Option.getOrNull), "bye")
          assert.deepStrictEqual(ids(yield* store.getSessions({})), [])
        })))
    })

    /** Quotes, a backslash, JSON and SQL look-alikes, an escape, a surrogate pair: written as they are. */
    const HOSTILE = `b "out" \\ ', '); DROP TABLE sessions; -- {"x":[1]} \u001b[31m ✓ 𝄞`
    it.effect("recordOutput writes the last output of open sessions together; closed and unknown ones are left alone", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore
        const a = makeSession({ status: "running" })
        const b = makeSession({ status: "idle", lastOutput: "old", lastOutputAt: at(T0) })
        const closed = makeSession({ status: "idle", lastOutput: "kept", lastOutputAt: at(T0) })
        yield* Effect.forEach([a, b, closed], store.insert, { discard: true })
        yield* store.markClosed(closed.sessionId, { reason: "user", at: at(T0 + 1) })
        yield* store.recordOutput([
          { id: a.sessionId, lastOutput: "a out", lastOutputAt: at(T0 + 10) },
          { id: b.sessionId, lastOutput: HOSTILE, lastOutputAt: at(T0 + 20) },
          { id: closed.sessionId, lastOutput: "late", lastOutputAt: at(T0 + 30) },
          { id: SessionId.make(randomUUID()), lastOutput: "nobody", lastOutputAt: at(T0 + 40) }
        ])
        yield* store.recordOutput([])
        assertSome(
          yield* store.getSession(a.sessionId),
          new Session({ ...a, lastOutput: "a out", lastOutputAt: at(T0 + 10) })
        )
        assertSome(
          yield* store.getSession(b.sessionId),
          new Session({ ...b, lastOutput: HOSTILE, lastOutputAt: at(T0 + 20) })
        )
        const stillClosed = Option.getOrThrow(yield* store.getSession(closed.sessionId))
        assert.deepStrictEqual([stillClosed.status, stillClosed.lastOutput], ["closed", "kept"])
        assert.lengthOf(yield* store.getSessions({ status: "all" }), 3)
      })))

    describe("markClosed", () => {
      it.effect("closes once: a second close keeps the first reason and time", () =>
        run(Effect.gen(function*() {
          const store = yield* SessionStore
          const session = makeSession({ status: "idle" })
          yield* store.insert(session)
          const expected = new Session({ ...session, status: "closed", closedAt: at(T0 + 100), closeReason: "user" })
          assertSome(yield* store.markClosed(session.sessionId, { reason: "user", at: at(T0 + 100) }), expected)
          assertSome(yield* store.markClosed(session.sessionId, { reason: "tmux_gone", at: at(T0 + 200) }), expected)
          assertSome(yield* store.getSession(session.sessionId), expected)
          assert.deepStrictEqual(ids(yield* store.getSessions({ status: "closed" })), ids([session]))
          assert.deepStrictEqual(ids(yield* store.getSessions({})), [])
        })))

      it.effect("returns none for an unknown id", () =>
        run(Effect.gen(function*() {
          const store = yield* SessionStore
          assert.isTrue(
            Option.isNone(yield* store.markClosed(SessionId.make(randomUUID()), { reason: "error", at: at(T0) }))
          )
        })))
    })

    it.effect("pruneClosed deletes closed rows closed strictly before the date and counts them", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore
        const open = makeSession({ createdAt: at(T0) })
        const old = makeSession({ createdAt: at(T0) })
        const middle = makeSession({ createdAt: at(T0) })
        const recent = makeSession({ createdAt: at(T0) })
        yield* Effect.forEach([open, old, middle, recent], store.insert, { discard: true })
        yield* store.markClosed(old.sessionId, { reason: "inactive", at: at(T0 + 1_000) })
        yield* store.markClosed(middle.sessionId, { reason: "user", at: at(T0 + 2_000) })
        yield* store.markClosed(recent.sessionId, { reason: "user", at: at(T0 + 3_000) })

        assert.strictEqual(yield* store.pruneClosed(at(T0 + 2_000)), 1)
        assert.isTrue(Option.isNone(yield* store.getSession(old.sessionId)))
        assert.isTrue(Option.isSome(yield* store.getSession(middle.sessionId)))

        assert.strictEqual(yield* store.pruneClosed(at(T0 + 3_001)), 2)
        assert.strictEqual(yield* store.pruneClosed(at(T0 + 1_000_000)), 0)
        assert.deepStrictEqual(ids(yield* store.getSessions({ status: "all" })), ids([open]))
      })))
  })

// ---------------------------------------------------------------------------
// SQLite

const tempDirectory = Effect.flatMap(
  FileSystem.FileSystem,
  (fs) => fs.makeTempDirectoryScoped({ prefix: "telemux-store-" })
)

/** A database file in a fresh temp dir, under a directory the layer has to create. */
const dbFile = Effect.gen(function*() {
  const path = yield* Path.Path
  return path.join(yield* tempDirectory, "state", "telemux.db")
})

const sqliteStore = () =>
  Layer.unwrapScoped(Effect.map(dbFile, SqliteSessionStore.layerFile)).pipe(Layer.provide(NodeContext.layer))

behavesAsSessionStore("SqliteSessionStore (file)", sqliteStore)
behavesAsSessionStore("MemorySessionStore", () => MemorySessionStore.layer)

describe("SqliteSessionStore (SQLite specifics)", () => {
  const sqlite = <A, E>(effect: Effect.Effect<A, E, SessionStore | SqlClient.SqlClient>) =>
    Effect.provide(effect, sqliteStore())

  it.effect("creates the tables and indexes (the migration key was not skipped)", () =>
    sqlite(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const objects = yield* sql<{ type: string; name: string; tbl_name: string }>`
        SELECT type, name, tbl_name FROM sqlite_master
        WHERE name NOT LIKE 'sqlite_%' AND name <> 'effect_sql_migrations' ORDER BY type, name`
      assert.deepStrictEqual(objects.map((o) => `${o.type}:${o.name}`), [
        "index:idempotency_created",
        "index:listeners_listener",
        "index:sessions_computer",
        "index:sessions_status",
        "table:idempotency",
        "table:kv",
        "table:listeners",
        "table:sessions",
        "table:web_sessions"
      ])
      const applied = yield* sql<{ migration_id: number; name: string }>`
        SELECT migration_id, name FROM effect_sql_migrations`
      assert.deepStrictEqual(applied.map((m) => [m.migration_id, m.name]), [
        [1, "sessions"],
        [2, "listeners"],
        [3, "idempotency"],
        [4, "web_sessions"],
        [5, "session_worktree"]
      ])
      const statusIndex = yield* sql<{ name: string }>`SELECT name FROM pragma_index_info('sessions_status')`
      assert.deepStrictEqual(statusIndex.map((c) => c.name), ["status", "created_at"])
      const computerIndex = yield* sql<{ name: string }>`SELECT name FROM pragma_index_info('sessions_computer')`
      assert.deepStrictEqual(computerIndex.map((c) => c.name), ["computer", "status", "created_at"])
      const columns = yield* sql<{ name: string }>`SELECT name FROM pragma_table_info('sessions')`
      assert.deepStrictEqual(columns.map((c) => c.name), [
        "session_id",
        "computer",
        "tmux_name",
        "pane_id",
        "title",
        "working_directory",
        "status",
        "created_at",
        "last_activity_at",
        "last_output_at",
        "last_input",
        "last_output",
        "agent",
        "agent_mode",
        "native_session_id",
        "native_log_file",
        "initiator_session_id",
        "initiator_computer",
        "closed_at",
        "close_reason",
        "worktree"
      ])
    })))

  it.effect("runs with WAL, the busy timeout and foreign keys", () =>
    sqlite(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      assert.deepStrictEqual(yield* sql`PRAGMA journal_mode`, [{ journal_mode: "wal" }])
      assert.deepStrictEqual(yield* sql`PRAGMA busy_timeout`, [{ timeout: SQLITE_BUSY_TIMEOUT_MS }])
      assert.deepStrictEqual(yield* sql`PRAGMA foreign_keys`, [{ foreign_keys: 1 }])
      assert.deepStrictEqual(yield* sql`PRAGMA synchronous`, [{ synchronous: 1 }])
    })))

  it.effect("stores dates as epoch milliseconds and rejects values outside the CHECK lists", () =>
    sqlite(Effect.gen(function*() {
      const store = yield* SessionStore
      const sql = yield* SqlClient.SqlClient
      const session = fullSession()
      yield* store.insert(session)
      const [row] = yield* sql<{ created_at: unknown; closed_at: unknown; status: unknown }>`
        SELECT created_at, closed_at, status FROM sessions WHERE session_id = ${session.sessionId}`
      assert.deepStrictEqual(row, { created_at: T0 + 1, closed_at: T0 + 9_999, status: "waiting_input" })

      for (
        const [column, value] of [["status", "sleeping"], ["agent", "gpt"], ["agent_mode", "turbo"], [
          "close_reason",
          "bored"
        ]]
      ) {
        const error = yield* Effect.flip(
          sql`UPDATE sessions SET ${sql(column)} = ${value} WHERE session_id = ${session.sessionId}`
        )
        assert.include(String(error.cause), "CHECK constraint failed", column)
      }
    })))

  it.effect("answers status and computer queries from an index, not a table scan", () =>
    sqlite(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const plan = (query: Parameters<typeof SqliteSessionStore.sessionsStatement>[1]) =>
        Effect.map(
          sql<{ detail: string }>`EXPLAIN QUERY PLAN ${SqliteSessionStore.sessionsStatement(sql, query)}`,
          (rows) => rows.map((r) => r.detail)
        )
      const byStatus = yield* plan({ status: "idle" })
      assert.isTrue(byStatus.some((d) => d.includes("USING INDEX sessions_status")), byStatus.join("; "))
      // (status, created_at) yields rows already in order: no sort step.
      assert.isFalse(byStatus.some((d) => d.includes("TEMP B-TREE")), byStatus.join("; "))

      for (
        const query of [{ computer: "alpha" }, { computer: "alpha", status: "idle" as const }, {
          computer: "alpha",
          status: "all" as const
        }]
      ) {
        const details = yield* plan(query)
        assert.isTrue(details.some((d) => d.includes("USING INDEX sessions_computer")), details.join("; "))
      }
      for (const query of [{}, { status: "closed" as const, limit: 10 }]) {
        const details = yield* plan(query)
        assert.isTrue(details.some((d) => /USING (COVERING )?INDEX/.test(d)), details.join("; "))
        assert.isFalse(details.some((d) => /^SCAN sessions$/.test(d)), details.join("; "))
      }
    })))

  it.scoped("keeps its data when the database is closed and opened again", () =>
    Effect.gen(function*() {
      const file = yield* dbFile
      const session = fullSession()
      const other = makeSession({ status: "idle" })
      yield* Effect.provide(
        Effect.flatMap(SessionStore, (store) => Effect.zipRight(store.insert(session), store.insert(other))),
        SqliteSessionStore.layerFile(file)
      )
      yield* Effect.provide(
        Effect.flatMap(SessionStore, (store) => store.markClosed(other.sessionId, { reason: "user", at: at(T0 + 7) })),
        SqliteSessionStore.layerFile(file)
      )
      yield* Effect.provide(
        Effect.gen(function*() {
          const store = yield* SessionStore
          assertSome(yield* store.getSession(session.sessionId), session)
          assert.deepStrictEqual(ids(yield* store.getSessions({ status: "all" })), ids([session, other]))
          assert.deepStrictEqual(ids(yield* store.getSessions({ status: "closed" })), ids([other]))
          // Reopening must not run the migrations again.
          const sql = yield* SqlClient.SqlClient
          const applied = yield* sql<{ n: number }>`SELECT count(*) AS n FROM effect_sql_migrations`
          assert.deepStrictEqual(applied, [{ n: 5 }])
        }),
        SqliteSessionStore.layerFile(file)
      )
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("reports a database it cannot create or open as a StoreError", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const dir = yield* tempDirectory
      const blocker = path.join(dir, "not-a-directory")
      yield* fs.writeFileString(blocker, "")
      const open = (file: string) => Effect.flip(Effect.provide(SessionStore, SqliteSessionStore.layerFile(file)))

      const cannotCreate = yield* open(path.join(blocker, "telemux.db"))
      assert.strictEqual(cannotCreate._tag, "StoreError")
      assert.strictEqual(cannotCreate.operation, "open")

      // A directory where the file should be: better-sqlite3 throws SQLITE_CANTOPEN.
      const cannotOpen = yield* open(dir)
      assert.strictEqual(cannotOpen._tag, "StoreError")
      assert.strictEqual(cannotOpen.operation, "open")
      assert.include(String(cannotOpen.cause), "unable to open database file")
    }).pipe(Effect.provide(NodeContext.layer)))
})
