import { Effect, Layer, Option, Queue } from "effect"
import { FleetLink } from "../services/FleetLink.js"
import { StreamPositions } from "../services/StreamPositions.js"
import { ConfigInvalid, TelemuxConfig } from "../services/TelemuxConfig.js"
import { Transport } from "../services/Transport.js"
import * as FleetLinkHealth from "./FleetLinkHealth.js"
import * as FleetReader from "./FleetReader.js"
import * as FleetSeal from "./FleetSeal.js"

export interface FleetLinkOptions {
  readonly replayWindow?: import("effect").Duration.Duration
}

/** The fleet's wire over a Transport; see services/FleetLink.ts. */
export const make = (options: FleetLinkOptions = {}) =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const config = yield* TelemuxConfig
    const positions = yield* StreamPositions
    if (Option.isNone(config.fleetSecret)) {
      return yield* new ConfigInvalid({
        message: "TELEMUX_FLEET_SECRET is required with TELEMUX_REDIS_URL: every fleet message is signed with it"
      })
    }
    const sealer = FleetSeal.make({
      secret: config.fleetSecret.value,
      me: config.computer,
      ...(options.replayWindow === undefined ? {} : { replayWindow: options.replayWindow })
    })
    const health = yield* FleetLinkHealth.make(transport)
    /** Never offered: a followed set of streams does not change. */
    const fixed = yield* Queue.unbounded<void>()

    const follow: FleetLink["Type"]["follow"] = (streams, handle) =>
      Effect.gen(function*() {
        // a reader's connection opens lazily; one that cannot be made now is retried, never fatal
        const reader = yield* transport.reader.pipe(
          Effect.tapError(() => Effect.sleep(FleetReader.READ_RETRY)),
          Effect.eventually
        )
        return yield* FleetReader.make({
          transport,
          positions,
          health,
          interval: config.heartbeatInterval,
          resumed: streams,
          watched: () => [],
          rewire: fixed,
          handle
        }).loop(reader)
      })

    return FleetLink.of({
      me: config.computer,
      heartbeatInterval: config.heartbeatInterval,
      seal: (kind, to, payload, lifetime) => sealer.seal(kind, to, payload, lifetime),
      unseal: sealer.unseal,
      append: (operation, stream, raw, appendOptions) =>
        health.tracked(operation, transport.append(stream, raw, appendOptions)),
      follow,
      tracked: health.tracked,
      status: health.status,
      seeingSince: health.seeingSince
    })
  })

export const layer = (options: FleetLinkOptions = {}): Layer.Layer<
  FleetLink,
  ConfigInvalid,
  Transport | TelemuxConfig | StreamPositions
> => Layer.effect(FleetLink, make(options))
