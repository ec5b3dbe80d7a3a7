import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { FakeTerminal } from "../layers/FakeTerminalBridge.js"
import * as LeasesAlone from "../layers/LeasesAlone.js"
import * as TelegramLive from "../layers/TelegramLive.js"
import { Cache } from "../services/Cache.js"
import { Leases } from "../services/Lease.js"
import { OutputLog } from "../services/OutputLog.js"
import { Sessions } from "../services/Sessions.js"
import { Computer } from "../src/domain/Computer.js"
import { Project } from "../src/domain/Project.js"
import { ComputerName, type Session, summarise } from "../src/domain/Session.js"
import {
  buttonPress,
  CONFLICT,
  type FakeBotApi,
  type FakeOptions,
  NOT_MODIFIED,
  startFakeBotApi,
  textMessage,
  THREAD_NOT_FOUND,
  TOO_MANY
} from "./support/fakeBotApi.js"
import { CHAT, STRANGER, telegramOnDoubles, USER } from "./support/telegramLayers.js"

const FAST: TelegramLive.TelegramTuning = {
  ...TelegramLive.DEFAULT_TUNING,
  pollTimeoutSeconds: 1,
  tailInterval: Duration.millis(100),
  chatRefill: Duration.millis(50),
  conflictRetry: Duration.millis(200)
}

const fakeApiWith = (options: FakeOptions) =>
  Effect.acquireRelease(Effect.promise(() => startFakeBotApi(options)), (fake) => Effect.promise(fake.close))
const projectDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "telemux-tg-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const waitFor = (fake: FakeBotApi, what: string, check: () => boolean) =>
  Effect.promise(() => fake.waitFor(what, check))

/** Runs `body` with the front-end on doubles, its bot on a fresh fake Bot API. */
const withTelegram = <A, E>(
  body: (fake: FakeBotApi, lines: Array<string>) => Effect.Effect<A, E, Sessions | OutputLog | Cache | FakeTerminal>,
  tuning = FAST,
  fakeOptions: FakeOptions = {}
) =>
  Effect.gen(function*() {
    const fake = yield* fakeApiWith(fakeOptions)
    const dir = yield* projectDir
    const lines: Array<string> = []
    return yield* body(fake, lines).pipe(
      Effect.provide(telegramOnDoubles({ apiRoot: fake.apiRoot, projectDir: dir, tuning, lines }))
    )
  })

const texts = (fake: FakeBotApi, method: string) => fake.callsOf(method).map((c) => String(c.payload.text ?? ""))
const inThread = (fake: FakeBotApi, method: string, thread: number) =>
  fake.callsOf(method).filter((c) => Number(c.payload.message_thread_id) === thread)

const openSessions = Effect.flatMap(Sessions, (sessions) => sessions.list({}))

const showScreen = (session: Session, screen: string) =>
  Effect.flatMap(
    OutputLog,
    (log) => Effect.flatMap(DateTime.now, (now) => log.append(session.sessionId, screen, now))
  )

describe("Telegram front-end on a fake Bot API", () => {
  it.scopedLive("/new, typing in the topic, the tail following the screen, a question answered by a button, close", () =>
    withTelegram((fake) =>
      Effect.gen(function*() {
        const terminal = yield* FakeTerminal
        // /new with the project named: the agent is picked with buttons
        fake.inject(textMessage(USER, CHAT, "/new demo"))
        yield* waitFor(fake, "the agent picker", () =>
          fake.callsOf("sendMessage").some((c) =>
            JSON.stringify(c.payload.reply_markup ?? {}).includes("claude")
          ))
        const picker = fake.callsOf("sendMessage").find((c) => c.payload.reply_markup !== undefined)!
        const buttons = picker.payload.reply_markup.inline_keyboard.flat() as Array<
          { text: string; callback_data: string }
        >
        assert.deepStrictEqual(buttons.map((b) => b.text), ["shell", "claude", "codex", "gemini"])
        fake.inject(buttonPress(USER, CHAT, buttons[0]!.callback_data, 1))
        yield* waitFor(fake, "the session's topic", () => fake.callsOf("createForumTopic").length === 1)
        const [session] = yield* openSessions
        assert.isDefined(session)
        const topic = fake.callsOf("createForumTopic")[0]!
        assert.strictEqual(Number(topic.payload.chat_id), CHAT)
        assert.include(topic.payload.name, "local")
        assert.include(topic.payload.name, "shell")
        assert.include(topic.payload.name, path.basename(session!.workingDirectory))
        yield* waitFor(fake, "the picker saying it started", () =>
          texts(fake, "editMessageText").some((t) =>
            t.includes("started")
          ))
        const thread = 100

        // the tail: a message in the topic, then edited in place as the screen changes
        yield* showScreen(session!, "$ echo one\none\n$ ")
        yield* waitFor(fake, "the tail", () =>
          inThread(fake, "sendMessage", thread).some((c) =>
            c.payload.text.includes("one")
          ))
        const tail = inThread(fake, "sendMessage", thread).find((c) =>
          c.payload.text.includes("one")
        )!
        assert.include(tail.payload.text, "<pre>")
        assert.strictEqual(tail.payload.disable_notification, true)
        yield* showScreen(session!, "$ echo one\none\n$ echo two\ntwo\n$ ")
        yield* waitFor(fake, "the tail edited", () => texts(fake, "editMessageText").some((t) => t.includes("two")))
        const edit = fake.callsOf("editMessageText").find((c) => String(c.payload.text).includes("two"))!
        assert.strictEqual(edit.payload.message_id, 2, "the tail message itself is edited")

        // text in the topic is typed into the session, with Enter; a key command presses its key
        fake.inject(textMessage(USER, CHAT, "ls -la", thread))
        fake.inject(textMessage(USER, CHAT, "/ctrlc", thread))
        fake.inject(textMessage(USER, CHAT, "/up 3", thread))
        yield* waitFor(fake, "the keys typed", () =>
          terminal.calls().some((c) =>
            c.op === "keys" && c.keys.some((k) =>
              k.key === "Up" && k.repeat === 3
            )
          ))
        const typed = terminal.calls()
        assert.isTrue(typed.some((c) => c.op === "paste" && c.text === "ls -la"))
        assert.isTrue(typed.some((c) => c.op === "keys" && c.keys.some((k) => k.key === "C-c")))

        // the session waits for input: the question, with buttons read from its screen
        const sessions = yield* Sessions
        yield* sessions.sendText(
          session!.sessionId,
          "\nDo you want to proceed?\n❯ 1. Yes\n  2. No, tell me why\n",
          false
        )
        yield* sessions.observe(session!.sessionId, { status: "waiting_input" })
        yield* waitFor(
          fake,
          "the question",
          () => inThread(fake, "sendMessage", thread).some((c) => String(c.payload.text).includes("waits for input"))
        )
        const question = inThread(fake, "sendMessage", thread).find((c) =>
          String(c.payload.text).includes("waits for input")
        )!
        assert.include(question.payload.text, "Do you want to proceed?")
        assert.notStrictEqual(question.payload.disable_notification, true, "a question notifies")
        const choices = question.payload.reply_markup.inline_keyboard.flat() as Array<
          { text: string; callback_data: string }
        >
        assert.deepStrictEqual(choices.map((c) => c.text), ["1. Yes", "2. No, tell me why"])
        yield* waitFor(
          fake,
          "the title's emoji",
          () => fake.callsOf("editForumTopic").some((c) => String(c.payload.name).startsWith("❓"))
        )
        const pastes = terminal.calls().filter((c) => c.op === "paste").length
        fake.inject(buttonPress(USER, CHAT, choices[0]!.callback_data, 99, thread))
        yield* waitFor(
          fake,
          "the press answered",
          () => fake.callsOf("answerCallbackQuery").some((c) => String(c.payload.text).includes("1. Yes"))
        )
        const answer = terminal.calls().filter((c) => c.op === "paste").slice(pastes)
        assert.deepStrictEqual(answer.map((c) => c.op === "paste" && c.text), ["1"])
        yield* waitFor(
          fake,
          "the question marked answered",
          () => texts(fake, "editMessageText").some((t) => t.includes("answered"))
        )

        // /close in the topic: the session closes, its topic is marked and closed
        fake.inject(textMessage(USER, CHAT, "/close", thread))
        yield* waitFor(fake, "the topic closed", () => fake.callsOf("closeForumTopic").length === 1)
        assert.strictEqual((yield* openSessions).length, 0)
        assert.isTrue(fake.callsOf("editForumTopic").some((c) => String(c.payload.name).startsWith("⛔")))
        assert.isTrue(texts(fake, "sendMessage").some((t) => t.includes("session closed</b> (user)")))
        // nothing is kept for it any more: a late screen of the closed session sends nothing
        const sends = fake.calls.filter((c) => c.method !== "getUpdates").length
        yield* showScreen(session!, "a late screen")
        yield* Effect.sleep(Duration.millis(300))
        assert.strictEqual(fake.calls.filter((c) => c.method !== "getUpdates").length, sends)
      })
    ))

  it.scopedLive("an agent's finished turn is a message of its own in the topic, and the tail starts again below it", () =>
    withTelegram((fake) =>
      Effect.gen(function*() {
        const sessions = yield* Sessions
        const session = yield* sessions.create({ projectDir: os.tmpdir(), title: "agent", agent: "claude" })
        yield* waitFor(fake, "the topic", () => fake.callsOf("createForumTopic").length === 1)
        assert.include(fake.callsOf("createForumTopic")[0]!.payload.name, "claude")
        yield* showScreen(session, "claude> working")
        yield* waitFor(fake, "the tail", () => inThread(fake, "sendMessage", 100).length === 1)
        yield* sessions.observe(session.sessionId, { status: "running" })
        yield* sessions.observe(session.sessionId, {
          status: "idle",
          lastOutput: "All 12 tests pass & the build is green"
        })
        yield* waitFor(fake, "the turn", () => texts(fake, "sendMessage").some((t) => t.includes("turn finished")))
        const turn = fake.callsOf("sendMessage").find((c) => String(c.payload.text).includes("turn finished"))!
        assert.include(turn.payload.text, "All 12 tests pass &amp; the build is green")
        assert.strictEqual(Number(turn.payload.message_thread_id), 100)
        // the tail is sent again, below the turn
        yield* waitFor(fake, "a new tail message", () => inThread(fake, "sendMessage", 100).length === 3)
        assert.include(inThread(fake, "sendMessage", 100)[2]!.payload.text, "claude&gt; working")
      })
    ))

  it.scopedLive("a finished turn's message holds the agent's whole reply when its hooks gave it, not the summary", () =>
    withTelegram((fake) =>
      Effect.gen(function*() {
        const sessions = yield* Sessions
        const outputLog = yield* OutputLog
        const session = yield* sessions.create({ projectDir: os.tmpdir(), title: "agent", agent: "claude" })
        yield* waitFor(fake, "the topic", () => fake.callsOf("createForumTopic").length === 1)
        const reply = "Done. Here is what changed:\n" +
          Array.from({ length: 30 }, (_, i) => `- file-${i}.ts: fixed the ${i}th test`).join("\n")
        yield* sessions.observe(session.sessionId, { status: "running" })
        // as AgentsLive records a TurnStopped: the status (with the summary), then the reply
        yield* sessions.observe(session.sessionId, { status: "idle", lastOutput: summarise(reply) })
        yield* outputLog.publish({
          _tag: "AgentActivity",
          sessionId: session.sessionId,
          event: "turn",
          ok: true,
          detail: summarise(reply),
          text: reply
        })
        yield* waitFor(fake, "the turn", () => texts(fake, "sendMessage").some((t) => t.includes("turn finished")))
        const turn = String(
          fake.callsOf("sendMessage").find((c) => String(c.payload.text).includes("turn finished"))!
            .payload.text
        )
        assert.include(turn, "- file-29.ts: fixed the 29th test")
        assert.include(turn, "Here is what changed:\n- file-0.ts")
        assert.isAbove(reply.length, 600)
      })
    ))

  it.scopedLive("/new with no project on a fleet of two: the computer, then its project, then the agent are picked; an unreachable one is said there", () =>
    withTelegram((fake) =>
      Effect.gen(function*() {
        const cache = yield* Cache
        const far = ComputerName.make("farbox")
        yield* cache.upsertComputer(
          new Computer({
            name: far,
            host: "far.example.net",
            user: "me",
            role: "peer",
            online: true,
            lastSeenAt: DateTime.unsafeMake(Date.now()),
            stats: null,
            version: "0.1.0"
          })
        )
        yield* cache.setProjects(far, [
          new Project({ name: "faraway", path: "/srv/faraway", description: "", todos: [] }),
          new Project({ name: "other", path: "/srv/other", description: "", todos: [] })
        ])
        const keyboards = () =>
          fake.callsOf("sendMessage").concat(fake.callsOf("editMessageText")).filter((c) =>
            c.payload.reply_markup !== undefined
          )
        const buttonsOf = (call: { readonly payload: Record<string, any> }) =>
          call.payload.reply_markup.inline_keyboard.flat() as Array<{ text: string; callback_data: string }>
        const press = (text: string) => {
          const call = [...keyboards()].reverse().find((c) => buttonsOf(c).some((b) => b.text === text))!
          const button = buttonsOf(call).find((b) => b.text === text)!
          fake.inject(buttonPress(USER, CHAT, button.callback_data, Number(call.payload.message_id ?? 1)))
        }
        const shown = (text: string) => () => keyboards().some((c) => buttonsOf(c).some((b) => b.text === text))

        fake.inject(textMessage(USER, CHAT, "/new"))
        yield* waitFor(fake, "the computer picker", shown("farbox"))
        assert.include(keyboards().at(-1)!.payload.text, "Which computer?")
        assert.deepStrictEqual(buttonsOf(keyboards().at(-1)!).map((b) => b.text), ["local", "farbox"])
        press("farbox")
        yield* waitFor(fake, "farbox's projects", shown("faraway"))
        assert.deepStrictEqual(buttonsOf(keyboards().at(-1)!).map((b) => b.text), ["faraway", "other"])
        press("faraway")
        yield* waitFor(fake, "the agent picker", shown("gemini"))
        press("shell")
        // this test's fleet is this computer alone: farbox cannot be asked, and the picker says so
        yield* waitFor(fake, "the picker saying why not", () =>
          texts(fake, "editMessageText").concat(texts(fake, "sendMessage")).some((t) =>
            /farbox/.test(t) && /⚠️/.test(t)
          ))
        assert.strictEqual((yield* openSessions).length, 0, "nothing was started")
      })
    ))

  it.scopedLive("a chat without topics is said at start, with what to do", () =>
    withTelegram(
      (fake, lines) =>
        Effect.gen(function*() {
          yield* waitFor(fake, "the chat looked at", () => fake.callsOf("getChat").length === 1)
          yield* waitFor(fake, "polling", () => fake.callsOf("getUpdates").length > 0)
          const said = lines.find((line) => line.includes("has no topics"))
          assert.isDefined(said, lines.join("\n"))
          assert.include(said, "turn Topics on in the group's settings")
        }),
      FAST,
      { chat: { type: "supergroup", is_forum: false } }
    ))

  it.scopedLive("a forum chat is not warned about", () =>
    withTelegram((fake, lines) =>
      Effect.gen(function*() {
        yield* waitFor(fake, "polling", () => fake.callsOf("getUpdates").length > 0)
        assert.strictEqual(fake.callsOf("getChat").length, 1)
        assert.isUndefined(lines.find((line) => line.includes("has no topics")))
      })
    ))

  it.scopedLive("a user not on the allowlist gets nothing and changes nothing", () =>
    withTelegram((fake, lines) =>
      Effect.gen(function*() {
        const sessions = yield* Sessions
        const terminal = yield* FakeTerminal
        const session = yield* sessions.create({ projectDir: os.tmpdir(), title: "mine" })
        yield* waitFor(fake, "the topic", () => fake.callsOf("createForumTopic").length === 1)
        const before = fake.calls.filter((c) => c.method !== "getUpdates").length
        const pastes = terminal.calls().filter((c) => c.op === "paste").length
        fake.inject(textMessage(STRANGER, CHAT, "/new demo shell"))
        fake.inject(textMessage(STRANGER, CHAT, "rm -rf /", 100))
        fake.inject(textMessage(STRANGER, CHAT, "/close", 100))
        fake.inject(buttonPress(STRANGER, CHAT, `a:${session.sessionId}:0`, 5, 100))
        fake.inject(textMessage(STRANGER, CHAT, "/sessions"))
        // an allowed user in a chat that is not allowed is ignored too
        fake.inject({ message: { ...textMessage(USER, 777, "/sessions").message, chat: { id: 777, type: "private" } } })
        // the marker: an allowed /sessions is answered, so everything before it was handled
        fake.inject(textMessage(USER, CHAT, "/sessions"))
        yield* waitFor(fake, "the allowed /sessions", () =>
          texts(fake, "sendMessage").some((t) =>
            t.includes("open session")
          ))
        const after = fake.calls.filter((c) => c.method !== "getUpdates")
        assert.strictEqual(after.length, before + 1, after.map((c) => c.method).join(", "))
        assert.strictEqual(Number(after.at(-1)!.payload.chat_id), CHAT)
        assert.strictEqual(terminal.calls().filter((c) => c.op === "paste").length, pastes)
        assert.deepStrictEqual((yield* openSessions).map((s) => s.sessionId), [session.sessionId])
        assert.strictEqual(lines.filter((l) => l.includes("outside the allowlist")).length, 6)
      })
    ))

  it.scopedLive("429: the retry waits retry_after; \"not modified\" is success; a lost topic is made again", () =>
    withTelegram((fake) =>
      Effect.gen(function*() {
        const sessions = yield* Sessions
        const session = yield* sessions.create({ projectDir: os.tmpdir(), title: "t" })
        yield* waitFor(fake, "the topic", () => fake.callsOf("createForumTopic").length === 1)

        // the tail's first send: the topic is gone → a new topic, and the tail lands there
        fake.refuse("sendMessage", THREAD_NOT_FOUND)
        yield* showScreen(session, "first screen")
        yield* waitFor(fake, "the tail in a new topic", () => inThread(fake, "sendMessage", 101).length === 1)
        assert.strictEqual(fake.callsOf("createForumTopic").length, 2)
        assert.strictEqual(inThread(fake, "sendMessage", 100).length, 1, "tried once in the lost topic")

        // 429 with retry_after 1: the same edit again, not before a second has passed
        fake.refuse("editMessageText", TOO_MANY(1))
        yield* showScreen(session, "second screen")
        yield* waitFor(fake, "the edit after 429", () => fake.callsOf("editMessageText").length === 2)
        const [refused, retried] = fake.callsOf("editMessageText")
        assert.isAtLeast(retried!.at - refused!.at, 950)
        assert.include(retried!.payload.text, "second screen")

        // "not modified": taken as done, not tried again
        fake.refuse("editMessageText", NOT_MODIFIED)
        yield* showScreen(session, "third screen")
        yield* waitFor(fake, "the third edit", () => fake.callsOf("editMessageText").length === 3)
        yield* Effect.sleep(Duration.millis(500))
        assert.strictEqual(fake.callsOf("editMessageText").length, 3)
        yield* showScreen(session, "fourth screen")
        yield* waitFor(fake, "the fourth edit", () => fake.callsOf("editMessageText").length === 4)
        assert.include(fake.callsOf("editMessageText")[3]!.payload.text, "fourth screen")
      })
    ))

  it.scopedLive("409 (another poller) is a typed error in the log, and polling goes on", () =>
    withTelegram((fake, lines) =>
      Effect.gen(function*() {
        yield* waitFor(fake, "a first poll", () => fake.callsOf("getUpdates").length >= 1)
        fake.refuse("getUpdates", CONFLICT, 2)
        yield* waitFor(fake, "two refused polls", () => fake.callsOf("getUpdates").length >= 4)
        fake.inject(textMessage(USER, CHAT, "/computers"))
        yield* waitFor(fake, "the answer after the conflict", () =>
          texts(fake, "sendMessage").some((t) =>
            t.includes("local")
          ))
        const conflicts = lines.filter((l) => l.includes("TelegramConflict"))
        assert.isAtLeast(conflicts.length, 1)
        assert.include(conflicts[0]!, "another program polls this bot")
      })
    ))

  it.scopedLive("a new poller starts after the last update handled (kept under the lease): none handled twice, none lost", () =>
    Effect.gen(function*() {
      // Telegram here re-sends every update whatever the offset: only the kept id prevents a replay
      const fake = yield* fakeApiWith({ ignoreOffsets: true })
      const dir = yield* projectDir
      const leases = yield* LeasesAlone.make("local")
      const lines: Array<string> = []
      const poller = telegramOnDoubles({
        apiRoot: fake.apiRoot,
        projectDir: dir,
        tuning: FAST,
        lines,
        leases: Layer.succeed(Leases, leases)
      })
      const answers = () => texts(fake, "sendMessage").filter((t) => t.includes("open session")).length
      fake.inject(textMessage(USER, CHAT, "/sessions"))
      fake.inject(textMessage(USER, CHAT, "/sessions"))
      yield* Effect.scoped(
        Effect.gen(function*() {
          yield* Layer.build(poller)
          yield* waitFor(fake, "two answers", () => answers() === 2)
          // the first poller goes on polling: it does not handle them again
          const polls = fake.callsOf("getUpdates").length
          yield* waitFor(fake, "two more polls", () => fake.callsOf("getUpdates").length >= polls + 2)
          assert.strictEqual(answers(), 2)
        })
      )
      // a successor under the same lease: it starts after update 1001
      fake.inject(textMessage(USER, CHAT, "/sessions"))
      yield* Effect.scoped(
        Effect.gen(function*() {
          yield* Layer.build(poller)
          yield* waitFor(fake, "the third answer", () => answers() === 3)
          const first = fake.callsOf("getUpdates").find((c) => Number(c.payload.offset) === 1002)
          assert.isDefined(first, "the successor asks for updates after 1001")
          const polls = fake.callsOf("getUpdates").length
          yield* waitFor(fake, "two more polls", () => fake.callsOf("getUpdates").length >= polls + 2)
          assert.strictEqual(answers(), 3)
        })
      )
    }))
})
