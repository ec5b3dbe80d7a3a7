import { FileSystem, Path } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import {
  DaemonAlreadyRunning,
  DaemonLockFailed,
  DaemonOwner,
  STATE_LOCK_FILE,
  STATE_OWNER_FILE
} from "../services/DaemonLock.js"
import type { TelemuxSettings } from "../services/TelemuxConfig.js"
import { openSqlite, type SqliteDatabase } from "../src/agents/SqliteFile.js"
import { describeModeChange, makePrivateDatabase, makePrivateDir, type ModeChange } from "../src/agents/StateDir.js"
import { VERSION } from "../src/Version.js"

const errnoCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const decodeOwner = Schema.decodeUnknownOption(Schema.parseJson(DaemonOwner))
const encodeOwner = Schema.encodeSync(Schema.parseJson(DaemonOwner))

/** The lock files of one daemon: its state dir's, and its tmux socket's in the shared lock dir. */
export const lockPaths = (settings: Pick<TelemuxSettings, "home" | "lockDir" | "tmuxSocket">) => ({
  state: { lock: `${settings.home}/${STATE_LOCK_FILE}`, owner: `${settings.home}/${STATE_OWNER_FILE}` },
  socket: {
    lock: `${settings.lockDir}/socket-${settings.tmuxSocket}.lock`,
    owner: `${settings.lockDir}/socket-${settings.tmuxSocket}.json`
  }
})

/**
 * An exclusive SQLite lock on `file` held by this process until the scope closes: in EXCLUSIVE
 * locking mode the first write takes the file lock and never gives it back, and the kernel drops
 * it when the process dies however it dies. A second process gets SQLITE_BUSY at once.
 */
const holdExclusive = (file: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => openSqlite(file, { timeout: 0 }),
      catch: (cause) => new DaemonLockFailed({ path: file, reason: describe(cause) })
    }).pipe(
      Effect.flatMap((db) =>
        Effect.try({
          try: (): SqliteDatabase | "busy" => {
            db.pragma("locking_mode = EXCLUSIVE")
            db.exec("CREATE TABLE IF NOT EXISTS held (pid INTEGER NOT NULL); DELETE FROM held")
            db.prepare("INSERT INTO held (pid) VALUES (?)").run(process.pid)
            return db
          },
          catch: (cause) => cause
        }).pipe(
          Effect.catchAll((cause) =>
            Effect.zipRight(
              Effect.sync(() => db.close()),
              errnoCode(cause) === "SQLITE_BUSY" || errnoCode(cause) === "SQLITE_LOCKED"
                ? Effect.succeed("busy" as const)
                : Effect.fail(new DaemonLockFailed({ path: file, reason: describe(cause) }))
            )
          )
        )
      )
    ),
    (db) => Effect.sync(() => (db === "busy" ? undefined : db.close()))
  )

const logModeChange = (change: ModeChange | undefined) => {
  if (change === undefined) return Effect.void
  const { annotations, message } = describeModeChange(change)
  return Effect.logWarning(message).pipe(Effect.annotateLogs(annotations))
}

/**
 * The state dir: created 0700 or tightened (see src/agents/StateDir.ts). The lock dir is stricter:
 * it lives in a shared temp dir, so one that is shared or belongs to another user is refused —
 * another user could otherwise hold (or plant) our lock.
 */
const privateDir = (dir: string, strict: boolean) =>
  Effect.try({
    try: () => makePrivateDir(dir),
    catch: (cause) => new DaemonLockFailed({ path: dir, reason: describe(cause) })
  }).pipe(
    Effect.flatMap((change) =>
      strict && change?._tag === "LeftShared"
        ? Effect.fail(new DaemonLockFailed({ path: dir, reason: `${change.reason}; remove it or set TMUX_TMPDIR` }))
        : logModeChange(change)
    )
  )

/** The lock file exists and is 0600 before SQLite opens it (SQLite would create it 0644). */
const privateFile = (file: string) =>
  Effect.try({
    try: () => makePrivateDatabase(file),
    catch: (cause) => new DaemonLockFailed({ path: file, reason: describe(cause) })
  }).pipe(Effect.flatMap((changes) => Effect.forEach(changes, logModeChange, { discard: true })))

const readOwner = (file: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(file)).pipe(
    Effect.map((text) => Option.getOrUndefined(decodeOwner(text))),
    Effect.orElseSucceed(() => undefined)
  )

/** Written to a temporary file and renamed over the old one, so a reader never sees half of it. */
const writeOwner = (file: string, owner: DaemonOwner) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const temp = `${file}.${process.pid}.tmp`
    yield* fs.writeFileString(temp, encodeOwner(owner) + "\n", { mode: 0o600 })
    yield* fs.rename(temp, file)
  })

const takeLock = (
  paths: { readonly lock: string; readonly owner: string },
  resource: DaemonAlreadyRunning["resource"],
  name: string
) =>
  Effect.gen(function*() {
    yield* privateFile(paths.lock)
    const held = yield* holdExclusive(paths.lock)
    if (held === "busy") {
      return yield* new DaemonAlreadyRunning({ resource, name, owner: yield* readOwner(paths.owner) })
    }
  })

/**
 * Takes both locks (state dir first, then the tmux socket) for the scope's lifetime, before any
 * other side effect of the daemon; fails at once, naming the running daemon, when either is held.
 * The returned `publish` records this daemon (with the port it actually bound) beside each lock;
 * the records are removed when the scope closes.
 */
export const acquire = (settings: Pick<TelemuxSettings, "home" | "lockDir" | "tmuxSocket" | "host">) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const paths = lockPaths({ ...settings, home: path.resolve(settings.home), lockDir: path.resolve(settings.lockDir) })
    yield* privateDir(path.dirname(paths.state.lock), false)
    yield* takeLock(paths.state, "state dir", settings.home)
    yield* privateDir(path.dirname(paths.socket.lock), true)
    yield* takeLock(paths.socket, "tmux socket", settings.tmuxSocket)
    const startedAt = new Date().toISOString()
    const publish = (port: number) =>
      Effect.gen(function*() {
        const owner = new DaemonOwner({
          pid: process.pid,
          home: settings.home,
          socket: settings.tmuxSocket,
          host: settings.host,
          port,
          version: VERSION,
          startedAt
        })
        yield* Effect.forEach([paths.state.owner, paths.socket.owner], (file) => writeOwner(file, owner), {
          discard: true
        })
      }).pipe(Effect.catchAll((error) => Effect.logWarning("could not record this daemon beside its lock", error)))
    yield* Effect.addFinalizer(() =>
      Effect.forEach([paths.state.owner, paths.socket.owner], (file) => Effect.ignore(fs.remove(file)), {
        discard: true
      })
    )
    return { publish } as const
  })

/** Who holds the state dir's lock right now, if anyone (for `doctor`); never takes it. */
export const inspect = (settings: Pick<TelemuxSettings, "home" | "lockDir" | "tmuxSocket">) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = lockPaths(settings)
    if (!(yield* fs.exists(paths.state.lock).pipe(Effect.orElseSucceed(() => false)))) {
      return Option.none<DaemonOwner | undefined>()
    }
    const probe = yield* Effect.scoped(holdExclusive(paths.state.lock)).pipe(Effect.either)
    if (probe._tag === "Right" && probe.right !== "busy") return Option.none<DaemonOwner | undefined>()
    return Option.some(yield* readOwner(paths.state.owner))
  })
