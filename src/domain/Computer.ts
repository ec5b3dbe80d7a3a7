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

export class Computer extends Schema.Class<Computer>("Computer")({
  name: ComputerName,
  host: Schema.String,
  user: Schema.String,
  role: Schema.String,
  online: Schema.Boolean,
  lastSeenAt: Schema.DateTimeUtc,
  stats: Schema.NullOr(SystemStatsSnapshot),
  version: Schema.String
}) {}
