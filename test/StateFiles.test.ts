import { NodeContext } from "@effect/platform-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, HashMap, Layer, Logger } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as HookOutboxLive from "../layers/HookOutbox.js"
import * as SqliteSessionStore from "../layers/SqliteSessionStore.js"
import * as TokenFile from "../layers/TokenFile.js"
import { HookOutbox } from "../services/AgentHooks.js"
import { SessionStore } from "../services/SessionStore.js"
import { BACKUP_SUFFIX, install, settingsFileOf } from "../src/agents/HookInstall.js"
import { openSqlite } from "../src/agents/SqliteFile.js"
import { hookLogPath, makePrivateFile, OUTBOX_BELL_FILE, outboxPath } from "../src/agents/StateDir.js"
import { buildHook, runHookProcess } from "./fixtures/agents/hookBuild.js"
import { makeSession } from "./support/fixtures.js"

const SESSION = "aaaaaaaa-0000-4000-8000-000000000001"

const roots: Array<string> = []
const tempRoot = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-modes-"))
  roots.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of roots) fs.rmSync(dir, { recursive: true, force: true })
})

const modeOf = (file: string) => fs.statSync(file).mode & 0o7777
const octal = (mode: number) => mode.toString(8).padStart(4, "0")

/** Every file the daemon writes in its state dir, with the dir itself. */
const stateFiles = (home: string) =>
  [
    "telemux.db",
    "telemux.db-wal",
    "telemux.db-shm",
    "outbox.db",
    "outbox.db-wal",
    "outbox.db-shm",
    OUTBOX_BELL_FILE,
    "token"
  ].map((name) => path.join(home, name))

const outboxRow = () => ({
  sessionId: SESSION,
  paneId: null,
  tmuxSocket: null,
  agent: "claude",
  event: "Stop",
  payload: JSON.stringify({ _tag: "TurnStopped", agent: "claude", at: "2025-06-01T12:00:00.000Z" }),
  createdAt: 0
})

interface Logged {
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** The daemon's state layers on `home`, a write to each database, then `check` while they are open (WAL files exist). */
const withDaemonFiles = (home: string, check: (warnings: ReadonlyArray<Logged>) => void) =>
  Effect.gen(function*() {
    const warnings: Array<Logged> = []
    const logger = Logger.make(({ annotations, logLevel, message }) => {
      if (logLevel._tag !== "Warning") return
      warnings.push({
        message: Array.isArray(message) ? message.join(" ") : String(message),
        annotations: Object.fromEntries(HashMap.toEntries(annotations))
      })
    })
    yield* Effect.gen(function*() {
      yield* (yield* SessionStore).insert(makeSession())
      yield* (yield* HookOutbox).enqueue(outboxRow())
      yield* TokenFile.make(path.join(home, "token"))
      check(warnings)
    }).pipe(
      Effect.provide(Layer.merge(
        SqliteSessionStore.layerFile(path.join(home, "telemux.db")),
        HookOutboxLive.layerFile(outboxPath(home))
      )),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Effect.provide(NodeContext.layer)
    )
  })

/** The mode a file gets here when it is created without one (0644 under the usual umask 022). */
const defaultFileMode = () => {
  const probe = path.join(tempRoot(), "probe")
  fs.writeFileSync(probe, "")
  return modeOf(probe) & 0o666
}

describe("state files are private (dir 0700, files 0600) without touching the umask", () => {
  it("SQLite gives -wal and -shm the database file's mode: a database created 0600 first keeps them private", () => {
    const dir = tempRoot()
    const ours = path.join(dir, "ours.db")
    const theirs = path.join(dir, "theirs.db")
    makePrivateFile(ours)
    const handles = [openSqlite(ours), openSqlite(theirs)]
    try {
      for (const db of handles) {
        db.pragma("journal_mode = WAL")
        db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)")
      }
      for (const suffix of ["", "-wal", "-shm"]) {
        assert.strictEqual(octal(modeOf(ours + suffix)), "0600", `ours.db${suffix}`)
        // the control: left to SQLite, the database and its side files get the default mode
        assert.strictEqual(octal(modeOf(theirs + suffix)), octal(defaultFileMode()), `theirs.db${suffix}`)
      }
    } finally {
      for (const db of handles) db.close()
    }
  })

  it.scoped("a new state dir is 0700 and telemux.db, outbox.db (each with -wal and -shm), outbox.bell and token are 0600", () => {
    const home = path.join(tempRoot(), "state", "telemux")
    const before = defaultFileMode()
    return withDaemonFiles(home, (warnings) => {
      assert.strictEqual(octal(modeOf(home)), "0700")
      for (const file of stateFiles(home)) assert.strictEqual(octal(modeOf(file)), "0600", file)
      assert.deepStrictEqual(warnings.filter((w) => w.message.includes("mode")), [])
      // the umask (which tmux and the users' shells inherit) is what it was
      assert.strictEqual(octal(defaultFileMode()), octal(before))
    })
  })

  it.scoped("an existing install (dir 0755, files 0644) is tightened at start, with a warning naming each path and its old mode", () => {
    const home = path.join(tempRoot(), "telemux")
    fs.mkdirSync(home, { mode: 0o755 })
    fs.chmodSync(home, 0o755)
    // an old install: databases and side files created by SQLite with the default mode, kept open so -wal/-shm exist
    const old = ["telemux.db", "outbox.db"].map((name) => {
      const db = openSqlite(path.join(home, name))
      db.pragma("journal_mode = WAL")
      db.exec("CREATE TABLE IF NOT EXISTS old (x); INSERT INTO old VALUES (1)")
      return db
    })
    fs.writeFileSync(path.join(home, OUTBOX_BELL_FILE), "")
    fs.writeFileSync(hookLogPath(home), "an old failure\n")
    fs.writeFileSync(path.join(home, "token"), "b".repeat(64) + "\n")
    const tightened = [...stateFiles(home), hookLogPath(home)]
    for (const file of tightened) fs.chmodSync(file, 0o644)
    return withDaemonFiles(home, (warnings) => {
      assert.strictEqual(octal(modeOf(home)), "0700")
      for (const file of tightened) assert.strictEqual(octal(modeOf(file)), "0600", file)
      const named = (target: string, previous: string) =>
        warnings.some((w) =>
          w.annotations.path === target && w.annotations.previousMode === previous && w.message.includes(target)
        )
      assert.isTrue(named(home, "0755"), JSON.stringify(warnings, null, 1))
      for (const file of tightened.filter((f) => !f.endsWith("token"))) {
        assert.isTrue(named(file, "0644"), `${file}: ${JSON.stringify(warnings, null, 1)}`)
      }
    }).pipe(Effect.ensuring(Effect.sync(() => old.forEach((db) => db.close()))))
  })

  it.scoped("a shared (sticky) dir holding the database is left as it is, with a warning; the database is still 0600", () => {
    const shared = tempRoot()
    fs.chmodSync(shared, 0o1777)
    return withDaemonFiles(shared, (warnings) => {
      assert.strictEqual(octal(modeOf(shared)), "1777")
      assert.strictEqual(octal(modeOf(path.join(shared, "telemux.db"))), "0600")
      assert.isTrue(warnings.some((w) => w.annotations.path === shared && w.message.includes("shared")))
    })
  })
})

describe("the hook command (node dist/hook.js) creates its files private", () => {
  beforeAll(() => void buildHook())

  it("a first event creates the state dir 0700 and outbox.db and outbox.bell 0600; a failure's hook.log is 0600", () => {
    const home = path.join(tempRoot(), "fresh", "telemux")
    const stop = JSON.stringify({ session_id: "n-1", hook_event_name: "Stop", last_assistant_message: "ok" })
    const result = runHookProcess(["claude", "Stop"], { TELEMUX_HOME: home, TELEMUX_SESSION_ID: SESSION }, stop)
    assert.strictEqual(result.status, 0, result.stderr)
    assert.strictEqual(octal(modeOf(home)), "0700")
    for (const name of ["outbox.db", OUTBOX_BELL_FILE]) {
      assert.strictEqual(octal(modeOf(path.join(home, name))), "0600", name)
    }
    const failed = runHookProcess(["no-such-agent", "Stop"], { TELEMUX_HOME: home, TELEMUX_SESSION_ID: SESSION })
    assert.strictEqual(failed.status, 0)
    assert.strictEqual(octal(modeOf(hookLogPath(home))), "0600")
  })

  it("an outbox that SQLite once created 0644 is tightened by the next event", () => {
    const home = tempRoot()
    const db = openSqlite(outboxPath(home))
    db.exec("CREATE TABLE placeholder (x)")
    db.close()
    fs.chmodSync(outboxPath(home), 0o644)
    const stop = JSON.stringify({ session_id: "n-1", hook_event_name: "Stop", last_assistant_message: "ok" })
    const result = runHookProcess(["claude", "Stop"], { TELEMUX_HOME: home, TELEMUX_SESSION_ID: SESSION }, stop)
    assert.strictEqual(result.status, 0, result.stderr)
    assert.strictEqual(octal(modeOf(outboxPath(home))), "0600")
  })
})

describe("installing the agents' hooks", () => {
  it.effect("creates missing settings files 0600, backs up an existing one 0600 and keeps that one's own mode", () =>
    Effect.gen(function*() {
      const home = tempRoot()
      const claude = settingsFileOf(home, "claude")
      fs.mkdirSync(path.dirname(claude), { recursive: true })
      fs.writeFileSync(claude, `{"env":{"API_KEY":"secret"}}`)
      fs.chmodSync(claude, 0o644)
      const reports = yield* install({ home, hookCommand: ["/usr/bin/node", "/opt/telemux/dist/hook.js"] })
      assert.deepStrictEqual(reports.map((r) => r.outcome), ["changed", "changed", "changed"])
      assert.strictEqual(octal(modeOf(claude)), "0644", "the user's own file keeps its mode")
      assert.strictEqual(octal(modeOf(claude + BACKUP_SUFFIX)), "0600")
      for (const agent of ["codex", "gemini"] as const) {
        assert.strictEqual(octal(modeOf(settingsFileOf(home, agent))), "0600", agent)
      }
    }).pipe(Effect.provide(NodeContext.layer)))
})
