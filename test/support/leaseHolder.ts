/**
 * One daemon's leases in a process of its own, for test/Leases.process.test.ts (run with
 * `node --import tsx`, so that a signal reaches this very process): contends for LEASE_NAME on
 * REDIS_URL as LEASE_COMPUTER with a TTL of LEASE_TTL_MS and, while it holds the lease, journals
 * to LEASE_JOURNAL (`<kind> <epoch ms>` lines): `start` and `end` of its work, and every 100 ms a
 * fenced put of `last` = `<computer> <ms>`, journalled once Redis accepted it, with the time it was sent.
 * `ready` once its link to Redis is built. SIGTERM/SIGINT interrupt it as they do the daemon (its lease is released).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Clock, Duration, Effect, Layer, Redacted, Schedule } from "effect"
import { appendFileSync } from "node:fs"
import * as RedisLeases from "../../layers/RedisLeases.js"
import * as RedisTransport from "../../layers/RedisTransport.js"
import { type LeaseHolding, Leases } from "../../services/Lease.js"

const required = (name: string): string => {
  const value = process.env[name]
  if (value === undefined || value === "") {
    process.stderr.write(`leaseHolder: ${name} is required\n`)
    process.exit(2)
  }
  return value
}

const url = required("REDIS_URL")
const name = required("LEASE_NAME")
const computer = required("LEASE_COMPUTER")
const ttl = Duration.millis(Number(required("LEASE_TTL_MS")))
const journal = required("LEASE_JOURNAL")

const note = (kind: string, at: number) => Effect.sync(() => appendFileSync(journal, `${kind} ${at}\n`))

const work = (holding: LeaseHolding) =>
  Effect.acquireUseRelease(
    Effect.flatMap(Clock.currentTimeMillis, (at) => note("start", at)),
    () =>
      Effect.gen(function*() {
        const sentAt = yield* Clock.currentTimeMillis
        yield* holding.put("last", `${computer} ${sentAt}`, Duration.minutes(1))
        yield* note("put", sentAt)
      }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(100))), Effect.asVoid),
    () => Effect.flatMap(Clock.currentTimeMillis, (at) => note("end", at))
  )

const LeasesOnRedis = Layer.effect(Leases, RedisLeases.make({ computer, ttl })).pipe(
  Layer.provide(RedisTransport.layer({ url: Redacted.make(url) }))
)

NodeRuntime.runMain(
  Effect.flatMap(Leases, (leases) =>
    Effect.zipRight(
      Effect.flatMap(Clock.currentTimeMillis, (at) => note("ready", at)),
      leases.runWhileHeld(name, work)
    )).pipe(Effect.provide(LeasesOnRedis))
)
