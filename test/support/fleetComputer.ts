import { Effect, Layer } from "effect"
import * as os from "node:os"
import * as AgentsLive from "../../layers/AgentsLive.js"
import * as FleetLive from "../../layers/FleetLive.js"
import * as FleetServer from "../../layers/FleetServer.js"
import * as MemoryOutputLog from "../../layers/MemoryOutputLog.js"
import * as SqliteListeners from "../../layers/SqliteListeners.js"
import type { StreamPositions } from "../../services/StreamPositions.js"
import { SystemStats } from "../../services/SystemStats.js"
import type { Transport } from "../../services/Transport.js"
import { MemoryStats, SystemStatsSnapshot } from "../../src/domain/Computer.js"
import type { ComputerName } from "../../src/domain/Session.js"
import { sessionsOnDoubles } from "./unitLayers.js"

export const FLEET_TEST_SECRET = "fleet-test-secret"
/** The dir every test computer trusts (remote creates must be inside it). */
export const trustedDir = os.tmpdir()

const stats = Layer.succeed(
  SystemStats,
  SystemStats.of({
    snapshot: Effect.succeed(
      new SystemStatsSnapshot({
        cpuPercent: 1,
        memory: new MemoryStats({ totalGb: 8, availableGb: 4, percentUsed: 50 }),
        disk: null
      })
    )
  })
)

/** One computer of a fleet in-process: its sessions and agents on doubles, its fleet on the given transport. */
export const fleetComputer = (
  name: ComputerName,
  transport: Layer.Layer<Transport>,
  positions: Layer.Layer<StreamPositions>,
  heartbeatInterval = "1 second"
) =>
  FleetServer.layer.pipe(
    Layer.provideMerge(AgentsLive.layer),
    Layer.provideMerge(FleetLive.layer()),
    Layer.provideMerge(Layer.mergeAll(MemoryOutputLog.layer, positions, SqliteListeners.layerMemory, stats, transport)),
    Layer.provideMerge(sessionsOnDoubles({
      TELEMUX_COMPUTER: name,
      TELEMUX_REDIS_URL: "redis://memory",
      TELEMUX_FLEET_SECRET: FLEET_TEST_SECRET,
      TELEMUX_TRUSTED_DIRS: trustedDir,
      TELEMUX_HEARTBEAT_INTERVAL: heartbeatInterval
    }))
  )
