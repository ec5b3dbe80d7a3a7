import {
  Cause,
  Clock,
  DateTime,
  Deferred,
  Duration,
  Effect,
  FiberMap,
  FiberSet,
  Layer,
  Option,
  PubSub,
  Queue,
  Schema
} from "effect"
import { randomUUID } from "node:crypto"
import * as os from "node:os"
import { Cache } from "../services/Cache.js"
import type { Agents } from "../services/Agents.js"
import type { Idempotency } from "../services/Idempotency.js"
import type { Listeners } from "../services/Listeners.js"
import { Sessions } from "../services/Sessions.js"
import { Fleet } from "../services/Fleet.js"
import { OutputLog } from "../services/OutputLog.js"
import { StreamPositions } from "../services/StreamPositions.js"
import { SystemStats } from "../services/SystemStats.js"
import { ConfigInvalid, TelemuxConfig } from "../services/TelemuxConfig.js"
import {
  type StreamEntry,
  STREAM_START,
  Transport,
  type TransportError
} from "../services/Transport.js"
import { Computer } from "../src/domain/Computer.js"
import { ComputerUnreachable, InvalidRequest, RemoteTimeout, TerminalUnavailable } from "../src/domain/Errors.js"
import type { ComputerName, SessionId } from "../src/domain/Session.js"
import { makeDeparted } from "../src/fleet/Departed.js"
import { encode, type Envelope, open, REPLAY_WINDOW, sign } from "../src/fleet/Envelope.js"
import {
  CREATE_TIMEOUT,
  EVENTS_MAXLEN,
  FleetEvent,
  FleetKeys,
  HANDLED_IDS_MAX,
  heartbeatTtl,
  INBOX_MAXLEN,
  Kinds,
  OUTPUT_LEASE_RENEW,
  OUTPUT_STREAM_MAXLEN,
  OutputUpdate,
  PENDING_REQUESTS_MAX,
  RemoteError,
  REPLIES_MAXLEN,
  Reply,
  Request,
  REQUEST_CONCURRENCY,
  REQUEST_TIMEOUT,
  ResultOf,
  STREAM_TTL
} from "../src/fleet/Protocol.js"
import { VERSION } from "../src/Version.js"
import * as FleetHandler from "./FleetHandler.js"
import * as FleetLinkHealth from "./FleetLinkHealth.js"
import * as FleetReader from "./FleetReader.js"

export interface FleetOptions {
  readonly replayWindow?: Duration.Duration
}

/** Requests queued behind busy sessions at once; beyond it a request is answered "busy". */
const QUEUED_REQUESTS_MAX = 10_000

const decodeRequest = Schema.decodeUnknown(Request)
const decodeReply = Schema.decodeUnknown(Reply)
const decodeEvent = Schema.decodeUnknown(FleetEvent)
const decodeHeartbeat = Schema.decodeUnknown(Computer)
const decodeOutput = Schema.decodeUnknown(OutputUpdate)
const encodeComputer = Schema.encodeSync(Computer)
const encodeReply = Schema.encodeSync(Reply)
const encodeEvent = Schema.encodeSync(FleetEvent)

/** A bounded set that forgets its oldest member first. */
const boundedSet = <A>(capacity: number) => {
  const members = new Set<A>()
  return {
    /** Adds `a`; false when it was already there. */
    add: (a: A) => {
      if (members.has(a)) return false
      members.add(a)
      if (members.size > capacity) members.delete(members.values().next().value as A)
      return true
    },
    size: () => members.size
  }
}

export const make = (options: FleetOptions = {}) =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const config = yield* TelemuxConfig
    const cache = yield* Cache
    const outputLog = yield* OutputLog
    const systemStats = yield* SystemStats
    const positions = yield* StreamPositions
    const me = config.computer
    const interval = config.heartbeatInterval
    const ttl = heartbeatTtl(interval)
    const replayWindow = options.replayWindow ?? REPLAY_WINDOW
    if (Option.isNone(config.fleetSecret)) {
      return yield* new ConfigInvalid({
        message: "TELEMUX_FLEET_SECRET is required with TELEMUX_REDIS_URL: every fleet message is signed with it"
      })
    }
    const secret = config.fleetSecret.value
    const user = yield* Effect.try(() => os.userInfo().username).pipe(Effect.orElseSucceed(() => "unknown"))

    // -- envelopes ----------------------------------------------------------------------------

    /** The signed wire text of a message; `id` is the envelope's (a request's reply names it). */
    const seal = (
      kind: string,
      to: ComputerName | "*",
      payload: unknown,
      lifetime: Duration.Duration,
      id: string = randomUUID()
    ) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        encode(sign(secret, {
          v: 1,
          id,
          kind,
          from: me,
          to,
          sentAt: now,
          deadline: now + Duration.toMillis(lifetime),
          payload
        })))

    /** The authentic envelope in `raw`, or none (logged) for anything forged, stale, malformed or misaddressed. */
    const unseal = (raw: string, kind: string, where: string, window: Duration.Duration = replayWindow) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => open(secret, raw, now, { replayWindow: window })).pipe(
        Effect.flatMap((envelope) =>
          envelope.kind === kind && (envelope.to === me || envelope.to === "*")
            ? Effect.succeed(Option.some(envelope))
            : Effect.as(
              Effect.logWarning("dropped a fleet message not meant for this reader").pipe(
                Effect.annotateLogs({ stream: where, kind: envelope.kind, to: envelope.to, from: envelope.from })
              ),
              Option.none<Envelope>()
            )
        ),
        Effect.catchTag("EnvelopeRejected", (rejected) =>
          Effect.as(
            Effect.logWarning("dropped a fleet message", rejected).pipe(
              Effect.annotateLogs({ stream: where, reason: rejected.reason })
            ),
            Option.none<Envelope>()
          ))
      )

    const health = yield* FleetLinkHealth.make(transport)
    const { tracked } = health

    // -- computers: heartbeat and discovery ---------------------------------------------------

    const selfRecord = Effect.gen(function*() {
      const link = yield* transport.link
      return new Computer({
        name: me,
        host: os.hostname(),
        user,
        role: "fleet",
        online: link.state === "up",
        lastSeenAt: yield* DateTime.now,
        stats: yield* systemStats.snapshot,
        version: VERSION
      })
    })

    /** A failed beat shows in the link's health (and the log, once per outage), not as a warning every interval. */
    const heartbeat = Effect.gen(function*() {
      const record = yield* seal("heartbeat", "*", encodeComputer(yield* selfRecord), ttl)
      yield* tracked("heartbeat", transport.put(FleetKeys.computer(me), record, ttl)).pipe(Effect.ignore)
    })

    /** Online computers other than this one, by name (bounded by the fleet's size). */
    const online = new Map<ComputerName, Computer>()
    /** When the last heartbeat record read of each online computer expires (epoch ms, this daemon's clock). */
    const recordExpiry = new Map<ComputerName, number>()
    /** Computers that left, with the sessions they had open (bounded). */
    const departed = makeDeparted()
    /** Online computers whose open sessions are not in the cache yet (loading, or to retry). */
    const unloaded = new Set<ComputerName>()
    const loads = yield* FiberMap.make<ComputerName>()

    const forgetComputer = (name: ComputerName, why: string) =>
      Effect.gen(function*() {
        const sessions = yield* cache.getSessionsForComputer(name)
        departed.left(name, sessions.map((s) => s.sessionId), yield* Clock.currentTimeMillis)
        online.delete(name)
        recordExpiry.delete(name)
        unloaded.delete(name)
        yield* FiberMap.remove(loads, name)
        yield* cache.removeComputer(name)
        for (const session of sessions) {
          yield* cache.removeSession(session.sessionId)
          yield* outputLog.remove(session.sessionId)
        }
        yield* Effect.logInfo("computer left the fleet").pipe(Effect.annotateLogs({ computer: name, why, sessions: sessions.length }))
      })

    /**
     * A computer missing from one SCAN is not gone: Redis may have lost every record at once (a
     * restart without persistence) or refused to store them (out of memory). It is forgotten when
     * the last record read of it has expired and this daemon has seen the fleet, link up and
     * writes working, for a full TTL since; an orderly leave (ComputerLeft) forgets it at once.
     */
    const discover = Effect.gen(function*() {
      const keys = yield* transport.scan(FleetKeys.computers)
      const values = yield* transport.getMany(keys)
      const now = yield* Clock.currentTimeMillis
      const seen = new Map<ComputerName, { readonly computer: Computer; readonly expiresAt: number }>()
      for (const value of values) {
        if (Option.isNone(value)) continue
        // a record is read for as long as it lives (Redis expires it after the TTL), which may exceed the replay window
        const envelope = yield* unseal(value.value.value, "heartbeat", "heartbeats", Duration.max(replayWindow, ttl))
        if (Option.isNone(envelope) || envelope.value.from === me) continue
        const computer = yield* decodeHeartbeat(envelope.value.payload).pipe(Effect.option)
        if (Option.isSome(computer) && computer.value.name === envelope.value.from) {
          seen.set(computer.value.name, { computer: computer.value, expiresAt: now + Duration.toMillis(value.value.expiresIn) })
        }
      }
      const seeing = yield* health.seeingSince
      if (Option.isSome(seeing)) {
        const graceEnds = seeing.value + Duration.toMillis(ttl)
        for (const name of Array.from(online.keys())) {
          if (!seen.has(name) && now >= Math.max(recordExpiry.get(name) ?? 0, graceEnds)) {
            yield* forgetComputer(name, "its heartbeat expired")
          }
        }
      }
      for (const [name, { computer, expiresAt }] of seen) {
        const isNew = !online.has(name)
        online.set(name, computer)
        recordExpiry.set(name, expiresAt)
        yield* cache.upsertComputer(computer)
        if (isNew) {
          unloaded.add(name)
          yield* Effect.logInfo("computer joined the fleet").pipe(Effect.annotateLogs({ computer: name }))
        }
      }
      for (const name of unloaded) yield* FiberMap.run(loads, name, loadSessions(name), { onlyIfMissing: true })
    })

    // -- requests out ---------------------------------------------------------------------------

    const pending = new Map<string, Deferred.Deferred<Reply>>()

    const unreachable = (computer: ComputerName, why: string) =>
      new ComputerUnreachable({ computer, message: `computer ${computer} is not reachable: ${why}` })

    /** Why `computer` (not online) cannot be asked: when it left, if this daemon saw it go. */
    const offline = (computer: ComputerName) => {
      const departure = departed.computer(computer)
      return departure === undefined
        ? unreachable(computer, "it is not online in the fleet")
        : new ComputerUnreachable({
          computer,
          message: `computer ${computer} is offline since ${DateTime.formatIso(DateTime.unsafeMake(departure.since))}; its sessions come back when it does`
        })
    }

    /** The link failed under a request: Redis's own reply goes to the log, the client gets what to check. */
    const linkFailed = (computer: ComputerName, error: TransportError) =>
      Effect.as(
        Effect.logDebug("a fleet request could not be sent", error).pipe(Effect.annotateLogs({ computer })),
        unreachable(computer, `the fleet link failed: ${error.advice}; GET /health shows the link`)
      )

    const requireOnline = (computer: ComputerName) =>
      computer === me || online.has(computer) ? Effect.void : Effect.fail(offline(computer))

    const whereabouts = (sessionId: SessionId) =>
      Effect.sync(() => {
        const departure = departed.session(sessionId)
        if (departure === undefined) return Option.none<ComputerUnreachable>()
        if (!online.has(departure.computer)) return Option.some(offline(departure.computer))
        return Option.some(unreachable(departure.computer, "it is back in the fleet and its sessions are loading; try again shortly"))
      })

    const request = <R extends Request>(
      computer: ComputerName,
      body: R,
      timeout: Duration.Duration = body._tag === "CreateSession" ? CREATE_TIMEOUT : REQUEST_TIMEOUT
    ): Effect.Effect<ResultOf<R>, RemoteError> =>
      Effect.gen(function*() {
        if (computer === me) return (yield* handler.handle(body, me)) as ResultOf<R>
        if (!online.has(computer)) return yield* offline(computer)
        if (pending.size >= PENDING_REQUESTS_MAX) {
          return yield* unreachable(computer, `${PENDING_REQUESTS_MAX} requests are already waiting for replies`)
        }
        const id = randomUUID()
        const raw = yield* seal(Kinds.request, computer, Schema.encodeSync(Request)(body), timeout, id)
        const answer = yield* Deferred.make<Reply>()
        pending.set(id, answer)
        return yield* Effect.gen(function*() {
          yield* tracked("request", transport.append(FleetKeys.inbox(computer), raw, { maxLen: INBOX_MAXLEN, ttl: STREAM_TTL })).pipe(
            Effect.catchAll((e) => Effect.flip(linkFailed(computer, e)))
          )
          const reply = yield* Deferred.await(answer).pipe(
            Effect.timeoutFail({
              duration: timeout,
              onTimeout: () =>
                new RemoteTimeout({ computer, message: `computer ${computer} did not answer within ${Duration.format(timeout)}` })
            })
          )
          if (reply._tag === "Failed") return yield* Effect.fail(reply.error)
          return yield* Schema.decodeUnknown(ResultOf[body._tag] as unknown as Schema.Schema<ResultOf<R>, unknown>)(reply.value).pipe(
            Effect.mapError(() => new TerminalUnavailable({ message: `computer ${computer} sent a reply that does not fit the request` }))
          )
        }).pipe(Effect.ensuring(Effect.sync(() => pending.delete(id))))
      }).pipe(Effect.withSpan("Fleet.request", { attributes: { computer, request: body._tag } }))

    /**
     * Takes in a computer's open sessions when it joins (events carry the changes after that);
     * retried on the next discovery until it succeeds.
     */
    const loadSessions = (name: ComputerName) =>
      request(name, { _tag: "ListSessions" }).pipe(
        Effect.flatMap((sessions) => Effect.forEach(sessions, (s) => cache.upsertSession(s), { discard: true })),
        Effect.tap(() =>
          Effect.sync(() => {
            unloaded.delete(name)
            departed.returned(name)
          })
        ),
        Effect.catchAll((error) => Effect.logWarning("could not load a computer's sessions; retrying", error)),
        Effect.annotateLogs({ computer: name })
      )

    // -- requests in ----------------------------------------------------------------------------

    const handler = yield* FleetHandler.make((update) =>
      Effect.flatMap(seal(Kinds.output, "*", update, STREAM_TTL), (raw) =>
        transport.append(FleetKeys.output(update.sessionId), raw, { maxLen: OUTPUT_STREAM_MAXLEN, ttl: Duration.seconds(60) })
      ).pipe(Effect.catchAll((e) => Effect.logWarning("could not forward output", e)))
    )
    const handled = boundedSet<string>(HANDLED_IDS_MAX)
    const background = yield* FiberSet.make()
    const limiter = yield* Effect.makeSemaphore(REQUEST_CONCURRENCY)
    /** Per-session lanes: requests to one session run in arrival order, different sessions in parallel. */
    const lanes = new Map<string, Array<Effect.Effect<void>>>()
    let queued = 0

    const sendReply = (to: ComputerName, reply: Reply) =>
      Effect.flatMap(seal(Kinds.reply, to, encodeReply(reply), STREAM_TTL), (raw) =>
        tracked("reply", transport.append(FleetKeys.replies(to), raw, { maxLen: REPLIES_MAXLEN, ttl: STREAM_TTL }))).pipe(
          Effect.catchAll((e) => Effect.logWarning("could not send a reply", e)),
          Effect.asVoid
        )

    const fail = (envelope: Envelope, error: RemoteError) =>
      sendReply(envelope.from, { _tag: "Failed", requestId: envelope.id, error })

    const enqueue = (lane: string, task: Effect.Effect<void>) =>
      Effect.suspend(() => {
        queued++
        const job = Effect.ensuring(task, Effect.sync(() => queued--))
        const waiting = lanes.get(lane)
        if (waiting !== undefined) return Effect.sync(() => void waiting.push(job))
        const fresh = [job]
        lanes.set(lane, fresh)
        const drain: Effect.Effect<void> = Effect.suspend(() => {
          const next = fresh.shift()
          if (next === undefined) {
            lanes.delete(lane)
            return Effect.void
          }
          return Effect.zipRight(next, drain)
        })
        return FiberSet.run(background, limiter.withPermits(1)(drain)).pipe(Effect.asVoid)
      })

    const onRequest = (entry: StreamEntry) =>
      Effect.gen(function*() {
        const opened = yield* unseal(entry.payload, Kinds.request, "inbox")
        if (Option.isNone(opened)) return
        const envelope = opened.value
        if (!handled.add(envelope.id)) {
          return yield* Effect.logWarning("dropped a repeated request").pipe(Effect.annotateLogs({ requestId: envelope.id }))
        }
        if ((yield* Clock.currentTimeMillis) > envelope.deadline) {
          return yield* fail(envelope, new RemoteTimeout({ computer: me, message: "the request expired before it was handled" }))
        }
        const decoded = yield* decodeRequest(envelope.payload).pipe(Effect.either)
        if (decoded._tag === "Left") {
          yield* Effect.logWarning("refused a malformed fleet request").pipe(
            Effect.annotateLogs({ stream: "inbox", from: envelope.from, requestId: envelope.id, reason: "request-schema" })
          )
          return yield* fail(envelope, new InvalidRequest({ message: `malformed request: ${decoded.left.message}` }))
        }
        const body = decoded.right
        if (queued >= QUEUED_REQUESTS_MAX) return yield* fail(envelope, unreachable(me, "too many requests queued"))
        const run = handler.handle(body, envelope.from).pipe(
          Effect.flatMap((value) => sendReply(envelope.from, { _tag: "Ok", requestId: envelope.id, value })),
          Effect.catchAll((error) => fail(envelope, error)),
          Effect.catchAllCause((cause) =>
            Effect.zipRight(
              Effect.logError("a fleet request failed unexpectedly", cause),
              fail(envelope, new TerminalUnavailable({ message: Cause.pretty(cause).split("\n")[0] ?? "unexpected failure" }))
            )
          ),
          Effect.annotateLogs(FleetHandler.describeRequest(envelope.from, body))
        )
        yield* enqueue("sessionId" in body ? body.sessionId : envelope.id, run)
      })

    const onReply = (entry: StreamEntry) =>
      Effect.gen(function*() {
        const opened = yield* unseal(entry.payload, Kinds.reply, "replies")
        if (Option.isNone(opened)) return
        const reply = yield* decodeReply(opened.value.payload).pipe(Effect.option)
        if (Option.isNone(reply)) return yield* Effect.logWarning("dropped a malformed reply")
        const waiting = pending.get(reply.value.requestId)
        if (waiting !== undefined) yield* Deferred.succeed(waiting, reply.value)
      })

    // -- events ---------------------------------------------------------------------------------

    const publish = (event: FleetEvent) =>
      Effect.flatMap(seal(Kinds.event, "*", encodeEvent(event), STREAM_TTL), (raw) =>
        tracked("event", transport.append(FleetKeys.events, raw, { maxLen: EVENTS_MAXLEN, ttl: STREAM_TTL }))).pipe(
          Effect.catchAll((e) => Effect.logWarning("could not publish a fleet event", e)),
          Effect.asVoid
        )

    const onEvent = (entry: StreamEntry) =>
      Effect.gen(function*() {
        const opened = yield* unseal(entry.payload, Kinds.event, "events")
        if (Option.isNone(opened) || opened.value.from === me) return
        const event = yield* decodeEvent(opened.value.payload).pipe(Effect.option)
        if (Option.isNone(event)) return yield* Effect.logWarning("dropped a malformed fleet event")
        const from = opened.value.from
        switch (event.value._tag) {
          case "SessionUpserted":
            // a computer speaks only for its own sessions
            if (event.value.session.computer === from) yield* cache.upsertSession(event.value.session)
            return
          case "SessionRemoved":
            if (event.value.computer !== from) return
            yield* cache.removeSession(event.value.sessionId)
            yield* outputLog.remove(event.value.sessionId)
            return
          case "ComputerLeft":
            if (event.value.name === from && online.has(from)) yield* forgetComputer(from, "it left")
            return
        }
      })

    // -- watching remote output ---------------------------------------------------------------

    interface Watch {
      readonly computer: ComputerName
      watchers: number
      after: string
    }
    const watches = new Map<SessionId, Watch>()
    /** Wakes the reader when the set of streams to read changes. */
    const rewire = yield* Queue.sliding<void>(1)

    const onOutput = (sessionId: SessionId, entry: StreamEntry) =>
      Effect.gen(function*() {
        const opened = yield* unseal(entry.payload, Kinds.output, "output")
        if (Option.isNone(opened)) return
        const watch = watches.get(sessionId)
        if (watch === undefined || opened.value.from !== watch.computer) return
        const update = yield* decodeOutput(opened.value.payload).pipe(Effect.option)
        if (Option.isNone(update) || update.value.sessionId !== sessionId) return
        yield* mirror(update.value)
      })

    const mirror = (update: OutputUpdate) =>
      outputLog.mirror({
        _tag: "OutputChanged",
        sessionId: update.sessionId,
        seq: update.seq,
        screen: update.screen,
        changedAt: DateTime.unsafeMake(update.changedAt)
      })

    /** Keeps the owner forwarding while watched: renews the lease well inside it. */
    const renew = (sessionId: SessionId, computer: ComputerName) =>
      request(computer, { _tag: "WatchOutput", sessionId }).pipe(
        Effect.flatMap((latest) => (latest === null ? Effect.void : mirror(latest))),
        Effect.catchAll((error) => Effect.logWarning("could not renew an output watch", error)),
        Effect.zipRight(Effect.sleep(OUTPUT_LEASE_RENEW)),
        Effect.forever
      )

    const watchOutput = (session: { readonly sessionId: SessionId; readonly computer: ComputerName }) =>
      Effect.acquireRelease(
        Effect.gen(function*() {
          const existing = watches.get(session.sessionId)
          if (existing !== undefined) {
            existing.watchers++
            return
          }
          // from the stream's end as it is now: what came before is in the lease reply's snapshot
          const after = yield* transport.lastId(FleetKeys.output(session.sessionId)).pipe(
            Effect.orElseSucceed(() => STREAM_START)
          )
          watches.set(session.sessionId, { computer: session.computer, watchers: 1, after })
          yield* Queue.offer(rewire, undefined)
          yield* FiberMap.run(renewals, session.sessionId, renew(session.sessionId, session.computer))
        }),
        () =>
          Effect.gen(function*() {
            const watch = watches.get(session.sessionId)
            if (watch === undefined || --watch.watchers > 0) return
            watches.delete(session.sessionId)
            yield* FiberMap.remove(renewals, session.sessionId)
            // unwatched, the mirror would go stale: readers fall back to asking the owner
            yield* outputLog.remove(session.sessionId)
            yield* Queue.offer(rewire, undefined)
          })
      ).pipe(Effect.asVoid)
    const renewals = yield* FiberMap.make<SessionId>()

    // -- the reader -----------------------------------------------------------------------------

    const inboxKey = FleetKeys.inbox(me)
    const repliesKey = FleetKeys.replies(me)
    const outputPrefix = FleetKeys.output("" as SessionId)
    const onEntry = (entry: StreamEntry) => {
      if (entry.stream === inboxKey) return onRequest(entry)
      if (entry.stream === repliesKey) return onReply(entry)
      if (entry.stream === FleetKeys.events) return onEvent(entry)
      const id = entry.stream.slice(outputPrefix.length) as SessionId
      const watch = watches.get(id)
      if (watch !== undefined) watch.after = entry.id
      return onOutput(id, entry)
    }
    const fleetReader = FleetReader.make({
      transport,
      positions,
      health,
      interval,
      // replies to requests sent before a restart have no one waiting for them: that position is not saved
      resumed: [{ stream: inboxKey, savedAs: "fleet.inbox" }, { stream: FleetKeys.events, savedAs: "fleet.events" }, { stream: repliesKey }],
      watched: () => Array.from(watches, ([id, w]) => ({ stream: FleetKeys.output(id), after: w.after })),
      rewire,
      handle: (entries) => Effect.forEach(entries, onEntry, { discard: true })
    })

    return {
      heartbeat,
      discover,
      publish,
      handler,
      background,
      readLoop: fleetReader.loop,
      fleet: Fleet.of({
        link: Effect.map(health.status, Option.some),
        request,
        watchOutput,
        requireOnline,
        whereabouts
      }),
      online,
      pendingCount: () => pending.size,
      handledCount: () => handled.size()
    } as const
  })

/** Runs `effect` every `interval`, logging (not dying on) each failure. */
const every = <E>(name: string, interval: Duration.Duration, effect: Effect.Effect<void, E>) =>
  effect.pipe(
    Effect.catchAllCause((cause) => Effect.logWarning(`${name} failed`, cause)),
    Effect.zipRight(Effect.sleep(interval)),
    Effect.forever,
    Effect.annotateLogs({ worker: name })
  )

/**
 * The fleet over a Transport: heartbeats, discovery, this computer's session events out and the
 * others' in, requests both ways, remote output. Leaving (shutdown) removes the heartbeat at once.
 */
export const layer = (
  options: FleetOptions = {}
): Layer.Layer<
  Fleet,
  ConfigInvalid,
  Transport | TelemuxConfig | Cache | OutputLog | SystemStats | StreamPositions | Sessions | Listeners | Agents
    | Idempotency
> =>
  Layer.scoped(
    Fleet,
    Effect.gen(function*() {
      const transport = yield* Transport
      const cache = yield* Cache
      const { computer: me, heartbeatInterval: interval } = yield* TelemuxConfig
      const fleet = yield* make(options)

      // this computer's own session changes go out; what came from elsewhere never does
      const cacheEvents = yield* PubSub.subscribe(cache.events)
      yield* Queue.take(cacheEvents).pipe(
        Effect.flatMap((event) => {
          switch (event._tag) {
            case "SessionUpserted":
              return event.session.computer === me ? fleet.publish({ _tag: "SessionUpserted", session: event.session }) : Effect.void
            case "SessionRemoved":
              return event.computer === me
                ? Effect.zipRight(fleet.handler.forget(event.sessionId), fleet.publish(event))
                : Effect.void
            default:
              return Effect.void
          }
        }),
        Effect.forever,
        Effect.forkScoped
      )
      yield* Effect.forkScoped(fleet.handler.forward)
      yield* Effect.forkScoped(every("fleet-heartbeat", interval, fleet.heartbeat))
      yield* Effect.forkScoped(every("fleet-discovery", interval, fleet.discover))
      // a reader's connection opens lazily; one that cannot be made now is retried, never fatal
      const reader = yield* transport.reader.pipe(Effect.tapError(() => Effect.sleep(FleetReader.READ_RETRY)), Effect.eventually)
      yield* Effect.forkScoped(fleet.readLoop(reader))
      // leaving on purpose: gone from every list now, not when the heartbeat expires
      yield* Effect.addFinalizer(() =>
        Effect.all([transport.remove(FleetKeys.computer(me)), fleet.publish({ _tag: "ComputerLeft", name: me })], {
          discard: true
        }).pipe(Effect.timeout(Duration.seconds(1)), Effect.ignore)
      )
      return fleet.fleet
    })
  )

/** No Redis configured: this computer alone; a request to any other fails at once. */
export const layerAlone: Layer.Layer<Fleet> = Layer.succeed(
  Fleet,
  Fleet.of({
    link: Effect.succeed(Option.none()),
    request: (computer) =>
      Effect.fail(
        new ComputerUnreachable({
          computer,
          message: `computer ${computer} is not reachable: this daemon is not in a fleet (TELEMUX_REDIS_URL is not set)`
        })
      ),
    watchOutput: () => Effect.void,
    requireOnline: (computer) =>
      Effect.fail(
        new ComputerUnreachable({
          computer,
          message: `computer ${computer} is not reachable: this daemon is not in a fleet (TELEMUX_REDIS_URL is not set)`
        })
      ),
    whereabouts: () => Effect.succeedNone
  })
)
