/**
 * Notifications for people (TELEMUX_NOTIFY): when a session of this computer starts waiting for
 * input, an agent finishes a turn, or a session ends without anyone closing it, each configured
 * target is told — an ntfy topic, a signed webhook, the desktop.
 *
 * It only reads the cache's change events (a sliding PubSub: a notifier that falls behind loses
 * the oldest events, it never holds up a session) and owns everything after that:
 *
 *   change → transition (SessionTransitions: once per entry into a state) → per-session rate
 *   limit (RateLimit: RATE_BURST at once, then one per RATE_REFILL; the rest dropped and counted)
 *   → one bounded queue per target (QUEUE_MAX; when full the oldest is dropped, with a log line
 *   counting the drops) → that target's worker: each attempt bounded by ATTEMPT_TIMEOUT, retried
 *   with exponential backoff (FIRST_RETRY, doubling, jittered) up to ATTEMPTS in all, then dropped
 *   with a log line. A target that is down delays only its own queue.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import * as Command from "@effect/platform/Command"
import { Clock, Data, Duration, Effect, Layer, Option, PubSub, Queue, Redacted, Schedule } from "effect"
import { randomUUID } from "node:crypto"
import type { CacheEvent } from "../services/Cache.js"
import { Cache } from "../services/Cache.js"
import { SessionStore } from "../services/SessionStore.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { consume } from "../src/concurrency/Workers.js"
import type { Session } from "../src/domain/Session.js"
import {
  body,
  DELIVERY_HEADER,
  EVENT_HEADER,
  headline,
  type Notification,
  type NotificationKind,
  ntfyMessage,
  signature,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  webhookBody
} from "../src/notify/Notification.js"
import { describeTarget, type NotifyTarget } from "../src/notify/NotifyTarget.js"
import { RateLimit } from "../src/notify/RateLimit.js"
import { diedUnexpectedly, SessionTransitions } from "../src/notify/SessionTransitions.js"
import { VERSION } from "../src/Version.js"
import { runBounded } from "./Subprocess.js"

export interface NotifierTuning {
  /** Notifications a session may send at once… */
  readonly rateBurst: number
  /** …then one more per this long. */
  readonly rateRefill: Duration.Duration
  /** Notifications waiting per target; past it the oldest is dropped. */
  readonly queueMax: number
  /** Attempts per notification and target, the first included. */
  readonly attempts: number
  /** Wait before the second attempt; doubled (and jittered) before each later one. */
  readonly firstRetry: Duration.Duration
  /** One attempt (request and answer, or the desktop command) may take this long. */
  readonly attemptTimeout: Duration.Duration
}

export const DEFAULT_TUNING: NotifierTuning = {
  rateBurst: 3,
  rateRefill: Duration.seconds(30),
  queueMax: 100,
  attempts: 4,
  firstRetry: Duration.seconds(1),
  attemptTimeout: Duration.seconds(10)
}

/** One attempt at one target that did not get through; `retryable` unless the target refused it for good. */
export class NotifyAttemptFailed extends Data.TaggedError("NotifyAttemptFailed")<{
  readonly target: string
  readonly retryable: boolean
  readonly reason: string
}> {
  override get message() {
    return `${this.target}: ${this.reason}`
  }
}

/** Answers that say "try later"; any other 4xx says the request itself is wrong, and is not repeated. */
const retryableStatus = (status: number) => status >= 500 || status === 408 || status === 429

export const make = (tuning: NotifierTuning = DEFAULT_TUNING) =>
  Effect.gen(function*() {
    const settings = yield* TelemuxConfig
    const cache = yield* Cache
    const store = yield* SessionStore
    const client = yield* HttpClient.HttpClient
    const targets = settings.notify.targets.filter((target) =>
      target._tag !== "Desktop" || process.platform === "linux" || process.platform === "darwin"
    )
    if (targets.length < settings.notify.targets.length) {
      yield* Effect.logWarning(
        `desktop notifications are not supported on ${process.platform}: use an ntfy or webhook target`
      )
    }
    if (targets.length === 0) return
    const secret = Option.map(settings.notify.secret, Redacted.value)

    const post = (target: string, url: string, text: string, headers: Record<string, string>) =>
      client.execute(
        HttpClientRequest.post(url).pipe(
          HttpClientRequest.setHeaders({ "user-agent": `telemux/${VERSION}`, ...headers }),
          HttpClientRequest.bodyText(text, "application/json")
        )
      ).pipe(
        Effect.flatMap((response) =>
          Effect.zipRight(
            Effect.ignore(response.text),
            response.status >= 200 && response.status < 300
              ? Effect.void
              : Effect.fail(
                new NotifyAttemptFailed({
                  target,
                  retryable: retryableStatus(response.status),
                  reason: `answered ${response.status}`
                })
              )
          )
        ),
        Effect.catchTags({
          RequestError: (error) =>
            Effect.fail(new NotifyAttemptFailed({ target, retryable: true, reason: error.message })),
          ResponseError: (error) =>
            Effect.fail(new NotifyAttemptFailed({ target, retryable: true, reason: error.message }))
        })
      )

    const desktop = (target: string, n: Notification) => {
      const title = headline(n)
      const text = body(n)
      const command = process.platform === "darwin"
        ? Command.make(
          "osascript",
          "-e",
          "on run argv",
          "-e",
          "display notification (item 2 of argv) with title (item 1 of argv)",
          "-e",
          "end run",
          title,
          text
        )
        : Command.make(
          "notify-send",
          "--app-name=telemux",
          `--urgency=${n.kind === "turn_finished" ? "normal" : "critical"}`,
          "--",
          title,
          text
        )
      return runBounded(command, {
        timeout: tuning.attemptTimeout,
        killGrace: Duration.millis(500),
        onTimeout: () => new NotifyAttemptFailed({ target, retryable: true, reason: "the command did not finish" })
      }).pipe(
        Effect.catchTags({
          SubprocessSpawnError: (error) =>
            Effect.fail(
              new NotifyAttemptFailed({
                target,
                retryable: false,
                reason: `${error.message} — install notify-send (libnotify-bin) or drop the desktop target`
              })
            ),
          SubprocessIoError: (error) =>
            Effect.fail(new NotifyAttemptFailed({ target, retryable: true, reason: error.message })),
          SubprocessOutputTooLarge: (error) =>
            Effect.fail(new NotifyAttemptFailed({ target, retryable: false, reason: error.message }))
        }),
        Effect.flatMap((result) =>
          result.exitCode === 0 ? Effect.void : Effect.fail(
            new NotifyAttemptFailed({
              target,
              retryable: false,
              reason: `exited ${result.exitCode ?? "on a signal"}: ${result.stderr.trim().slice(0, 300)}`
            })
          )
        )
      )
    }

    const attempt = (target: NotifyTarget, name: string, n: Notification): Effect.Effect<void, NotifyAttemptFailed> => {
      switch (target._tag) {
        case "Ntfy":
          return post(name, target.server, ntfyMessage(target.topic, n), {})
        case "Webhook":
          return Effect.gen(function*() {
            const payload = webhookBody(n)
            const timestamp = String(Math.floor((yield* Clock.currentTimeMillis) / 1000))
            const headers: Record<string, string> = {
              [EVENT_HEADER]: n.kind,
              [DELIVERY_HEADER]: n.id,
              [TIMESTAMP_HEADER]: timestamp
            }
            if (Option.isSome(secret)) {
              headers[SIGNATURE_HEADER] = `sha256=${signature(secret.value, timestamp, payload)}`
            }
            return yield* post(name, target.url, payload, headers)
          })
        case "Desktop":
          return desktop(name, n)
      }
    }

    const backoff = Schedule.exponential(tuning.firstRetry, 2).pipe(
      Schedule.jittered,
      Schedule.intersect(Schedule.recurs(tuning.attempts - 1))
    )

    const deliver = (target: NotifyTarget, name: string) => (n: Notification) =>
      Effect.suspend(() => {
        let attempts = 0
        return Effect.suspend(() => {
          attempts += 1
          return attempt(target, name, n).pipe(
            Effect.timeoutFail({
              duration: tuning.attemptTimeout,
              onTimeout: () =>
                new NotifyAttemptFailed({
                  target: name,
                  retryable: true,
                  reason: `no answer within ${Duration.format(tuning.attemptTimeout)}`
                })
            }),
            Effect.tapError((error) =>
              Effect.logDebug("a notification attempt failed", error).pipe(Effect.annotateLogs({ attempt: attempts }))
            )
          )
        }).pipe(
          Effect.retry({ schedule: backoff, while: (error) => error.retryable }),
          Effect.tap(() => Effect.logDebug("notification delivered")),
          Effect.catchAll((error) =>
            Effect.logWarning(
              `notification dropped after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${error.reason}`,
              error
            )
          ),
          Effect.annotateLogs({ target: name, event: n.kind, sessionId: n.sessionId, notification: n.id })
        )
      })

    const queues = yield* Effect.forEach(targets, (target) =>
      Effect.gen(function*() {
        const name = describeTarget(target)
        const queue = yield* Queue.bounded<Notification>(tuning.queueMax)
        yield* Effect.forkScoped(consume("notifier", queue, deliver(target, name)))
        yield* Effect.addFinalizer(() => Queue.shutdown(queue))
        return { name, queue, dropped: 0 }
      }))

    /** Never waits: the one producer makes room by dropping the oldest. */
    const enqueue = (n: Notification) =>
      Effect.forEach(queues, (q) =>
        Effect.gen(function*() {
          if (yield* Queue.isFull(q.queue)) {
            const oldest = yield* Queue.poll(q.queue)
            q.dropped += 1
            yield* Effect.logWarning("a notification queue is full: the oldest notification was dropped").pipe(
              Effect.annotateLogs({
                target: q.name,
                droppedTotal: q.dropped,
                queueMax: tuning.queueMax,
                dropped: Option.match(oldest, { onNone: () => "", onSome: (o) => `${o.kind} ${o.sessionId}` })
              })
            )
          }
          yield* Queue.offer(q.queue, n)
        }), { discard: true })

    const transitions = new SessionTransitions()
    const limit = new RateLimit(tuning.rateBurst, tuning.rateRefill)
    const rule = `${tuning.rateBurst} at once, then 1 per ${Duration.format(tuning.rateRefill)}`

    const notify = (session: Session, kind: NotificationKind, detail: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const verdict = limit.take(session.sessionId, now)
        if (verdict._tag === "Limited") {
          // one line per spell of limiting, not one per notification held back
          if (verdict.dropped === 1) {
            yield* Effect.logInfo(
              `notifications for this session are rate-limited (${rule}); the next ones are dropped`
            )
              .pipe(Effect.annotateLogs({ sessionId: session.sessionId, event: kind }))
          }
          return
        }
        if (verdict.droppedBefore > 0) {
          yield* Effect.logInfo(
            `${verdict.droppedBefore} notifications for this session were dropped by the rate limit`
          )
            .pipe(Effect.annotateLogs({ sessionId: session.sessionId }))
        }
        yield* enqueue({
          id: randomUUID(),
          kind,
          sessionId: session.sessionId,
          computer: session.computer,
          title: session.title,
          workingDirectory: session.workingDirectory,
          agent: session.agent,
          detail,
          at: new Date(now).toISOString()
        })
      })

    const onEvent = (event: CacheEvent) =>
      Effect.gen(function*() {
        switch (event._tag) {
          case "SessionUpserted": {
            const session = event.session
            if (session.computer !== settings.computer) return
            const kind = transitions.upserted(session)
            if (kind !== undefined) yield* notify(session, kind, session.lastOutput ?? "")
            return
          }
          case "SessionRemoved": {
            if (event.computer !== settings.computer || !transitions.removed(event.sessionId)) return
            limit.forget(event.sessionId)
            const row = yield* store.getSession(event.sessionId)
            if (Option.isSome(row) && row.value.status === "closed" && diedUnexpectedly(row.value.closeReason)) {
              yield* notify(row.value, "session_died", `closed: ${row.value.closeReason}`)
            }
            return
          }
          default:
            return
        }
      })

    const events = yield* PubSub.subscribe(cache.events)
    yield* Effect.forkScoped(consume("notifier-events", events, onEvent))
    yield* Effect.logInfo("notifications on").pipe(
      Effect.annotateLogs({ targets: queues.map((q) => q.name).join(", "), rateLimit: rule })
    )
  })

/** The daemon's notifier: nothing runs without TELEMUX_NOTIFY targets. */
export const layerWith = (tuning: NotifierTuning) =>
  Layer.scopedDiscard(make(tuning)).pipe(Layer.provide(NodeHttpClient.layerUndici))

export const layer = layerWith(DEFAULT_TUNING)
