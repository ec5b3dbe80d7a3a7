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

/** A daemon's link to the fleet's Redis, as `/health` and `/v1/computers` show it. */
export class FleetLink extends Schema.Class<FleetLink>("FleetLink")({
  state: Schema.Literal("up", "connecting", "down"),
  since: Schema.DateTimeUtc,
  /** Connect attempts in the current outage (0 while up). */
  attempt: Schema.Number,
  lastError: Schema.NullOr(Schema.String)
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
