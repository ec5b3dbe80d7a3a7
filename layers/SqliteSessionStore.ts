import { NodeContext } from "@effect/platform-node"
import { SqlClient, SqlSchema, type Statement } from "@effect/sql"
import { SqliteClient, SqliteMigrator } from "@effect/sql-sqlite-node"
import { Cause, DateTime, Effect, Layer, Schema, Struct } from "effect"
import * as path from "node:path"
import {
  type ClosedMark,
  type SessionPatch,
  type SessionQuery,
  SessionStore,
  SQLITE_BUSY_TIMEOUT_MS,
  StoreError
} from "../services/SessionStore.js"
import { describeModeChange, makePrivateDatabase, makePrivateDir } from "../src/agents/StateDir.js"
import {
  Agent,
  AgentMode,
  CloseReason,
  ComputerName,
  OPEN_STATUSES,
  PaneId,
  Session,
  SessionId,
  SessionStatus,
  TmuxName
} from "../src/domain/Session.js"
import { SessionWorktree } from "../src/domain/Worktree.js"

// ---------------------------------------------------------------------------
// Schema

// The CHECK lists are spelled out rather than derived from the domain literals: a migration
// must stay the same text forever, whatever the domain later becomes.
const migration0001 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY NOT NULL,
    computer TEXT NOT NULL,
    tmux_name TEXT NOT NULL,
    pane_id TEXT,
    title TEXT NOT NULL,
    working_directory TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('creating', 'running', 'idle', 'waiting_input', 'closed')),
    created_at INTEGER NOT NULL,
    last_activity_at INTEGER,
    last_output_at INTEGER,
    last_input TEXT,
    last_output TEXT,
    agent TEXT CHECK (agent IN ('claude', 'codex', 'gemini')),
    agent_mode TEXT CHECK (agent_mode IN ('fast', 'med', 'slow', 'deep')),
    native_session_id TEXT,
    native_log_file TEXT,
    initiator_session_id TEXT,
    initiator_computer TEXT,
    closed_at INTEGER,
    close_reason TEXT CHECK (close_reason IN ('user', 'tmux_gone', 'pane_dead', 'inactive', 'error'))
  )`
  // Leading columns double as the single-column indexes on status and on computer; the
  // trailing created_at lets `ORDER BY created_at DESC` read the index in order.
  yield* sql`CREATE INDEX sessions_status ON sessions (status, created_at)`
  yield* sql`CREATE INDEX sessions_computer ON sessions (computer, status, created_at)`
  yield* sql`CREATE TABLE kv (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)`
})

const migration0002 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE listeners (
    target_session_id TEXT NOT NULL,
    listener_session_id TEXT NOT NULL,
    listener_computer TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (target_session_id, listener_session_id)
  )`
  yield* sql`CREATE INDEX listeners_listener ON listeners (listener_session_id)`
})

/** Idempotency-Keys of create/input/keys requests (services/Idempotency.ts); `outcome` is NULL while the request runs. */
const migration0003 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE idempotency (
    key TEXT PRIMARY KEY NOT NULL,
    fingerprint TEXT NOT NULL,
    outcome TEXT,
    created_at INTEGER NOT NULL
  )`
  yield* sql`CREATE INDEX idempotency_created ON idempotency (created_at)`
})

/**
 * The web dashboard's cookie sessions (layers/WebAuthLive.ts): the SHA-256 of the cookie value,
 * never the value; `token_tag` says under which API token it was opened (a rotation ends it).
 */
const migration0004 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    token_tag TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  )`
})

/** The git worktree a session runs in (src/domain/Worktree.ts), as JSON; NULL for a session without one. */
const migration0005 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE sessions ADD COLUMN worktree TEXT`
})

export const migrations = {
  "0001_sessions": migration0001,
  "0002_listeners": migration0002,
  "0003_idempotency": migration0003,
  "0004_web_sessions": migration0004,
  "0005_session_worktree": migration0005
} as const

// ---------------------------------------------------------------------------
// Row <-> domain

/** A `sessions` row as SQLite returns it: snake_case columns, dates as epoch milliseconds. */
export const SessionRow = Schema.Struct({
  session_id: SessionId,
  computer: ComputerName,
  tmux_name: TmuxName,
  pane_id: Schema.NullOr(PaneId),
  title: Schema.String,
  working_directory: Schema.String,
  status: SessionStatus,
  created_at: Schema.DateTimeUtcFromNumber,
  last_activity_at: Schema.NullOr(Schema.DateTimeUtcFromNumber),
  last_output_at: Schema.NullOr(Schema.DateTimeUtcFromNumber),
  last_input: Schema.NullOr(Schema.String),
  last_output: Schema.NullOr(Schema.String),
  agent: Schema.NullOr(Agent),
  agent_mode: Schema.NullOr(AgentMode),
  native_session_id: Schema.NullOr(Schema.String),
  native_log_file: Schema.NullOr(Schema.String),
  initiator_session_id: Schema.NullOr(SessionId),
  initiator_computer: Schema.NullOr(ComputerName),
  closed_at: Schema.NullOr(Schema.DateTimeUtcFromNumber),
  close_reason: Schema.NullOr(CloseReason),
  worktree: Schema.NullOr(Schema.parseJson(SessionWorktree))
})
export type SessionRow = typeof SessionRow.Encoded

/**
 * Row <-> `Session`. The renaming is spelled out rather than done with `Schema.fromKey`, which
 * made decoding a row about twice as slow (measured: 2000 rows, 31 ms vs 16 ms).
 */
export const SessionFromRow = Schema.transform(SessionRow, Schema.typeSchema(Session), {
  strict: true,
  decode: (row) =>
    // SessionRow has just validated every field; validating again would double the cost.
    new Session({
      sessionId: row.session_id,
      computer: row.computer,
      tmuxName: row.tmux_name,
      paneId: row.pane_id,
      title: row.title,
      workingDirectory: row.working_directory,
      status: row.status,
      createdAt: row.created_at,
      lastActivityAt: row.last_activity_at,
      lastOutputAt: row.last_output_at,
      lastInput: row.last_input,
      lastOutput: row.last_output,
      agent: row.agent,
      agentMode: row.agent_mode,
      nativeSessionId: row.native_session_id,
      nativeLogFile: row.native_log_file,
      initiatorSessionId: row.initiator_session_id,
      initiatorComputer: row.initiator_computer,
      closedAt: row.closed_at,
      closeReason: row.close_reason,
      ...(row.worktree === null ? {} : { worktree: row.worktree })
    }, true),
  encode: (session) => ({
    session_id: session.sessionId,
    computer: session.computer,
    tmux_name: session.tmuxName,
    pane_id: session.paneId,
    title: session.title,
    working_directory: session.workingDirectory,
    status: session.status,
    created_at: session.createdAt,
    last_activity_at: session.lastActivityAt,
    last_output_at: session.lastOutputAt,
    last_input: session.lastInput,
    last_output: session.lastOutput,
    agent: session.agent,
    agent_mode: session.agentMode,
    native_session_id: session.nativeSessionId,
    native_log_file: session.nativeLogFile,
    initiator_session_id: session.initiatorSessionId,
    initiator_computer: session.initiatorComputer,
    closed_at: session.closedAt,
    close_reason: session.closeReason,
    worktree: session.worktree ?? null
  })
})

const patchColumns = {
  paneId: "pane_id",
  title: "title",
  workingDirectory: "working_directory",
  status: "status",
  lastActivityAt: "last_activity_at",
  lastOutputAt: "last_output_at",
  lastInput: "last_input",
  lastOutput: "last_output",
  agent: "agent",
  agentMode: "agent_mode",
  nativeSessionId: "native_session_id",
  nativeLogFile: "native_log_file"
} as const satisfies { readonly [K in keyof Required<SessionPatch>]: keyof SessionRow }

const PatchRow = Schema.partialWith(
  Schema.Struct(Struct.pick(SessionRow.fields, ...Object.values(patchColumns))),
  { exact: true }
)

/**
 * The patch as (typed) column values. Keys outside `SessionPatch` are dropped — a whole
 * `Session` is assignable to `SessionPatch`, and must not rewrite `sessionId` or `createdAt` —
 * and so are `undefined` values, which mean "leave as is".
 */
const patchRow = (patch: SessionPatch): typeof PatchRow.Type => {
  const row: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(patch)) {
    if (value !== undefined && Object.hasOwn(patchColumns, key)) {
      row[patchColumns[key as keyof typeof patchColumns]] = value
    }
  }
  return row as typeof PatchRow.Type
}

const SessionQuerySchema = Schema.Struct({
  status: Schema.optionalWith(Schema.Union(SessionStatus, Schema.Literal("all")), { exact: true }),
  computer: Schema.optionalWith(ComputerName, { exact: true }),
  limit: Schema.optionalWith(Schema.Number, { exact: true })
})

/** A limit SQLite and the memory double read the same way: absent or non-finite means none. */
const normaliseLimit = (limit: number | undefined): number | undefined =>
  limit === undefined || !Number.isFinite(limit) ? undefined : Math.max(0, Math.trunc(limit))

/** The one session query, as a statement (exported so tests can EXPLAIN it). */
export const sessionsStatement = (
  sql: SqlClient.SqlClient,
  query: typeof SessionQuerySchema.Encoded
): Statement.Statement<SessionRow> => {
  const conditions: Array<Statement.Fragment> = []
  if (query.status === undefined) {
    // IN, not `<> 'closed'`: an inequality cannot use the status index.
    conditions.push(sql.in("status", OPEN_STATUSES))
  } else if (query.status !== "all") {
    conditions.push(sql`status = ${query.status}`)
  }
  if (query.computer !== undefined) {
    conditions.push(sql`computer = ${query.computer}`)
  }
  const limit = normaliseLimit(query.limit)
  return sql<SessionRow>`SELECT * FROM sessions WHERE ${sql.and(conditions)}
    ORDER BY created_at DESC, rowid DESC${limit === undefined ? sql`` : sql` LIMIT ${limit}`}`
}

// ---------------------------------------------------------------------------
// Store

export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const fail = (operation: string) => (cause: unknown) => new StoreError({ operation, cause })

  const findSessions = SqlSchema.findAll({
    Request: SessionQuerySchema,
    Result: SessionFromRow,
    execute: (query) => sessionsStatement(sql, query)
  })

  const findById = SqlSchema.findOne({
    Request: SessionId,
    Result: SessionFromRow,
    execute: (id) => sql`SELECT * FROM sessions WHERE session_id = ${id}`
  })

  const insertRow = SqlSchema.void({
    Request: SessionFromRow,
    execute: (row) => sql`INSERT INTO sessions ${sql.insert(row)}`
  })

  const updateRow = SqlSchema.findOne({
    Request: Schema.Struct({ id: SessionId, set: PatchRow }),
    Result: SessionFromRow,
    execute: ({ id, set }) => {
      const assignments = Object.entries(set).map(([name, value]) =>
        // Closed is terminal: a late status write (say from a poller racing a close) must not
        // reopen the row.
        name === "status"
          ? sql`status = CASE WHEN status = 'closed' THEN status ELSE ${value} END`
          : sql`${sql(name)} = ${value}`
      )
      return sql`UPDATE sessions SET ${sql.csv(assignments)} WHERE session_id = ${id} RETURNING *`
    }
  })

  const closeRow = SqlSchema.findOne({
    Request: Schema.Struct({ id: SessionId, reason: CloseReason, at: Schema.DateTimeUtcFromNumber }),
    Result: SessionFromRow,
    // COALESCE keeps the first close's time and reason on a row that is already closed.
    execute: ({ at, id, reason }) =>
      sql`UPDATE sessions SET status = 'closed',
        closed_at = COALESCE(closed_at, ${at}),
        close_reason = COALESCE(close_reason, ${reason})
      WHERE session_id = ${id} RETURNING *`
  })

  const deleteClosed = SqlSchema.findAll({
    Request: Schema.DateTimeUtcFromNumber,
    Result: Schema.Struct({ session_id: Schema.String }),
    execute: (before) =>
      sql`DELETE FROM sessions WHERE status = 'closed' AND closed_at < ${before} RETURNING session_id`
  })

  return SessionStore.of({
    getSessions: Effect.fn("SessionStore.getSessions")(
      (query: SessionQuery) => findSessions(query),
      Effect.mapError(fail("getSessions"))
    ),
    getSession: Effect.fn("SessionStore.getSession")(
      (id: SessionId) => findById(id),
      Effect.mapError(fail("getSession"))
    ),
    insert: Effect.fn("SessionStore.insert")(
      (session: Session) => insertRow(session),
      Effect.mapError(fail("insert"))
    ),
    update: Effect.fn("SessionStore.update")(
      function*(id: SessionId, patch: SessionPatch) {
        const set = patchRow(patch)
        return Object.keys(set).length === 0 ? yield* findById(id) : yield* updateRow({ id, set })
      },
      Effect.mapError(fail("update"))
    ),
    // One statement for all the marks (they come by the hundred with busy sessions): each statement
    // run is a round through the SQL client, ~0.2 ms of the event loop, and the rows are written in
    // one go by SQLite. The text is constant, so it is prepared once.
    recordOutput: (marks) =>
      marks.length === 0 ? Effect.void : sql.unsafe(RECORD_OUTPUT_SQL, [
        JSON.stringify(marks.map((mark) => [mark.id, mark.lastOutput, DateTime.toEpochMillis(mark.lastOutputAt)]))
      ]).pipe(Effect.asVoid, Effect.mapError(fail("recordOutput"))),
    markClosed: Effect.fn("SessionStore.markClosed")(
      (id: SessionId, mark: ClosedMark) => closeRow({ id, reason: mark.reason, at: mark.at }),
      Effect.mapError(fail("markClosed"))
    ),
    pruneClosed: Effect.fn("SessionStore.pruneClosed")(
      (before: DateTime.Utc) => Effect.map(deleteClosed(before), (deleted) => deleted.length),
      Effect.mapError(fail("pruneClosed"))
    )
  })
})

/** Each mark is a JSON array [session id, last output, last output at (epoch ms)]; closed rows are left as they are. */
const RECORD_OUTPUT_SQL = `UPDATE sessions
  SET last_output = mark.value ->> 1, last_output_at = mark.value ->> 2
  FROM json_each(?) AS mark
  WHERE sessions.session_id = mark.value ->> 0 AND sessions.status != 'closed'`

/** The live store over whatever `SqlClient` is provided (see `sqliteLayer`). */
export const layer: Layer.Layer<SessionStore, never, SqlClient.SqlClient> = Layer.effect(SessionStore, make)

// ---------------------------------------------------------------------------
// Database

/**
 * The state dir 0700 and the database 0600 before SQLite opens it (SQLite gives -wal and -shm the
 * database's mode; it would create the database itself 0644): they hold what was typed into
 * sessions, and the dir holds the API token. An existing install is tightened, with a warning.
 */
const stateDirectory = (filename: string) =>
  Layer.effectDiscard(Effect.gen(function*() {
    if (filename === ":memory:" || filename === "") return
    const changes = yield* Effect.try({
      try: () => [makePrivateDir(path.dirname(filename)), ...makePrivateDatabase(filename)],
      catch: (cause) => cause
    })
    for (const change of changes) {
      if (change === undefined) continue
      const { annotations, message } = describeModeChange(change)
      yield* Effect.logWarning(message).pipe(Effect.annotateLogs(annotations))
    }
  }))

// WAL is switched on by SqliteClient itself (unless `disableWAL`); these two are per connection
// and SqliteClient keeps exactly one, so setting them once holds for its lifetime.
const pragmas = Layer.effectDiscard(Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`)
  yield* sql`PRAGMA foreign_keys = ON`
  // WAL + NORMAL: commits no longer fsync (only checkpoints do); a crash of the daemon loses
  // nothing, a power cut at most the last commits — and every write stops blocking the loop on disk.
  yield* sql`PRAGMA synchronous = NORMAL`
}))

const migrator = SqliteMigrator.layer({ loader: SqliteMigrator.fromRecord(migrations) })

/**
 * A migrated SQLite database in `filename` (its directory is created when missing), with WAL,
 * `busy_timeout` and foreign keys on.
 */
export const sqliteLayer = (
  filename: string
): Layer.Layer<SqlClient.SqlClient | SqliteClient.SqliteClient, StoreError> =>
  migrator.pipe(
    // Pragmas first: foreign_keys cannot change inside the migrator's transaction.
    Layer.provide(pragmas),
    Layer.provideMerge(SqliteClient.layer({ filename })),
    Layer.provide(stateDirectory(filename)),
    Layer.provide(NodeContext.layer),
    // better-sqlite3 throws when it cannot open the file, which SqliteClient lets through as a
    // defect; an unopenable database is an expected failure of the daemon's setup, so type it.
    Layer.catchAllCause((cause) =>
      Layer.failCause(
        Cause.isInterruptedOnly(cause)
          ? Cause.map(cause, (error) => new StoreError({ operation: "open", cause: error }))
          : Cause.fail(new StoreError({ operation: "open", cause: Cause.squash(cause) }))
      )
    )
  )

/**
 * The store over its own database file. `SqlClient` stays in the output so later features
 * (the `kv` table) share this one connection instead of opening another.
 */
export const layerFile = (
  filename: string
): Layer.Layer<SessionStore | SqlClient.SqlClient | SqliteClient.SqliteClient, StoreError> =>
  Layer.provideMerge(layer, sqliteLayer(filename))
