/**
 * The Telegram front-end: one bot for the whole fleet. Only the holder of the fleet lease
 * "telegram" (services/Lease.ts) polls and sends; every other daemon does nothing here, and the
 * holder drives sessions of any computer through SessionRouting as every client does.
 *
 * The poll loop is our own (grammY's raw getUpdates with a short long-poll and the fiber's abort
 * signal, not `bot.start()`), so a lost lease or a shutdown stops it at once. The last update id
 * handled is kept with the lease's fenced write *before* the update is handled: a successor starts
 * after it and never handles an update twice; a holder that lost the lease cannot write it, and
 * so never handles an update its successor will. (An update being handled when its daemon is
 * killed is not handled again — input is never typed twice.)
 *
 * Without TELEMUX_TELEGRAM_TOKEN the layer does nothing at all.
 */
import { Clock, Duration, Effect, Layer, Option, PubSub, Schedule } from "effect"
import type { Update } from "grammy/types"
import { Cache } from "../services/Cache.js"
import { Fleet } from "../services/Fleet.js"
import { type LeaseHolding, Leases } from "../services/Lease.js"
import { OutputLog } from "../services/OutputLog.js"
import { Projects } from "../services/Projects.js"
import { POLL_TIMEOUT_SECONDS, TELEGRAM_LEASE, TelegramApi, type TelegramError } from "../services/Telegram.js"
import { type TelegramSettings, TelemuxConfig } from "../services/TelemuxConfig.js"
import { consumeBursts } from "../src/concurrency/Workers.js"
import { CHAT_BURST, CHAT_REFILL, ChatBudget, TAIL_EDIT_INTERVAL } from "../src/telegram/Pacing.js"
import * as SessionRouting from "./SessionRouting.js"
import * as TelegramApiGrammy from "./TelegramApiGrammy.js"
import * as TelegramChat from "./TelegramChat.js"
import * as TelegramOutbox from "./TelegramOutbox.js"
import * as TelegramTopics from "./TelegramTopics.js"

export const LEASE_NAME = TELEGRAM_LEASE
/** How long the last handled update id is kept under the lease (Telegram keeps updates 24 h). */
export const OFFSET_TTL = Duration.days(7)
/** After a 409 (another program polls this bot) the next getUpdates waits this long. */
export const CONFLICT_RETRY = Duration.seconds(10)
export const POLL_RETRY_FIRST = Duration.seconds(1)
export const POLL_RETRY_MAX = Duration.seconds(30)

export interface TelegramTuning {
  readonly pollTimeoutSeconds: number
  readonly tailInterval: Duration.Duration
  readonly chatBurst: number
  readonly chatRefill: Duration.Duration
  readonly outboxMax: number
  /** After a 409 the next getUpdates waits this long. */
  readonly conflictRetry: Duration.Duration
}

export const DEFAULT_TUNING: TelegramTuning = {
  pollTimeoutSeconds: POLL_TIMEOUT_SECONDS,
  tailInterval: TAIL_EDIT_INTERVAL,
  chatBurst: CHAT_BURST,
  chatRefill: CHAT_REFILL,
  outboxMax: TelegramOutbox.OUTBOX_MAX,
  conflictRetry: CONFLICT_RETRY
}

/** Retried with doubling delays (reset by each success: every failed poll starts a fresh schedule). */
const pollBackoff = Schedule.exponential(POLL_RETRY_FIRST, 2).pipe(
  Schedule.union(Schedule.spaced(POLL_RETRY_MAX)),
  Schedule.jittered
)

/** The poller's work while it holds the lease: everything lives in this scope and ends with it. */
export const serve = (telegram: TelegramSettings, tuning: TelegramTuning, holding: LeaseHolding) =>
  Effect.gen(function*() {
    const api = yield* TelegramApi
    const cache = yield* Cache
    const log = yield* OutputLog
    const fleet = yield* Fleet
    const projects = yield* Projects
    const { computer: me } = yield* TelemuxConfig
    const routing = yield* SessionRouting.make
    const budget = new ChatBudget(tuning.chatBurst, tuning.chatRefill, yield* Clock.currentTimeMillis)

    const outbox = yield* TelegramOutbox.make({ budget, max: tuning.outboxMax })
    const topics = yield* TelegramTopics.make({
      chat: telegram.chat,
      me,
      api,
      cache,
      fleet,
      routing,
      holding,
      outbox,
      tailInterval: tuning.tailInterval
    })
    const chat = yield* TelegramChat.make({ settings: telegram, me, api, cache, projects, routing, topics, outbox })

    yield* Effect.forkScoped(outbox.run)
    yield* Effect.forkScoped(
      consumeBursts("telegram-sessions", yield* PubSub.subscribe(cache.events), topics.onCacheEvent)
    )
    yield* Effect.forkScoped(
      consumeBursts("telegram-output", yield* PubSub.subscribe(log.events), topics.onOutputEvent)
    )

    const stored = yield* holding.get("offset")
    let last = Option.getOrElse(Option.map(stored, Number), () => 0)
    yield* Effect.logInfo("polling Telegram").pipe(
      Effect.annotateLogs({ chat: telegram.chat, after: last, users: telegram.users.length })
    )
    yield* api.chatKind(telegram.chat).pipe(
      Effect.flatMap(({ forum, type }) =>
        forum
          ? Effect.void
          : Effect.logError(
            `Telegram: the chat ${telegram.chat} (a ${type}) has no topics, so sessions get none: ` +
              "turn Topics on in the group's settings (it becomes a forum supergroup; make the bot an admin that " +
              "may manage topics), or set TELEMUX_TELEGRAM_CHAT to a chat that has them"
          )
      ),
      Effect.catchAll((error) =>
        Effect.logWarning(`Telegram: could not look at the chat ${telegram.chat}: ${error.message}`, error)
      )
    )
    if (telegram.users.length === 0) {
      yield* Effect.logWarning(
        "Telegram: nobody is served — list your Telegram user id in TELEMUX_TELEGRAM_USERS, then restart the daemon"
      )
    }

    /** One getUpdates; a failure is logged (typed) and waited out, never the end of the loop. */
    const poll = Effect.suspend(() => api.getUpdates(last === 0 ? 0 : last + 1, tuning.pollTimeoutSeconds)).pipe(
      Effect.tapError((error) => Effect.logInfo("Telegram getUpdates failed", error)),
      Effect.retry({ schedule: pollBackoff, while: (error) => error._tag === "TelegramNetworkError" }),
      Effect.catchAll((error: TelegramError) => {
        switch (error._tag) {
          case "TelegramRateLimited":
            return Effect.as(Effect.sleep(error.retryAfter), [])
          case "TelegramConflict":
            return Effect.as(
              Effect.zipRight(Effect.logWarning(error.message, error), Effect.sleep(tuning.conflictRetry)),
              []
            )
          default:
            return Effect.as(
              Effect.zipRight(
                Effect.logError(`Telegram refuses to serve updates: ${error.message}`, error),
                Effect.sleep(POLL_RETRY_MAX)
              ),
              []
            )
        }
      })
    )

    const handle = (update: Update) =>
      Effect.gen(function*() {
        if (update.update_id <= last) return
        // the fence: only the holder writes it, and before handling (see the top of this file)
        yield* holding.put("offset", String(update.update_id), OFFSET_TTL)
        last = update.update_id
        yield* chat.handle(update)
      })

    return yield* poll.pipe(
      Effect.flatMap((updates) =>
        Effect.forEach([...updates].sort((a, b) => a.update_id - b.update_id), handle, { discard: true })
      ),
      Effect.forever
    )
  }).pipe(Effect.scoped, Effect.annotateLogs({ worker: "telegram" }))

export const make = (telegram: TelegramSettings, tuning: TelegramTuning = DEFAULT_TUNING) =>
  Effect.gen(function*() {
    const leases = yield* Leases
    yield* Effect.forkScoped(leases.runWhileHeld(LEASE_NAME, (holding) => serve(telegram, tuning, holding)))
  })

/** The front-end with this Bot API client (tests give one on a local fake server). */
export const layerWith = (tuning: TelegramTuning = DEFAULT_TUNING) =>
  Layer.scopedDiscard(
    Effect.gen(function*() {
      const { telegram } = yield* TelemuxConfig
      if (Option.isNone(telegram)) return
      const api = yield* TelegramApiGrammy.make({
        token: telegram.value.token,
        apiRoot: Option.getOrUndefined(telegram.value.apiRoot)
      })
      yield* Effect.provideService(make(telegram.value, tuning), TelegramApi, api)
    })
  )

/** The daemon's front-end: nothing runs without TELEMUX_TELEGRAM_TOKEN. */
export const layer = layerWith(DEFAULT_TUNING)
