import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import {
  Clock,
  Context,
  Data,
  Duration,
  Effect,
  Fiber,
  Layer,
  Option,
  Redacted,
  Ref,
  Schedule,
  type Scope,
  Stream
} from "effect"
import { Redis } from "ioredis"
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as RedisTransport from "../layers/RedisTransport.js"
import { type LinkStatus, STREAM_START, type StreamEntry, Transport, TransportError } from "../services/Transport.js"
import { type RedisForTest, redisForTest, scopedRedisServer, uniqueKeyPrefix } from "./support/redisServer.js"
import { transportContract } from "./Transport.contract.js"

const transportOn = (url: string) => RedisTransport.layer({ url: Redacted.make(url) })

let shared: RedisForTest | undefined
beforeAll(async () => {
  shared = await redisForTest()
})
afterAll(async () => {
  await shared?.stop()
})

transportContract({
  name: "RedisTransport",
  test: (name, body) =>
    it.scopedLive(
      name,
      () => Effect.suspend(() => body(uniqueKeyPrefix()).pipe(Effect.provide(transportOn(shared!.url))))
    ),
  elapse: (duration) => Effect.sleep(duration),
  // XADD MAXLEN ~ only drops whole radix-tree nodes (stream-node-max-entries, 100 by default)
  trimSlack: 100
})

class NotYet extends Data.TaggedError("NotYet")<{ readonly what: string }> {
  override get message() {
    return `still waiting for ${this.what}`
  }
}

/** Re-checks `check` every 20 ms until it holds; fails the test after `within`. */
const waitFor = <E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  within: Duration.DurationInput = Duration.seconds(10)
) =>
  check.pipe(
    Effect.filterOrFail((ok) => ok, () => new NotYet({ what })),
    Effect.retry({ while: (e) => e instanceof NotYet, schedule: Schedule.spaced(Duration.millis(20)) }),
    Effect.timeoutFail({ duration: within, onTimeout: () => new NotYet({ what: `${what} (gave up)` }) }),
    Effect.asVoid
  )

/** A plain ioredis client for setting up and inspecting the server behind the transport's back. */
const admin = (url: string): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(url, { lazyConnect: false })),
    (client) => Effect.promise(() => client.quit().catch(() => client.disconnect()))
  )

const commandStats = (client: Redis) =>
  Effect.promise(() => client.info("commandstats")).pipe(
    Effect.map((info) => {
      const calls = new Map<string, number>()
      for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]))
      return calls
    })
  )

const clientList = (client: Redis) =>
  Effect.promise(() => client.client("LIST") as Promise<string>).pipe(
    Effect.map((text) =>
      text.trim().split("\n").map((line) =>
        Object.fromEntries(line.split(" ").map((pair) => pair.split("=", 2) as [string, string]))
      )
    )
  )

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const result = yield* effect
    return [result, (yield* Clock.currentTimeMillis) - start] as const
  })

const longTtl = Duration.minutes(5)

describe("RedisTransport (own redis-server)", () => {
  it.scopedLive("discovery walks SCAN cursors over 5k keys and never sends KEYS", () =>
    Effect.gen(function*() {
      const server = yield* scopedRedisServer()
      const raw = yield* admin(server.url)
      const pipeline = raw.pipeline()
      for (let i = 0; i < 5000; i++) pipeline.set(`unrelated:${i}`, "x", "PX", 600_000)
      for (let i = 0; i < 50; i++) pipeline.set(`telemux:v1:computer:c${i}`, "hb", "PX", 600_000)
      yield* Effect.promise(() => pipeline.exec())
      const before = yield* commandStats(raw)

      const found = yield* Effect.flatMap(Transport, (t) => t.scan("telemux:v1:computer:*")).pipe(
        Effect.provide(transportOn(server.url))
      )

      const after = yield* commandStats(raw)
      assert.deepStrictEqual(
        [...found].sort(),
        Array.from({ length: 50 }, (_, i) => `telemux:v1:computer:c${i}`).sort()
      )
      const scans = (after.get("scan") ?? 0) - (before.get("scan") ?? 0)
      assert.isAtLeast(scans, Math.ceil(5050 / 500), "one SCAN per cursor step")
      assert.strictEqual(after.get("keys"), before.get("keys"))
      assert.isUndefined(after.get("keys"))
    }))

  it.scopedLive(
    "Redis restarted mid-traffic: fast failures, link down then up, fresh attempts, reader resumes, AOF kept",
    () =>
      Effect.gen(function*() {
        const server = yield* scopedRedisServer()
        const t = Context.get(yield* Layer.build(transportOn(server.url)), Transport)
        const stream = "telemux:v1:inbox:beta"

        const statuses = yield* Ref.make<ReadonlyArray<LinkStatus>>([])
        yield* Effect.forkScoped(Stream.runForEach(t.linkChanges, (s) => Ref.update(statuses, (all) => [...all, s])))
        const latest = Effect.map(t.link, (s) => s.state)

        // a consumer as the fleet inbox will run it: resumes from its last id, retries after errors
        const reader = yield* t.reader
        const position = yield* Ref.make(STREAM_START)
        const received = yield* Ref.make<ReadonlyArray<StreamEntry>>([])
        const readFailures = yield* Ref.make(0)
        const step = Ref.get(position).pipe(
          Effect.flatMap((after) => reader.read([{ stream, after }], { count: 100, block: Duration.seconds(1) })),
          Effect.flatMap((entries) =>
            entries.length === 0 ? Effect.void : Effect.zipRight(
              Ref.set(position, entries[entries.length - 1]!.id),
              Ref.update(received, (all) => [...all, ...entries])
            )
          ),
          Effect.catchTag("TransportError", () =>
            Effect.zipRight(Ref.update(readFailures, (n) => n + 1), Effect.sleep(Duration.millis(50))))
        )
        yield* Effect.forkScoped(Effect.forever(step))
        const receivedCount = (n: number) =>
          Effect.map(Ref.get(received), (all) => all.length >= n)

        for (const p of ["a0", "a1", "a2"]) yield* t.append(stream, p, { maxLen: 1000, ttl: longTtl })
        yield* waitFor("the first three entries", receivedCount(3))

        // ---- first outage
        yield* Effect.promise(server.kill)
        const [failure, elapsed] = yield* timed(Effect.flip(t.put("telemux:v1:x", "v", longTtl)))
        assert.instanceOf(failure, TransportError)
        assert.isBelow(elapsed, 500, "a command during an outage fails promptly")
        yield* waitFor("the link to go down", Effect.map(latest, (s) => s !== "up"))
        yield* waitFor("a few reconnect attempts", Effect.map(t.link, (s) => s.attempt >= 3))
        const [results, outageElapsed] = yield* timed(Effect.all([
          Effect.flip(t.get("telemux:v1:x")),
          Effect.flip(t.getMany(["telemux:v1:x"])),
          Effect.flip(t.scan("telemux:v1:*")),
          Effect.flip(t.append(stream, "lost", { maxLen: 1000, ttl: longTtl })),
          Effect.flip(t.lastId(stream)),
          Effect.flip(t.remove("telemux:v1:x"))
        ]))
        for (const error of results) assert.instanceOf(error, TransportError)
        assert.isBelow(outageElapsed, 200, "failing fast, not queueing or waiting for a timeout")
        assert.isAbove(yield* Ref.get(readFailures), 0)

        yield* Effect.promise(server.start)
        yield* waitFor("the link to come back by itself", Effect.map(latest, (s) => s === "up"))
        for (const p of ["b0", "b1", "b2"]) yield* t.append(stream, p, { maxLen: 1000, ttl: longTtl })
        yield* waitFor("the entries appended after the restart", receivedCount(6))
        const got = yield* Ref.get(received)
        assert.deepStrictEqual(
          got.map((e) => e.payload),
          ["a0", "a1", "a2", "b0", "b1", "b2"],
          "nothing replayed, nothing lost"
        )
        assert.strictEqual(new Set(got.map((e) => e.id)).size, 6)
        // entries appended before the restart survived it (AOF, fsync always)
        const fromStart = yield* Effect.scoped(Effect.flatMap(t.reader, (r) =>
          r.read([{ stream, after: STREAM_START }], { count: 100, block: Duration.zero })))
        assert.deepStrictEqual(
          fromStart.map((e) =>
            e.payload
          ),
          ["a0", "a1", "a2", "b0", "b1", "b2"]
        )

        // ---- second outage: the attempt counter starts again at 1
        const seenBefore = (yield* Ref.get(statuses)).length
        yield* Effect.promise(server.kill)
        yield* waitFor("the link to go down again", Effect.map(latest, (s) => s !== "up"))
        yield* Effect.promise(server.start)
        yield* waitFor("the link to come back again", Effect.map(latest, (s) => s === "up"))
        yield* t.append(stream, "c0", { maxLen: 1000, ttl: longTtl })
        yield* waitFor("the reader to carry on", receivedCount(7))

        const all = yield* Ref.get(statuses)
        const firstOutage = all.slice(0, seenBefore)
        const secondOutage = all.slice(seenBefore)
        const outageStart = (history: ReadonlyArray<LinkStatus>) =>
          history[history.findIndex((s) => s.state === "up") + 1]
        assert.deepStrictEqual(
          [outageStart(firstOutage)?.state, outageStart(firstOutage)?.attempt],
          ["connecting", 1]
        )
        assert.isAtLeast(Math.max(...firstOutage.map((s) => s.attempt)), 3)
        assert.deepStrictEqual([secondOutage[0]?.state, secondOutage[0]?.attempt], ["connecting", 1])
        assert.isNotNull(secondOutage[0]?.lastError)
        assert.strictEqual(secondOutage[secondOutage.length - 1]?.state, "up")
        assert.strictEqual(secondOutage[secondOutage.length - 1]?.attempt, 0)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive("Redis at maxmemory (noeviction): writes fail typed as out-of-memory (EXECABORT too) with advice free of Redis's text; reads work", () =>
    Effect.gen(function*() {
      const server = yield* scopedRedisServer()
      const raw = yield* admin(server.url)
      const t = Context.get(yield* Layer.build(transportOn(server.url)), Transport)
      yield* t.put("telemux:v1:k", "v", longTtl)
      const stream = "telemux:v1:inbox:oom"
      yield* t.append(stream, "before", { maxLen: 10, ttl: longTtl })
      yield* Effect.promise(() => raw.config("SET", "maxmemory-policy", "noeviction"))
      yield* Effect.promise(() => raw.config("SET", "maxmemory", "1"))
      try {
        const refused = [
          yield* Effect.flip(t.put("telemux:v1:k", "w", longTtl)),
          // MULTI/XADD/PEXPIRE/EXEC: refused as a whole (EXECABORT), for the OOM behind it
          yield* Effect.flip(t.append(stream, "during", { maxLen: 10, ttl: longTtl }))
        ]
        assert.match(refused[0]!.message, /^OOM command not allowed/)
        assert.match(refused[1]!.message, /^EXECABORT/)
        for (const error of refused) {
          assert.strictEqual(error.failure, "out-of-memory")
          assert.notMatch(error.advice, /OOM|EXECABORT/)
          assert.include(error.advice, "maxmemory")
        }
        assert.deepStrictEqual(yield* t.get("telemux:v1:k"), Option.some("v"))
        assert.lengthOf(yield* t.lastGeneratedIds([stream]), 1)
        const reader = yield* t.reader
        assert.deepStrictEqual(
          (yield* reader.read([{ stream, after: STREAM_START }], { count: 10, block: Duration.zero })).map((e) =>
            e.payload
          ),
          ["before"]
        )
        assert.strictEqual((yield* t.link).state, "up", "the connection itself is fine")
      } finally {
        yield* Effect.promise(() => raw.config("SET", "maxmemory", "0"))
      }
      yield* t.append(stream, "after", { maxLen: 10, ttl: longTtl })
    }))

  it.scopedLive("a write whose connection ends before Redis answers is 'lost' (it may have run); one with no connection is 'unavailable'", () =>
    Effect.gen(function*() {
      const server = yield* scopedRedisServer()
      const raw = yield* admin(server.url)
      const t = Context.get(yield* Layer.build(transportOn(server.url)), Transport)
      const stream = "telemux:v1:inbox:lost"
      yield* t.append(stream, "before", { maxLen: 10, ttl: longTtl })
      // Redis holds the write; its connection is then killed with the write sent and unanswered
      yield* Effect.promise(() => raw.call("CLIENT", "PAUSE", "5000", "WRITE"))
      const held = yield* Effect.fork(Effect.flip(t.append(stream, "held", { maxLen: 10, ttl: longTtl })))
      yield* Effect.sleep("300 millis")
      const writer = (yield* clientList(raw)).find((c) => c["name"] === "telemux")
      assert.isDefined(writer, "the transport's connection is named telemux")
      yield* Effect.promise(() => raw.call("CLIENT", "KILL", "ID", writer!["id"]!))
      const lost = yield* Fiber.join(held)
      yield* Effect.promise(() => raw.call("CLIENT", "UNPAUSE"))
      assert.strictEqual(lost.failure, "lost", lost.message)
      assert.include(lost.advice, "may have")
      // while the link is down nothing is written: that is 'unavailable', as before
      const unsent = yield* Effect.flip(t.append(stream, "unsent", { maxLen: 10, ttl: longTtl }))
      assert.strictEqual(unsent.failure, "unavailable", unsent.message)
    }))

  it.scopedLive("Redis at maxmemory: claim and a fenced write are refused as out-of-memory; a holder still renews and releases", () =>
    Effect.gen(function*() {
      const server = yield* scopedRedisServer()
      const raw = yield* admin(server.url)
      const t = Context.get(yield* Layer.build(transportOn(server.url)), Transport)
      const lease = "telemux:v1:lease:{oom}"
      assert.isTrue(yield* t.claim(lease, "a", longTtl))
      yield* Effect.promise(() => raw.config("SET", "maxmemory-policy", "noeviction"))
      yield* Effect.promise(() => raw.config("SET", "maxmemory", "1"))
      try {
        const refused = [
          yield* Effect.flip(t.claim("telemux:v1:lease:{other}", "a", longTtl)),
          yield* Effect.flip(t.putIfHeld({ key: lease, value: "a" }, "telemux:v1:lease:{oom}:k", "v", longTtl))
        ]
        for (const error of refused) assert.strictEqual(error.failure, "out-of-memory", error.message)
        assert.isFalse(yield* t.putIfHeld({ key: lease, value: "b" }, "telemux:v1:lease:{oom}:k", "v", longTtl))
        assert.isTrue(yield* t.renewIfHeld(lease, "a", longTtl), "PEXPIRE is not refused at maxmemory")
        assert.isTrue(yield* t.releaseIfHeld(lease, "a"), "nor DEL")
      } finally {
        yield* Effect.promise(() => raw.config("SET", "maxmemory", "0"))
      }
    }))

  it.scopedLive("lastGeneratedIds reads XINFO's last-generated-id: a far-future id outlives its entry, and is gone with the stream", () =>
    Effect.gen(function*() {
      const server = yield* scopedRedisServer()
      const raw = yield* admin(server.url)
      const t = Context.get(yield* Layer.build(transportOn(server.url)), Transport)
      const stream = "telemux:v1:inbox:poisoned"
      yield* Effect.promise(() => raw.xadd(stream, "99999999999999-0", "p", "far"))
      yield* Effect.promise(() => raw.xdel(stream, "99999999999999-0"))
      assert.deepStrictEqual(yield* t.lastGeneratedIds([stream, "telemux:v1:missing"]), [
        "99999999999999-0",
        STREAM_START
      ])
      assert.strictEqual(yield* t.lastId(stream), STREAM_START, "no entry left")
      yield* Effect.promise(() => raw.del(stream))
      assert.deepStrictEqual(yield* t.lastGeneratedIds([stream]), [STREAM_START])
    }))

  it.scopedLive("an interrupted blocking read leaves no wedged connection behind", () =>
    Effect.gen(function*() {
      const server = yield* scopedRedisServer()
      const raw = yield* admin(server.url)
      const readers = Effect.map(clientList(raw), (clients) => clients.filter((c) => c.name === "telemux-reader"))
      yield* Effect.gen(function*() {
        const t = yield* Transport
        const stream = "telemux:v1:inbox:gamma"
        const reader = yield* t.reader
        const blocked = yield* Effect.fork(
          reader.read([{ stream, after: STREAM_START }], { count: 10, block: Duration.seconds(5) })
        )
        yield* waitFor(
          "the XREAD to block on the server",
          Effect.map(readers, (cs) => cs.some((c) => c.flags?.includes("b") === true))
        )
        yield* Fiber.interrupt(blocked)
        yield* waitFor(
          "the blocked connection to be closed",
          Effect.map(readers, (cs) => cs.length === 0),
          Duration.seconds(2)
        )

        const id = yield* t.append(stream, "after", { maxLen: 10, ttl: longTtl })
        const [entries, elapsed] = yield* timed(
          reader.read([{ stream, after: STREAM_START }], { count: 10, block: Duration.seconds(5) })
        )
        assert.deepStrictEqual(entries, [{ stream, id, payload: "after" }])
        assert.isBelow(elapsed, 1000, "the next read is not stuck behind the interrupted one")
        const open = yield* readers
        assert.strictEqual(open.length, 1)
        assert.isFalse(open[0]!.flags!.includes("b"))
      }).pipe(Effect.scoped, Effect.provide(transportOn(server.url)))
      yield* waitFor(
        "the reader's connection to close with its scope",
        Effect.map(readers, (cs) => cs.length === 0),
        Duration.seconds(2)
      )
    }))

  it.scopedLive("connects as an ACL user given in the URL (percent-encoded password) and is held to its rights", () =>
    Effect.gen(function*() {
      const server = yield* scopedRedisServer()
      const raw = yield* admin(server.url)
      const password = "p@ss:w/rd%1"
      yield* Effect.promise(() =>
        raw.call("ACL", "SETUSER", "fleet", "on", `>${password}`, "~telemux:*", "+@all", "-keys")
      )
      const authority = `fleet:${encodeURIComponent(password)}@127.0.0.1:${server.port}`

      yield* Effect.gen(function*() {
        const t = yield* Transport
        assert.strictEqual((yield* t.link).state, "up")
        yield* t.put("telemux:v1:acl", "ok", longTtl)
        assert.deepStrictEqual(yield* t.get("telemux:v1:acl"), Option.some("ok"))
        const denied = yield* Effect.flip(t.put("elsewhere:key", "no", longTtl))
        assert.match(denied.message, /NOPERM/)
        const users = (yield* clientList(raw)).filter((c) => c.name === "telemux").map((c) => c.user)
        assert.deepStrictEqual(users, ["fleet"])
      }).pipe(Effect.scoped, Effect.provide(transportOn(`redis://${authority}`)))

      yield* Effect.gen(function*() {
        const t = yield* Transport
        const link = yield* t.link
        assert.notStrictEqual(link.state, "up")
        assert.match(link.lastError ?? "", /WRONGPASS/)
        const [error, elapsed] = yield* timed(Effect.flip(t.get("telemux:v1:acl")))
        assert.instanceOf(error, TransportError)
        assert.isBelow(elapsed, 200)
      }).pipe(Effect.scoped, Effect.provide(transportOn(`redis://fleet:wrong@127.0.0.1:${server.port}`)))
    }))

  it.scopedLive("rediss:// verifies the server's certificate", () =>
    Effect.gen(function*() {
      const certs = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "telemux-tls-"))),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const certFile = join(certs, "cert.pem")
      const keyFile = join(certs, "key.pem")
      yield* Effect.sync(() =>
        execFileSync("openssl", [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=127.0.0.1",
          "-addext",
          "subjectAltName=IP:127.0.0.1",
          "-keyout",
          keyFile,
          "-out",
          certFile
        ], { stdio: "ignore", timeout: 20_000 })
      )
      const server = yield* scopedRedisServer({ tls: { certFile, keyFile } })
      assert.match(server.url, /^rediss:\/\//)

      // the server works over TLS for a client told to skip verification…
      const insecure = yield* Effect.acquireRelease(
        Effect.sync(() =>
          new Redis(server.url, { tls: { rejectUnauthorized: false }, lazyConnect: true, retryStrategy: () => null })
        ),
        (client) => Effect.sync(() => client.disconnect())
      )
      assert.strictEqual(yield* Effect.promise(() => insecure.connect().then(() => insecure.ping())), "PONG")

      // …and the transport refuses its self-signed certificate
      yield* Effect.gen(function*() {
        const t = yield* Transport
        const link = yield* t.link
        assert.notStrictEqual(link.state, "up")
        assert.match(link.lastError ?? "", /self[- ]signed certificate/)
      }).pipe(Effect.scoped, Effect.provide(transportOn(server.url)))
    }))
})
