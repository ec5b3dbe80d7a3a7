import { Schema } from "effect"
import { ComputerName } from "./Session.js"

export class MemoryStats extends Schema.Class<MemoryStats>("MemoryStats")({
  totalGb: Schema.Number,
  availableGb: Schema.Number,
  percentUsed: Schema.Number
}) {}

export class DiskStats extends Schema.Class<DiskStats>("DiskStats")({
  path: Schema.String,
  totalGb: Schema.Number,
  availableGb: Schema.Number,
  percentUsed: Schema.Number
}) {}

export class SystemStatsSnapshot extends Schema.Class<SystemStatsSnapshot>("SystemStatsSnapshot")({
  cpuPercent: Schema.Number,
  memory: MemoryStats,
  disk: Schema.NullOr(DiskStats)
}) {}

/** A fleet stream reader's position found beyond the stream's last generated id, and reset. */
export const PositionReset = Schema.Struct({
  stream: Schema.String,
  from: Schema.String,
  lastGenerated: Schema.String,
  to: Schema.String,
  at: Schema.DateTimeUtc
})

/**
 * A daemon's link to the fleet's Redis, as `/health` and `/v1/computers` show it. `degraded`:
 * connected, but writes are refused (e.g. Redis out of memory) or the reader cannot read;
 * `lastError` says why and what to check (never Redis's raw reply).
 */
export class FleetLink extends Schema.Class<FleetLink>("FleetLink")({
  state: Schema.Literal("up", "degraded", "connecting", "down"),
  since: Schema.DateTimeUtc,
  /** Connect attempts in the current outage (0 while up). */
  attempt: Schema.Number,
  lastError: Schema.NullOr(Schema.String),
  /** The last read position this daemon found beyond its stream's end and reset, if any. */
  lastReset: Schema.optionalWith(Schema.NullOr(PositionReset), { exact: true })
}) {}

export class Computer extends Schema.Class<Computer>("Computer")({
  name: ComputerName,
  host: Schema.String,
  user: Schema.String,
  role: Schema.String,
  online: Schema.Boolean,
  lastSeenAt: Schema.DateTimeUtc,
  stats: Schema.NullOr(SystemStatsSnapshot),
  version: Schema.String,
  /** The local computer's fleet link (null when it is in no fleet); absent for the others. */
  link: Schema.optionalWith(Schema.NullOr(FleetLink), { exact: true })
}) {}
