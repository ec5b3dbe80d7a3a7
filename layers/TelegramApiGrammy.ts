/**
 * The Bot API through grammY's `Api` (no `Bot`: the adapter runs its own poll loop, so that a
 * lease lost interrupts it at once — each request takes the fiber's AbortSignal). `apiRoot` points
 * it at a local server in tests (or a self-hosted Bot API server).
 *
 * grammY is loaded when a bot is made, not with the daemon: with its fetch polyfill it was ~85 ms
 * of every daemon's start, and most daemons run without Telegram.
 */
import { Duration, Effect, Layer, Redacted } from "effect"
import type { Api, GrammyError, HttpError } from "grammy"
import {
  CALL_TIMEOUT,
  RETRY_AFTER_DEFAULT,
  TelegramApi,
  TelegramConflict,
  type TelegramError,
  TelegramNetworkError,
  TelegramNotModified,
  TelegramRateLimited,
  TelegramRefused,
  TelegramThreadNotFound
} from "../services/Telegram.js"

/** grammY's errors by the name their classes give them (the module may not be loaded where this is asked). */
const isGrammy = <E extends Error>(error: unknown, name: E["name"]): error is E =>
  error instanceof Error && error.name === name

/** What Telegram's answer means for us: one typed error per answer the adapter handles differently. */
export const classify = (method: string, error: unknown): TelegramError => {
  if (isGrammy<GrammyError>(error, "GrammyError")) {
    const description = error.description
    if (error.error_code === 429) {
      const seconds = error.parameters.retry_after
      return new TelegramRateLimited({
        method,
        retryAfter: seconds === undefined ? RETRY_AFTER_DEFAULT : Duration.seconds(seconds)
      })
    }
    if (error.error_code === 409) return new TelegramConflict({ description })
    if (/message is not modified/i.test(description)) return new TelegramNotModified({ method })
    if (/thread not found|TOPIC_DELETED|TOPIC_ID_INVALID/i.test(description)) {
      return new TelegramThreadNotFound({ method, description })
    }
    if (error.error_code >= 500) {
      return new TelegramNetworkError({ method, reason: `${error.error_code} ${description}` })
    }
    return new TelegramRefused({ method, code: error.error_code, description })
  }
  if (isGrammy<HttpError>(error, "HttpError")) return new TelegramNetworkError({ method, reason: error.message })
  return new TelegramNetworkError({ method, reason: String(error) })
}

/** grammY types its signal as the abort-controller package's; Node's own is what node-fetch checks for at run time. */
type GrammySignal = Parameters<Api["getUpdates"]>[1]
const grammySignal = (signal: AbortSignal) => signal as unknown as GrammySignal

export interface GrammyOptions {
  readonly token: Redacted.Redacted<string>
  /** Default https://api.telegram.org */
  readonly apiRoot?: string | undefined
}

export const make = (options: GrammyOptions) =>
  Effect.map(Effect.promise(() => import("grammy")), (grammy) => makeWith(grammy, options))

const makeWith = ({ Api, InputFile }: typeof import("grammy"), options: GrammyOptions) => {
  const api = new Api(Redacted.value(options.token), {
    ...(options.apiRoot === undefined ? {} : { apiRoot: options.apiRoot }),
    // bounded here and by CALL_TIMEOUT around it
    timeoutSeconds: Duration.toSeconds(CALL_TIMEOUT) + 5
  })
  const call = <A>(method: string, f: (signal: GrammySignal) => Promise<A>, timeout = CALL_TIMEOUT) =>
    Effect.tryPromise({ try: (signal) => f(grammySignal(signal)), catch: (error) => classify(method, error) }).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new TelegramNetworkError({ method, reason: `no answer within ${Duration.format(timeout)}` })
      })
    )

  return TelegramApi.of({
    getUpdates: (offset, timeoutSeconds) =>
      call(
        "getUpdates",
        (signal) =>
          api.getUpdates({ offset, timeout: timeoutSeconds, allowed_updates: ["message", "callback_query"] }, signal),
        Duration.sum(CALL_TIMEOUT, Duration.seconds(timeoutSeconds))
      ),
    sendMessage: (chat, html, send = {}) =>
      call("sendMessage", (signal) =>
        api.sendMessage(chat, html, {
          parse_mode: "HTML",
          link_preview_options: { is_disabled: true },
          ...(send.threadId === undefined ? {} : { message_thread_id: send.threadId }),
          ...(send.keyboard === undefined ? {} : { reply_markup: send.keyboard }),
          ...(send.silent === true ? { disable_notification: true } : {})
        }, signal)),
    editMessage: (chat, messageId, html, keyboard) =>
      Effect.asVoid(call("editMessageText", (signal) =>
        api.editMessageText(chat, messageId, html, {
          parse_mode: "HTML",
          link_preview_options: { is_disabled: true },
          ...(keyboard === undefined ? {} : { reply_markup: keyboard })
        }, signal))),
    sendDocument: (chat, threadId, fileName, content, caption) =>
      Effect.asVoid(
        call("sendDocument", (signal) =>
          api.sendDocument(chat, new InputFile(Buffer.from(content, "utf8"), fileName), {
            caption,
            ...(threadId === undefined ? {} : { message_thread_id: threadId })
          }, signal))
      ),
    chatKind: (chat) =>
      Effect.map(call("getChat", (signal) => api.getChat(chat, signal)), (info) => ({
        type: info.type,
        // a supergroup with Topics on; a private chat with topics (Bot API 9.3: has_topics_enabled)
        forum: ("is_forum" in info && info.is_forum === true) ||
          ("has_topics_enabled" in info && (info as { has_topics_enabled?: boolean }).has_topics_enabled === true)
      })),
    createTopic: (chat, name) =>
      Effect.map(
        call("createForumTopic", (signal) => api.createForumTopic(chat, name, {}, signal)),
        (topic) => topic.message_thread_id
      ),
    editTopic: (chat, threadId, name) =>
      Effect.asVoid(call("editForumTopic", (signal) => api.editForumTopic(chat, threadId, { name }, signal))),
    closeTopic: (chat, threadId) =>
      Effect.asVoid(call("closeForumTopic", (signal) => api.closeForumTopic(chat, threadId, signal))),
    answerCallback: (id, text) =>
      Effect.asVoid(call("answerCallbackQuery", (signal) => api.answerCallbackQuery(id, { text }, signal)))
  })
}

export const layer = (options: GrammyOptions) => Layer.effect(TelegramApi, make(options))
