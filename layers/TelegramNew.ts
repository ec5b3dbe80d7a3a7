/**
 * `/new [project] [agent] [prompt…]` in the chat: what is left out is asked with buttons — the
 * computer (when the project is on several, or none is named and the fleet has several), the
 * project, the agent — then the session is started through SessionRouting, beside the poll loop.
 */
import { Effect, FiberSet } from "effect"
import type { InlineKeyboardMarkup } from "grammy/types"
import type { Cache } from "../services/Cache.js"
import type { IdempotencyKey } from "../services/Idempotency.js"
import type { Projects } from "../services/Projects.js"
import type { TelegramApi } from "../services/Telegram.js"
import type { Project } from "../src/domain/Project.js"
import type { ComputerName } from "../src/domain/Session.js"
import { AGENT_CHOICES, type AgentChoice, agentOf, encodeCallback, parseNew } from "../src/telegram/Commands.js"
import { escapeHtml, failureHtml } from "../src/telegram/Format.js"
import type * as SessionRouting from "./SessionRouting.js"
import type { Outbox } from "./TelegramOutbox.js"

/** /new pickers kept at once; past it the oldest expires. */
export const PICKERS_MAX = 32
/**
 * Sessions being started at once: a start (an agent and its first prompt) can take many seconds, so
 * it runs beside the poll loop, which goes on handling updates; past this, /new is refused for now.
 */
export const STARTS_MAX = 8

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

export interface NewOptions {
  readonly me: ComputerName
  readonly api: TelegramApi["Type"]
  readonly cache: Cache["Type"]
  readonly projects: Projects["Type"]
  readonly routing: Effect.Effect.Success<typeof SessionRouting.make>
  readonly outbox: Outbox
  readonly reply: (
    chat: number,
    threadId: number | undefined,
    html: string,
    keyboard?: InlineKeyboardMarkup
  ) => Effect.Effect<void>
}

export const make = (options: NewOptions) =>
  Effect.gen(function*() {
    const { api, cache, outbox, reply, routing } = options
    const pickers = new Map<number, Picker>()
    let nextPicker = 0

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
        Effect.catchAll((error) => finish(picker, failureHtml(error))),
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

    return {
      startNew,
      has: (id: number) => Effect.sync(() => pickers.has(id)),
      pick: (id: number, index: number, key: IdempotencyKey) =>
        Effect.suspend(() => {
          const picker = pickers.get(id)
          return picker === undefined ? Effect.void : pick(picker, index, key)
        }),
      size: Effect.sync(() => pickers.size)
    } as const
  })
