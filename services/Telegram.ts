import { Context, Data, Duration, type Effect } from "effect"
import type { InlineKeyboardMarkup, Message, Update } from "grammy/types"

/**
 * The Telegram front-end (layers/TelegramLive.ts) talks to the Bot API through this: each call
 * one request, bounded by CALL_TIMEOUT, its failure one of the typed answers below. Retrying,
 * pacing and recreating topics are the adapter's part.
 */

/** One Bot API request may take this long (getUpdates: its long-poll timeout on top). */
export const CALL_TIMEOUT = Duration.seconds(20)
/** getUpdates' long-poll: short, so that a poller that loses its lease stops within it. */
export const POLL_TIMEOUT_SECONDS = 10
/** A 429 without `retry_after` waits this long. */
export const RETRY_AFTER_DEFAULT = Duration.seconds(5)

/** 429: too many requests; nothing more to this chat before `retryAfter`. */
export class TelegramRateLimited extends Data.TaggedError("TelegramRateLimited")<{
  readonly method: string
  readonly retryAfter: Duration.Duration
}> {
  override get message() {
    return `Telegram ${this.method}: too many requests, retry after ${Duration.format(this.retryAfter)}`
  }
}

/** 409 on getUpdates: another program polls this bot (or a webhook is set). */
export class TelegramConflict extends Data.TaggedError("TelegramConflict")<{
  readonly description: string
}> {
  override get message() {
    return `Telegram getUpdates: ${this.description} — another program polls this bot token (or a webhook is set): ` +
      "stop it (or deleteWebhook), or give telemux its own bot"
  }
}

/** 400 "message is not modified": the edit changed nothing, which is what was wanted. */
export class TelegramNotModified extends Data.TaggedError("TelegramNotModified")<{
  readonly method: string
}> {}

/** 400 "message thread not found" (or the topic deleted): the session's topic must be made again. */
export class TelegramThreadNotFound extends Data.TaggedError("TelegramThreadNotFound")<{
  readonly method: string
  readonly description: string
}> {}

/** The request did not get an answer (network, timeout, 5xx): it may be tried again. */
export class TelegramNetworkError extends Data.TaggedError("TelegramNetworkError")<{
  readonly method: string
  readonly reason: string
}> {
  override get message() {
    return `Telegram ${this.method}: ${this.reason}`
  }
}

/** Any other refusal (bad request, forbidden, unauthorized): not repeated. */
export class TelegramRefused extends Data.TaggedError("TelegramRefused")<{
  readonly method: string
  readonly code: number
  readonly description: string
}> {
  override get message() {
    return `Telegram ${this.method} refused (${this.code}): ${this.description}`
  }
}

export type TelegramError =
  | TelegramRateLimited
  | TelegramConflict
  | TelegramNotModified
  | TelegramThreadNotFound
  | TelegramNetworkError
  | TelegramRefused

export interface SendOptions {
  readonly threadId?: number | undefined
  readonly keyboard?: InlineKeyboardMarkup | undefined
  /** Sent without a sound (the tail, lists); a question is sent with one. */
  readonly silent?: boolean | undefined
}

/** The fleet lease whose holder polls the bot (services/Lease.ts). */
export const TELEGRAM_LEASE = "telegram"

/** The part of the Bot API the front-end uses. */
export class TelegramApi extends Context.Tag("telemux/TelegramApi")<TelegramApi, {
  readonly getUpdates: (offset: number, timeoutSeconds: number) => Effect.Effect<ReadonlyArray<Update>, TelegramError>
  readonly sendMessage: (chat: number, html: string, options?: SendOptions) => Effect.Effect<Message, TelegramError>
  readonly editMessage: (
    chat: number,
    messageId: number,
    html: string,
    keyboard?: InlineKeyboardMarkup
  ) => Effect.Effect<void, TelegramError>
  readonly sendDocument: (
    chat: number,
    threadId: number | undefined,
    fileName: string,
    content: string,
    caption: string
  ) => Effect.Effect<void, TelegramError>
  readonly createTopic: (chat: number, name: string) => Effect.Effect<number, TelegramError>
  readonly editTopic: (chat: number, threadId: number, name: string) => Effect.Effect<void, TelegramError>
  readonly closeTopic: (chat: number, threadId: number) => Effect.Effect<void, TelegramError>
  readonly answerCallback: (id: string, text: string) => Effect.Effect<void, TelegramError>
  /** What kind of chat `chat` is, and whether it has topics (a forum). */
  readonly chatKind: (chat: number) => Effect.Effect<{ readonly type: string; readonly forum: boolean }, TelegramError>
}>() {}
