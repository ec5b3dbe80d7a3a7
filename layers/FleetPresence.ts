/**
 * Who is in the fleet: this computer's heartbeat and session events out, the others' in.
 *
 * A computer missing from one SCAN is not gone: Redis may have lost every record at once (a
 * restart without persistence) or refused to store them (out of memory). It is forgotten when the
 * last record read of it has expired and this daemon has seen the fleet, link up and writes
 * working, for a full TTL since; an orderly leave (ComputerLeft) forgets it at once. A forgotten
 * computer's session ids are remembered (bounded) so that a request for one is "unreachable".
 */
import { Clock, DateTime, Duration, Effect, Option, PubSub, Schema } from "effect"
import * as os from "node:os"
import { Cache } from "../services/Cache.js"
import { FleetLink } from "../services/FleetLink.js"
import { OutputLog } from "../services/OutputLog.js"
import { SystemStats } from "../services/SystemStats.js"
import { Transport } from "../services/Transport.js"
import { Computer } from "../src/domain/Computer.js"
import { ComputerUnreachable } from "../src/domain/Errors.js"
import type { ComputerName, SessionId } from "../src/domain/Session.js"
import { makeDeparted } from "../src/fleet/Departed.js"
import { EVENTS_MAXLEN, FleetEvent, FleetKeys, heartbeatTtl, Kinds, STREAM_TTL } from "../src/fleet/Protocol.js"
import { VERSION } from "../src/Version.js"
import * as FleetMetrics from "./FleetMetrics.js"

const decodeEvent = Schema.decodeUnknown(FleetEvent)
const decodeHeartbeat = Schema.decodeUnknown(Computer)
const encodeComputer = Schema.encodeSync(Computer)
const encodeEvent = Schema.encodeSync(FleetEvent)

/** What presence changes for its users: a computer to load sessions from, or one gone. */
export type PresenceChange =
  | { readonly _tag: "Joined"; readonly computer: ComputerName }
  | { readonly _tag: "Left"; readonly computer: ComputerName }

export const make = Effect.gen(function*() {
  const link = yield* FleetLink
  const transport = yield* Transport
  const cache = yield* Cache
  const outputLog = yield* OutputLog
  const systemStats = yield* SystemStats
  const me = link.me
  const ttl = heartbeatTtl(link.heartbeatInterval)
  const user = yield* Effect.try(() => os.userInfo().username).pipe(Effect.orElseSucceed(() => "unknown"))
  const changes = yield* PubSub.sliding<PresenceChange>(1024)

  /** Online computers other than this one, by name (bounded by the fleet's size). */
  const online = new Map<ComputerName, Computer>()
  /** When the last heartbeat record read of each online computer expires (epoch ms, this daemon's clock). */
  const recordExpiry = new Map<ComputerName, number>()
  /** Computers that left, with the sessions they had open (bounded). */
  const departed = makeDeparted()
  /** Online computers whose open sessions are not in the cache yet (loading, or to retry). */
  const unloaded = new Set<ComputerName>()

  const selfRecord = Effect.gen(function*() {
    const state = (yield* transport.link).state
    return new Computer({
      name: me,
      host: os.hostname(),
      user,
      role: "fleet",
      online: state === "up",
      lastSeenAt: yield* DateTime.now,
      stats: yield* systemStats.snapshot,
      version: VERSION
    })
  })

  /** A failed beat shows in the link's health (and the log, once per outage), not as a warning every interval. */
  const heartbeat = Effect.gen(function*() {
    const record = yield* link.seal("heartbeat", "*", encodeComputer(yield* selfRecord), ttl)
    yield* link.tracked("heartbeat", transport.put(FleetKeys.computer(me), record, ttl)).pipe(Effect.ignore)
  })

  const forget = (name: ComputerName, why: string) =>
    Effect.gen(function*() {
      const sessions = yield* cache.getSessionsForComputer(name)
      departed.left(name, sessions.map((s) => s.sessionId), yield* Clock.currentTimeMillis)
      online.delete(name)
      recordExpiry.delete(name)
      unloaded.delete(name)
      yield* cache.removeComputer(name)
      for (const session of sessions) {
        yield* cache.removeSession(session.sessionId)
        yield* outputLog.remove(session.sessionId)
      }
      yield* PubSub.publish(changes, { _tag: "Left", computer: name } satisfies PresenceChange)
      yield* Effect.logInfo("computer left the fleet").pipe(
        Effect.annotateLogs({ computer: name, why, sessions: sessions.length })
      )
    })

  const discover = Effect.gen(function*() {
    const keys = yield* transport.scan(FleetKeys.computers)
    const values = yield* transport.getMany(keys)
    const now = yield* Clock.currentTimeMillis
    const seen = new Map<ComputerName, { readonly computer: Computer; readonly expiresAt: number }>()
    for (const value of values) {
      if (Option.isNone(value)) continue
      // a record is read for as long as it lives (Redis expires it after the TTL), which may exceed the replay window
      const envelope = yield* link.unseal(value.value.value, "heartbeat", "heartbeats", ttl)
      if (Option.isNone(envelope) || envelope.value.from === me) continue
      const computer = yield* decodeHeartbeat(envelope.value.payload).pipe(Effect.option)
      if (Option.isSome(computer) && computer.value.name === envelope.value.from) {
        seen.set(computer.value.name, {
          computer: computer.value,
          expiresAt: now + Duration.toMillis(value.value.expiresIn)
        })
      }
    }
    FleetMetrics.recordHeartbeats(seen.size)
    const seeing = yield* link.seeingSince
    if (Option.isSome(seeing)) {
      const graceEnds = seeing.value + Duration.toMillis(ttl)
      for (const name of Array.from(online.keys())) {
        if (!seen.has(name) && now >= Math.max(recordExpiry.get(name) ?? 0, graceEnds)) {
          yield* forget(name, "its heartbeat expired")
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
    for (const name of unloaded) {
      yield* PubSub.publish(changes, { _tag: "Joined", computer: name } satisfies PresenceChange)
    }
  })

  /** A joined computer's sessions are in the cache: requests for them are answered again. */
  const loaded = (name: ComputerName) =>
    Effect.sync(() => {
      unloaded.delete(name)
      departed.returned(name)
    })

  const unreachable = (computer: ComputerName, why: string) =>
    new ComputerUnreachable({ computer, message: `computer ${computer} is not reachable: ${why}` })

  /** Why `computer` (not online) cannot be asked: when it left, if this daemon saw it go. */
  const offline = (computer: ComputerName) => {
    const departure = departed.computer(computer)
    return departure === undefined
      ? unreachable(computer, "it is not online in the fleet")
      : new ComputerUnreachable({
        computer,
        message: `computer ${computer} is offline since ${
          DateTime.formatIso(DateTime.unsafeMake(departure.since))
        }; its sessions come back when it does`
      })
  }

  const requireOnline = (computer: ComputerName) =>
    computer === me || online.has(computer) ? Effect.void : Effect.fail(offline(computer))

  const whereabouts = (sessionId: SessionId) =>
    Effect.sync(() => {
      const departure = departed.session(sessionId)
      if (departure === undefined) return Option.none<ComputerUnreachable>()
      if (!online.has(departure.computer)) return Option.some(offline(departure.computer))
      return Option.some(
        unreachable(departure.computer, "it is back in the fleet and its sessions are loading; try again shortly")
      )
    })

  const publish = (event: FleetEvent) =>
    Effect.flatMap(
      link.seal(Kinds.event, "*", encodeEvent(event), STREAM_TTL),
      (raw) => link.append("event", FleetKeys.events, raw, { maxLen: EVENTS_MAXLEN, ttl: STREAM_TTL })
    ).pipe(
      Effect.catchAll((e) => Effect.logWarning("could not publish a fleet event", e)),
      Effect.asVoid
    )

  /** Another computer's events; each speaks only for its own sessions. */
  const onEvent = (raw: string) =>
    Effect.gen(function*() {
      const opened = yield* link.unseal(raw, Kinds.event, "events")
      if (Option.isNone(opened) || opened.value.from === me) return
      const event = yield* decodeEvent(opened.value.payload).pipe(Effect.option)
      if (Option.isNone(event)) return yield* Effect.logWarning("dropped a malformed fleet event")
      const from = opened.value.from
      switch (event.value._tag) {
        case "SessionUpserted":
          if (event.value.session.computer === from) yield* cache.upsertSession(event.value.session)
          return
        case "SessionRemoved":
          if (event.value.computer !== from) return
          yield* cache.removeSession(event.value.sessionId)
          yield* outputLog.remove(event.value.sessionId)
          return
        case "ComputerLeft":
          if (event.value.name === from && online.has(from)) yield* forget(from, "it left")
          return
      }
    })

  /** Leaving on purpose: gone from every list now, not when the heartbeat expires. */
  const leave = Effect.all([transport.remove(FleetKeys.computer(me)), publish({ _tag: "ComputerLeft", name: me })], {
    discard: true
  })

  return {
    heartbeat,
    discover,
    publish,
    onEvent,
    leave,
    loaded,
    requireOnline,
    whereabouts,
    isOnline: (computer: ComputerName) => online.has(computer),
    offline,
    changes: PubSub.subscribe(changes)
  } as const
})

export type FleetPresence = Effect.Effect.Success<typeof make>
