import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Context, Data, Duration, Effect, Layer, Option, Redacted, Schedule, type Scope } from "effect"
import { Redis } from "ioredis"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as RedisLeases from "../layers/RedisLeases.js"
import { fencedKey, leaseKey, timingFor } from "../layers/RedisLeases.js"
import * as RedisTransport from "../layers/RedisTransport.js"
import { Leases } from "../services/Lease.js"
import { type RedisForTest, redisForTest, scopedRedisServer } from "./support/redisServer.js"

/**
 * Two daemons' leases in two real processes on a real Redis: the holder is killed (`kill -9`),
 * paused (SIGSTOP) or stopped (SIGTERM), and the journals their work keeps
 * (test/support/leaseHolder.ts) must never show both at work at once.
 */

const TTL_MS = 3000
const timing = timingFor(Duration.millis(TTL_MS))
/** A contender tries every claimEvery ±25 %. */
const CLAIM_EVERY_MAX = Duration.toMillis(timing.claimEvery) * 1.25
/** Room for a loaded machine (two shared cores) between a deadline and a process acting on it. */
const SLACK_MS = 750

const HOLDER_SCRIPT = fileURLToPath(new URL("./support/leaseHolder.ts", import.meta.url))

let redis: RedisForTest | undefined
beforeAll(async () => {
  redis = await redisForTest()
})
afterAll(async () => {
  await redis?.stop()
})

class NotYet extends Data.TaggedError("NotYet")<{ readonly what: string }> {
  override get message() {
    return `still waiting for ${this.what}`
  }
}

const waitFor = <A>(what: string, check: () => A | undefined, within: Duration.DurationInput = Duration.seconds(20)) =>
  Effect.suspend(() => {
    const found = check()
    return found === undefined ? Effect.fail(new NotYet({ what })) : Effect.succeed(found)
  }).pipe(
    Effect.retry({ while: (e) => e instanceof NotYet, schedule: Schedule.spaced(Duration.millis(20)) }),
    Effect.timeoutFail({ duration: within, onTimeout: () => new NotYet({ what: `${what} (gave up)` }) })
  )

interface Entry {
  readonly kind: "ready" | "start" | "end" | "put"
  readonly at: number
}

interface Holder {
  readonly computer: string
  readonly child: ChildProcess
  readonly journal: () => ReadonlyArray<Entry>
  readonly first: (kind: Entry["kind"]) => number | undefined
  readonly signal: (signal: NodeJS.Signals) => number
  readonly exited: Effect.Effect<void>
  readonly log: string
}

const world = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "telemux-lease-"))),
    (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
  )
  const name = `test-${process.pid}-${randomBytes(4).toString("hex")}`
  const url = redis!.url
  const raw = yield* Effect.acquireRelease(
    Effect.sync(() => new Redis(url, { lazyConnect: false })),
    (client) =>
      Effect.promise(() =>
        client.del(leaseKey(name), fencedKey(name, "last")).then(() => client.quit()).catch(() => client.disconnect())
      )
  )

  const holder = (computer: string, instance: string = computer): Effect.Effect<Holder, never, Scope.Scope> =>
    Effect.gen(function*() {
      const journalFile = join(dir, `${instance}.journal`)
      const log = join(dir, `${instance}.log`)
      const out = openSync(log, "a")
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(process.execPath, ["--import", "tsx", HOLDER_SCRIPT], {
            stdio: ["ignore", out, out],
            env: {
              ...process.env,
              REDIS_URL: url,
              LEASE_NAME: name,
              LEASE_COMPUTER: computer,
              LEASE_TTL_MS: String(TTL_MS),
              LEASE_JOURNAL: journalFile
            }
          })
        ),
        (c) =>
          Effect.sync(() => {
            if (c.exitCode === null && c.signalCode === null) {
              c.kill("SIGCONT")
              c.kill("SIGKILL")
            }
          })
      )
      const journal = () =>
        existsSync(journalFile)
          ? readFileSync(journalFile, "utf8").split("\n").filter((l) => l !== "").map((line): Entry => {
            const [kind, at] = line.split(" ")
            return { kind: kind as Entry["kind"], at: Number(at) }
          })
          : []
      return {
        computer,
        child,
        journal,
        first: (kind) => journal().find((e) => e.kind === kind)?.at,
        signal: (signal) => {
          child.kill(signal)
          return Date.now()
        },
        exited: Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
        }),
        log
      }
    })

  const ready = (h: Holder) => waitFor(`${h.computer} to connect to Redis (log: ${h.log})`, () => h.first("ready"))

  const holderNow = Effect.promise(() => raw.get(leaseKey(name))).pipe(
    Effect.map((token) => Option.fromNullable(token).pipe(Option.map((t) => t.split(":")[0])))
  )
  const lastWriter = Effect.promise(() => raw.get(fencedKey(name, "last"))).pipe(
    Effect.map((value) => value?.split(" ")[0])
  )
  return { holder, ready, holderNow, lastWriter }
})

/** The periods a journal shows work running; one still open ends at `openUntil`. */
const periods = (journal: ReadonlyArray<Entry>, openUntil: number) => {
  const found: Array<readonly [number, number]> = []
  let start: number | undefined
  for (const entry of journal) {
    if (entry.kind === "start") start = entry.at
    if (entry.kind === "end" && start !== undefined) {
      found.push([start, entry.at])
      start = undefined
    }
  }
  if (start !== undefined) found.push([start, openUntil])
  return found
}

const assertNoOverlap = (
  a: ReadonlyArray<readonly [number, number]>,
  b: ReadonlyArray<readonly [number, number]>
) => {
  for (const [aStart, aEnd] of a) {
    for (const [bStart, bEnd] of b) {
      assert.isTrue(
        aEnd < bStart || bEnd < aStart,
        `work ran at once in both: [${aStart}, ${aEnd}] and [${bStart}, ${bEnd}]`
      )
    }
  }
}

describe("RedisLeases across processes (real Redis)", () => {
  it.scopedLive(
    "kill -9 of the holder: the other takes over within the TTL and a try, never beside it; SIGTERM releases at once",
    () =>
      Effect.gen(function*() {
        const w = yield* world
        const alpha = yield* w.holder("alpha")
        yield* w.ready(alpha)
        yield* waitFor("alpha to start its work", () => alpha.first("start"))
        const beta = yield* w.holder("beta")
        const betaReady = yield* w.ready(beta)
        // beta has tried (and failed) to claim at least twice
        yield* waitFor("beta's second try", () => (Date.now() > betaReady + 2 * CLAIM_EVERY_MAX ? true : undefined))
        assert.isUndefined(beta.first("start"), "beta waits while alpha holds the lease")
        assert.deepStrictEqual(yield* w.holderNow, Option.some("alpha"))
        assert.strictEqual(yield* w.lastWriter, "alpha")

        const killedAt = alpha.signal("SIGKILL")
        yield* alpha.exited
        const betaStart = yield* waitFor("beta to take over", () => beta.first("start"))
        const takeOver = betaStart - killedAt
        // alpha's key lived until its last renewal (at most renewEvery before the kill) + TTL
        assert.isAtLeast(
          takeOver,
          TTL_MS - Duration.toMillis(timing.renewEvery) - SLACK_MS,
          "not before alpha's key expired"
        )
        assert.isAtMost(takeOver, TTL_MS + CLAIM_EVERY_MAX + SLACK_MS, "within the TTL and one try")
        yield* waitFor("beta's first fenced write", () => beta.journal().find((e) => e.kind === "put"))
        assert.deepStrictEqual(yield* w.holderNow, Option.some("beta"))
        assert.strictEqual(yield* w.lastWriter, "beta")

        // alpha comes back and contends; beta stops cleanly: its lease is released, not left to expire
        const alphaAgain = yield* w.holder("alpha", "alpha-2")
        yield* w.ready(alphaAgain)
        beta.signal("SIGTERM")
        yield* beta.exited
        const betaEnd = yield* waitFor("beta's end in its journal", () => beta.first("end"))
        const alphaAgainStart = yield* waitFor("alpha to take over again", () => alphaAgain.first("start"))
        assert.isAbove(alphaAgainStart, betaEnd)
        assert.isBelow(alphaAgainStart - betaEnd, CLAIM_EVERY_MAX + SLACK_MS, "at its next try, not after the TTL")

        const now = Date.now()
        const alphaPeriods = periods(alpha.journal(), killedAt)
        const betaPeriods = periods(beta.journal(), now)
        const alphaAgainPeriods = periods(alphaAgain.journal(), now)
        assert.lengthOf(alphaPeriods, 1)
        assert.lengthOf(betaPeriods, 1)
        assertNoOverlap(alphaPeriods, betaPeriods)
        assertNoOverlap(betaPeriods, alphaAgainPeriods)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "a paused holder (SIGSTOP) is taken over once its key expired; resumed, it writes nothing and stops",
    () =>
      Effect.gen(function*() {
        const w = yield* world
        const alpha = yield* w.holder("alpha")
        yield* w.ready(alpha)
        yield* waitFor("alpha's first fenced write", () => alpha.journal().find((e) => e.kind === "put"))
        const beta = yield* w.holder("beta")
        yield* w.ready(beta)

        const pausedAt = alpha.signal("SIGSTOP")
        const betaStart = yield* waitFor("beta to take over", () => beta.first("start"))
        assert.isAtLeast(betaStart - pausedAt, TTL_MS - Duration.toMillis(timing.renewEvery) - SLACK_MS)
        yield* waitFor("beta's first fenced write", () => beta.journal().find((e) => e.kind === "put"))

        const resumedAt = alpha.signal("SIGCONT")
        const alphaEnd = yield* waitFor("alpha to stop its work", () => alpha.first("end"))
        assert.isBelow(alphaEnd - resumedAt, SLACK_MS + 1000, "at once: its deadline passed while it was paused")
        // give a resumed alpha the time to try more writes, were it to go on
        yield* Effect.sleep(Duration.millis(500))
        const late = alpha.journal().filter((e) => e.kind === "put" && e.at > pausedAt)
        assert.deepStrictEqual(late, [], "no write of alpha's was accepted once it was paused")
        assert.strictEqual(yield* w.lastWriter, "beta")
        assert.deepStrictEqual(yield* w.holderNow, Option.some("beta"))
        assert.isUndefined(alpha.journal().find((e) => e.kind === "start" && e.at > alphaEnd), "alpha waits again")
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "Redis goes away: the holder stops its work before its key could expire; once Redis is back one daemon works again",
    () =>
      Effect.gen(function*() {
        const server = yield* scopedRedisServer()
        const name = `test-${process.pid}-${randomBytes(4).toString("hex")}`
        const runs: Array<{ who: string; start: number; end: number | undefined }> = []
        const daemon = (who: string) =>
          Effect.gen(function*() {
            const context = yield* Layer.build(
              Layer.effect(Leases, RedisLeases.make({ computer: who, ttl: Duration.millis(TTL_MS) })).pipe(
                Layer.provide(RedisTransport.layer({ url: Redacted.make(server.url) }))
              )
            )
            yield* Effect.forkScoped(
              Context.get(context, Leases).runWhileHeld(name, () =>
                Effect.acquireUseRelease(
                  Effect.sync(() => {
                    const run = { who, start: Date.now(), end: undefined as number | undefined }
                    runs.push(run)
                    return run
                  }),
                  () => Effect.never,
                  (run) => Effect.sync(() => void (run.end = Date.now()))
                ))
            )
          })
        yield* daemon("alpha")
        const first = yield* waitFor("alpha to start its work", () => runs[0])
        yield* daemon("beta")
        yield* Effect.sleep(Duration.millis(TTL_MS))
        assert.lengthOf(runs, 1, "one daemon at work")

        yield* Effect.promise(server.kill)
        const killedAt = Date.now()
        const stoppedAt = yield* waitFor("the holder to stop its work", () => first.end)
        // its last renewal began at most renewEvery before the kill; it stops TTL − margin after it
        const deadline = TTL_MS - Duration.toMillis(timing.margin)
        assert.isAtMost(stoppedAt - killedAt, deadline + SLACK_MS, "before its key could expire")
        assert.isAtLeast(stoppedAt - killedAt, deadline - Duration.toMillis(timing.renewEvery) - SLACK_MS)

        yield* Effect.promise(server.start)
        const second = yield* waitFor("a daemon to work again", () => runs[1], Duration.seconds(30))
        assert.isAbove(second.start, stoppedAt)
        assert.lengthOf(runs.filter((r) => r.end === undefined), 1)
      }),
    { timeout: 60_000 }
  )
})
