import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { buildHook, runHookProcess } from "../fixtures/agents/hookBuild.js"
import {
  api,
  type DaemonEnv,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon
} from "../support/daemonProcess.js"

/**
 * Fault: text that leaves bracketed paste. bash (readline, bracketed paste on by default since
 * 5.1) reads a paste as one literal insertion until `ESC[201~`; whatever follows an early marker
 * arrives as typed keys, so a newline after it runs a command. Shown first with tmux itself (the
 * old behaviour: the text pasted as it was), then against the daemon: the API refuses every
 * spelling with a 400 and nothing runs; a listener notice carrying the marker is typed as plain
 * text and nothing runs. Real daemon (dist/main.js), real tmux on its own socket, real bash.
 */

const ESC = "\u001b"
const CSI8 = "\u009b"
const WAIT_MS = 10_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const eventually = async <A>(
  what: string,
  probe: () => A | undefined | Promise<A | undefined>,
  timeoutMs = WAIT_MS
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

/** Pastes `text` into `pane` the way telemux did before the fix: a tmux buffer, `paste-buffer -p`, as it is. */
const rawPaste = (socket: string, pane: string, text: string) => {
  execFileSync("tmux", ["-L", socket, "set-buffer", "-b", "fault-raw", "--", text], { timeout: 5000 })
  execFileSync("tmux", ["-L", socket, "paste-buffer", "-p", "-d", "-b", "fault-raw", "-t", pane], { timeout: 5000 })
}

describe("fault: text that would leave bracketed paste (dist/main.js, real tmux and bash)", () => {
  let env: DaemonEnv
  let daemon: RunningDaemon | undefined
  const counts = {
    controlEscapes: 0,
    controls: 0,
    refused: 0,
    hostile: 0,
    createdThroughApi: 0,
    notices: 0,
    createdByNotices: 0
  }

  beforeAll(async () => {
    buildHook()
    env = await makeDaemonEnv()
    daemon = await startDaemon(env)
  }, 40_000)

  afterAll(async () => {
    await daemon?.stop().catch(() => undefined)
    removeDaemonEnv(env)
    console.log(
      `paste-escape faults: raw tmux paste escaped ${counts.controlEscapes}/${counts.controls} times (the old behaviour); ` +
        `API refused ${counts.refused}/${counts.hostile} hostile texts with 400; files created through the API ${counts.createdThroughApi}; ` +
        `notices typed ${counts.notices}, files created by notices ${counts.createdByNotices}`
    )
  })

  it(
    "the API refuses every marker (and NUL, lone surrogates) with 400 and nothing runs; a notice carrying one is typed harmlessly",
    async () => {
      const call = api(env)
      // the shells run in the project dir: commands name their files relative to it (short lines, no wrapping)
      const file = (name: string) => path.join(env.projectDir, name)
      const screen = async (id: string) => (await call("GET", `/v1/sessions/${id}/output`)).body.screen as string
      const newShell = async (title: string) => {
        const created = await call("POST", "/v1/sessions", { projectDir: env.projectDir, title })
        assert.strictEqual(created.status, 201, JSON.stringify(created.body))
        const session = created.body as { sessionId: string; paneId: string }
        // the shell is reading a line (readline, bracketed paste on) once it has answered one
        await call("POST", `/v1/sessions/${session.sessionId}/input`, { text: `echo ready-$((20+${title.length}))` })
        await eventually(
          `${title}'s shell`,
          async () => ((await screen(session.sessionId)).includes(`ready-${20 + title.length}`) ? true : undefined)
        )
        return session
      }
      /** Bash runs lines in order: once a later sentinel command has run, everything typed before it has been dealt with. */
      const sentinel = async (id: string, name: string) => {
        assert.strictEqual((await call("POST", `/v1/sessions/${id}/input`, { text: `touch ${name}` })).status, 204)
        await eventually(`sentinel ${name}`, () => (fs.existsSync(file(name)) ? true : undefined))
      }

      const victim = await newShell("victim")

      // 1. the old behaviour: the marker and a newline, pasted as they are, run the command after them
      counts.controls++
      rawPaste(env.socket, victim.paneId, `${ESC}[201~\ntouch control-escaped\n`)
      await eventually(
        "the raw paste to run its command",
        () => (fs.existsSync(file("control-escaped")) ? true : undefined)
      )
      counts.controlEscapes++
      await call("POST", `/v1/sessions/${victim.sessionId}/keys`, { keys: ["C-c"] })

      // 2. the API: every spelling refused with a 400 naming what to remove; nothing reaches the pane
      const hostile: ReadonlyArray<readonly [string, string, string]> = [
        ["7-bit end marker", `${ESC}[201~\ntouch api-1\n`, "bracketed-paste marker ESC[201~"],
        ["8-bit end marker", `${CSI8}201~\ntouch api-2\n`, "bracketed-paste marker <U+009B>201~"],
        ["start marker", `${ESC}[200~\ntouch api-3\n`, "bracketed-paste marker ESC[200~"],
        ["leading zero", `x${ESC}[0201~\ntouch api-4\n`, "bracketed-paste marker ESC[0201~"],
        ["extra parameter", `x${ESC}[201;5~\ntouch api-5\n`, "bracketed-paste marker ESC[201;5~"],
        ["split by controls", `x${ESC}[20\u00011~\ntouch api-6\n`, "bracketed-paste marker"],
        [
          "marker, erase line, command",
          `ok${ESC}[201~\u0015touch api-7\r`,
          "bracketed-paste marker ESC[201~ at index 2"
        ],
        ["NUL", `a\u0000b; touch api-8\n`, "NUL character (U+0000) at index 1"],
        ["only NUL", "\u0000", "NUL character"],
        ["lone surrogate", `\ud800; touch api-9\n`, "lone UTF-16 surrogate (U+D800) at index 0"]
      ]
      for (const [what, text, says] of hostile) {
        counts.hostile++
        const reply = await call("POST", `/v1/sessions/${victim.sessionId}/input`, { text, enter: false })
        assert.strictEqual(reply.status, 400, `${what}: ${JSON.stringify(reply.body)}`)
        // a payload that does not decode: the API's 400 (HttpApiDecodeError today, whose message ends with the rule's)
        assert.include(["InvalidRequest", "HttpApiDecodeError"], reply.body._tag, what)
        assert.include(reply.body.message, says, what)
        assert.include(reply.body.message, "remove it", what)
        counts.refused++
      }
      await sentinel(victim.sessionId, "sentinel-victim")
      for (let i = 1; i <= 9; i++) if (fs.existsSync(file(`api-${i}`))) counts.createdThroughApi++
      assert.strictEqual(counts.createdThroughApi, 0)
      // what the fix still lets through reaches the shell: the same text without the marker is typed literally
      assert.strictEqual(
        (await call("POST", `/v1/sessions/${victim.sessionId}/input`, { text: `echo "tab\there" > plain` })).status,
        204
      )
      await eventually("the plain command", () => (fs.existsSync(file("plain")) ? true : undefined))

      // 3. a notice: an agent's last message ends the paste, erases the line (C-u) and types a command
      const listener = await newShell("listener")
      const message = `done${ESC}[201~\u0015touch notice-escaped; #`
      // the old behaviour, pasted as it was with its Enter, runs the command
      counts.controls++
      rawPaste(
        env.socket,
        listener.paneId,
        `[telemux] victim finished its turn: ${message.replace("notice-escaped", "control-notice")} — read it`
      )
      execFileSync("tmux", ["-L", env.socket, "send-keys", "-t", listener.paneId, "Enter"], { timeout: 5000 })
      await eventually(
        "the raw notice to run its command",
        () => (fs.existsSync(file("control-notice")) ? true : undefined)
      )
      counts.controlEscapes++

      assert.strictEqual(
        (await call("POST", `/v1/sessions/${victim.sessionId}/listeners`, { listener: listener.sessionId })).status,
        204
      )
      const stop = JSON.stringify({ session_id: "native-1", hook_event_name: "Stop", last_assistant_message: message })
      const hook = runHookProcess(
        ["claude", "Stop"],
        { TELEMUX_HOME: env.home, TELEMUX_SESSION_ID: victim.sessionId },
        stop
      )
      assert.strictEqual(hook.status, 0, hook.stderr)
      // the notice arrived: as a line on the screen, or (were it not sanitised) as the command it smuggled in
      await eventually(
        "the notice in the listener's pane",
        async () =>
          fs.existsSync(file("notice-escaped")) || (await screen(listener.sessionId)).includes("[telemux] victim (")
            ? true
            : undefined
      )
      counts.notices++
      await sentinel(listener.sessionId, "sentinel-listener")
      if (fs.existsSync(file("notice-escaped"))) counts.createdByNotices++
      assert.strictEqual(counts.createdByNotices, 0, "the notice ran the command it carried")
      // typed as one plain line: the escape's text is there, as text
      assert.include(
        await screen(listener.sessionId),
        `[telemux] victim (${victim.sessionId.slice(0, 8)}) on testbox finished its turn: done touch notice-escaped; #`
      )
    },
    90_000
  )
})
