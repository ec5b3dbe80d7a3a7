/**
 * A topic per session in the Telegram chat, kept by the poller (the lease holder) from the events
 * every client uses: the cache's session changes (fleet-wide) and the OutputLog's screens (a
 * session of another computer is mirrored into it through the fleet while it has a topic).
 *
 * Per session: the topic (made when the session is first seen, its id kept under the lease so a
 * successor finds it), its title (status emoji, computer, project, agent: edited when it changes),
 * the tail (one message edited in place with the end of the latest screen, at most once per
 * TAIL_EDIT_INTERVAL, skipped when it would not change), a message per finished agent turn, and a
 * question with buttons when the agent waits for input. All of it is pruned when the session goes.
 */
import { Clock, Duration, Effect, FiberMap, FiberSet, Option } from "effect"
import type { InlineKeyboardMarkup } from "grammy/types"
import type { Cache, CacheEvent } from "../services/Cache.js"
import type { Fleet } from "../services/Fleet.js"
import type { LeaseHolding } from "../services/Lease.js"
import type { OutputEvent } from "../services/OutputLog.js"
import type { TelegramApi } from "../services/Telegram.js"
import type { ComputerName, Session, SessionId } from "../src/domain/Session.js"
import { SessionTransitions } from "../src/notify/SessionTransitions.js"
import { type Choice, parseQuestion } from "../src/telegram/Choices.js"
import { encodeCallback } from "../src/telegram/Commands.js"
import { escapeHtml, fitText, renderTail, topicTitle } from "../src/telegram/Format.js"
import { nextTailEdit, TAIL_EDIT_INTERVAL } from "../src/telegram/Pacing.js"
import type * as SessionRouting from "./SessionRouting.js"
import type { Job, Outbox } from "./TelegramOutbox.js"

/** Sessions followed at once; past it the least recently changed one is forgotten (its topic stays). */
export const TOPICS_MAX = 2048
/** How long a session's topic id is kept under the lease. */
export const TOPIC_TTL = Duration.days(30)
/** How long a finished turn's message waits for its reply to come from the agent's hooks. */
export const TURN_TEXT_WAIT = Duration.millis(1500)
/** History lines in the file sent for "full screen". */
export const FULL_SCREEN_LINES = 2000

type Routing = Effect.Effect.Success<typeof SessionRouting.make>

interface Topic {
  session: Session
  threadId: number | undefined
  title: string | undefined
  tailMessageId: number | undefined
  tailHtml: string | undefined
  /** When the tail was last sent (set as it is sent, so a change meanwhile waits its turn). */
  lastEdit: number | undefined
  screen: string | undefined
  question: { readonly messageId: number; readonly choices: ReadonlyArray<Choice> } | undefined
  /** The last finished turn's reply as the agent's hooks gave it, and when it came (clock ms). */
  turnText: { readonly text: string; readonly at: number } | undefined
}

export interface TopicsOptions {
  readonly chat: number
  readonly me: ComputerName
  readonly api: TelegramApi["Type"]
  readonly cache: Cache["Type"]
  readonly fleet: Fleet["Type"]
  readonly routing: Routing
  readonly holding: LeaseHolding
  readonly outbox: Outbox
  readonly tailInterval?: Duration.Duration
}

export const make = (options: TopicsOptions) =>
  Effect.gen(function*() {
    const { api, cache, chat, holding, routing } = options
    const tailInterval = options.tailInterval ?? TAIL_EDIT_INTERVAL
    const topics = new Map<SessionId, Topic>()
    const threads = new Map<number, SessionId>()
    const transitions = new SessionTransitions()
    const watchers = yield* FiberMap.make<SessionId>()
    /** Finished turns waiting a moment for their reply (TURN_TEXT_WAIT each at most). */
    const turnWaits = yield* FiberSet.make()
    let turns = 0

    const stored = (key: string) =>
      holding.get(key).pipe(
        Effect.map(Option.filter((value) => value !== "")),
        Effect.orElseSucceed(() => Option.none<string>())
      )
    const store = (key: string, value: string) =>
      holding.put(key, value, TOPIC_TTL).pipe(
        Effect.catchAll((error) => Effect.logWarning("a topic id could not be kept under the lease", error))
      )

    const ensureTopic = (topic: Topic) =>
      Effect.gen(function*() {
        if (topic.threadId !== undefined) return topic.threadId
        const id = topic.session.sessionId
        const known = Option.map(yield* stored(`topic:${id}`), Number)
        let threadId: number
        if (Option.isSome(known) && Number.isInteger(known.value)) {
          threadId = known.value
        } else {
          const title = topicTitle(topic.session)
          threadId = yield* api.createTopic(chat, title)
          topic.title = title
          yield* store(`topic:${id}`, String(threadId))
          yield* store(`thread:${threadId}`, id)
        }
        topic.threadId = threadId
        threads.set(threadId, id)
        return threadId
      })

    /** A job in a session's topic: when Telegram says the topic is gone, it is forgotten (and made again on retry). */
    const enqueue = (job: Job & { readonly sessionId: SessionId }) =>
      options.outbox.enqueue({
        ...job,
        run: job.run.pipe(Effect.tapErrorTag("TelegramThreadNotFound", () => threadLost(job.sessionId)))
      })

    const titleJob = (topic: Topic) =>
      enqueue({
        key: `title:${topic.session.sessionId}`,
        sessionId: topic.session.sessionId,
        readyAt: 0,
        run: Effect.gen(function*() {
          const threadId = yield* ensureTopic(topic)
          const title = topicTitle(topic.session)
          if (topic.title === title) return
          yield* api.editTopic(chat, threadId, title)
          topic.title = title
        })
      })

    const fullScreenKeyboard = (id: SessionId): InlineKeyboardMarkup => ({
      inline_keyboard: [[{
        text: "📄 Full screen",
        callback_data: encodeCallback({ _tag: "FullScreen", sessionId: id })
      }]]
    })

    const tailJob = (topic: Topic) =>
      enqueue({
        key: `tail:${topic.session.sessionId}`,
        sessionId: topic.session.sessionId,
        readyAt: nextTailEdit(topic.lastEdit, tailInterval),
        run: Effect.gen(function*() {
          if (topics.get(topic.session.sessionId) !== topic || topic.screen === undefined) return
          const tail = renderTail(topic.screen, "")
          if (tail.html === topic.tailHtml) return
          const threadId = yield* ensureTopic(topic)
          const keyboard = tail.cut > 0 ? fullScreenKeyboard(topic.session.sessionId) : undefined
          topic.lastEdit = yield* Clock.currentTimeMillis
          if (topic.tailMessageId === undefined) {
            const sent = yield* api.sendMessage(chat, tail.html, { threadId, keyboard, silent: true })
            topic.tailMessageId = sent.message_id
          } else {
            yield* api.editMessage(chat, topic.tailMessageId, tail.html, keyboard)
          }
          topic.tailHtml = tail.html
        })
      })

    /** A message of its own in the topic; the tail then starts again below it. */
    const post = (topic: Topic, key: string, html: string, keyboard?: InlineKeyboardMarkup) =>
      Effect.gen(function*() {
        const threadId = yield* ensureTopic(topic)
        const sent = yield* api.sendMessage(chat, fitText(html), { threadId, keyboard })
        topic.tailMessageId = undefined
        topic.tailHtml = undefined
        if (topic.screen !== undefined) yield* tailJob(topic)
        return sent.message_id
      }).pipe(Effect.annotateLogs({ job: key }))

    const questionJob = (topic: Topic) =>
      enqueue({
        key: `question:${topic.session.sessionId}`,
        sessionId: topic.session.sessionId,
        readyAt: 0,
        run: Effect.gen(function*() {
          const screen = yield* routing.capture(topic.session.sessionId, 0).pipe(
            Effect.orElseSucceed(() => topic.screen ?? "")
          )
          const question = parseQuestion(screen)
          const id = topic.session.sessionId
          const keyboard: InlineKeyboardMarkup | undefined = question.choices.length === 0 ? undefined : {
            inline_keyboard: question.choices.map((choice, index) => [{
              text: choice.label,
              callback_data: encodeCallback({ _tag: "Answer", sessionId: id, index })
            }])
          }
          const html = `❓ <b>${escapeHtml(topic.session.title)} waits for input</b>` +
            (question.question === "" ? "" : `\n<pre>${escapeHtml(question.question)}</pre>`) +
            (question.choices.length === 0 ? "\nReply here to answer." : "")
          const messageId = yield* post(topic, `question:${id}`, html, keyboard)
          topic.question = { messageId, choices: question.choices }
        })
      })

    /**
     * A finished turn as its own message: the reply the agent's hooks gave (whole, up to
     * TURN_TEXT_MAX_CHARS), which may come a moment after the status (TURN_TEXT_WAIT at most);
     * without hooks, the session's last output.
     */
    const turnJob = (topic: Topic, fallback: string) =>
      FiberSet.run(
        turnWaits,
        Effect.gen(function*() {
          const finishedAt = yield* Clock.currentTimeMillis
          const fresh = () =>
            topic.turnText !== undefined && topic.turnText.at >= finishedAt - Duration.toMillis(TURN_TEXT_WAIT)
          const deadline = finishedAt + Duration.toMillis(TURN_TEXT_WAIT)
          while (!fresh() && (yield* Clock.currentTimeMillis) < deadline) yield* Effect.sleep("100 millis")
          const text = fresh() ? topic.turnText!.text : fallback
          yield* enqueue({
            key: `turn:${topic.session.sessionId}:${++turns}`,
            sessionId: topic.session.sessionId,
            readyAt: 0,
            run: Effect.asVoid(post(topic, "turn", `✅ <b>turn finished</b>\n${escapeHtml(text)}`))
          })
        })
      )

    const follow = (session: Session): Topic => {
      const id = session.sessionId
      let topic = topics.get(id)
      if (topic === undefined) {
        topic = {
          session,
          threadId: undefined,
          title: undefined,
          tailMessageId: undefined,
          tailHtml: undefined,
          lastEdit: undefined,
          screen: undefined,
          question: undefined,
          turnText: undefined
        }
      }
      topics.delete(id)
      topics.set(id, topic)
      topic.session = session
      if (topics.size > TOPICS_MAX) {
        const [oldest, forgotten] = topics.entries().next().value!
        topics.delete(oldest)
        if (forgotten.threadId !== undefined) threads.delete(forgotten.threadId)
      }
      return topic
    }

    const watchRemote = (session: Session) =>
      session.computer === options.me
        ? Effect.void
        : FiberMap.run(
          watchers,
          session.sessionId,
          Effect.scoped(Effect.zipRight(options.fleet.watchOutput(session), Effect.never)),
          { onlyIfMissing: true }
        ).pipe(Effect.asVoid)

    const upserted = (session: Session) =>
      Effect.gen(function*() {
        const known = topics.get(session.sessionId)
        const topic = follow(session)
        const kind = transitions.upserted(session)
        if (known === undefined || topic.title !== topicTitle(session)) yield* titleJob(topic)
        if (kind === "waiting_input") yield* questionJob(topic)
        if (kind === "turn_finished") yield* turnJob(topic, session.lastOutput ?? "")
        if (session.status !== "waiting_input") topic.question = undefined
        yield* watchRemote(session)
      })

    /** Drops everything kept for the session (its topic itself stays). */
    const forget = (id: SessionId) =>
      Effect.gen(function*() {
        const topic = topics.get(id)
        topics.delete(id)
        if (topic?.threadId !== undefined) threads.delete(topic.threadId)
        transitions.removed(id)
        yield* options.outbox.dropSession(id)
        yield* FiberMap.remove(watchers, id)
        return topic
      })

    const closed = (id: SessionId, last: Session | undefined) =>
      Effect.gen(function*() {
        const topic = yield* forget(id)
        const threadId = topic?.threadId ?? Option.getOrUndefined(Option.map(yield* stored(`topic:${id}`), Number))
        if (threadId === undefined) return
        threads.delete(threadId)
        yield* options.outbox.enqueue({
          key: `close:${id}`,
          readyAt: 0,
          run: Effect.gen(function*() {
            // the closed row says why (the cache only says it is gone)
            const row = Option.getOrUndefined(yield* Effect.option(routing.get(id)))
            const session = row ?? last ?? topic?.session
            const reason = session?.closeReason ?? "closed"
            yield* api.sendMessage(chat, `⛔ <b>session closed</b> (${escapeHtml(reason)})`, { threadId, silent: true })
            if (session !== undefined) {
              yield* api.editTopic(chat, threadId, topicTitle({ ...session, status: "closed" })).pipe(
                Effect.catchTag("TelegramNotModified", () => Effect.void)
              )
            }
            yield* api.closeTopic(chat, threadId).pipe(Effect.catchTag("TelegramThreadNotFound", () => Effect.void))
            yield* store(`topic:${id}`, "")
          }).pipe(Effect.catchTag("TelegramThreadNotFound", () => Effect.void))
        })
      })

    const onCacheEvent = (event: CacheEvent) => {
      switch (event._tag) {
        case "SessionUpserted":
          return event.session.status === "closed"
            ? closed(event.session.sessionId, event.session)
            : upserted(event.session)
        case "SessionRemoved":
          // a session of a computer that left the fleet is gone from the cache, not closed: its
          // topic stays for when the computer is back; only what is kept for it here is dropped
          return event.computer === options.me
            ? closed(event.sessionId, undefined)
            : Effect.flatMap(
              options.fleet.whereabouts(event.sessionId),
              (departed) => Option.isSome(departed) ? forget(event.sessionId) : closed(event.sessionId, undefined)
            )
        default:
          return Effect.void
      }
    }

    const onOutputEvent = (event: OutputEvent) =>
      Effect.gen(function*() {
        if (event._tag === "AgentActivity") {
          const topic = topics.get(event.sessionId)
          if (event.event === "turn" && event.text !== undefined && topic !== undefined) {
            topic.turnText = { text: event.text, at: yield* Clock.currentTimeMillis }
          }
          return
        }
        if (event._tag !== "OutputChanged") return
        let topic = topics.get(event.sessionId)
        if (topic === undefined) {
          const session = yield* cache.getSession(event.sessionId)
          if (Option.isNone(session) || session.value.status === "closed") return
          yield* upserted(session.value)
          topic = topics.get(event.sessionId)!
        }
        topic.screen = event.screen
        yield* tailJob(topic)
      })

    /** The session whose topic `threadId` is (also one made by an earlier poller). */
    const sessionOf = (threadId: number) =>
      Effect.gen(function*() {
        const known = threads.get(threadId)
        if (known !== undefined) return Option.some(known)
        return Option.map(yield* stored(`thread:${threadId}`), (id) => id as SessionId)
      })

    const threadLost = (id: SessionId) =>
      Effect.sync(() => {
        const topic = topics.get(id)
        if (topic === undefined) return
        if (topic.threadId !== undefined) threads.delete(topic.threadId)
        topic.threadId = undefined
        topic.title = undefined
        topic.tailMessageId = undefined
        topic.tailHtml = undefined
      }).pipe(Effect.zipRight(store(`topic:${id}`, "")))

    /** The question shown for the session, to answer by a button. */
    const question = (id: SessionId) => Effect.sync(() => topics.get(id)?.question)

    /** Forgets the question once answered (its buttons are then taken off). */
    const answered = (id: SessionId) =>
      Effect.sync(() => {
        const topic = topics.get(id)
        if (topic !== undefined) topic.question = undefined
      })

    const fullScreen = (id: SessionId, threadId: number) =>
      enqueue({
        key: `file:${id}`,
        sessionId: id,
        readyAt: 0,
        run: Effect.gen(function*() {
          const screen = yield* routing.capture(id, FULL_SCREEN_LINES).pipe(
            Effect.catchAll((error) => Effect.succeed(`(the screen could not be read: ${error.message})`))
          )
          yield* api.sendDocument(chat, threadId, `screen-${id.slice(0, 8)}.txt`, screen, "📄 full screen")
        })
      })

    return {
      onCacheEvent,
      onOutputEvent,
      sessionOf,
      threadLost,
      question,
      answered,
      fullScreen,
      size: Effect.sync(() => ({ topics: topics.size, threads: threads.size }))
    } as const
  })

export type Topics = Effect.Effect.Success<ReturnType<typeof make>>
