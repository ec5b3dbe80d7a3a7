/**
 * What people do in the chat, handled by the poller: only updates from a listed user in an allowed
 * chat are served (the others are logged and get nothing). In a session's topic: text is input
 * (Enter after it), key commands, /close, /resume, /restart, /screen, and the buttons of a
 * question. In the General topic: /sessions, /computers, /new (TelegramNew.ts). Everything acts through SessionRouting, so a session of any computer of the fleet is
 * driven as from any other client; input carries an Idempotency-Key made from the update's id.
 */
import { Effect, Option, Schema } from "effect"
import type { InlineKeyboardMarkup, Update } from "grammy/types"
import type { Cache } from "../services/Cache.js"
import { IdempotencyKey } from "../services/Idempotency.js"
import type { Projects } from "../services/Projects.js"
import type { TelegramApi } from "../services/Telegram.js"
import type { TelegramSettings } from "../services/TelemuxConfig.js"
import type { ComputerName, SessionId } from "../src/domain/Session.js"
import { type Command, decodeCallback, KEY_COMMANDS, keyCommand, parseCommand } from "../src/telegram/Commands.js"
import { computersList, escapeHtml, failureHtml, fitText, sessionsList } from "../src/telegram/Format.js"
import type * as SessionRouting from "./SessionRouting.js"
import * as TelegramNew from "./TelegramNew.js"
import type { Outbox } from "./TelegramOutbox.js"
import type { Topics } from "./TelegramTopics.js"

type Routing = Effect.Effect.Success<typeof SessionRouting.make>

export const GENERAL_HELP = "<b>telemux</b>\n/sessions — the fleet's open sessions\n" +
  "/new [project] [agent] [prompt] — start a session (pickers for what is left out)\n/computers — the fleet"
export const TOPIC_HELP = "In a session's topic: text is typed into it (with Enter).\n" +
  `Keys: ${Object.keys(KEY_COMMANDS).map((name) => `/${name}`).join(" ")} (a count after it: /up 3)\n` +
  "/close — close the session · /resume, /restart — its agent · /screen — the full screen as a file"

export interface ChatOptions {
  readonly settings: TelegramSettings
  readonly me: ComputerName
  readonly api: TelegramApi["Type"]
  readonly cache: Cache["Type"]
  readonly projects: Projects["Type"]
  readonly routing: Routing
  readonly topics: Topics
  readonly outbox: Outbox
}

export const make = (options: ChatOptions) =>
  Effect.gen(function*() {
    const { api, cache, outbox, routing, settings, topics } = options
    let replies = 0

    const allowed = (user: number | undefined, chat: number | undefined) =>
      user !== undefined && chat !== undefined && settings.users.includes(user) &&
      (chat === settings.chat || settings.chats.includes(chat))

    const reply = (chat: number, threadId: number | undefined, html: string, keyboard?: InlineKeyboardMarkup) =>
      outbox.enqueue({
        key: `reply:${++replies}`,
        readyAt: 0,
        run: Effect.asVoid(api.sendMessage(chat, fitText(html), { threadId, keyboard, silent: true }))
      })

    const keyFor = (update: Update) => Schema.decodeSync(IdempotencyKey)(`telegram-update-${update.update_id}`)

    const starting = yield* TelegramNew.make({
      me: options.me,
      api,
      cache,
      projects: options.projects,
      routing,
      outbox,
      reply
    })

    // -- commands ----------------------------------------------------------------------------

    const general = (chat: number, threadId: number | undefined, command: Command, key: IdempotencyKey) => {
      switch (command.name) {
        case "sessions":
          return Effect.flatMap(routing.list({}), (sessions) => reply(chat, threadId, sessionsList(sessions)))
        case "computers":
          return Effect.flatMap(cache.getComputers, (computers) =>
            reply(
              chat,
              threadId,
              computersList([
                { name: options.me, online: true, role: "local", stats: null },
                ...computers.filter((c) => c.name !== options.me)
              ])
            ))
        case "new":
          return starting.startNew(chat, threadId, command.args, key)
        default:
          return undefined
      }
    }

    const inTopic = (sessionId: SessionId, threadId: number, text: string, key: IdempotencyKey) => {
      const chat = settings.chat
      const command = parseCommand(text)
      if (command === undefined) return routing.sendText(sessionId, text, true, key)
      const press = keyCommand(command)
      if (press !== undefined) {
        return press._tag === "Left"
          ? reply(chat, threadId, `⚠️ ${escapeHtml(press.left)}`)
          : routing.sendKeys(sessionId, [press.right], key)
      }
      switch (command.name) {
        case "close":
          return Effect.asVoid(routing.close(sessionId))
        case "resume":
        case "restart":
          return Effect.asVoid(routing.resume(sessionId, command.name === "restart"))
        case "screen":
          return topics.fullScreen(sessionId, threadId)
        case "help":
        case "start":
          return reply(chat, threadId, TOPIC_HELP)
        default:
          return general(chat, threadId, command, key) ??
            reply(chat, threadId, `Unknown command /${escapeHtml(command.name)}.\n${TOPIC_HELP}`)
      }
    }

    const onMessage = (update: Update) =>
      Effect.gen(function*() {
        const message = update.message
        if (message === undefined) return
        if (!allowed(message.from?.id, message.chat.id)) {
          return yield* Effect.logInfo("a Telegram message from outside the allowlist was ignored").pipe(
            Effect.annotateLogs({ telegramUser: message.from?.id ?? "", telegramChat: message.chat.id })
          )
        }
        const text = message.text
        if (text === undefined || text === "") return
        const key = keyFor(update)
        const threadId = message.is_topic_message === true ? message.message_thread_id : undefined
        const chat = message.chat.id
        const done = threadId !== undefined && chat === settings.chat
          ? Effect.flatMap(topics.sessionOf(threadId), (sessionId) =>
            Option.isSome(sessionId)
              ? inTopic(sessionId.value, threadId, text, key)
              : reply(chat, threadId, `This topic is no session's (any more).\n${GENERAL_HELP}`))
          : Effect.suspend(() => {
            const command = parseCommand(text)
            if (command === undefined) return Effect.void
            return general(chat, threadId, command, key) ?? reply(chat, threadId, GENERAL_HELP)
          })
        yield* done.pipe(Effect.catchAll((error) => reply(chat, threadId, failureHtml(error))))
      })

    const answer = (id: string, text: string) =>
      api.answerCallback(id, text).pipe(
        Effect.catchAll((error) => Effect.logInfo("a button press could not be answered", error))
      )

    const onCallback = (update: Update) =>
      Effect.gen(function*() {
        const query = update.callback_query
        if (query === undefined) return
        const chat = query.message?.chat.id
        if (!allowed(query.from.id, chat)) {
          return yield* Effect.logInfo("a Telegram button press from outside the allowlist was ignored").pipe(
            Effect.annotateLogs({ telegramUser: query.from.id, telegramChat: chat ?? "" })
          )
        }
        const callback = decodeCallback(query.data ?? "")
        const key = keyFor(update)
        if (callback === undefined) return yield* answer(query.id, "This button is not telemux's")
        switch (callback._tag) {
          case "Answer": {
            const id = callback.sessionId as SessionId
            const question = yield* topics.question(id)
            const choice = question?.choices[callback.index]
            if (question === undefined || choice === undefined) {
              return yield* answer(query.id, "This question is no longer open")
            }
            const sent = yield* routing.sendText(id, choice.text, choice.enter, key).pipe(Effect.either)
            if (sent._tag === "Left") return yield* answer(query.id, `⚠️ ${sent.left.message}`.slice(0, 190))
            yield* topics.answered(id)
            yield* answer(query.id, `sent: ${choice.label}`)
            return yield* outbox.enqueue({
              key: `answered:${id}:${question.messageId}`,
              readyAt: 0,
              run: api.editMessage(settings.chat, question.messageId, `✔️ answered: <b>${escapeHtml(choice.label)}</b>`)
            })
          }
          case "FullScreen": {
            const threadId = query.message?.message_thread_id
            if (threadId === undefined) return yield* answer(query.id, "No topic to send it to")
            yield* topics.fullScreen(callback.sessionId as SessionId, threadId)
            return yield* answer(query.id, "sending the full screen…")
          }
          case "Pick": {
            if (!(yield* starting.has(callback.picker))) {
              return yield* answer(query.id, "This picker has expired: send /new again")
            }
            yield* answer(query.id, "")
            return yield* starting.pick(callback.picker, callback.index, key)
          }
        }
      })

    const handle = (update: Update) =>
      Effect.zipRight(onMessage(update), onCallback(update)).pipe(
        Effect.catchAllCause((cause) => Effect.logError("a Telegram update failed", cause)),
        Effect.annotateLogs({ telegramUpdate: update.update_id })
      )

    return { handle, pickers: starting.size } as const
  })
