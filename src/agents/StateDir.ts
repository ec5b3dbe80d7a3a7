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
