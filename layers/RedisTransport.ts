import { DateTime, Deferred, Duration, Effect, Exit, Layer, Option, Redacted, Ref, SubscriptionRef } from "effect"
import type { Redis, RedisOptions } from "ioredis"
import {
  type ExpiringValue,
  type LinkStatus,
  RECONNECT_BACKOFF_INITIAL,
  RECONNECT_BACKOFF_MAX,
  SCAN_COUNT,
  STREAM_BLOCK_MAX,
  STREAM_START,
  type StreamReader,
  Transport,
  TRANSPORT_COMMAND_TIMEOUT,
  TransportError
} from "../services/Transport.js"
import { reconnectBackoff } from "../src/concurrency/Backoff.js"
import {
  decodeEntries,
  failureOf,
  lastGeneratedOf,
  messageOf,
  PAYLOAD_FIELD,
  pipelineReplies
} from "../src/transport/RedisReplies.js"
import { PUT_IF_HELD, RELEASE_IF_HELD, RENEW_IF_HELD } from "../src/transport/RedisScripts.js"

export interface RedisTransportOptions {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://…` for TLS (certificates verified). */
  readonly url: Redacted.Redacted<string>
}

/** Longest one connect attempt (TCP, TLS, AUTH, ready check) may take. */
export const CONNECT_TIMEOUT = Duration.seconds(5)
/** A healthy link is pinged this often; two failed pings in a row drop it and reconnect. */
export const LINK_PROBE_INTERVAL = Duration.seconds(5)

/**
 * ioredis reconnects, queues and resends on its own by default; here every such decision is
 * ours: no retry strategy, no offline queue, nothing resent. A dropped connection just ends.
 */
const connectionOptions = (name: string): RedisOptions => ({
  lazyConnect: true,
  retryStrategy: () => null,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  autoResubscribe: false,
  connectTimeout: Duration.toMillis(CONNECT_TIMEOUT),
  connectionName: name,
  disableClientInfo: true
})

/**
 * The one wrapper around ioredis: a promise-returning call, bounded, failing with `TransportError`.
 * `on`, the connection it runs on: a command given to a `ready` one is written at once (there is no
 * offline queue), so a connection failure after that is `lost` — it may have run — not `unavailable`.
 */
const attempt = <A>(
  operation: string,
  call: () => Promise<A>,
  timeout: Duration.DurationInput = TRANSPORT_COMMAND_TIMEOUT,
  on?: Redis
) =>
  Effect.suspend(() => {
    let sent = false
    return Effect.tryPromise({
      try: () => {
        sent = on?.status === "ready"
        return call()
      },
      catch: (cause) => failureOf(operation, cause, sent)
    })
  }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new TransportError({
          operation,
          message: `no reply within ${Duration.format(Duration.decode(timeout))}`,
          failure: "timeout"
        })
    })
  )

const ttlMillis = (operation: string, ttl: Duration.Duration) => {
  const ms = Duration.toMillis(ttl)
  return Number.isFinite(ms)
    ? Effect.succeed(Math.max(1, Math.ceil(ms)))
    : Effect.fail(new TransportError({ operation, message: "every key needs a finite TTL", failure: "refused" }))
}

/** ioredis, loaded with the first connection: ~40 ms of a daemon's start, and most run without a fleet. */
const ioredis = Effect.promise(() => import("ioredis"))

/**
 * Opens one connection. ioredis reports why a connect failed (refused, WRONGPASS, certificate)
 * on its `error` event and rejects `connect()` with a bare "Connection is closed", so the last
 * error seen is what the failure says.
 */
const connect = (url: Redacted.Redacted<string>, name: string) =>
  Effect.flatMap(ioredis, ({ Redis }) => {
    const errors = { last: Option.none<unknown>() }
    const client = new Redis(Redacted.value(url), connectionOptions(name))
    client.on("error", (error: unknown) => {
      errors.last = Option.some(error)
    })
    return attempt("connect", () => client.connect(), CONNECT_TIMEOUT).pipe(
      Effect.mapError((e) =>
        Option.match(errors.last, {
          onNone: () => e,
          onSome: (cause) => failureOf("connect", cause)
        })
      ),
      Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.sync(() => client.disconnect()))),
      Effect.as({ client, errors })
    )
  })

/** Resolves when the connection has ended (closed by the server, the network or us). */
const ended = (client: Redis) =>
  Effect.async<void>((resume) => {
    if (client.status === "end") return resume(Effect.void)
    const onEnd = () => resume(Effect.void)
    client.once("end", onEnd)
    return Effect.sync(() => void client.off("end", onEnd))
  })

const quit = (client: Redis) =>
  attempt("quit", () => client.quit(), Duration.millis(500)).pipe(
    Effect.ignore,
    Effect.ensuring(Effect.sync(() => client.disconnect()))
  )

export const make = (options: RedisTransportOptions) =>
  Effect.gen(function*() {
    const status = yield* SubscriptionRef.make<LinkStatus>({
      state: "connecting",
      since: yield* DateTime.now,
      attempt: 1,
      lastError: null
    })
    const current = yield* Ref.make(Option.none<Redis>())
    const firstAttempt = yield* Deferred.make<void>()

    const report = (next: Omit<LinkStatus, "since">) =>
      Effect.flatMap(DateTime.now, (since) => SubscriptionRef.set(status, { ...next, since }))

    /** Connects, retrying on the backoff; the attempt counter belongs to this outage alone. */
    const connectWithBackoff = (lastError: string | null) =>
      Effect.gen(function*() {
        const tries = yield* Ref.make(0)
        const previous = yield* Ref.make(lastError)
        const once = Effect.gen(function*() {
          const n = yield* Ref.updateAndGet(tries, (t) => t + 1)
          yield* report({ state: "connecting", attempt: n, lastError: yield* Ref.get(previous) })
          return yield* connect(options.url, "telemux").pipe(
            Effect.tapError((e) =>
              Effect.all([
                Ref.set(previous, e.message),
                report({ state: "down", attempt: n, lastError: e.message }),
                Deferred.succeed(firstAttempt, undefined),
                n === 1 ? Effect.logWarning(`Redis link down: ${e.message}`, e) : Effect.void
              ], { discard: true })
            )
          )
        })
        // Each outage starts the backoff afresh.
        return yield* Effect.retry(once, reconnectBackoff(RECONNECT_BACKOFF_INITIAL, RECONNECT_BACKOFF_MAX))
      })

    const probe = (client: Redis) =>
      attempt("probe", () => client.ping()).pipe(
        Effect.retry({ times: 1 }),
        Effect.delay(LINK_PROBE_INTERVAL),
        Effect.forever
      )

    /** One healthy period: serve until the connection ends; returns why it ended. */
    const serveOnce = (lastError: string | null) =>
      Effect.gen(function*() {
        const { client, errors } = yield* Effect.uninterruptibleMask((restore) =>
          restore(connectWithBackoff(lastError)).pipe(
            Effect.tap(({ client }) => Effect.addFinalizer(() => quit(client)))
          )
        )
        yield* Ref.set(current, Option.some(client))
        yield* report({ state: "up", attempt: 0, lastError: null })
        yield* Deferred.succeed(firstAttempt, undefined)
        yield* Effect.logInfo("Redis link up")
        const reason = yield* Effect.raceFirst(
          ended(client).pipe(
            Effect.map(() => Option.match(errors.last, { onNone: () => "connection closed", onSome: messageOf }))
          ),
          probe(client).pipe(Effect.catchAll((e) => Effect.succeed(`health probe failed: ${e.message}`)))
        )
        yield* Ref.set(current, Option.none())
        yield* Effect.logWarning(`Redis link lost: ${reason}`)
        return reason
      }).pipe(Effect.scoped)

    // A link that served and then dropped starts over with attempt 1 and a fresh backoff.
    const supervise = Effect.iterate(null as string | null, { while: () => true, body: serveOnce })
    yield* Effect.forkScoped(supervise)
    yield* Effect.addFinalizer(() => Ref.set(current, Option.none()))
    // Start-up waits for the first attempt, so a daemon begins on a live link when Redis is fine.
    yield* Deferred.await(firstAttempt).pipe(Effect.timeoutOption(Duration.sum(CONNECT_TIMEOUT, Duration.seconds(1))))

    const linkDown = (operation: string) =>
      Effect.flatMap(SubscriptionRef.get(status), (link) =>
        Effect.fail(
          new TransportError({
            operation,
            message: `Redis link is ${link.state === "up" ? "reconnecting" : link.state}${
              link.lastError === null ? "" : `: ${link.lastError}`
            }`,
            failure: "unavailable"
          })
        ))

    /** Runs one command on the live connection; fails at once when there is none. */
    const command = <A>(operation: string, call: (client: Redis) => Promise<A>) =>
      Effect.flatMap(
        Ref.get(current),
        Option.match({
          onNone: () => linkDown(operation),
          onSome: (client) => attempt(operation, () => call(client), TRANSPORT_COMMAND_TIMEOUT, client)
        })
      ).pipe(Effect.withSpan(`Transport.${operation}`))

    const scan = (pattern: string) =>
      Effect.gen(function*() {
        const keys = new Set<string>()
        let cursor = "0"
        do {
          const [next, batch] = yield* command("scan", (c) => c.scan(cursor, "MATCH", pattern, "COUNT", SCAN_COUNT))
          for (const key of batch) keys.add(key)
          cursor = next
        } while (cursor !== "0")
        return Array.from(keys)
      })

    const append = (
      stream: string,
      payload: string,
      opts: { readonly maxLen: number; readonly ttl: Duration.Duration }
    ) =>
      Effect.gen(function*() {
        const ttl = yield* ttlMillis("append", opts.ttl)
        const replies = yield* command("append", (c) =>
          c.multi()
            .xadd(stream, "MAXLEN", "~", Math.max(0, Math.floor(opts.maxLen)), "*", PAYLOAD_FIELD, payload)
            .pexpire(stream, ttl)
            .exec())
        const added = replies?.[0]
        const expired = replies?.[1]
        if (added === undefined || expired === undefined) {
          return yield* new TransportError({
            operation: "append",
            message: "the transaction was discarded",
            failure: "unavailable"
          })
        }
        const failed = added[0] ?? expired[0]
        if (failed !== null) {
          // an answer came: the transaction was sent
          return yield* failureOf("append", failed, true)
        }
        return String(added[1])
      })

    const reader = Effect.gen(function*() {
      const connection = yield* Ref.make(Option.none<Redis>())
      const lock = yield* Effect.makeSemaphore(1)
      const drop = Effect.flatMap(
        Ref.getAndSet(connection, Option.none()),
        Option.match({ onNone: () => Effect.void, onSome: (c) => Effect.sync(() => c.disconnect()) })
      )
      // A reader's connection may sit in a blocked XREAD: close it rather than queue a QUIT behind it.
      yield* Effect.addFinalizer(() => drop)

      /** The reader's connection, (re)opened lazily; while the link is down, reads fail like every command. */
      const live = Effect.gen(function*() {
        if (Option.isNone(yield* Ref.get(current))) return yield* linkDown("read")
        const open = yield* Ref.get(connection)
        if (Option.isSome(open) && open.value.status === "ready") return open.value
        yield* drop
        return yield* Effect.uninterruptibleMask((restore) =>
          restore(connect(options.url, "telemux-reader")).pipe(
            Effect.tap(({ client }) => Ref.set(connection, Option.some(client))),
            Effect.map(({ client }) => client)
          )
        )
      })

      const read: StreamReader["read"] = (positions, opts) => {
        const blockMs = Math.max(
          0,
          Math.min(Math.floor(Duration.toMillis(opts.block)), Duration.toMillis(STREAM_BLOCK_MAX))
        )
        if (positions.length === 0) {
          // nothing to read: wait out `block` like an empty XREAD would, so a caller's loop cannot spin
          return Effect.flatMap(
            Ref.get(current),
            Option.match({
              onNone: () => linkDown("read"),
              onSome: () => Effect.as(Effect.sleep(Duration.millis(blockMs)), [])
            })
          )
        }
        const args: Array<string | number> = ["COUNT", Math.max(1, Math.floor(opts.count))]
        if (blockMs > 0) args.push("BLOCK", blockMs)
        args.push("STREAMS", ...positions.map((p) => p.stream), ...positions.map((p) => p.after))
        return Effect.gen(function*() {
          const client = yield* live
          const reply = yield* attempt(
            "read",
            () => client.call("XREAD", ...args),
            Duration.sum(Duration.millis(blockMs), TRANSPORT_COMMAND_TIMEOUT)
          )
          const entries = decodeEntries(reply)
          if (entries === undefined) {
            return yield* new TransportError({
              operation: "read",
              message: "unexpected XREAD reply",
              failure: "refused"
            })
          }
          return entries
        }).pipe(
          // Interrupted or failed mid-read, the connection may still be blocked on the server.
          Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : drop)),
          lock.withPermits(1)
        )
      }
      return { read } satisfies StreamReader
    })

    return Transport.of({
      link: SubscriptionRef.get(status),
      linkChanges: status.changes,
      put: (key, value, ttl) =>
        Effect.flatMap(ttlMillis("put", ttl), (ms) => command("put", (c) => c.set(key, value, "PX", ms))).pipe(
          Effect.asVoid
        ),
      get: (key) => command("get", (c) => c.get(key)).pipe(Effect.map(Option.fromNullable)),
      getMany: (keys) =>
        keys.length === 0
          ? Effect.succeed([])
          : command("getMany", (c) => {
            // MGET answers nil for a key of another type, where GET would fail the whole pipeline
            const pipeline = c.pipeline().mget(...keys)
            for (const key of keys) pipeline.pttl(key)
            return pipeline.exec()
          }).pipe(
            Effect.flatMap((replies) => pipelineReplies("getMany", replies)),
            Effect.map(([values, ...ttls]) =>
              keys.map((_, i): Option.Option<ExpiringValue> => {
                const value: unknown = Array.isArray(values) ? values[i] : undefined
                const ttl = ttls[i]
                // -2: expired between the two commands; -1: no TTL
                if (typeof value !== "string" || ttl === -2) return Option.none()
                return Option.some({
                  value,
                  expiresIn: typeof ttl === "number" && ttl >= 0 ? Duration.millis(ttl) : Duration.infinity
                })
              })
            )
          ),
      remove: (key) => command("remove", (c) => c.del(key)).pipe(Effect.asVoid),
      claim: (key, value, ttl) =>
        Effect.flatMap(ttlMillis("claim", ttl), (ms) => command("claim", (c) => c.set(key, value, "PX", ms, "NX")))
          .pipe(
            Effect.map((reply) => reply === "OK")
          ),
      renewIfHeld: (key, value, ttl) =>
        Effect.flatMap(
          ttlMillis("renewIfHeld", ttl),
          (ms) => command("renewIfHeld", (c) => c.eval(RENEW_IF_HELD, 1, key, value, ms))
        ).pipe(Effect.map((reply) => reply === 1)),
      releaseIfHeld: (key, value) =>
        command("releaseIfHeld", (c) => c.eval(RELEASE_IF_HELD, 1, key, value)).pipe(
          Effect.map((reply) => reply === 1)
        ),
      putIfHeld: (fence, key, value, ttl) =>
        Effect.flatMap(
          ttlMillis("putIfHeld", ttl),
          (ms) => command("putIfHeld", (c) => c.eval(PUT_IF_HELD, 2, fence.key, key, fence.value, value, ms))
        ).pipe(Effect.map((reply) => reply === 1)),
      scan,
      append,
      lastId: (stream) =>
        command("lastId", (c) => c.xrevrange(stream, "+", "-", "COUNT", 1)).pipe(
          Effect.map((entries) => entries[0]?.[0] ?? STREAM_START)
        ),
      lastGeneratedIds: (streams) =>
        streams.length === 0
          ? Effect.succeed([])
          : command("lastGeneratedIds", (c) => {
            const pipeline = c.pipeline()
            for (const stream of streams) pipeline.xinfo("STREAM", stream)
            return pipeline.exec()
          }).pipe(
            Effect.flatMap((replies) =>
              Effect.forEach(replies ?? [], ([error, reply]) => {
                // XINFO on a missing key is an error reply; the stream it names has generated nothing
                if (error !== null && /^ERR no such key/.test(error.message)) return Effect.succeed(STREAM_START)
                if (error !== null) {
                  return Effect.fail(failureOf("lastGeneratedIds", error))
                }
                const id = lastGeneratedOf(reply)
                return id === undefined
                  ? Effect.fail(
                    new TransportError({
                      operation: "lastGeneratedIds",
                      message: "unexpected XINFO reply",
                      failure: "refused"
                    })
                  )
                  : Effect.succeed(id)
              })
            ),
            Effect.filterOrFail(
              (ids) => ids.length === streams.length,
              () =>
                new TransportError({
                  operation: "lastGeneratedIds",
                  message: "the pipeline was discarded",
                  failure: "unavailable"
                })
            )
          ),
      reader
    })
  })

export const layer = (options: RedisTransportOptions): Layer.Layer<Transport> => Layer.scoped(Transport, make(options))
