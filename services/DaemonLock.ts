import { Data, Schema } from "effect"

/**
 * One daemon per state dir, and one per tmux socket: two daemons on one home would reconcile
 * each other's sessions away (split brain), two on one socket would type into each other's panes.
 * Each is held as an exclusive kernel lock (released by the kernel when the process dies, even
 * by SIGKILL), taken before the daemon touches tmux, SQLite or the network.
 */

/** Who holds a lock: written beside it once taken, read by a daemon that finds it held (and by `doctor`). */
export class DaemonOwner extends Schema.Class<DaemonOwner>("DaemonOwner")({
  pid: Schema.Int,
  home: Schema.String,
  socket: Schema.String,
  host: Schema.String,
  port: Schema.Int,
  version: Schema.String,
  startedAt: Schema.String
}) {}

export const STATE_LOCK_FILE = "daemon.lock"
export const STATE_OWNER_FILE = "daemon.json"

/** Another daemon holds the lock on this state dir or tmux socket. */
export class DaemonAlreadyRunning extends Data.TaggedError("DaemonAlreadyRunning")<{
  readonly resource: "state dir" | "tmux socket"
  /** The state dir, or the socket's name. */
  readonly name: string
  readonly owner: DaemonOwner | undefined
}> {
  override get message() {
    const who = this.owner === undefined
      ? "another telemux daemon"
      : `telemux (pid ${this.owner.pid}, http://${this.owner.host}:${this.owner.port}, state dir ${this.owner.home})`
    const stop = this.owner === undefined ? "stop it first" : `stop it first (kill ${this.owner.pid})`
    return this.resource === "state dir"
      ? `${who} is already running on the state dir ${this.name}: ${stop}, or give this one another TELEMUX_HOME`
      : `${who} already uses the tmux socket "${this.name}": ${stop}, or give this one another TELEMUX_TMUX_SOCKET`
  }
}

/** The lock file could not be created or opened (a permission problem, a read-only disk). */
export class DaemonLockFailed extends Data.TaggedError("DaemonLockFailed")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `cannot take the daemon lock ${this.path}: ${this.reason}`
  }
}
