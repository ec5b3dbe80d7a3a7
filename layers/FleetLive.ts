/**
 * This computer as a caller in the fleet (services/Fleet.ts): presence (FleetPresence.ts), calls
 * to other computers through one `@effect/rpc` client over the Redis streams
 * (FleetRpcTransport.ts), and remote screens mirrored through the `WatchOutput` stream while
 * someone here watches. Serving other computers is FleetServer.ts's part.
 */
import { RpcClient, RpcClientError, type RpcMessage } from "@effect/rpc"
import { Clock, DateTime, Duration, Effect, FiberMap, Layer, Option, PubSub, Queue, Stream } from "effect"
import { Cache } from "../services/Cache.js"
import { Fleet, type FleetClient } from "../services/Fleet.js"
import { FleetLink } from "../services/FleetLink.js"
import { OutputLog } from "../services/OutputLog.js"
import type { StreamPositions } from "../services/StreamPositions.js"
import type { SystemStats } from "../services/SystemStats.js"
import { type ConfigInvalid, TelemuxConfig } from "../services/TelemuxConfig.js"
import { Transport } from "../services/Transport.js"
import { every } from "../src/concurrency/Workers.js"
import { ComputerUnreachable, RemoteTimeout } from "../src/domain/Errors.js"
import { type ComputerName, type SessionId, summarise } from "../src/domain/Session.js"
import { FleetKeys, REQUEST_TIMEOUT, WATCH_KEEPALIVE } from "../src/fleet/Protocol.js"
import { FleetRpcs, type OutputUpdate } from "../src/fleet/Rpcs.js"
import * as FleetLinkLive from "./FleetLinkLive.js"
import * as FleetPresence from "./FleetPresence.js"
import { DEADLINE_HEADER, makeClientProtocol, TO_HEADER } from "./FleetRpcTransport.js"
import * as Tracing from "./Tracing.js"

/** Pause before a watch that failed or went silent is started again. */
const WATCH_RETRY = Duration.seconds(1)

/**
 * Request ids unique across restarts of this daemon (a callee may still run a request of the
 * previous run): the clock in the high bits, a counter below.
 */
const requestIds = () => {
  let counter = 0n
  const base = BigInt(Date.now()) << 20n
  return () => (base + counter++) as RpcMessage.RequestId
}

const isClientError = (u: unknown): u is RpcClientError.RpcClientError =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "RpcClientError"

export const make = Effect.gen(function*() {
  const link = yield* FleetLink
  const cache = yield* Cache
  const outputLog = yield* OutputLog
  const me = link.me
  const presence = yield* FleetPresence.make
  const transport = yield* makeClientProtocol
  // No rpc spans unless traces are exported: each costs a stack capture and several fibers' worth
  // of context per call (measured in the fleet bench); the call itself is traced below, without a
  // stack. When exported, the rpc carries the trace to the callee, whose spans join the caller's.
  const client: FleetClient = yield* RpcClient.make(FleetRpcs, {
    generateRequestId: requestIds(),
    disableTracing: !Tracing.isTracing(yield* TelemuxConfig)
  }).pipe(
    Effect.provideService(RpcClient.Protocol, transport.protocol)
  )

  const headersFor = (computer: ComputerName, timeout: Duration.Duration) =>
    Effect.map(Clock.currentTimeMillis, (now) => ({
      [TO_HEADER]: computer,
      [DEADLINE_HEADER]: String(now + Duration.toMillis(timeout))
    }))

  const call: Fleet["Type"]["call"] = (computer, f, options) =>
    Effect.gen(function*() {
      if (computer === me) return yield* Effect.dieMessage("a fleet call to this computer itself; run it here")
      yield* presence.requireOnline(computer)
      const timeout = options?.timeout ?? REQUEST_TIMEOUT
      return yield* f(client).pipe(
        RpcClient.withHeadersEffect(headersFor(computer, timeout)),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new RemoteTimeout({
              computer,
              message: `computer ${computer} did not answer within ${Duration.format(timeout)}; ` +
                "what was asked may still have happened there: look (e.g. at the session) before asking again"
            })
        }),
        Effect.mapError((error: unknown) =>
          isClientError(error)
            ? new ComputerUnreachable({ computer, message: `computer ${computer} is not reachable: ${error.message}` })
            : error
        ),
        // a defect in an answer is the other computer's (it could not read the request: another
        // version?), not this one's: the call was not done there
        Effect.catchAllDefect((defect) =>
          Effect.fail(
            new ComputerUnreachable({
              computer,
              message: `computer ${computer} could not run the request (another telemux version?): ${
                String(defect).slice(0, 200)
              }`
            })
          )
        )
      )
    }).pipe(Effect.withSpan("Fleet.call", { attributes: { computer }, captureStackTrace: false })) as never

  // -- a joining computer's sessions ----------------------------------------------------------

  const loads = yield* FiberMap.make<ComputerName>()

  /** Takes in a computer's open sessions when it joins (events carry the changes after that); retried each discovery. */
  const load = (name: ComputerName) =>
    call(name, (c) => c.ListSessions()).pipe(
      Effect.flatMap((sessions) => Effect.forEach(sessions, (s) => cache.upsertSession(s), { discard: true })),
      Effect.zipRight(presence.loaded(name)),
      Effect.catchAll((error) => Effect.logWarning("could not load a computer's sessions; retrying", error)),
      Effect.annotateLogs({ computer: name })
    )

  const onPresence = (change: FleetPresence.PresenceChange) =>
    change._tag === "Joined"
      ? FiberMap.run(loads, change.computer, load(change.computer), { onlyIfMissing: true }).pipe(Effect.asVoid)
      : FiberMap.remove(loads, change.computer)

  // -- remote screens ----------------------------------------------------------------------------

  const watches = new Map<SessionId, { watchers: number }>()
  const watchFibers = yield* FiberMap.make<SessionId>()

  const mirror = (update: OutputUpdate) =>
    outputLog.mirror({
      _tag: "OutputChanged",
      sessionId: update.sessionId,
      seq: update.seq,
      screen: update.screen,
      changedAt: DateTime.unsafeMake(update.changedAt)
    })

  /**
   * The owner's screens for as long as someone here watches: a watch that fails, or says nothing
   * (not even WatchAlive) for three keepalive periods, is started again; the owner sends the
   * latest screen first, so nothing between is lost for good.
   */
  const follow = (sessionId: SessionId, computer: ComputerName) =>
    Effect.gen(function*() {
      const headers = yield* headersFor(computer, REQUEST_TIMEOUT)
      yield* client.WatchOutput({ sessionId }).pipe(
        Stream.timeoutFail(
          () =>
            new RemoteTimeout({
              computer,
              message: `computer ${computer} stopped sending a watched session's screens`
            }),
          Duration.times(WATCH_KEEPALIVE, 3)
        ),
        Stream.runForEach((item) =>
          !("_tag" in item)
            ? mirror(item)
            : item._tag === "TurnText"
            ? outputLog.publish({
              _tag: "AgentActivity",
              sessionId: item.sessionId,
              event: "turn",
              ok: true,
              detail: summarise(item.text),
              text: item.text
            })
            : Effect.void
        ),
        RpcClient.withHeaders(headers)
      )
    }).pipe(
      Effect.as(true),
      // gone from its computer (pruned): asking again every second would never find it
      Effect.catchTag("SessionNotFound", () =>
        Effect.as(
          Effect.logInfo("a watched remote session is gone from its computer; it is no longer followed"),
          false
        )),
      Effect.catchAllCause((cause) =>
        Effect.as(Effect.logWarning("a remote output watch ended; starting it again", cause), true)
      ),
      Effect.tap((again) => again ? Effect.sleep(WATCH_RETRY) : Effect.void),
      Effect.repeat({ while: (again) => again }),
      Effect.annotateLogs({ sessionId, computer })
    )

  const watchTerminal: Fleet["Type"]["watchTerminal"] = (computer, sessionId, onItem) =>
    Effect.gen(function*() {
      yield* presence.requireOnline(computer)
      const headers = yield* headersFor(computer, REQUEST_TIMEOUT)
      yield* client.WatchTerminal({ sessionId }).pipe(
        Stream.timeoutFail(
          () =>
            new RemoteTimeout({
              computer,
              message: `computer ${computer} stopped sending the terminal of session ${sessionId}`
            }),
          Duration.times(WATCH_KEEPALIVE, 3)
        ),
        Stream.runForEach(onItem),
        RpcClient.withHeaders(headers)
      )
    }).pipe(
      Effect.mapError((error: unknown) =>
        isClientError(error)
          ? new ComputerUnreachable({ computer, message: `computer ${computer} is not reachable: ${error.message}` })
          : error
      )
    ) as never

  const watchOutput: Fleet["Type"]["watchOutput"] = (session) =>
    Effect.acquireRelease(
      Effect.suspend(() => {
        const existing = watches.get(session.sessionId)
        if (existing !== undefined) return Effect.sync(() => void existing.watchers++)
        watches.set(session.sessionId, { watchers: 1 })
        return FiberMap.run(watchFibers, session.sessionId, follow(session.sessionId, session.computer)).pipe(
          Effect.asVoid
        )
      }),
      () =>
        Effect.gen(function*() {
          const watch = watches.get(session.sessionId)
          if (watch === undefined || --watch.watchers > 0) return
          watches.delete(session.sessionId)
          yield* FiberMap.remove(watchFibers, session.sessionId)
          // unwatched, the mirror would go stale: readers fall back to asking the owner
          yield* outputLog.remove(session.sessionId)
        })
    )

  const departures = Effect.flatMap(
    presence.changes,
    (changes) => Effect.map(Queue.unbounded<ComputerName>(), (departed) => ({ changes, departed }))
  ).pipe(
    Effect.tap(({ changes, departed }) =>
      Queue.take(changes).pipe(
        Effect.flatMap((change) => (change._tag === "Left" ? Queue.offer(departed, change.computer) : Effect.void)),
        Effect.forever,
        Effect.forkScoped
      )
    ),
    Effect.map(({ departed }) => departed as Queue.Dequeue<ComputerName>)
  )

  return {
    presence,
    transport,
    onPresence,
    fleet: Fleet.of({
      link: Effect.map(link.status, Option.some),
      call,
      watchOutput,
      watchTerminal,
      requireOnline: presence.requireOnline,
      whereabouts: presence.whereabouts,
      departures
    })
  } as const
})

/**
 * The fleet over a Transport: heartbeats and discovery, this computer's session events out and
 * the others' in, calls out and their answers in, remote output. Leaving (shutdown) removes the
 * heartbeat at once.
 */
export const layerClient: Layer.Layer<
  Fleet,
  never,
  FleetLink | Transport | Cache | OutputLog | SystemStats | TelemuxConfig
> = Layer.scoped(
  Fleet,
  Effect.gen(function*() {
    const link = yield* FleetLink
    const cache = yield* Cache
    const me = link.me
    const interval = link.heartbeatInterval
    const made = yield* make
    const { presence } = made

    // this computer's own session changes go out; what came from elsewhere never does
    const cacheEvents = yield* PubSub.subscribe(cache.events)
    yield* Queue.take(cacheEvents).pipe(
      Effect.flatMap((event) => {
        switch (event._tag) {
          case "SessionUpserted":
            return event.session.computer === me
              ? presence.publish({ _tag: "SessionUpserted", session: event.session })
              : Effect.void
          case "SessionRemoved":
            return event.computer === me ? presence.publish(event) : Effect.void
          default:
            return Effect.void
        }
      }),
      Effect.catchAllCause((cause) => Effect.logError("publishing a session event failed", cause)),
      Effect.forever,
      Effect.forkScoped
    )
    const changes = yield* presence.changes
    yield* Queue.take(changes).pipe(Effect.flatMap(made.onPresence), Effect.forever, Effect.forkScoped)
    yield* Effect.forkScoped(every("fleet-heartbeat", interval, presence.heartbeat))
    yield* Effect.forkScoped(every("fleet-discovery", interval, presence.discover))
    yield* Effect.forkScoped(
      link.follow(
        [{ stream: FleetKeys.events, savedAs: "fleet.events" }],
        (entries) => Effect.forEach(entries, (entry) => presence.onEvent(entry.payload), { discard: true })
      )
    )
    // answers to calls made before a restart have no one waiting for them: that position is not saved
    yield* Effect.forkScoped(link.follow([{ stream: FleetKeys.replies(me) }], made.transport.onReplies))
    // A finalizer runs uninterruptibly: the bounded wait is made interruptible so that its timeout can end it.
    yield* Effect.addFinalizer(() =>
      Effect.interruptible(presence.leave).pipe(Effect.timeout(Duration.millis(500)), Effect.ignore)
    )
    return made.fleet
  })
)

/** The fleet's wire and this computer as a caller in it, over a Transport. */
export const layer = (options: FleetLinkLive.FleetLinkOptions = {}): Layer.Layer<
  Fleet | FleetLink,
  ConfigInvalid,
  Transport | Cache | OutputLog | SystemStats | TelemuxConfig | StreamPositions
> => layerClient.pipe(Layer.provideMerge(FleetLinkLive.layer(options)))

const alone = (computer: ComputerName) =>
  new ComputerUnreachable({
    computer,
    message: `computer ${computer} is not reachable: this daemon is not in a fleet (TELEMUX_REDIS_URL is not set)`
  })

/** No Redis configured: this computer alone; a call to any other fails at once. */
export const layerAlone: Layer.Layer<Fleet> = Layer.succeed(
  Fleet,
  Fleet.of({
    link: Effect.succeed(Option.none()),
    call: (computer) => Effect.fail(alone(computer)),
    watchOutput: () => Effect.void,
    watchTerminal: (computer) => Effect.fail(alone(computer)),
    requireOnline: (computer) => Effect.fail(alone(computer)),
    whereabouts: () => Effect.succeedNone,
    departures: Queue.unbounded<ComputerName>()
  })
)
