import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { api, type DaemonEnv, makeDaemonEnv, removeDaemonEnv, startDaemon } from "./support/daemonProcess.js"
import { type FakeBotApi, startFakeBotApi, textMessage } from "./support/fakeBotApi.js"
import { CHAT, TOKEN, USER } from "./support/telegramLayers.js"

describe("Telegram front-end of a real daemon (dist/main.js, real tmux on its own socket, a fake Bot API)", () => {
  const envs: Array<DaemonEnv> = []
  const fakes: Array<FakeBotApi> = []
  afterAll(async () => {
    for (const env of envs) removeDaemonEnv(env)
    await Promise.all(fakes.map((fake) => fake.close()))
  })

  it(
    "a shell started with /new, a command typed in its topic, its output in the tail, /close; SIGTERM stops the poller at once",
    async () => {
      const fake = await startFakeBotApi()
      fakes.push(fake)
      const env = await makeDaemonEnv()
      envs.push(env)
      const daemon = await startDaemon(env, {
        TELEMUX_TRUSTED_DIRS: env.projectDir,
        TELEMUX_TELEGRAM_TOKEN: TOKEN,
        TELEMUX_TELEGRAM_CHAT: String(CHAT),
        TELEMUX_TELEGRAM_USERS: String(USER),
        TELEMUX_TELEGRAM_API_ROOT: fake.apiRoot
      })
      const call = api(env)
      try {
        const project = path.basename(env.projectDir)
        fake.inject(textMessage(USER, CHAT, `/new ${project} shell`))
        await fake.waitFor("the topic", () => fake.callsOf("createForumTopic").length === 1, 20_000)
        const thread = 100
        const listed = await call("GET", "/v1/sessions")
        assert.strictEqual(listed.body.length, 1)
        const id: string = listed.body[0].sessionId
        assert.include(fake.callsOf("createForumTopic")[0]!.payload.name, "testbox")

        // typed once the poller knows the topic (its first tail is in it): a person sees a topic only
        // after Telegram made it; the fake lets the test type the instant the request arrived
        await fake.waitFor(
          "the first tail in the topic",
          () => fake.callsOf("sendMessage").some((c) => Number(c.payload.message_thread_id) === thread),
          20_000
        )
        fake.inject(textMessage(USER, CHAT, "echo telegram-$((6*7))", thread))
        await fake.waitFor(
          "the tail showing the command's output",
          () =>
            fake.calls.some((c) =>
              (c.method === "sendMessage" || c.method === "editMessageText") &&
              Number(c.payload.message_thread_id ?? thread) === thread &&
              /telegram-42\s*\n/.test(String(c.payload.text))
            ),
          20_000
        )

        fake.inject(textMessage(USER, CHAT, "/close", thread))
        await fake.waitFor("the topic closed", () => fake.callsOf("closeForumTopic").length === 1, 20_000)
        const closed = await call("GET", `/v1/sessions/${id}`)
        assert.strictEqual(closed.body.status, "closed")
      } finally {
        const stopped = await daemon.stop()
        assert.isBelow(stopped.elapsedMs, 2000, daemon.logs().slice(-3000))
      }
    },
    60_000
  )
})
