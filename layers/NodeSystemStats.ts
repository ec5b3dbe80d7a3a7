import { Effect, Layer } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import { SystemStats } from "../services/SystemStats.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { DiskStats, MemoryStats, SystemStatsSnapshot } from "../src/domain/Computer.js"

const GB = 1024 ** 3
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits

export interface CpuTimes {
  readonly idle: number
  readonly total: number
}

export const readCpuTimes = (cpus: ReadonlyArray<os.CpuInfo> = os.cpus()): CpuTimes => {
  let idle = 0
  let total = 0
  for (const cpu of cpus) {
    const t = cpu.times
    idle += t.idle
    total += t.user + t.nice + t.sys + t.idle + t.irq
  }
  return { idle, total }
}

/** Busy share of the time between two readings; 0 when no time passed. */
export const cpuPercentBetween = (before: CpuTimes, after: CpuTimes): number => {
  const total = after.total - before.total
  if (total <= 0) return 0
  return round(Math.min(100, Math.max(0, (1 - (after.idle - before.idle) / total) * 100)), 1)
}

export const memoryStats = (): MemoryStats => {
  const total = os.totalmem()
  const available = os.freemem()
  return new MemoryStats({
    totalGb: round(total / GB),
    availableGb: round(available / GB),
    percentUsed: round(total === 0 ? 0 : ((total - available) / total) * 100, 1)
  })
}

/**
 * node:fs directly: the platform FileSystem has no `statfs` (free and total space of a file
 * system), and reading it is the whole point here. Asynchronous, so it never blocks the loop.
 */
const diskStats = (dir: string) =>
  Effect.tryPromise(() => fs.statfs(dir)).pipe(
    Effect.map((s) => {
      const total = s.blocks * s.bsize
      const available = s.bavail * s.bsize
      return new DiskStats({
        path: dir,
        totalGb: round(total / GB),
        availableGb: round(available / GB),
        percentUsed: round(total === 0 ? 0 : ((total - available) / total) * 100, 1)
      })
    }),
    Effect.option,
    Effect.map((o) => (o._tag === "Some" ? o.value : null))
  )

/** CPU is the busy share since the previous snapshot (since boot for the first): no sampling wait. */
export const make = (diskPath: string) =>
  Effect.sync(() => {
    let previous: CpuTimes = { idle: 0, total: 0 }
    return SystemStats.of({
      snapshot: Effect.gen(function*() {
        const now = readCpuTimes()
        const cpuPercent = cpuPercentBetween(previous, now)
        previous = now
        return new SystemStatsSnapshot({ cpuPercent, memory: memoryStats(), disk: yield* diskStats(diskPath) })
      })
    })
  })

export const layer = Layer.effect(
  SystemStats,
  Effect.flatMap(TelemuxConfig, (config) => make(config.home))
)
