/** The Telegram front-end on the unit doubles (sessions on a fake terminal, a fleet of one), its bot on a fake Bot API. */
import { Effect, Layer, Logger } from "effect"
import * as DaemonLogger from "../../layers/DaemonLogger.js"
import * as FleetLive from "../../layers/FleetLive.js"
import * as LeasesAlone from "../../layers/LeasesAlone.js"
import * as MemoryOutputLog from "../../layers/MemoryOutputLog.js"
import * as TelegramLive from "../../layers/TelegramLive.js"
import type { Leases } from "../../services/Lease.js"
import { Projects } from "../../services/Projects.js"
import { Project } from "../../src/domain/Project.js"
import { agentsUnused, sessionsOnDoubles } from "./unitLayers.js"

export const CHAT = -1001234567890
export const USER = 4242
export const STRANGER = 6666
export const TOKEN = "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ"

export const telegramEnv = (apiRoot: string, extra: Readonly<Record<string, string>> = {}) => ({
  TELEMUX_TELEGRAM_TOKEN: TOKEN,
  TELEMUX_TELEGRAM_CHAT: String(CHAT),
  TELEMUX_TELEGRAM_USERS: String(USER),
  TELEMUX_TELEGRAM_API_ROOT: apiRoot,
  ...extra
})

export const projectsIn = (dir: string) =>
  Layer.succeed(
    Projects,
    Projects.of({ list: Effect.succeed([new Project({ name: "demo", path: dir, description: "", todos: [] })]) })
  )

export const telegramOnDoubles = (options: {
  readonly apiRoot: string
  readonly projectDir: string
  readonly tuning: TelegramLive.TelegramTuning
  readonly lines: Array<string>
  readonly env?: Readonly<Record<string, string>>
  /** The fleet's leases (default: a fleet of one of its own). */
  readonly leases?: Layer.Layer<Leases>
}) =>
  TelegramLive.layerWith(options.tuning).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        options.leases ?? LeasesAlone.layer,
        MemoryOutputLog.layer,
        FleetLive.layerAlone,
        agentsUnused,
        projectsIn(options.projectDir)
      )
    ),
    Layer.provideMerge(sessionsOnDoubles(telegramEnv(options.apiRoot, options.env))),
    Layer.provide(Logger.replace(Logger.defaultLogger, DaemonLogger.makeLogger((line) => options.lines.push(line))))
  )
