import { Context, type Effect } from "effect"
import type { SystemStatsSnapshot } from "../src/domain/Computer.js"

/**
 * Host load figures. CPU comes from the difference between two `os.cpus()` readings (the
 * previous call's and this one's), so a read never samples or blocks; disk uses async statfs.
 */
export class SystemStats extends Context.Tag("telemux/SystemStats")<SystemStats, {
  readonly snapshot: Effect.Effect<SystemStatsSnapshot>
}>() {}
