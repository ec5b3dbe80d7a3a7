import { Clock, Context, DateTime, Deferred, Duration, Effect, Layer, Option, Ref, SubscriptionRef } from "effect"
import {
  type ExpiringValue,
  type LinkStatus,
  STREAM_BLOCK_MAX,
  STREAM_START,
  type StreamEntry,
  type StreamPosition,
  type StreamReader,
  Transport,
  TransportError
} from "../services/Transport.js"
import { isAfter, parse as parseId, type StreamId } from "../src/fleet/StreamId.js"

/** Lets a test take the in-memory link down and bring it back, as a Redis outage would. */
export class MemoryTransportControl extends Context.Tag("telemux/MemoryTransportControl")<MemoryTransportControl, {
  /** Every operation fails with `TransportError` until `linkUp`; blocked reads fail at once. Data is kept. */
  readonly linkDown: (reason?: string) => Effect.Effect<void>
  readonly linkUp: Effect.Effect<void>
  /** Reports any status (e.g. `connecting` with a given `attempt`); only `up` lets operations through. */
  readonly setLink: (status: Omit<LinkStatus, "since">) => Effect.Effect<void>
  /** While on, writes (`put`, `append`) are refused as Redis at `maxmemory` refuses them; reads and removes work. */
  readonly outOfMemory: (on: boolean) => Effect.Effect<void>
  /**
   * While set, appends to this stream fail with a `timeout`, as when Redis stalls (a fork, a slow
   * disk, `CLIENT PAUSE` in a failover) past the transport's bound: the caller is told "no reply".
   * With `stored` the entry is there for its readers all the same (Redis ran the write after the
   * stall); without, it is not (the write never ran). `failure` `lost`: the connection ended
   * instead, with the write sent.
   */
  readonly unansweredAppends: (
    stream: string | undefined,
    stored?: boolean,
    failure?: "timeout" | "lost"
  ) => Effect.Effect<void>
  /** `XADD stream <id> …`: an entry with a chosen id (greater than the stream's last), as anyone with access may write. */
  readonly appendWithId: (stream: string, id: string, payload: string) => Effect.Effect<void, TransportError>
}>() {}

type Item =
  | { readonly _tag: "Value"; readonly value: string; readonly expiresAt: number }
  | { readonly _tag: "Stream"; readonly entries: Array<StoredEntry>; last: StreamId; expiresAt: number }

interface StoredEntry extends StreamId {
  readonly id: string
  readonly payload: string
}

const escapeForClass = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`

/** Redis's glob (`*`, `?`, `[abc]`, `[^a-z]`, `\x`) as an anchored regular expression. */
export const globToRegExp = (pattern: string): RegExp => {
  const chars = Array.from(pattern)
  let source = ""
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!
    if (c === "*") source += "[\\s\\S]*"
    else if (c === "?") source += "[\\s\\S]"
    else if (c === "\\" && i + 1 < chars.length) source += escapeForClass(chars[++i]!)
    else if (c === "[") {
      let negate = false
      if (chars[i + 1] === "^") {
        negate = true
        i++
      }
      const members: Array<string> = []
      while (i + 1 < chars.length && chars[i + 1] !== "]") {
        let from = chars[++i]!
        if (from === "\\" && i + 1 < chars.length) from = chars[++i]!
        if (chars[i + 1] === "-" && i + 2 < chars.length && chars[i + 2] !== "]") {
          let to = chars[i + 2]!
          i += 2
          if (to === "\\" && i + 1 < chars.length) to = chars[++i]!
          const [lo, hi] = from <= to ? [from, to] : [to, from]
          members.push(`${escapeForClass(lo)}-${escapeForClass(hi)}`)
        } else {
          members.push(escapeForClass(from))
        }
      }
      i++ // the closing `]` (or the end of an unterminated class, as Redis treats it)
      source += members.length === 0 ? (negate ? "[\\s\\S]" : "[^\\s\\S]") : `[${negate ? "^" : ""}${members.join("")}]`
    } else source += escapeForClass(c)
  }
  return new RegExp(`^${source}$`, "u")
}

const ttlMillis = (operation: string, ttl: Duration.Duration) => {
  const ms = Duration.toMillis(ttl)
  return Number.isFinite(ms)
    ? Effect.succeed(Math.max(1, Math.ceil(ms)))
    : Effect.fail(new TransportError({ operation, message: "every key needs a finite TTL", failure: "refused" }))
}

const wrongType = (operation: string, key: string) =>
  new TransportError({ operation, message: `WRONGTYPE ${key} holds the wrong kind of value`, failure: "refused" })

const OUT_OF_MEMORY = "OOM command not allowed when used memory > 'maxmemory'."

/**
 * The transport in memory, with Redis's semantics: TTLs on the Effect `Clock` (so `TestClock`
 * drives expiry and blocking), glob `scan`, streams with `<ms>-<seq>` ids, exact MAXLEN trim.
 */
export const makeControlled = Effect.gen(function*() {
  const items = new Map<string, Item>()
  const status = yield* SubscriptionRef.make<LinkStatus>({
    state: "up",
    since: yield* DateTime.now,
    attempt: 0,
    lastError: null
  })
  /** Completed (and replaced) on every append and link change: wakes blocked readers. */
  const wake = yield* Ref.make(yield* Deferred.make<void>())
  const signal = Effect.flatMap(Deferred.make<void>(), (next) => Ref.getAndSet(wake, next)).pipe(
    Effect.flatMap((current) => Deferred.succeed(current, undefined))
  )

  const memory = { full: false }
  let unanswered:
    | { readonly stream: string; readonly stored: boolean; readonly failure: "timeout" | "lost" }
    | undefined
  const noAnswer = (failure: "timeout" | "lost") =>
    new TransportError({
      operation: "append",
      message: failure === "timeout" ? "no reply within 2s" : "Command aborted due to connection close",
      failure
    })

  const guard = (operation: string) =>
    Effect.flatMap(SubscriptionRef.get(status), (link) =>
      link.state === "up"
        ? Effect.void
        : Effect.fail(
          new TransportError({
            operation,
            message: `link is ${link.state}: ${link.lastError ?? "no reason given"}`,
            failure: "unavailable"
          })
        ))

  const guardWrite = (operation: string) =>
    Effect.suspend(() =>
      memory.full
        ? Effect.fail(new TransportError({ operation, message: OUT_OF_MEMORY, failure: "out-of-memory" }))
        : guard(operation)
    )

  /** Runs `f` on the live items at the Clock's now, after the link check (and, for a write, the memory check). */
  const withItems = <A>(operation: string, f: (now: number) => A | TransportError, write = false) =>
    (write ? guardWrite(operation) : guard(operation)).pipe(
      Effect.zipRight(Clock.currentTimeMillis),
      Effect.flatMap((now) => {
        for (const [key, item] of items) if (item.expiresAt <= now) items.delete(key)
        const result = f(now)
        return result instanceof TransportError ? Effect.fail(result) : Effect.succeed(result)
      })
    )

  const valueOf = (operation: string, key: string) => {
    const item = items.get(key)
    if (item === undefined) return Option.none<string>()
    return item._tag === "Value" ? Option.some(item.value) : wrongType(operation, key)
  }

  const streamOf = (operation: string, key: string) => {
    const item = items.get(key)
    if (item === undefined || item._tag === "Stream") return item
    return wrongType(operation, key)
  }

  const newStream = (): Extract<Item, { _tag: "Stream" }> => ({
    _tag: "Stream",
    entries: [],
    last: { ms: 0, seq: 0 },
    expiresAt: 0
  })

  const entriesAfter = (
    positions: ReadonlyArray<StreamPosition>,
    count: number
  ): ReadonlyArray<StreamEntry> | TransportError => {
    const found: Array<StreamEntry> = []
    for (const { after, stream } of positions) {
      const from = parseId(after)
      if (from === undefined) {
        return new TransportError({ operation: "read", message: `ERR Invalid stream ID ${after}`, failure: "refused" })
      }
      const item = streamOf("read", stream)
      if (item instanceof TransportError) return item
      if (item === undefined) continue
      const entries = item.entries.filter((e) => isAfter(e, from)).slice(0, count)
      for (const e of entries) found.push({ stream, id: e.id, payload: e.payload })
    }
    return found
  }

  const read: StreamReader["read"] = (positions, options) =>
    Effect.gen(function*() {
      const blockMs = Math.min(Duration.toMillis(options.block), Duration.toMillis(STREAM_BLOCK_MAX))
      const deadline = (yield* Clock.currentTimeMillis) + Math.max(0, blockMs)
      const count = Math.max(1, options.count)
      while (true) {
        // take the wake-up before looking, so an append in between is never missed
        const woken = yield* Ref.get(wake)
        const found = yield* withItems("read", () => entriesAfter(positions, count))
        const now = yield* Clock.currentTimeMillis
        if (found.length > 0 || now >= deadline) return found
        yield* Deferred.await(woken).pipe(Effect.timeoutOption(Duration.millis(deadline - now)))
      }
    })

  const transport = Transport.of({
    link: SubscriptionRef.get(status),
    linkChanges: status.changes,
    put: (key, value, ttl) =>
      Effect.flatMap(
        ttlMillis("put", ttl),
        (ms) => withItems("put", (now) => void items.set(key, { _tag: "Value", value, expiresAt: now + ms }), true)
      ),
    get: (key) => withItems("get", () => valueOf("get", key)),
    getMany: (keys) =>
      withItems("getMany", (now) => {
        const values: Array<Option.Option<ExpiringValue>> = []
        for (const key of keys) {
          const item = items.get(key)
          values.push(
            item?._tag === "Value"
              ? Option.some({ value: item.value, expiresIn: Duration.millis(item.expiresAt - now) })
              : Option.none()
          )
        }
        return values
      }),
    remove: (key) => withItems("remove", () => void items.delete(key)),
    claim: (key, value, ttl) =>
      Effect.flatMap(ttlMillis("claim", ttl), (ms) =>
        withItems("claim", (now) => {
          if (items.has(key)) return false
          items.set(key, { _tag: "Value", value, expiresAt: now + ms })
          return true
        }, true)),
    // PEXPIRE and DEL are not refused at maxmemory, nor is a script that only reads before them
    renewIfHeld: (key, value, ttl) =>
      Effect.flatMap(ttlMillis("renewIfHeld", ttl), (ms) =>
        withItems("renewIfHeld", (now) => {
          const held = valueOf("renewIfHeld", key)
          if (held instanceof TransportError) return held
          if (!Option.contains(held, value)) return false
          items.set(key, { _tag: "Value", value, expiresAt: now + ms })
          return true
        })),
    releaseIfHeld: (key, value) =>
      withItems("releaseIfHeld", () => {
        const held = valueOf("releaseIfHeld", key)
        if (held instanceof TransportError) return held
        return Option.contains(held, value) && items.delete(key)
      }),
    // as the script does: the write (SET) is refused at maxmemory, the check before it is not
    putIfHeld: (fence, key, value, ttl) =>
      Effect.flatMap(ttlMillis("putIfHeld", ttl), (ms) =>
        withItems("putIfHeld", (now) => {
          const held = valueOf("putIfHeld", fence.key)
          if (held instanceof TransportError) return held
          if (!Option.contains(held, fence.value)) return false
          if (memory.full) {
            return new TransportError({ operation: "putIfHeld", message: OUT_OF_MEMORY, failure: "out-of-memory" })
          }
          items.set(key, { _tag: "Value", value, expiresAt: now + ms })
          return true
        })),
    scan: (pattern) =>
      withItems("scan", () => {
        const matcher = globToRegExp(pattern)
        return Array.from(items.keys()).filter((key) => matcher.test(key))
      }),
    append: (stream, payload, options) =>
      stream === unanswered?.stream && !unanswered.stored
        ? Effect.fail(noAnswer(unanswered.failure))
        : Effect.flatMap(ttlMillis("append", options.ttl), (ms) =>
          withItems("append", (now) => {
            const existing = streamOf("append", stream)
            if (existing instanceof TransportError) return existing
            const item = existing ?? newStream()
            const next = now > item.last.ms ? { ms: now, seq: 0 } : { ms: item.last.ms, seq: item.last.seq + 1 }
            const id = `${next.ms}-${next.seq}`
            item.entries.push({ ...next, id, payload })
            if (item.entries.length > options.maxLen) {
              item.entries.splice(0, item.entries.length - Math.max(0, options.maxLen))
            }
            item.last = next
            item.expiresAt = now + ms
            items.set(stream, item)
            return id
          }, true)).pipe(
            Effect.tap(signal),
            Effect.flatMap((id) =>
              stream === unanswered?.stream ? Effect.fail(noAnswer(unanswered.failure)) : Effect.succeed(id)
            )
          ),
    lastId: (stream) =>
      withItems("lastId", () => {
        const item = streamOf("lastId", stream)
        if (item instanceof TransportError) return item
        return item?.entries[item.entries.length - 1]?.id ?? STREAM_START
      }),
    lastGeneratedIds: (streams) =>
      withItems("lastGeneratedIds", () => {
        const ids: Array<string> = []
        for (const stream of streams) {
          const item = streamOf("lastGeneratedIds", stream)
          if (item instanceof TransportError) return item
          ids.push(item === undefined ? STREAM_START : `${item.last.ms}-${item.last.seq}`)
        }
        return ids
      }),
    // Readers hold no connection here: creating one never fails; reads fail while the link is down.
    reader: Effect.succeed({ read })
  })

  const setLink = (next: Omit<LinkStatus, "since">) =>
    DateTime.now.pipe(
      Effect.flatMap((since) => SubscriptionRef.set(status, { ...next, since })),
      Effect.zipRight(signal)
    )

  const control = MemoryTransportControl.of({
    linkDown: (reason = "link forced down") => setLink({ state: "down", attempt: 1, lastError: reason }),
    linkUp: setLink({ state: "up", attempt: 0, lastError: null }),
    setLink,
    outOfMemory: (on) => Effect.sync(() => void (memory.full = on)),
    unansweredAppends: (stream, stored = true, failure = "timeout") =>
      Effect.sync(() => void (unanswered = stream === undefined ? undefined : { stream, stored, failure })),
    appendWithId: (stream, id, payload) =>
      withItems("append", (now) => {
        const existing = streamOf("append", stream)
        if (existing instanceof TransportError) return existing
        const item = existing ?? newStream()
        const at = parseId(id)
        if (at === undefined || !isAfter(at, item.last)) {
          return new TransportError({
            operation: "append",
            message: "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            failure: "refused"
          })
        }
        item.entries.push({ ...at, id: `${at.ms}-${at.seq}`, payload })
        item.last = at
        item.expiresAt = Math.max(item.expiresAt, now + Duration.toMillis(Duration.days(1)))
        items.set(stream, item)
      }, true).pipe(Effect.tap(signal))
  })

  return { transport, control }
})

export const make: Effect.Effect<Transport["Type"]> = Effect.map(makeControlled, ({ transport }) => transport)

export const layer: Layer.Layer<Transport> = Layer.effect(Transport, make)

/** The transport plus the handle that forces its link down and up. */
export const layerControlled: Layer.Layer<Transport | MemoryTransportControl> = Layer.effectContext(
  Effect.map(
    makeControlled,
    ({ control, transport }) => Context.make(Transport, transport).pipe(Context.add(MemoryTransportControl, control))
  )
)
