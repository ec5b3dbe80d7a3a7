import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Layer, Option, Ref, TestClock } from "effect"
import { WORK_RESTART_DELAY } from "../layers/LeasesAlone.js"
import * as MemoryTransport from "../layers/MemoryTransport.js"
import * as RedisLeases from "../layers/RedisLeases.js"
import { type LeaseHolding, type LeaseLost, Leases } from "../services/Lease.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { Transport } from "../services/Transport.js"
import { testSettings } from "./support/settings.js"
import { severable } from "./support/severableTransport.js"

const TTL = Duration.seconds(15)
const NAME = "poller"
const KEY = RedisLeases.leaseKey(NAME)

const settle = Effect.yieldNow().pipe(Effect.repeatN(50))
/** Moves the test clock on in steps (100 ms), letting the leases' loops run between them. */
const advance = (d: Duration.DurationInput, step = 100) =>
  Effect.gen(function*() {
    const steps = Math.ceil(Duration.toMillis(d) / step)
    for (let i = 0; i < steps; i++) {
      yield* TestClock.adjust(Duration.millis(step))
      yield* settle
    }
  })

interface Run {
  readonly who: string
  readonly start: number
  end: number | undefined
}

/** Two (or more) daemons on one in-memory Redis, and a journal of when each one's work ran. */
const world = Effect.gen(function*() {
  const transport = yield* MemoryTransport.make
  const runs: Array<Run> = []
  const running = () => runs.filter((r) => r.end === undefined).map((r) => r.who)
  const overlaps = yield* Ref.make(0)
  const holdings = new Map<string, LeaseHolding>()

  /** Work that runs until interrupted, journalled, and keeps its holding for the test. */
  const journalled = (who: string) => (holding: LeaseHolding) =>
    Effect.acquireUseRelease(
      Effect.flatMap(Clock.currentTimeMillis, (start) =>
        Effect.suspend(() => {
          holdings.set(who, holding)
          const overlap = running().length > 0 ? Ref.update(overlaps, (n) => n + 1) : Effect.void
          const run: Run = { who, start, end: undefined }
          runs.push(run)
          return Effect.as(overlap, run)
        })),
      () => Effect.never,
      (run) => Effect.map(Clock.currentTimeMillis, (end) => void (run.end = end))
    )

  const daemon = (who: string) =>
    Effect.gen(function*() {
      const own = severable(transport)
      const leases = yield* RedisLeases.make({ computer: who, ttl: TTL }).pipe(
        Effect.provideService(Transport, own.transport)
      )
      const fiber = yield* Effect.forkScoped(leases.runWhileHeld(NAME, journalled(who)))
      yield* settle
      return { leases, fiber, ...own }
    })

  return { transport, runs, running, overlaps, holdings, daemon }
})

describe("RedisLeases (in-memory Redis, TestClock)", () => {
  it.scoped("of two daemons one runs the work, the other waits; the holder renews past many TTLs", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.daemon("alpha")
      const b = yield* w.daemon("beta")
      assert.deepStrictEqual(w.running(), ["alpha"])
      assert.deepStrictEqual(yield* b.leases.holder(NAME), Option.some("alpha"))
      yield* advance(Duration.minutes(2), 500)
      assert.deepStrictEqual(w.running(), ["alpha"])
      assert.strictEqual(w.runs.length, 1, "never interrupted, never restarted")
      assert.strictEqual(yield* Ref.get(w.overlaps), 0)
      assert.deepStrictEqual(yield* a.leases.holder("nobody-holds-this"), Option.none())
      const token = yield* w.transport.get(KEY)
      assert.strictEqual(Option.map(token, RedisLeases.computerOf).pipe(Option.getOrUndefined), "alpha")
    }))

  it.scoped("a holder cut off from Redis stops its work before its lease can expire; the other takes over after it did", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.daemon("alpha")
      yield* w.daemon("beta")
      // alpha claimed at 0 and renews every 5 s: the last renewal before the cut is at 5 s
      yield* advance(Duration.seconds(6))
      yield* a.sever
      yield* advance(Duration.seconds(30))
      const [first, second] = w.runs
      assert.strictEqual(first?.who, "alpha")
      assert.strictEqual(second?.who, "beta")
      const keyExpiredAt = 5_000 + Duration.toMillis(TTL)
      // stopped by its deadline (last renewal + 3/4 TTL), give or take one 100 ms step
      assert.isAtMost(first!.end!, 5_000 + 11_250 + 100)
      assert.isAtLeast(first!.end!, 5_000 + 11_250 - 100, "not before its deadline either: retries kept it")
      assert.isAtLeast(second!.start, keyExpiredAt, "taken over only once the key expired")
      assert.isAtMost(second!.start, keyExpiredAt + 5_000 * 1.25 + 100, "at the contender's next try")
      assert.strictEqual(yield* Ref.get(w.overlaps), 0)
      // alpha comes back: it contends, and waits
      yield* a.heal
      yield* advance(Duration.minutes(1), 500)
      assert.deepStrictEqual(w.running(), ["beta"])
      assert.strictEqual(w.runs.length, 2)
    }))

  it.scoped("a daemon that shuts down releases its lease: the other takes over at its next try, long before the TTL", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.daemon("alpha")
      yield* w.daemon("beta")
      yield* advance(Duration.seconds(3))
      yield* Fiber.interrupt(a.fiber)
      assert.deepStrictEqual(w.running(), [], "its work ended with it")
      assert.deepStrictEqual(yield* w.transport.get(KEY), Option.none(), "released")
      yield* advance(Duration.seconds(7))
      assert.deepStrictEqual(w.running(), ["beta"])
      assert.isBelow(w.runs[1]!.start, 3_000 + 5_000 * 1.25 + 100 + 100)
    }))

  it.scoped("a renewal that finds the key someone else's: lost at once", () =>
    Effect.gen(function*() {
      const w = yield* world
      yield* w.daemon("alpha")
      yield* advance(Duration.seconds(1))
      // as if alpha had been paused past its TTL and another daemon claimed the lease meanwhile
      yield* w.transport.put(KEY, "gamma:other", TTL)
      yield* advance(Duration.seconds(5))
      assert.deepStrictEqual(w.running(), [])
      assert.isAtMost(w.runs[0]!.end!, 5_000 + 100, "at the first renewal")
      assert.deepStrictEqual(yield* w.transport.get(KEY), Option.some("gamma:other"), "not released: not alpha's")
    }))

  it.scoped("a fenced put from a holding that lost the lease fails with LeaseLost and overwrites nothing", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.daemon("alpha")
      yield* w.daemon("beta")
      const alpha = w.holdings.get("alpha")!
      yield* alpha.put("offset", "41", Duration.minutes(5))
      assert.deepStrictEqual(yield* alpha.get("offset"), Option.some("41"))

      // the key is lost behind alpha's back (a Redis fail-over, say) while alpha cannot reach
      // Redis: beta takes the lease over before alpha's deadline, while alpha's work still runs
      yield* w.transport.remove(KEY)
      yield* a.sever
      yield* advance(Duration.seconds(5 * 1.25 + 0.1))
      const beta = w.holdings.get("beta")!
      assert.isDefined(beta, "beta took over")
      assert.deepStrictEqual(w.running(), ["alpha", "beta"])
      yield* a.heal
      assert.deepStrictEqual(yield* beta.get("offset"), Option.some("41"), "fenced values belong to the lease")
      yield* beta.put("offset", "42", Duration.minutes(5))

      // alpha may still be running: its write is refused by Redis, and that stops its work at once
      const refused: LeaseLost = yield* Effect.flip(alpha.put("offset", "stale", Duration.minutes(5)))
      assert.strictEqual(refused._tag, "LeaseLost")
      assert.strictEqual(refused.name, NAME)
      assert.deepStrictEqual(yield* beta.get("offset"), Option.some("42"))
      yield* settle
      assert.deepStrictEqual(w.running(), ["beta"])
      // once lost, a holding refuses at once, without asking Redis
      yield* a.sever
      assert.strictEqual((yield* Effect.flip(alpha.put("offset", "stale", Duration.minutes(5))))._tag, "LeaseLost")
      assert.strictEqual((yield* Effect.flip(alpha.get("offset")))._tag, "LeaseLost")
      assert.strictEqual(
        yield* Ref.get(w.overlaps),
        1,
        "the one overlap (its key deleted): alpha ran until its refused write"
      )
    }))

  it.scoped("a fenced put during an outage waits for Redis, and fails with LeaseLost if the lease is lost first", () =>
    Effect.gen(function*() {
      const w = yield* world
      const a = yield* w.daemon("alpha")
      const alpha = w.holdings.get("alpha")!
      yield* a.sever
      const put = yield* Effect.fork(alpha.put("offset", "1", Duration.minutes(5)))
      yield* advance(Duration.seconds(1))
      assert.isTrue(Option.isNone(yield* Fiber.poll(put)), "retrying")
      yield* a.heal
      yield* advance(Duration.seconds(2))
      yield* Fiber.join(put)
      assert.deepStrictEqual(yield* alpha.get("offset"), Option.some("1"))

      yield* a.sever
      const late = yield* Effect.fork(alpha.put("offset", "2", Duration.minutes(5)))
      yield* advance(Duration.seconds(15))
      assert.strictEqual((yield* Effect.flip(Fiber.join(late)))._tag, "LeaseLost")
      yield* a.heal
      assert.deepStrictEqual(yield* w.transport.get(RedisLeases.fencedKey(NAME, "offset")), Option.some("1"))
    }))

  it.scoped("work that fails on its own is started again while the lease is held", () =>
    Effect.gen(function*() {
      const transport = yield* MemoryTransport.make
      const leases = yield* RedisLeases.make({ computer: "alpha", ttl: TTL }).pipe(
        Effect.provideService(Transport, transport)
      )
      const starts = yield* Ref.make<ReadonlyArray<number>>([])
      const tokens = new Set<string>()
      yield* Effect.forkScoped(leases.runWhileHeld(NAME, (holding) =>
        Effect.gen(function*() {
          tokens.add(holding.token)
          const n = (yield* Ref.get(starts)).length
          yield* Ref.update(starts, (all) => [...all, n])
          if (n < 3) return yield* Effect.fail("boom" as const)
          return yield* Effect.never
        })))
      yield* settle
      assert.deepStrictEqual(yield* Ref.get(starts), [0])
      yield* advance(WORK_RESTART_DELAY)
      assert.deepStrictEqual(yield* Ref.get(starts), [0, 1])
      yield* advance(Duration.times(WORK_RESTART_DELAY, 5))
      assert.deepStrictEqual(yield* Ref.get(starts), [0, 1, 2, 3], "restarted until it stays up")
      assert.strictEqual(tokens.size, 1, "within the one holding")
      assert.deepStrictEqual(yield* leases.holder(NAME), Option.some("alpha"))
    }))

  it.scoped("RedisLeases.layer: the computer and TTL come from the settings", () =>
    Effect.gen(function*() {
      const leases = yield* Leases
      const transport = yield* Transport
      yield* Effect.forkScoped(leases.runWhileHeld(NAME, () => Effect.never))
      yield* settle
      assert.deepStrictEqual(yield* leases.holder(NAME), Option.some("testbox"))
      const [held] = yield* transport.getMany([KEY])
      assert.strictEqual(Option.map(held!, (v) => Duration.toMillis(v.expiresIn)).pipe(Option.getOrUndefined), 20_000)
    }).pipe(
      Effect.provide(
        RedisLeases.layer.pipe(
          Layer.provideMerge(MemoryTransport.layer),
          Layer.provide(Layer.succeed(TelemuxConfig, testSettings({ leaseTtl: Duration.seconds(20) })))
        )
      )
    ))
})
