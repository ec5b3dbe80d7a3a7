/**
 * The hook outbox's tables, shared by the hook command (which creates them when missing and
 * appends) and the daemon's outbox layer (which reads, deletes and dead-letters). Plain SQL
 * strings, no `effect`: the hook imports this module and must start fast.
 *
 * Ordering: ids come from AUTOINCREMENT, so they only grow; rows of one session are delivered
 * in id order (see services/AgentHooks.ts).
 */

/** Pending rows kept at most; the hook drops the oldest past this (the daemon was away for long). */
export const OUTBOX_ROWS_MAX = 10_000

/**
 * How long a hook waits on another writer's lock. A lock is held for milliseconds, but 12 hooks at
 * once on a loaded machine (CI: test HookCommand.process) waited past 200 ms and two events were
 * lost (the hook logs and exits 0, as it must). 2 s is still far inside the agents' own 10 s hook
 * timeout (HookInstall).
 */
export const OUTBOX_HOOK_BUSY_TIMEOUT_MS = 2000

export const OUTBOX_DDL: ReadonlyArray<string> = [
  `CREATE TABLE IF NOT EXISTS hook_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_key TEXT NOT NULL,
    session_id TEXT,
    pane_id TEXT,
    tmux_socket TEXT,
    agent TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    CHECK (session_id IS NOT NULL OR pane_id IS NOT NULL)
  )`,
  // (session_key, id) answers "the oldest row of each session" from the index alone.
  `CREATE INDEX IF NOT EXISTS hook_outbox_session ON hook_outbox (session_key, id)`,
  `CREATE TABLE IF NOT EXISTS hook_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id INTEGER NOT NULL,
    session_key TEXT NOT NULL,
    session_id TEXT,
    pane_id TEXT,
    tmux_socket TEXT,
    agent TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    failed_at INTEGER NOT NULL,
    error TEXT NOT NULL
  )`
]

/** One row as the hook (or an in-process producer) appends it. */
export interface OutboxInsert {
  /** The telemux session, from the pane's `TELEMUX_SESSION_ID`. */
  readonly sessionId: string | null
  /** The tmux pane (`%N`), from `TMUX_PANE`, when the session id is not known. */
  readonly paneId: string | null
  /** The tmux server socket of that pane (first field of `TMUX`), to tell servers apart. */
  readonly tmuxSocket: string | null
  readonly agent: string
  /** The event the hook was installed for, from its argv (`Stop`, `AfterAgent`, `notify`…). */
  readonly event: string
  /** The normalised event, JSON (src/agents/HookEvent.ts). */
  readonly payload: string
  /** Epoch milliseconds. */
  readonly createdAt: number
}

/** Rows of one session share a key and are delivered in order; a pane's key includes its server. */
export const sessionKeyOf = (row: Pick<OutboxInsert, "sessionId" | "paneId" | "tmuxSocket">): string =>
  row.sessionId !== null ? `session:${row.sessionId}` : `pane:${row.tmuxSocket ?? ""}:${row.paneId ?? ""}`

export const INSERT_SQL =
  `INSERT INTO hook_outbox (session_key, session_id, pane_id, tmux_socket, agent, event, payload, created_at)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

export const insertParams = (row: OutboxInsert): ReadonlyArray<string | number | null> => [
  sessionKeyOf(row),
  row.sessionId,
  row.paneId,
  row.tmuxSocket,
  row.agent,
  row.event,
  row.payload,
  row.createdAt
]

/** Drops rows older than the newest OUTBOX_ROWS_MAX, given the id just inserted. */
export const TRIM_SQL = `DELETE FROM hook_outbox WHERE id <= ?`
export const trimBelow = (lastId: number): number => lastId - OUTBOX_ROWS_MAX
