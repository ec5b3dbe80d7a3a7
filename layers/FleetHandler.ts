import { Clock, DateTime, Duration, Effect, Option, PubSub, Queue } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Agents } from "../services/Agents.js"
import { Cache } from "../services/Cache.js"
import { Listeners } from "../services/Listeners.js"
import { type OutputChanged, OutputLog } from "../services/OutputLog.js"
import { Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { InvalidRequest, SessionNotFound, StorageFailure } from "../src/domain/Errors.js"
import { sanitiseNotice } from "../src/domain/InputText.js"
import * as LocalOperations from "./LocalOperations.js"
import type { ComputerName, SessionId } from "../src/domain/Session.js"
import { OUTPUT_LEASE, type OutputUpdate, type RemoteError, type Request } from "../src/fleet/Protocol.js"

/** Sessions whose output another computer watches at once; a lease beyond this is refused. */
export const OUTPUT_LEASES_MAX = 4096

/** `dir` is `root` or lies below it (both already resolved). */
const isInside = (dir: string, root: string) => dir === root || dir.startsWith(root.endsWith(path.sep) ? root : root + path.sep)

const realpath = (dir: string) =>
  Effect.try(() => fs.realpathSync(dir)).pipe(Effect.orElseSucceed(() => path.resolve(dir)))

export const toOutputUpdate = (update: OutputChanged): OutputUpdate => ({
  sessionId: update.sessionId,
  seq: update.seq,
  screen: update.screen,
  changedAt: DateTime.toEpochMillis(update.changedAt)
})

/**
 * What this computer does for a request from another: the same operations the HTTP API runs,
 * on this computer's own sessions only, with a remote create confined to the trusted dirs.
 * `forward` publishes a watched session's screens; it runs for the daemon's life.
 */
export const make = (publishOutput: (update: OutputUpdate) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const cache = yield* Cache
    const outputLog = yield* OutputLog
    const config = yield* TelemuxConfig
    const listeners = yield* Listeners
    const agents = yield* Agents
    const operations = yield* LocalOperations.make
    const trusted = yield* Effect.forEach(config.trustedDirs, realpath)
    /** Session → until when (clock ms) its screens are forwarded. Pruned when a lease runs out or the session goes. */
    const leases = new Map<SessionId, number>()

    /** The session, if it is one of this computer's; another's is as unknown here as a missing one. */
    const own = (id: SessionId) =>
      Effect.filterOrFail(sessions.get(id), (s) => s.computer === config.computer, () => SessionNotFound.of(id))

    const createInTrustedDir = (request: Extract<Request, { _tag: "CreateSession" }>, from: ComputerName) =>
      Effect.gen(function*() {
        const { projectDir, title } = request
        if (!path.isAbsolute(projectDir)) {
          return yield* new InvalidRequest({ message: `projectDir must be an absolute path, got "${projectDir}"` })
        }
        const dir = yield* realpath(projectDir)
        if (!trusted.some((root) => isInside(dir, root))) {
          return yield* new InvalidRequest({
            message: trusted.length === 0
              ? `${config.computer} has no trusted dirs, so it starts no session for another computer`
              : `${dir} is not inside a trusted dir of ${config.computer}`
          })
        }
        const create = {
          projectDir: dir,
          ...(title === undefined ? {} : { title }),
          ...(request.initiatorSessionId === undefined
            ? {}
            : { initiatorSessionId: request.initiatorSessionId, initiatorComputer: from })
        }
        const session = yield* operations.create({
          ...create,
          ...(request.agent === undefined ? {} : { agent: request.agent }),
          ...(request.mode === undefined ? {} : { mode: request.mode }),
          ...(request.prompt === undefined ? {} : { prompt: request.prompt })
        }, request.idempotencyKey)
        // the agent that asked is told when this one stops or asks for input
        if (request.initiatorSessionId !== undefined) {
          yield* listeners.add({ target: session.sessionId, listener: request.initiatorSessionId, listenerComputer: from }).pipe(
            Effect.ignore
          )
        }
        return session
      })

    const watch = (id: SessionId) =>
      Effect.gen(function*() {
        yield* own(id)
        const now = yield* Clock.currentTimeMillis
        if (!leases.has(id) && leases.size >= OUTPUT_LEASES_MAX) {
          for (const [session, until] of leases) if (until < now) leases.delete(session)
        }
        if (!leases.has(id) && leases.size >= OUTPUT_LEASES_MAX) {
          return yield* new InvalidRequest({ message: `more than ${OUTPUT_LEASES_MAX} sessions are watched from elsewhere` })
        }
        leases.set(id, now + Duration.toMillis(OUTPUT_LEASE))
        return Option.getOrNull(Option.map(yield* outputLog.latest(id), toOutputUpdate))
      })

    const handle = (request: Request, from: ComputerName): Effect.Effect<unknown, RemoteError> => {
      switch (request._tag) {
        case "ListSessions":
          return cache.getSessionsForComputer(config.computer)
        case "CreateSession":
          return createInTrustedDir(request, from)
        case "SendText":
          return own(request.sessionId).pipe(
            Effect.zipRight(operations.sendText(request.sessionId, request.text, request.enter, request.idempotencyKey)),
            Effect.as(null)
          )
        case "SendKeys":
          return own(request.sessionId).pipe(
            Effect.zipRight(operations.sendKeys(request.sessionId, request.keys, request.idempotencyKey)),
            Effect.as(null)
          )
        case "Capture":
          return own(request.sessionId).pipe(Effect.zipRight(sessions.capture(request.sessionId, request.lines)))
        case "CloseSession":
          return own(request.sessionId).pipe(Effect.zipRight(sessions.close(request.sessionId, "user")))
        case "WatchOutput":
          return watch(request.sessionId)
        case "Listen":
          return own(request.target).pipe(
            Effect.filterOrFail((s) => s.status !== "closed", () =>
              new InvalidRequest({ message: `session ${request.target} is closed` })),
            Effect.zipRight(
              listeners.add({
                target: request.target,
                listener: request.listener.sessionId,
                listenerComputer: request.listener.computer
              }).pipe(Effect.mapError((e) => new StorageFailure({ message: `listeners: ${String(e.cause)}` })))
            ),
            Effect.flatMap((added) =>
              added
                ? Effect.succeed(null)
                : Effect.fail(new InvalidRequest({ message: `session ${request.target} already has the most listeners it may have` }))
            )
          )
        case "ResumeAgent":
          return own(request.sessionId).pipe(
            Effect.zipRight(request.restart ? agents.restart(request.sessionId) : agents.resume(request.sessionId))
          )
        case "Notify":
          // sanitised here too: the notice comes from another computer, whatever it ran
          return own(request.sessionId).pipe(
            Effect.zipRight(Effect.suspend(() => {
              const notice = sanitiseNotice(request.notice)
              return notice === "" ? Effect.void : sessions.sendText(request.sessionId, notice, true)
            })),
            Effect.as(null)
          )
      }
    }

    /** Publishes each new screen of a session under lease; a lapsed lease (or a closed session) is dropped. */
    const forward = Effect.gen(function*() {
      const events = yield* PubSub.subscribe(outputLog.events)
      yield* Queue.take(events).pipe(
        Effect.flatMap((event) =>
          Effect.gen(function*() {
            const until = leases.get(event.sessionId)
            if (until === undefined) return
            if (event._tag === "ProcessExited" || until < (yield* Clock.currentTimeMillis)) {
              leases.delete(event.sessionId)
              return
            }
            if (event._tag === "OutputChanged") yield* publishOutput(toOutputUpdate(event))
          })
        ),
        Effect.catchAllCause((cause) => Effect.logWarning("forwarding output failed", cause)),
        Effect.forever
      )
    }).pipe(Effect.scoped)

    const forget = (id: SessionId) => Effect.sync(() => void leases.delete(id))

    return { handle, forward, forget, leaseCount: () => leases.size } as const
  })

/** Who asked, for logs. */
export const describeRequest = (from: ComputerName, request: Request) =>
  ({ from, request: request._tag, ...("sessionId" in request ? { sessionId: request.sessionId } : {}) }) as const
