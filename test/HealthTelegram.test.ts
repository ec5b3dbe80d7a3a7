import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Redacted } from "effect"
import { HEALTH_LOOKUP_TIMEOUT, makeHealthJson } from "../layers/ApiHandlers.js"
import { Fleet } from "../services/Fleet.js"
import { Leases } from "../services/Lease.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { testSettings } from "./support/settings.js"

/** /health with a bot configured, the fleet lease's holder looked up through `holder`. */
const healthWith = (holder: Leases["Type"]["holder"]) =>
  Effect.flatten(makeHealthJson).pipe(
    Effect.provide(Layer.mergeAll(
      Layer.succeed(
        TelemuxConfig,
        testSettings({
          telegram: Option.some({
            token: Redacted.make("123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ"),
            chat: -1001234567890,
            users: [4242],
            chats: [],
            apiRoot: Option.none()
          })
        })
      ),
      Layer.succeed(Fleet, { link: Effect.succeed(Option.none()) } as unknown as Fleet["Type"]),
      Layer.succeed(Leases, Leases.of({ runWhileHeld: () => Effect.never, holder }))
    ))
  )

describe("/health's Telegram poller", () => {
  it.live("is the holder of the bot's fleet lease", () =>
    Effect.gen(function*() {
      const json = yield* healthWith(() => Effect.succeed(Option.some("laptop")))
      assert.deepStrictEqual(JSON.parse(json).telegram, { poller: "laptop", users: 1 })
    }))

  it.live("waits on a frozen Redis for HEALTH_LOOKUP_TIMEOUT at most, and says no poller is known", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const json = yield* healthWith(() => Effect.never)
      const took = Date.now() - started
      assert.isBelow(took, 1000, `the liveness answer took ${took} ms`)
      assert.isAtLeast(took, Duration.toMillis(HEALTH_LOOKUP_TIMEOUT) - 20)
      assert.deepStrictEqual(JSON.parse(json).telegram, { poller: null, users: 1 })
    }))
})
