import * as fs from "node:fs"

/** True while a process with this pid exists (signal 0 probes without signalling). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH"
  }
}

/** The parent pid of `pid` (from /proc), or undefined once it is gone. */
export const parentOf = (pid: number): number | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  } catch {
    return undefined
  }
}

/** Command lines of the live children of `pid`. */
export const childrenOf = (pid: number): ReadonlyArray<string> =>
  fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry) && parentOf(Number(entry)) === pid).flatMap((entry) => {
    try {
      return [fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ").trim()]
    } catch {
      return []
    }
  })

/**
 * Pids of the live processes, other than this one, whose environment holds `name=value` exactly.
 * A zombie's environment cannot be read: it counts as gone (it can no longer do anything).
 */
export const pidsWithEnv = (name: string, value: string): ReadonlyArray<number> => {
  const entry = `${name}=${value}`
  return fs.readdirSync("/proc").flatMap((dir) => {
    if (!/^\d+$/.test(dir) || Number(dir) === process.pid) return []
    try {
      return fs.readFileSync(`/proc/${dir}/environ`, "utf8").split("\0").includes(entry) ? [Number(dir)] : []
    } catch {
      return []
    }
  })
}

/** The command line of `pid`, or "" once it is gone. */
export const commandLine = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim()
  } catch {
    return ""
  }
}
