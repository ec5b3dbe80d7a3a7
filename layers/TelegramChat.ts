/**
 * What people do in the chat, handled by the poller: only updates from a listed user in an allowed
 * chat are served (the others are logged and get nothing). In a session's topic: text is input
 * (Enter after it), key commands, /close, /resume, /restart, /screen, and the buttons of a
 * question. In the General topic: /sessions, /computers, /new with pickers (computer → project →
 * agent). Everything acts through SessionRouting, so a session of any computer of the fleet is
 * driven as from any other client; input carries an Idempotency-Key made from the update's id.
 */
import { Effect, FiberSet, Option, Schema } from "effect"
import type { InlineKeyboardMarkup, Update } from "grammy/types"
import type { Cache } from "../services/Cache.js"
import { IdempotencyKey } from "../services/Idempotency.js"
import type { Projects } from "../services/Projects.js"
import type { TelegramApi } from "../services/Telegram.js"
import type { TelegramSettings } from "../services/TelemuxConfig.js"
import type { Project } from "../src/domain/Project.js"
import type { ComputerName, SessionId } from "../src/domain/Session.js"
import {
  AGENT_CHOICES,
  type AgentChoice,
  agentOf,
  type Command,
  decodeCallback,
  encodeCallback,
  KEY_COMMANDS,
  keyCommand,
  parseCommand,
  parseNew
} from "../src/telegram/Commands.js"
import { computersList, escapeHtml, fitText, sessionsList } from "../src/telegram/Format.js"
import type * as SessionRouting from "./SessionRouting.js"
import type { Outbox } from "./TelegramOutbox.js"
import type { Topics } from "./TelegramTopics.js"

/** /new pickers kept at once; past it the oldest expires. */
export const PICKERS_MAX = 32
/**
 * Sessions being started at once: a start (an agent and its first prompt) can take many seconds, so
 * it runs beside the poll loop, which goes on handling updates; past this, /new is refused for now.
 */
export const STARTS_MAX = 8

type Routing = Effect.Effect.Success<typeof SessionRouting.make>

export const GENERAL_HELP = "<b>telemux</b>\n/sessions — the fleet's open sessions\n" +
  "/new [project] [agent] [prompt] — start a session (pickers for what is left out)\n/computers — the fleet"
export const TOPIC_HELP = "In a session's topic: text is typed into it (with Enter).\n" +
  `Keys: ${Object.keys(KEY_COMMANDS).map((name) => `/${name}`).join(" ")} (a count after it: /up 3)\n` +
  "/close — close the session · /resume, /restart — its agent · /screen — the full screen as a file"

interface Picker {
  readonly id: number
  readonly chat: number
  readonly threadId: number | undefined
  computer: ComputerName | undefined
  project: Project | undefined
  /** A project asked for by name, found on several computers. */
  projectName: string | undefined
  agent: AgentChoice | undefined
  prompt: string | undefined
  options: ReadonlyArray<string>
  messageId: number | undefined
}

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

const failureText = (error: unknown) =>
  `⚠️ ${
    escapeHtml(
      typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
    )
  }`

export const make = (options: ChatOptions) =>
  Effect.gen(function*() {
    const { api, cache, outbox, routing, settings, topics } = options
    const pickers = new Map<number, Picker>()
    let nextPicker = 0
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

    const online = Effect.map(cache.getComputers, (computers) => [
      options.me,
      ...computers.filter((c) => c.online && c.name !== options.me).map((c) => c.name)
    ])
    const projectsOf = (computer: ComputerName) =>
      computer === options.me ? options.projects.list : cache.getProjects(computer)

    // -- /new --------------------------------------------------------------------------------

    const show = (picker: Picker, html: string, options: ReadonlyArray<string>) => {
      picker.options = options
      const rows: Array<Array<{ text: string; callback_data: string }>> = []
      options.forEach((option, index) => {
        const button = { text: option, callback_data: encodeCallback({ _tag: "Pick", picker: picker.id, index }) }
        if (index % 2 === 0) rows.push([button])
        else rows.at(-1)!.push(button)
      })
      const keyboard = { inline_keyboard: rows }
      return outbox.enqueue({
        key: `picker:${picker.id}`,
        readyAt: 0,
        run: picker.messageId === undefined
          ? Effect.map(
            api.sendMessage(picker.chat, html, { threadId: picker.threadId, keyboard, silent: true }),
            (sent) => {
              picker.messageId = sent.message_id
            }
          )
          : api.editMessage(picker.chat, picker.messageId, html, keyboard)
      })
    }

    const finish = (picker: Picker, html: string) =>
      picker.messageId === undefined
        ? reply(picker.chat, picker.threadId, html)
        : outbox.enqueue({
          key: `picker:${picker.id}`,
          readyAt: 0,
          run: api.editMessage(picker.chat, picker.messageId, html)
        })

    const starts = yield* FiberSet.make<void, never>()

    const create = (picker: Picker, key: IdempotencyKey) =>
      Effect.gen(function*() {
        pickers.delete(picker.id)
        if ((yield* FiberSet.size(starts)) >= STARTS_MAX) {
          return yield* finish(
            picker,
            `⚠️ ${STARTS_MAX} sessions are being started already: send /new again in a moment`
          )
        }
        yield* FiberSet.run(starts, start(picker, key))
      })

    const start = (picker: Picker, key: IdempotencyKey) =>
      Effect.gen(function*() {
        const project = picker.project!
        const agent = picker.agent ?? "shell"
        const session = yield* routing.create({
          computer: picker.computer,
          projectDir: project.path,
          agent: agentOf(agent),
          prompt: picker.prompt
        }, key)
        yield* finish(
          picker,
          `🆕 started <b>${escapeHtml(agent)}</b> in <b>${escapeHtml(project.name)}</b> on ${
            escapeHtml(session.computer)
          } — its topic follows it`
        )
      }).pipe(
        Effect.catchAll((error) => finish(picker, failureText(error))),
        Effect.catchAllCause((cause) => Effect.logError("a session could not be started from Telegram", cause))
      )

    const advance = (picker: Picker, key: IdempotencyKey): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (picker.computer === undefined) {
          let computers = yield* online
          if (picker.projectName !== undefined) {
            const name = picker.projectName
            const having = yield* Effect.filter(
              computers,
              (computer) => Effect.map(projectsOf(computer), (list) => list.some((p) => p.name === name))
            )
            computers = having
          }
          if (computers.length === 1) picker.computer = computers[0]!
          else return yield* show(picker, "🖥 Which computer?", computers)
        }
        if (picker.project === undefined) {
          const list = yield* projectsOf(picker.computer)
          const named = list.find((p) => p.name === picker.projectName)
          if (named !== undefined) picker.project = named
          else if (list.length === 0) {
            pickers.delete(picker.id)
            return yield* finish(
              picker,
              `⚠️ ${escapeHtml(picker.computer)} has no projects: list trusted directories in its TELEMUX_TRUSTED_DIRS`
            )
          } else {return yield* show(
              picker,
              `📁 Which project on ${escapeHtml(picker.computer)}?`,
              list.map((p) => p.name)
            )}
        }
        if (picker.agent === undefined) {
          return yield* show(picker, `🤖 What runs in ${escapeHtml(picker.project.name)}?`, AGENT_CHOICES)
        }
        yield* create(picker, key)
      })

    const startNew = (chat: number, threadId: number | undefined, args: string, key: IdempotencyKey) =>
      Effect.gen(function*() {
        const request = parseNew(args)
        const picker: Picker = {
          id: ++nextPicker,
          chat,
          threadId,
          computer: undefined,
          project: undefined,
          projectName: undefined,
          agent: request.agent,
          prompt: request.prompt,
          options: [],
          messageId: undefined
        }
        if (request.project !== undefined) {
          const wanted = request.project
          const computers = yield* online
          const found = yield* Effect.forEach(computers, (computer) =>
            Effect.map(projectsOf(computer), (list) =>
              list.filter((p) =>
                p.name.toLowerCase() === wanted.toLowerCase() || p.path === wanted
              ).map((p) => ({
                computer,
                project: p
              }))))
          const matches = found.flat()
          if (matches.length === 0) {
            yield* reply(chat, threadId, `No project named <b>${escapeHtml(wanted)}</b> in the fleet: pick one.`)
          } else if (matches.length === 1) {
            picker.computer = matches[0]!.computer
            picker.project = matches[0]!.project
          } else picker.projectName = matches[0]!.project.name
        }
        pickers.set(picker.id, picker)
        if (pickers.size > PICKERS_MAX) {
          pickers.delete(pickers.keys().next().value!)
        }
        yield* advance(picker, key)
      })

    const pick = (picker: Picker, index: number, key: IdempotencyKey) =>
      Effect.gen(function*() {
        const option = picker.options[index]
        if (option === undefined) {
          return
        }
        if (picker.computer === undefined) {
          picker.computer = option as ComputerName
        } else if (picker.project === undefined) {
          const list = yield* projectsOf(picker.computer)
          picker.project = list.find((p) =>
            p.name === option
          )
          if (picker.project === undefined) return yield* finish(picker, `⚠️ project ${escapeHtml(option)} is gone`)
        } else picker.agent = option as AgentChoice
        yield* advance(picker, key)
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
          return startNew(chat, threadId, command.args, key)
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
        yield* done.pipe(Effect.catchAll((error) => reply(chat, threadId, failureText(error))))
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
            if (sent._tag === "Left") return yield* answer(query.id, failureText(sent.left).slice(0, 190))
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
            const picker = pickers.get(callback.picker)
            if (picker === undefined) return yield* answer(query.id, "This picker has expired: send /new again")
            yield* answer(query.id, "")
            return yield* pick(picker, callback.index, key)
          }
        }
      })

    const handle = (update: Update) =>
      Effect.zipRight(onMessage(update), onCallback(update)).pipe(
        Effect.catchAllCause((cause) => Effect.logError("a Telegram update failed", cause)),
        Effect.annotateLogs({ telegramUpdate: update.update_id })
      )

    return { handle, pickers: Effect.sync(() => pickers.size) } as const
  })
