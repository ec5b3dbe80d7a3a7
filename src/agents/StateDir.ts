import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/**
 * The state dir, by the rule layers/TelemuxConfigLive.ts applies: `TELEMUX_HOME`, else
 * `$XDG_STATE_HOME/telemux`, else `~/.local/state/telemux`. Effect-free and given the
 * environment as a record, so the hook command can use it without loading `effect`.
 */
export const stateDirFrom = (
  env: Readonly<Record<string, string | undefined>>,
  homedir: () => string = os.homedir
): string => {
  const explicit = env.TELEMUX_HOME
  if (explicit !== undefined && explicit !== "") return path.resolve(explicit)
  const xdg = env.XDG_STATE_HOME
  if (xdg !== undefined && xdg !== "") return path.resolve(path.join(xdg, "telemux"))
  return path.join(homedir(), ".local", "state", "telemux")
}

export const OUTBOX_FILE = "outbox.db"
/** Where the hook command writes a line when it could not record an event (it never fails the agent). */
export const HOOK_LOG_FILE = "hook.log"
/** The hook log is cut back to nothing past this size (it only holds failures). */
export const HOOK_LOG_MAX_BYTES = 256 * 1024

export const outboxPath = (home: string): string => path.join(home, OUTBOX_FILE)
/** Touched by the hook command after each row it writes; the daemon watches it to deliver at once. */
export const OUTBOX_BELL_FILE = "outbox.bell"
export const outboxBellPath = (home: string): string => path.join(home, OUTBOX_BELL_FILE)
export const hookLogPath = (home: string): string => path.join(home, HOOK_LOG_FILE)

// ---------------------------------------------------------------------------
// Private files: the state dir holds what was typed into sessions, and the API token

/** Modes of the state dir and of every file in it: the user's alone. */
export const PRIVATE_DIR_MODE = 0o700
export const PRIVATE_FILE_MODE = 0o600
/** The files SQLite keeps beside a database (created with the database file's mode). */
export const SQLITE_SIDE_SUFFIXES: ReadonlyArray<string> = ["-wal", "-shm", "-journal"]

/**
 * What making a path private did, for the caller to log (this module logs nothing: the hook
 * command has nowhere to log to). `Tightened`: group and other access were taken off.
 * `LeftShared`: a directory that is shared by design (sticky, like /tmp) or belongs to another
 * user was left as it is; the files in it are still 0600.
 */
export type ModeChange =
  | { readonly _tag: "Tightened"; readonly path: string; readonly previousMode: string; readonly mode: string }
  | { readonly _tag: "LeftShared"; readonly path: string; readonly mode: string; readonly reason: string }

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, "0")

const ownedByUs = (stat: fs.Stats) => {
  const uid = process.getuid?.()
  return uid === undefined || stat.uid === uid
}

/** Takes group and other access off `target` (owner bits kept); undefined when it had none. */
const tighten = (target: string, stat: fs.Stats): ModeChange | undefined => {
  if ((stat.mode & 0o077) === 0) return undefined
  const mode = stat.mode & 0o7700
  fs.chmodSync(target, mode)
  return { _tag: "Tightened", path: target, previousMode: octal(stat.mode), mode: octal(mode) }
}

/**
 * Creates `dir` (and missing parents) 0700, or takes group and other access off an existing
 * one. Never through the umask, which the tmux server and the users' shells inherit. Throws
 * what `mkdir`/`chmod` throw.
 */
export const makePrivateDir = (dir: string): ModeChange | undefined => {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
  const stat = fs.statSync(dir)
  // as root, chmod would succeed on /tmp or on another user's dir: never take those over
  if ((stat.mode & 0o1000) !== 0) {
    return { _tag: "LeftShared", path: dir, mode: octal(stat.mode), reason: "it is a sticky (shared) directory" }
  }
  if (!ownedByUs(stat)) {
    return { _tag: "LeftShared", path: dir, mode: octal(stat.mode), reason: `it belongs to uid ${stat.uid}` }
  }
  return tighten(dir, stat)
}

/** Takes group and other access off `file` when it exists (and is a regular file of ours). */
export const makeExistingFilePrivate = (file: string): ModeChange | undefined => {
  const stat = fs.statSync(file, { throwIfNoEntry: false })
  // not a file (a directory where a database should be): its user reports that better
  return stat !== undefined && stat.isFile() && ownedByUs(stat) ? tighten(file, stat) : undefined
}

/**
 * Creates `file` empty and 0600 when missing (so SQLite, which would create it 0644, opens it
 * as a new database and gives its -wal/-shm the same mode), or makes an existing one private.
 */
export const makePrivateFile = (file: string): ModeChange | undefined => {
  if (fs.statSync(file, { throwIfNoEntry: false }) === undefined) {
    // without O_EXCL: one created meanwhile by another process (the hook command) is opened as it is
    fs.closeSync(fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, PRIVATE_FILE_MODE))
  }
  return makeExistingFilePrivate(file)
}

/** A SQLite database file created 0600 before SQLite opens it, and its existing side files made private. */
export const makePrivateDatabase = (file: string): ReadonlyArray<ModeChange> =>
  [makePrivateFile(file), ...SQLITE_SIDE_SUFFIXES.map((suffix) => makeExistingFilePrivate(file + suffix))]
    .filter((change) => change !== undefined)

/** The warning the daemon logs for a change (naming the path and its old mode), as message and annotations. */
export const describeModeChange = (
  change: ModeChange
): { readonly message: string; readonly annotations: Readonly<Record<string, string>> } =>
  change._tag === "Tightened"
    ? {
      message: `${change.path} was open to other users (mode ${change.previousMode}); its mode is now ${change.mode}`,
      annotations: { path: change.path, previousMode: change.previousMode, mode: change.mode }
    }
    : {
      message: "the state directory is shared, so its mode is left as it is (its files are still private)",
      annotations: { path: change.path, mode: change.mode, reason: change.reason }
    }
