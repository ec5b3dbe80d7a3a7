import { afterAll, afterEach, assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  type DaemonEnv,
  killTmuxServer,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon,
  tmuxServerPid
} from "../support/daemonProcess.js"
import {
  type Answer,
  answerKind,
  caller,
  eventually,
  freeze,
  mountTmpfs,
  paneCommand,
  sleep,
  type Tmpfs,
  tmuxBufferNames,
  tmuxSessionNames
} from "../support/faultInjection.js"

/**
 * Honest outcomes (issue 10, items 5, 6 and 8) against real daemons (dist/main.js), real tmux on a
 * private socket and real bash. Every delivery is countable: an input is `echo <marker> >> in.log`
 * and Enter into a bash pane, so the markers in in.log are what the pane ran; a key list is
 * `Space×a Tab Space×b Enter` into a pane running `cat >> keys.log` (cooked mode), so each line of
 * keys.log is one whole key list, `a` and `b` say which — and a key list cut short or merged with
 * another shows as a line of another shape.
 *
 * (i)   tmux frozen (SIGSTOP) longer than the command timeout mid-burst: every 204 delivered once,
 *       every "not done" 0 times, OutcomeUnknown counted apart; a retry with the same key replays;
 * (ii)  kill -9 of the daemon mid-burst, inputs with keys retried until answered: 0 lost, 0 twice;
 * (iii) a full disk (small tmpfs as the state dir): inputs 204 and delivered, create refused and
 *       nothing in tmux, everything back once space is freed;
 * (iv)  create with tmux frozen: 503, row closed `error`, the late tmux session removed by
 *       reconciliation — the periodic one, and the one at start-up;
 * (v)   NUL refused with 400 and nothing typed; CR and TAB delivered byte for byte.
 * Each scenario is bounded in time and prints one line with what it counted.
 */

const run = randomBytes(3).toString("hex")
const TELEMUX_NAME = /^tmx_[0-9a-f]{8}$/
/** The daemon's own bound on a tmux command (CONTROL_COMMAND_TIMEOUT), and the hang bound (3×). */
const COMMAND_TIMEOUT_MS = 5000
const HANG_TIMEOUT_MS = 3 * COMMAND_TIMEOUT_MS
/** RECONCILE_INTERVAL, plus the confirming look and slack. */
const PERIODIC_RECONCILE_BOUND_MS = 15_000 + 5000

interface SessionInfo {
  readonly sessionId: string
  readonly paneId: string
  readonly tmuxName: string
}

type Call = ReturnType<typeof caller>

/** A daemon on `env`, stopped (SIGKILL: its tmux sessions are meant to outlive it) and removed at the end. */
interface Running {
  readonly env: DaemonEnv
  daemon: RunningDaemon
  readonly call: Call
  readonly file: (name: string) => string
}

const keyHeader = (
  key: string | undefined
): Record<string, string> => (key === undefined ? {} : { "idempotency-key": key })

/** Occurrences of each whitespace-separated word in `file` (bash wrote them: what the pane ran). */
const wordsIn = (file: string): Map<string, number> => {
  const counts = new Map<string, number>()
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
  for (const word of text.split(/\s+/)) if (word !== "") counts.set(word, (counts.get(word) ?? 0) + 1)
  return counts
}

/** A key list that types one line `" "×a TAB " "×b`, naming `code` (0 ≤ code < KEY_CODES). */
const KEY_BASE = 200
const KEY_CODES = KEY_BASE * KEY_BASE
const keyList = (code: number) => [
  { key: "Space", repeat: 1 + Math.floor(code / KEY_BASE) },
  "Tab",
  { key: "Space", repeat: 1 + (code % KEY_BASE) },
  "Enter"
]
const KEY_SENTINEL = KEY_CODES - 1

/** Lines of keys.log as key-list codes, and the lines that are no whole key list. */
const keyLinesIn = (file: string) => {
  const codes = new Map<number, number>()
  const malformed: Array<string> = []
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
  for (const line of text.split("\n").slice(0, -1)) {
    const match = /^( +)\t( +)$/.exec(line)
    if (match === null || match[1]!.length > KEY_BASE || match[2]!.length > KEY_BASE) {
      malformed.push(JSON.stringify(line))
      continue
    }
    const code = (match[1]!.length - 1) * KEY_BASE + (match[2]!.length - 1)
    codes.set(code, (codes.get(code) ?? 0) + 1)
  }
  return { codes, malformed }
}

describe("fault: honest outcomes (dist/main.js, real tmux and bash)", () => {
  const printed: Array<string> = []
  const cleanups: Array<() => void | Promise<void>> = []

  const report = (line: string) => {
    printed.push(line)
    console.log(line)
  }

  // each scenario's daemon, tmux server and files go when it ends: the next one runs on a quiet machine
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup()
      } catch (error) {
        console.log(`cleanup failed: ${String(error)}`)
      }
    }
  }, 60_000)

  afterAll(() => console.log(`honest-outcome faults:\n  ${printed.join("\n  ")}`))

  /** A daemon on `env`, killed when the scenario ends (its env removed too, unless told otherwise). */
  const startOn = async (env: DaemonEnv, removeEnv = true): Promise<Running> => {
    const running: Running = {
      env,
      daemon: await startDaemon(env),
      call: caller(env),
      file: (name) => path.join(env.projectDir, name)
    }
    cleanups.push(async () => {
      await running.daemon.stop("SIGKILL").catch(() => undefined)
      if (removeEnv) removeDaemonEnv(env)
    })
    return running
  }

  /** A tmux session with bash in it, once bash has run a command. */
  const bashSession = async ({ call, file, env }: Running, title: string): Promise<SessionInfo> => {
    const created = await call("POST", "/v1/sessions", { projectDir: env.projectDir, title })
    assert.strictEqual(created.status, 201, created.text)
    const session = created.body as SessionInfo
    const ready = `${title}.ready`
    assert.strictEqual(
      (await call("POST", `/v1/sessions/${session.sessionId}/input`, { text: `touch ${ready}` })).status,
      204
    )
    await eventually(`bash in ${title}`, () => (fs.existsSync(file(ready)) ? true : undefined))
    return session
  }

  /** Sends a last input and waits until bash has run it: everything typed before has been dealt with. */
  const settleInputs = async ({ call, file }: Running, session: SessionInfo, marker: string) => {
    const answer = await call("POST", `/v1/sessions/${session.sessionId}/input`, { text: `echo ${marker} >> in.log` })
    assert.strictEqual(answer.status, 204, answer.text)
    return (await eventually(`${marker} in in.log`, () => (wordsIn(file("in.log")).has(marker) ? true : undefined)))
      .afterMs
  }

  const settleKeys = async ({ call, file }: Running, session: SessionInfo) => {
    const before = keyLinesIn(file("keys.log")).codes.get(KEY_SENTINEL) ?? 0
    const answer = await call("POST", `/v1/sessions/${session.sessionId}/keys`, { keys: keyList(KEY_SENTINEL) })
    assert.strictEqual(answer.status, 204, answer.text)
    await eventually(
      "the sentinel key list in keys.log",
      () => (keyLinesIn(file("keys.log")).codes.get(KEY_SENTINEL) ?? 0) > before ? true : undefined
    )
  }

  /** Telemux-named tmux sessions that no open row owns. */
  const orphans = async ({ call, env }: Running) => {
    const open = await call("GET", "/v1/sessions")
    assert.strictEqual(open.status, 200, open.text)
    const owned = new Set((open.body as Array<SessionInfo>).map((s) => s.tmuxName))
    return tmuxSessionNames(env.socket).filter((name) => TELEMUX_NAME.test(name) && !owned.has(name))
  }

  it(
    "(i) tmux frozen (SIGSTOP) longer than the command timeout mid-burst: 204 once, 'not done' never, unknown counted; retries replay",
    async () => {
      const daemon = await startOn(await makeDaemonEnv())
      const { call, env, file } = daemon
      // several sessions: each serialises its own input, so several requests meet the freeze at once
      const shells = [
        await bashSession(daemon, "shell0"),
        await bashSession(daemon, "shell1"),
        await bashSession(daemon, "shell2")
      ]
      const sinks = [await bashSession(daemon, "sink0"), await bashSession(daemon, "sink1")]
      for (const sink of sinks) {
        assert.strictEqual(
          (await call("POST", `/v1/sessions/${sink.sessionId}/input`, { text: "exec cat >> keys.log" })).status,
          204
        )
        await eventually(
          "cat in a sink pane",
          () => (paneCommand(env.socket, sink.paneId) === "cat" ? true : undefined)
        )
      }
      const tmuxPid = tmuxServerPid(env.socket)
      assert.isDefined(tmuxPid)

      interface Sent {
        readonly marker: string
        readonly kind: "input" | "keys"
        readonly session: SessionInfo
        readonly key: string | undefined
        readonly body: unknown
        readonly answer: Answer
        readonly at: number
      }
      const sent: Array<Sent> = []
      let going = true
      let nextCode = 0
      const route = (s: Pick<Sent, "kind" | "session">) => `/v1/sessions/${s.session.sessionId}/${s.kind}`
      const send = async (request: Omit<Sent, "answer" | "at">) => {
        const answer = await call("POST", route(request), request.body, keyHeader(request.key))
        sent.push({ ...request, answer, at: Date.now() })
      }
      const inputClient = async (session: SessionInfo, client: number, keyed: boolean) => {
        for (let n = 0; going; n++) {
          const marker = `i${client}n${n}`
          await send({
            marker,
            kind: "input",
            session,
            key: keyed ? `${run}-${marker}` : undefined,
            body: { text: `echo ${marker} >> in.log` }
          })
          await sleep(20)
        }
      }
      const keysClient = async (session: SessionInfo, client: number, keyed: boolean) => {
        while (going) {
          const code = nextCode++
          await send({
            marker: `k${code}`,
            kind: "keys",
            session,
            key: keyed ? `${run}-k${code}-c${client}` : undefined,
            body: { keys: keyList(code) }
          })
          await sleep(20)
        }
      }

      // the first freeze outlasts two command timeouts (a request waiting for the input lock meets
      // one too); the second outlasts the hang bound, so the control client is killed and reconnected
      const FREEZES_MS = [2 * COMMAND_TIMEOUT_MS + 2000, HANG_TIMEOUT_MS + 3000]
      const clients = Promise.all([
        ...shells.flatMap((shell, s) => [inputClient(shell, 2 * s, false), inputClient(shell, 2 * s + 1, true)]),
        ...sinks.flatMap((sink, s) => [keysClient(sink, 2 * s, false), keysClient(sink, 2 * s + 1, true)])
      ])
      const servedAgainMs: Array<number> = []
      let sentBeforeFreeze = 0
      for (const freezeMs of FREEZES_MS) {
        await sleep(2000)
        const thaw = freeze(tmuxPid!)
        cleanups.push(thaw)
        if (sentBeforeFreeze === 0) sentBeforeFreeze = sent.length
        try {
          await sleep(freezeMs)
        } finally {
          thaw()
        }
        const thawedAt = Date.now()
        servedAgainMs.push(
          (await eventually("a 204 after SIGCONT", () =>
            sent.some((s) => s.at > thawedAt && s.answer.status === 204)
              ? true
              : undefined, 20_000)).afterMs
        )
      }
      await sleep(3000)
      going = false
      await clients
      for (const [i, shell] of shells.entries()) await settleInputs(daemon, shell, `settled-a${i}`)
      for (const sink of sinks) await settleKeys(daemon, sink)

      const delivered = (s: Sent, inputs: Map<string, number>, keys: Map<number, number>) =>
        s.kind === "input" ? inputs.get(s.marker) ?? 0 : keys.get(Number(s.marker.slice(1))) ?? 0
      const inputs = wordsIn(file("in.log"))
      const keyLines = keyLinesIn(file("keys.log"))
      const byKind = new Map<string, number>()
      const violations: Array<string> = []
      const unknown = { delivered: 0, notDelivered: 0 }
      for (const s of sent) {
        const kind = `${s.kind} ${answerKind(s.answer)}`
        byKind.set(kind, (byKind.get(kind) ?? 0) + 1)
        const times = delivered(s, inputs, keyLines.codes)
        if (s.answer.status === 204) {
          if (times !== 1) violations.push(`${s.kind} ${s.marker} answered 204, delivered ${times} times`)
        } else if (s.answer.status === 504 && s.answer.tag === "OutcomeUnknown") {
          if (times === 1) unknown.delivered++
          else if (times === 0) unknown.notDelivered++
          else violations.push(`${s.kind} ${s.marker} answered OutcomeUnknown, delivered ${times} times`)
        } else if (s.answer.status === 503 && s.answer.tag === "TerminalUnavailable") {
          if (times !== 0) violations.push(`${s.kind} ${s.marker} answered 503 (not done), delivered ${times} times`)
        } else violations.push(`${s.kind} ${s.marker}: unexpected answer ${answerKind(s.answer)} ${s.answer.text}`)
      }
      const known = new Set(sent.map((s) => s.marker))
      const strayWords = [...inputs.keys()].filter((word) => !known.has(word) && !word.startsWith("settled-"))
      const joinedLines =
        fs.readFileSync(file("in.log"), "utf8").split("\n").filter((line) => line.trim().includes(" ")).length

      // the same requests again with their keys: an outcome that happened is replayed, "not done" runs now
      const keyed = sent.filter((s) => s.key !== undefined)
      const retried = { replayed204: 0, replayed504: 0, ranNow: 0 }
      for (const s of keyed) {
        const again = await call("POST", route(s), s.body, keyHeader(s.key))
        const expected = s.answer.status === 503 ? "204" : answerKind(s.answer)
        if (answerKind(again) !== expected) {
          violations.push(
            `retry of ${s.marker} (first ${answerKind(s.answer)}) answered ${answerKind(again)}`
          )
        } else if (s.answer.status === 204) retried.replayed204++
        else if (s.answer.status === 504) retried.replayed504++
        else retried.ranNow++
      }
      for (const [i, shell] of shells.entries()) await settleInputs(daemon, shell, `settled-b${i}`)
      for (const sink of sinks) await settleKeys(daemon, sink)
      const inputsAfter = wordsIn(file("in.log"))
      const keysAfter = keyLinesIn(file("keys.log"))
      for (const s of keyed) {
        const before = delivered(s, inputs, keyLines.codes)
        const after = delivered(s, inputsAfter, keysAfter.codes)
        const expected = s.answer.status === 503 ? 1 : before
        if (after !== expected) {
          violations.push(
            `${s.marker} (first ${answerKind(s.answer)}) delivered ${before} → ${after} after its retry`
          )
        }
      }

      // noticed, not asserted: a paste whose set-buffer timed out leaves its named buffer in tmux
      const buffersLeft = tmuxBufferNames(env.socket).filter((name) => name.startsWith("telemux-")).length
      const counts = [...byKind].sort().map(([k, n]) => `${k}×${n}`).join(", ")
      report(
        `(i) tmux frozen ${
          FREEZES_MS.join(" ms, then ")
        } ms mid-burst: ${sent.length} requests (${sentBeforeFreeze} before the first freeze): ` +
          `${counts}; OutcomeUnknown delivered ${unknown.delivered}, not delivered ${unknown.notDelivered}; ` +
          `key-list lines not whole ${keysAfter.malformed.length}, stray words ${strayWords.length}, ` +
          `in.log lines holding two inputs ${joinedLines}; retries with the same key: replayed 204×${retried.replayed204}, ` +
          `replayed 504×${retried.replayed504}, "not done" run now ×${retried.ranNow}; ` +
          `a 204 again ${
            servedAgainMs.join(" ms, ")
          } ms after each SIGCONT; tmux paste buffers left ${buffersLeft}; violations ${violations.length}`
      )
      assert.deepStrictEqual(violations, [])
      assert.deepStrictEqual(keysAfter.malformed, [])
      assert.deepStrictEqual(strayWords, [])
      assert.isAbove(byKind.get("input 204") ?? 0, 0)
      assert.isAbove(byKind.get("keys 204") ?? 0, 0)
      // both kinds of failure were met: the freeze was long enough to show them
      assert.isAbove(
        sent.filter((s) => s.answer.tag === "TerminalUnavailable").length,
        0,
        "no request answered 'not done'"
      )
      assert.isAbove(
        sent.filter((s) => s.answer.tag === "OutcomeUnknown").length,
        0,
        "no request answered OutcomeUnknown"
      )
    },
    120_000
  )

  it(
    "(ii) kill -9 of the daemon mid-burst, every input with its own key and retried until answered: 0 lost, 0 twice",
    async () => {
      const daemon = await startOn(await makeDaemonEnv())
      const { call, file } = daemon
      const shell = await bashSession(daemon, "shell")
      const N = 90
      const KILL_AT = [N / 3, (2 * N) / 3]
      const RETRY_BOUND_MS = 45_000

      interface Outcome {
        readonly marker: string
        readonly attempts: ReadonlyArray<Answer>
        readonly final: Answer
      }
      const outcomes: Array<Outcome> = []
      let next = 0
      let acknowledged = 0
      /** An answer that stands: a retry with the key would give it again (a 504 OutcomeUnknown is replayed). */
      const retryable = (answer: Answer) =>
        answer.status === 0 || (answer.status >= 500 && answer.tag !== "OutcomeUnknown")
      const client = async () => {
        for (let i = next++; i < N; i = next++) {
          const marker = `m${i}`
          const key = `${run}-kill-${marker}`
          const body = { text: `echo ${marker} >> in.log` }
          const attempts: Array<Answer> = []
          const deadline = Date.now() + RETRY_BOUND_MS
          for (;;) {
            const answer = await call("POST", `/v1/sessions/${shell.sessionId}/input`, body, keyHeader(key))
            attempts.push(answer)
            if (!retryable(answer)) {
              // an unknown outcome once more: it must be replayed as it was, not run
              if (
                answer.tag === "OutcomeUnknown" && attempts.filter((a) => a.tag === "OutcomeUnknown").length < 2
              ) continue
              break
            }
            if (Date.now() > deadline) break
            await sleep(100)
          }
          const final = attempts[attempts.length - 1]!
          if (final.status === 204) acknowledged++
          outcomes.push({ marker, attempts, final })
        }
      }
      const burst = Promise.all([client(), client(), client()])
      const kills: Array<string> = []
      for (const at of KILL_AT) {
        await eventually(`${at} inputs acknowledged`, () => (acknowledged >= at ? true : undefined), 30_000)
        const killedAt = Date.now()
        daemon.daemon.child.kill("SIGKILL")
        await daemon.daemon.exited
        daemon.daemon = await startDaemon(daemon.env)
        kills.push(`${Date.now() - killedAt} ms`)
      }
      await burst
      await settleInputs(daemon, shell, "settled")

      const words = wordsIn(file("in.log"))
      const times = (o: Outcome) => words.get(o.marker) ?? 0
      const acked = outcomes.filter((o) => o.final.status === 204)
      const unknown = outcomes.filter((o) => o.final.tag === "OutcomeUnknown")
      const other = outcomes.filter((o) => o.final.status !== 204 && o.final.tag !== "OutcomeUnknown")
      const lost = acked.filter((o) => times(o) === 0)
      const twice = outcomes.filter((o) => times(o) > 1)
      const retried = outcomes.filter((o) => o.attempts.length > 1 && o.attempts[0]!.tag !== "OutcomeUnknown")
      const unstableReplays = unknown.filter((o) => o.attempts.filter((a) => a.tag === "OutcomeUnknown").length !== 2)
      const known = new Set(outcomes.map((o) => o.marker))
      const strayWords = [...words.keys()].filter((word) => !known.has(word) && word !== "settled")
      const firstAnswers = new Map<string, number>()
      for (const o of outcomes) {
        for (const a of o.attempts) {
          firstAnswers.set(answerKind(a), (firstAnswers.get(answerKind(a)) ?? 0) + 1)
        }
      }
      report(
        `(ii) kill -9 ×${KILL_AT.length} mid-burst (restarted and serving after ${
          kills.join(", ")
        }): ${N} inputs with keys, ` +
          `${outcomes.reduce((n, o) => n + o.attempts.length, 0)} requests (${
            [...firstAnswers].sort().map(([k, n]) => `${k}×${n}`).join(", ")
          }), ` +
          `${retried.length} retried; acknowledged ${acked.length}, lost ${lost.length}; delivered twice ${twice.length}; ` +
          `OutcomeUnknown ${unknown.length} (delivered ${unknown.filter((o) => times(o) === 1).length}, ` +
          `not delivered ${
            unknown.filter((o) => times(o) === 0).length
          }); other answers ${other.length}; stray words ${strayWords.length}`
      )
      assert.deepStrictEqual(lost.map((o) => o.marker), [], "acknowledged inputs lost")
      assert.deepStrictEqual(twice.map((o) => o.marker), [], "inputs delivered twice")
      assert.deepStrictEqual(other.map((o) => `${o.marker}: ${answerKind(o.final)} ${o.final.text}`), [])
      assert.deepStrictEqual(unstableReplays.map((o) => o.marker), [], "an OutcomeUnknown not replayed as such")
      assert.deepStrictEqual(strayWords, [])
      assert.strictEqual(outcomes.length, N)
      assert.isAbove(retried.length, 0, "no request met a killed daemon")
    },
    120_000
  )

  it(
    "(iii) a full disk (the state dir on a small tmpfs): inputs answered 204 and delivered, create refused changing nothing; freed → all works",
    async () => {
      const tmpfs: Tmpfs = mountTmpfs(4 * 1024 * 1024)
      const projectDir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-full-project-"))
      cleanups.push(() => {
        killTmuxServer(env.socket)
        tmpfs.remove()
        fs.rmSync(projectDir, { recursive: true, force: true })
      })
      const base = await makeDaemonEnv()
      fs.rmSync(base.home, { recursive: true, force: true })
      // the state dir is the tmpfs; the shells' files are elsewhere, so what the panes run is not stopped by it
      const env: DaemonEnv = { ...base, home: tmpfs.dir, projectDir }
      const daemon = await startOn(env, false)
      const { call, file } = daemon
      const shell = await bashSession(daemon, "shell")
      const logFrom = daemon.daemon.logs().length
      const input = (marker: string, options: { readonly key?: string; readonly enter?: boolean } = {}) =>
        call("POST", `/v1/sessions/${shell.sessionId}/input`, {
          text: `echo ${marker} >> in.log`,
          ...(options.enter === false ? { enter: false } : {})
        }, keyHeader(options.key))
      const delivered = (marker: string) => wordsIn(file("in.log")).get(marker) ?? 0
      const tmuxBefore = tmuxSessionNames(env.socket)
      const listBefore = await call("GET", "/v1/sessions?status=all")

      const filled = tmpfs.fill()
      assert.strictEqual(tmpfs.free(), 0)
      const answers = new Map<string, number>()
      const tally = (what: string, answer: Answer) =>
        answers.set(`${what} ${answerKind(answer)}`, (answers.get(`${what} ${answerKind(answer)}`) ?? 0) + 1)
      const FULL_INPUTS = 20
      for (let i = 0; i < FULL_INPUTS; i++) {
        const answer = await input(`full${i}`)
        tally("input", answer)
        assert.strictEqual(answer.status, 204, `input ${i} on a full disk: ${answer.text}`)
      }
      // keys too: a text without its Enter, then Enter as a key list
      const typed = await input("fullkeys", { enter: false })
      tally("input (no Enter)", typed)
      assert.strictEqual(typed.status, 204, typed.text)
      const enter = await call("POST", `/v1/sessions/${shell.sessionId}/keys`, { keys: ["Enter"] })
      tally("keys", enter)
      assert.strictEqual(enter.status, 204, enter.text)
      // with a key: the key cannot be remembered, so the input is refused before it runs ("not done")
      const keyed = await input("fullkeyed", { key: `${run}-full-keyed` })
      tally("input with key", keyed)
      await settleInputs(daemon, shell, "settled-full")
      const deliveredFull = Array.from({ length: FULL_INPUTS }, (_, i) => delivered(`full${i}`))

      const created = await call("POST", "/v1/sessions", { projectDir, title: "on-a-full-disk" })
      tally("create", created)
      const tmuxWhileFull = tmuxSessionNames(env.socket)
      const listWhileFull = await call("GET", "/v1/sessions?status=all")
      const unrecorded =
        daemon.daemon.logs().slice(logFrom).split("\n").filter((line) =>
          line.includes("input was delivered but could not be recorded")
        ).length

      fs.rmSync(filled.file)
      const createdAgain = await call("POST", "/v1/sessions", { projectDir, title: "after-freeing" })
      const inputAgain = await input("freed")
      const keyedAgain = await input("freedkeyed", { key: `${run}-freed-keyed` })
      await settleInputs(daemon, shell, "settled-freed")
      const recorded = await call("GET", `/v1/sessions/${shell.sessionId}`)

      report(
        `(iii) full disk (4 MiB tmpfs, ${filled.bytes} bytes of filler): ${
          [...answers].map(([k, n]) => `${k}×${n}`).join(", ")
        }; ` +
          `plain inputs delivered ${deliveredFull.filter((n) => n === 1).length}/${FULL_INPUTS}, by keys ${
            delivered("fullkeys")
          }, ` +
          `keyed input delivered ${delivered("fullkeyed")}; "could not be recorded" logged ${unrecorded}×; ` +
          `create said "${(created.body as { message?: string } | undefined)?.message}"; ` +
          `tmux sessions ${tmuxBefore.length} → ${tmuxWhileFull.length}; after freeing: create ${
            answerKind(createdAgain)
          }, ` +
          `input ${answerKind(inputAgain)} (delivered ${delivered("freed")}), keyed input ${
            answerKind(keyedAgain)
          } (delivered ${delivered("freedkeyed")})`
      )
      assert.deepStrictEqual(deliveredFull, Array.from({ length: FULL_INPUTS }, () => 1))
      assert.strictEqual(delivered("fullkeys"), 1)
      assert.isAbove(unrecorded, 0, "no input met the full disk: the test did not fill it")
      // "not done" and said so: a storage failure, and nothing typed
      assert.strictEqual(keyed.tag, "StorageFailure", keyed.text)
      assert.strictEqual(delivered("fullkeyed"), 0)
      // create: refused with a clear error, nothing made in tmux, no row
      assert.strictEqual(created.tag, "StorageFailure", created.text)
      assert.match((created.body as { message: string }).message, /full/i)
      assert.deepStrictEqual(tmuxWhileFull, tmuxBefore)
      assert.deepStrictEqual(listWhileFull.body, listBefore.body)
      // space again: everything works, and inputs are recorded again
      assert.strictEqual(createdAgain.status, 201, createdAgain.text)
      assert.strictEqual(inputAgain.status, 204, inputAgain.text)
      assert.strictEqual(keyedAgain.status, 204, keyedAgain.text)
      assert.strictEqual(delivered("freed"), 1)
      assert.strictEqual(delivered("freedkeyed"), 1)
      assert.include((recorded.body as { lastInput: string }).lastInput, "settled-freed")
    },
    60_000
  )

  it(
    "(iv) create with tmux frozen: 503 and row closed 'error'; the session tmux makes late is removed by reconciliation (periodic, and at start-up)",
    async () => {
      const daemon = await startOn(await makeDaemonEnv())
      const { call, env } = daemon
      const tmuxPid = tmuxServerPid(env.socket)
      assert.isDefined(tmuxPid)
      const kept = await bashSession(daemon, "kept")

      /** POST /v1/sessions while tmux is frozen, then SIGCONT: the answer, and the session tmux made late. */
      const createFrozen = async (title: string) => {
        const before = new Set(tmuxSessionNames(env.socket))
        const thaw = freeze(tmuxPid!)
        cleanups.push(thaw)
        let answer: Answer
        const startedAt = Date.now()
        try {
          answer = await call("POST", "/v1/sessions", { projectDir: env.projectDir, title })
        } finally {
          thaw()
        }
        const answeredMs = Date.now() - startedAt
        // the command was queued in tmux: it makes the session now
        const late = await eventually(
          `tmux to make ${title}'s session late`,
          () => tmuxSessionNames(env.socket).find((name) => TELEMUX_NAME.test(name) && !before.has(name)),
          10_000
        )
        return { answer, answeredMs, lateName: late.value, thawedAt: Date.now() - late.afterMs }
      }
      const rowOf = async (title: string) => {
        const all = await call("GET", "/v1/sessions?status=all")
        return (all.body as Array<SessionInfo & { title: string; status: string; closeReason: string | null }>).filter((
          s
        ) => s.title === title)
      }
      const goneWithin = (name: string, boundMs: number) =>
        eventually(`${name} removed`, () => (tmuxSessionNames(env.socket).includes(name) ? undefined : true), boundMs)

      // 1. the periodic reconciliation (every 15 s)
      const periodic = await createFrozen("frozen-periodic")
      const periodicRows = await rowOf("frozen-periodic")
      const periodicGone = await goneWithin(periodic.lateName, PERIODIC_RECONCILE_BOUND_MS)
      const periodicMs = Date.now() - periodic.thawedAt

      // 2. the start-up reconciliation: the daemon stops as soon as tmux made the session (sooner than
      // the confirming look of a periodic pass, RECONCILE_CONFIRM_DELAY), and finds it when it starts again
      const atStartup = await createFrozen("frozen-startup")
      const stopped = await daemon.daemon.stop("SIGTERM")
      const presentWhileDown = tmuxSessionNames(env.socket).includes(atStartup.lateName)
      const restartedAt = Date.now()
      daemon.daemon = await startDaemon(env)
      const healthyMs = Date.now() - restartedAt
      const startupGone = await goneWithin(atStartup.lateName, 5000)
      const startupRowsAfter = await rowOf("frozen-startup")
      const left = await orphans(daemon)
      const keptStill = await call("POST", `/v1/sessions/${kept.sessionId}/input`, { text: "echo kept >> in.log" })

      report(
        `(iv) create with tmux frozen: answered ${answerKind(periodic.answer)} after ${periodic.answeredMs} ms; ` +
          `row ${periodicRows.map((r) => `${r.status}/${r.closeReason}`).join(",")}; late tmux session removed ` +
          `${periodicMs} ms after SIGCONT by the periodic reconciliation; again, the daemon stopped as soon as tmux made it ` +
          `(SIGTERM → exit ${stopped.code} in ${stopped.elapsedMs} ms; there while down: ${presentWhileDown}): answered ${
            answerKind(atStartup.answer)
          }, ` +
          `removed ${startupGone.afterMs} ms after the restarted daemon was healthy (${healthyMs} ms to start); ` +
          `telemux-named tmux sessions without an open row left: ${left.length}; the other session still takes input: ${
            answerKind(keptStill)
          }`
      )
      for (
        const [what, created, rows] of [["periodic", periodic, periodicRows], [
          "startup",
          atStartup,
          startupRowsAfter
        ]] as const
      ) {
        assert.strictEqual(created.answer.status, 503, `${what}: ${created.answer.text}`)
        assert.strictEqual(created.answer.tag, "TerminalUnavailable", what)
        assert.match((created.answer.body as { message: string }).message, /not created/, what)
        assert.strictEqual(rows.length, 1, what)
        assert.strictEqual(rows[0]!.status, "closed", what)
        assert.strictEqual(rows[0]!.closeReason, "error", what)
        assert.strictEqual(rows[0]!.tmuxName, created.lateName, what)
      }
      assert.strictEqual(stopped.code, 0)
      assert.isTrue(
        presentWhileDown,
        "the late session was gone before the restart: the start-up reconciliation was not shown"
      )
      assert.isAtMost(periodicMs, PERIODIC_RECONCILE_BOUND_MS)
      assert.isAtMost(periodicGone.afterMs, PERIODIC_RECONCILE_BOUND_MS)
      assert.deepStrictEqual(left, [])
      assert.strictEqual(keptStill.status, 204, keptStill.text)
      assert.include(tmuxSessionNames(env.socket), kept.tmuxName)
    },
    120_000
  )

  it("(v) NUL refused with 400 and nothing typed; CR and TAB delivered byte for byte", async () => {
    const daemon = await startOn(await makeDaemonEnv())
    const { call, env, file } = daemon
    const session = await bashSession(daemon, "raw")
    // the pane's terminal in raw mode: no CR→LF, no signals, no echo; cat keeps exactly what arrives
    assert.strictEqual(
      (await call("POST", `/v1/sessions/${session.sessionId}/input`, { text: "stty raw -echo; exec cat > bytes.bin" }))
        .status,
      204
    )
    await eventually("cat in the pane", () => (paneCommand(env.socket, session.paneId) === "cat" ? true : undefined))
    const input = (text: string, enter: boolean) =>
      call("POST", `/v1/sessions/${session.sessionId}/input`, { text, enter })

    const refused: Array<string> = []
    for (
      const [text, enter] of [["a\u0000b", false], ["\u0000", false], ["a\u0000b", true], ["\u0000", true]] as const
    ) {
      const answer = await input(text, enter)
      refused.push(answerKind(answer))
      assert.strictEqual(answer.status, 400, `${JSON.stringify(text)}: ${answer.text}`)
      assert.include((answer.body as { message: string }).message, "NUL")
    }
    const accepted: Array<string> = []
    for (
      const answer of [
        await input("a\rb", false),
        await input("c\td", true),
        await call("POST", `/v1/sessions/${session.sessionId}/keys`, { keys: ["Tab"] }),
        await input("e\rf", true)
      ]
    ) {
      accepted.push(answerKind(answer))
      assert.strictEqual(answer.status, 204, answer.text)
    }
    const expected = Buffer.from("a\rbc\td\r\te\rf\r")
    const bytes = (await eventually("the bytes in bytes.bin", () => {
      const got = fs.existsSync(file("bytes.bin")) ? fs.readFileSync(file("bytes.bin")) : Buffer.alloc(0)
      return got.length >= expected.length ? got : undefined
    })).value
    await sleep(300)
    const final = fs.readFileSync(file("bytes.bin"))
    report(
      `(v) NUL and CR: ${refused.length} texts with NUL answered ${[...new Set(refused)].join(",")}; ` +
        `${accepted.length} with CR/TAB (and a Tab key) answered ${[...new Set(accepted)].join(",")}; ` +
        `pane received ${JSON.stringify(final.toString("latin1"))} (${
          final.equals(expected) ? "byte-exact" : `expected ${JSON.stringify(expected.toString("latin1"))}`
        })`
    )
    assert.deepStrictEqual([...bytes], [...expected])
    assert.deepStrictEqual([...final], [...expected], "nothing else arrived")
  }, 60_000)
})
