/**
 * What the hook command does (src/hook.ts is its entry point): find the pane's session, read
 * and normalise the payload, append one outbox row. Never throws; failures go to `hook.log`.
 * Plain Node + better-sqlite3: no `effect` on this path (see src/hook.ts).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { isAgent, normaliseHookPayload } from "./HookPayload.js"
import {
  INSERT_SQL,
  insertParams,
  OUTBOX_DDL,
  OUTBOX_HOOK_BUSY_TIMEOUT_MS,
  type OutboxInsert,
  TRIM_SQL,
  trimBelow
} from "./OutboxSchema.js"
import { openSqlite } from "./SqliteFile.js"
import {
  HOOK_LOG_MAX_BYTES,
  hookLogPath,
  makePrivateDatabase,
  makePrivateDir,
  outboxBellPath,
  outboxPath,
  PRIVATE_FILE_MODE,
  stateDirFrom
} from "./StateDir.js"

/** Most a payload may be; past it the rest is left unread (the normalised event is small anyway). */
const STDIN_MAX_BYTES = 4 * 1024 * 1024
/** How long to wait on a stdin that has no data yet and is non-blocking. */
const STDIN_WAIT_MS = 2000

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const PANE = /^%\d+$/
/** DEFAULT_TMUX_SOCKET of services/TelemuxConfig.ts (that module loads `effect`). */
export const DEFAULT_TMUX_SOCKET = "telemux"

type Env = Readonly<Record<string, string | undefined>>

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/** All of stdin up to STDIN_MAX_BYTES; nothing when it is a terminal or closed. */
const readStdin = (): string => {
  try {
    const stat = fs.fstatSync(0)
    if (stat.isCharacterDevice()) return ""
  } catch {
    return ""
  }
  const chunks: Array<Buffer> = []
  let total = 0
  const deadline = Date.now() + STDIN_WAIT_MS
  const chunk = Buffer.alloc(64 * 1024)
  while (total < STDIN_MAX_BYTES) {
    let n: number
    try {
      n = fs.readSync(0, chunk, 0, Math.min(chunk.length, STDIN_MAX_BYTES - total), null)
    } catch (error) {
      // a non-blocking stdin without data yet; anything else (EOF, closed) ends the payload
      if ((error as NodeJS.ErrnoException).code === "EAGAIN" && Date.now() < deadline) {
        sleepMs(5)
        continue
      }
      break
    }
    if (n === 0) break
    chunks.push(Buffer.from(chunk.subarray(0, n)))
    total += n
  }
  return Buffer.concat(chunks).toString("utf8")
}

/**
 * The session this pane belongs to, or undefined outside telemux. Without TELEMUX_SESSION_ID
 * only a pane of telemux's own tmux server counts (`TELEMUX_TMUX_SOCKET`, default `telemux`):
 * the hooks are installed for every run of the agent, and the user's own tmux is none of ours.
 */
const sessionOf = (env: Env): Pick<OutboxInsert, "sessionId" | "paneId" | "tmuxSocket"> | undefined => {
  const sessionId = env.TELEMUX_SESSION_ID?.trim()
  const pane = env.TMUX_PANE?.trim()
  const paneId = pane !== undefined && PANE.test(pane) ? pane : null
  const socket = env.TMUX?.split(",")[0]
  const tmuxSocket = socket === undefined || socket === "" ? null : socket
  if (sessionId !== undefined && UUID.test(sessionId)) return { sessionId: sessionId.toLowerCase(), paneId, tmuxSocket }
  const ours = env.TELEMUX_TMUX_SOCKET?.trim() || DEFAULT_TMUX_SOCKET
  if (paneId !== null && tmuxSocket !== null && path.basename(tmuxSocket) === ours) {
    return { sessionId: null, paneId, tmuxSocket }
  }
  return undefined
}

const log = (home: string, message: string) => {
  try {
    const file = hookLogPath(home)
    makePrivateDir(home)
    try {
      if (fs.statSync(file).size > HOOK_LOG_MAX_BYTES) fs.truncateSync(file, 0)
    } catch {
      // no log yet
    }
    fs.appendFileSync(file, `${new Date().toISOString()} ${message}\n`, { mode: PRIVATE_FILE_MODE })
  } catch {
    // nowhere left to report; the agent must still not fail
  }
}

const append = (home: string, row: OutboxInsert) => {
  // the outbox holds what the agents said: 0600 before SQLite (which would create it 0644) opens it
  makePrivateDir(home)
  makePrivateDatabase(outboxPath(home))
  const db = openSqlite(outboxPath(home), { timeout: OUTBOX_HOOK_BUSY_TIMEOUT_MS })
  try {
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    for (const statement of OUTBOX_DDL) db.exec(statement)
    const { lastInsertRowid } = db.prepare(INSERT_SQL).run(...insertParams(row))
    const below = trimBelow(Number(lastInsertRowid))
    if (below > 0) db.prepare(TRIM_SQL).run(below)
  } finally {
    db.close()
  }
  ringBell(home)
}

/** Tells a running daemon (it watches the bell) that a row is waiting; nobody listening is fine. */
const ringBell = (home: string) => {
  const bell = outboxBellPath(home)
  try {
    const now = new Date()
    fs.utimesSync(bell, now, now)
  } catch {
    try {
      fs.writeFileSync(bell, "", { flag: "a", mode: PRIVATE_FILE_MODE })
    } catch {
      // the row is written; the daemon's poll finds it
    }
  }
}

export const runHook = (argv: ReadonlyArray<string>, env: Env, readPayload: () => string = readStdin): void => {
  const home = stateDirFrom(env)
  try {
    const session = sessionOf(env)
    if (session === undefined) return
    const [agent, event = "", ...rest] = argv
    if (agent === undefined || !isAgent(agent)) {
      log(home, `hook invoked for unknown agent ${JSON.stringify(agent)}`)
      return
    }
    // Codex appends the JSON to the configured argv; Claude and Gemini write it to stdin.
    const payload = agent === "codex" ? (rest.at(-1) ?? "") : readPayload()
    const at = new Date()
    const normalised = normaliseHookPayload({ agent, event, payload, at })
    append(home, { ...session, agent, event, payload: JSON.stringify(normalised), createdAt: at.getTime() })
  } catch (error) {
    log(home, `hook ${argv.slice(0, 2).join(" ")} failed: ${error instanceof Error ? error.message : String(error)}`)
  }
}
