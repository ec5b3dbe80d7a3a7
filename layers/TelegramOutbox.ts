/**
 * Everything the Telegram front-end sends goes through one outbox per chat, sent by one fiber:
 *
 * - coalescing: a job replaces the waiting job with the same key (a session's tail, its title), so
 *   the latest state wins and nothing piles up; other jobs (a reply, a turn) have keys of their own;
 * - bounded: past OUTBOX_MAX waiting jobs the oldest is dropped, and the drops are logged;
 * - paced: each send takes a token of the chat's budget (src/telegram/Pacing.ts); a job may wait
 *   for its own time (`readyAt`, a session's tail edit interval) without holding up the others;
 * - Telegram's answers: "not modified" is success; 429 closes the chat for `retry_after` and the
 *   job waits for it; a job whose topic is lost is tried again (its session's topic made again by
 *   the job itself, see TelegramTopics); a
 *   network error is retried with doubling delays up to ATTEMPTS; a refusal is logged and dropped.
 */
import { Clock, Duration, Effect, Queue } from "effect"
import type { TelegramError } from "../services/Telegram.js"
import type { SessionId } from "../src/domain/Session.js"
import { ChatBudget } from "../src/telegram/Pacing.js"

export const OUTBOX_MAX = 256
/** Attempts per job (the first included) before it is dropped. */
export const ATTEMPTS = 5
export const FIRST_RETRY = Duration.seconds(1)
export const RETRY_MAX = Duration.seconds(30)

export interface Job {
  readonly key: string
  /** The session whose topic the job writes to: dropped with it, its topic made again when lost. */
  readonly sessionId?: SessionId | undefined
  /** Not sent before this clock time (ms). */
  readonly readyAt: number
  readonly run: Effect.Effect<void, TelegramError>
}

interface Waiting extends Job {
  readonly attempt: number
}

export interface OutboxOptions {
  readonly budget: ChatBudget
  readonly max?: number
}

export const make = (options: OutboxOptions) =>
  Effect.gen(function*() {
    const max = options.max ?? OUTBOX_MAX
    const budget = options.budget
    /** Insertion-ordered: the oldest waiting job first. */
    const jobs = new Map<string, Waiting>()
    const wake = yield* Queue.sliding<void>(1)
    let dropped = 0

    const put = (job: Waiting) =>
      Effect.gen(function*() {
        jobs.delete(job.key)
        jobs.set(job.key, job)
        if (jobs.size > max) {
          const oldest = jobs.keys().next().value!
          jobs.delete(oldest)
          dropped += 1
          yield* Effect.logWarning("the Telegram outbox is full: the oldest message waiting was dropped").pipe(
            Effect.annotateLogs({ dropped: oldest, droppedTotal: dropped, outboxMax: max })
          )
        }
        yield* Queue.offer(wake, undefined)
      })

    const enqueue = (job: Job) => put({ ...job, attempt: 1 })

    /** Again later, unless a newer job with its key came meanwhile (latest wins). */
    const again = (job: Waiting, readyAt: number, reason: string) =>
      jobs.has(job.key) ? Effect.void : job.attempt >= ATTEMPTS
        ? Effect.logWarning(`a Telegram message was dropped after ${job.attempt} attempts: ${reason}`).pipe(
          Effect.annotateLogs({ job: job.key })
        )
        : put({ ...job, readyAt, attempt: job.attempt + 1 })

    const attempt = (job: Waiting) =>
      job.run.pipe(
        Effect.catchAll((error) =>
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            switch (error._tag) {
              case "TelegramNotModified":
                return
              case "TelegramRateLimited":
                budget.closeFor(now, error.retryAfter)
                yield* Effect.logWarning(error.message)
                return yield* again(job, now + Duration.toMillis(error.retryAfter), error.message)
              case "TelegramThreadNotFound":
                yield* Effect.logInfo("a session's topic was gone: it is made again").pipe(
                  Effect.annotateLogs({ sessionId: job.sessionId ?? "", description: error.description })
                )
                return yield* again(job, now, error.description)
              case "TelegramNetworkError": {
                const delay = Math.ceil(Math.min(
                  Duration.toMillis(RETRY_MAX),
                  Duration.toMillis(FIRST_RETRY) * 2 ** (job.attempt - 1) * (0.8 + Math.random() * 0.4)
                ))
                yield* Effect.logInfo(error.message).pipe(Effect.annotateLogs({ attempt: job.attempt }))
                return yield* again(job, now + delay, error.message)
              }
              case "TelegramConflict":
              case "TelegramRefused":
                return yield* Effect.logWarning(`a Telegram message was not sent: ${error.message}`).pipe(
                  Effect.annotateLogs({ job: job.key })
                )
            }
          })
        ),
        Effect.catchAllCause((cause) => Effect.logError("a Telegram message failed", cause))
      )

    const round = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      let next: Waiting | undefined
      let soonest = Number.POSITIVE_INFINITY
      for (const job of jobs.values()) {
        if (job.readyAt <= now) {
          next = job
          break
        }
        soonest = Math.min(soonest, job.readyAt)
      }
      if (next === undefined) {
        const woken = Effect.asVoid(Queue.take(wake))
        return yield* soonest === Number.POSITIVE_INFINITY
          ? woken
          // whole milliseconds, at least one: a clock that reads whole milliseconds must move on
          : Effect.race(woken, Effect.sleep(Duration.millis(Math.max(1, Math.ceil(soonest - now)))))
      }
      const wait = budget.waitFor(now)
      if (wait > 0) return yield* Effect.sleep(Duration.millis(Math.max(1, Math.ceil(wait))))
      jobs.delete(next.key)
      budget.take(now)
      yield* attempt(next)
    })

    /** Drops a session's waiting jobs (it closed). */
    const dropSession = (sessionId: SessionId) =>
      Effect.sync(() => {
        for (const [key, job] of jobs) if (job.sessionId === sessionId) jobs.delete(key)
      })

    return {
      enqueue,
      dropSession,
      size: Effect.sync(() => jobs.size),
      /** The sender: run it forked in the scope of the chat. */
      run: Effect.forever(round).pipe(Effect.annotateLogs({ worker: "telegram-outbox" }))
    } as const
  })

export type Outbox = Effect.Effect.Success<ReturnType<typeof make>>
