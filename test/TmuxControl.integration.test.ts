import { NodeContext } from "@effect/platform-node"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Logger,
  Option,
  Queue,
  Schedule,
  Scope
} from "effect"
import { randomBytes } from "node:crypto"
import { readdirSync, readFileSync, realpathSync } from "node:fs"
import * as ControlBridge from "../layers/ControlBridge.js"
import * as TmuxControlLive from "../layers/TmuxControl.js"
import { PASTE_LANDED_TIMEOUT, TerminalBridge } from "../services/TerminalBridge.js"
import {
  CONTROL_PENDING_MAX,
  CONTROL_RECONNECT_BASE,
  CONTROL_RECONNECT_MAX,
  type ControlEvent,
  ControlInput,
  HUB_SESSION,
  PASTE_QUIET,
  TmuxControl
} from "../services/TmuxControl.js"
import { reconnectBackoff } from "../src/concurrency/Backoff.js"
import type { KeyPress } from "../src/domain/Keys.js"
import { type PaneId, TmuxName } from "../src/domain/Session.js"
import { FAKE_AGENTS } from "./fixtures/agents/hookBuild.js"
import { isAlive } from "./support/processes.js"
import { scopedTmuxSocket, tmuxCommand, waitUntil } from "./support/tmuxSocket.js"

const PROMPT = "tmx$"
const randomName = () => TmuxName.make(`tmx_${randomBytes(4).toString("hex")}`)
const key = (name: KeyPress["key"], repeat = 1): KeyPress => ({ key: name, repeat })
const linesOf = (screen: string) => screen.split("\n")

const tempDir = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  return { fs, dir: realpathSync(yield* fs.makeTempDirectoryScoped({ prefix: "telemux-control-" })) }
})

/** ControlBridge + TmuxControl on a fresh socket; the layer's scope closes before the server is killed. */
const setup = (
  options: {
    readonly tmuxBinary?: string
    readonly commandTimeout?: Duration.DurationInput
    readonly hangTimeout?: Duration.DurationInput
  } = {}
) =>
  Effect.gen(function*() {
    const socket = yield* scopedTmuxSocket
    const { dir, fs } = yield* tempDir
    const context = yield* Layer.build(ControlBridge.layer({ socket, ...options }))
    return {
      socket,
      dir,
      fs,
      bridge: Context.get(context, TerminalBridge),
      control: Context.get(context, TmuxControl),
      input: Context.get(context, ControlInput)
    }
  })

type Setup = Effect.Effect.Success<ReturnType<typeof setup>>

const startShell = (s: Setup, size: { readonly width?: number; readonly height?: number } = {}) =>
  Effect.gen(function*() {
    const name = randomName()
    const pane = yield* s.bridge.createSession({
      name,
      cwd: s.dir,
      env: {},
      ...size,
      command: `PS1='${PROMPT} ' HISTFILE= exec bash --noprofile --norc`
    })
    yield* waitUntil("the shell prompt", s.bridge.capture(pane, 0), (t) => t.includes(PROMPT))
    return { name, pane }
  })

const runLine = (s: Setup, pane: PaneId, line: string) =>
  Effect.zipRight(s.bridge.paste(pane, line), s.bridge.sendKeys(pane, [key("Enter")]))

const waitForCommand = (s: Setup, pane: PaneId, command: string) =>
  waitUntil(
    `the pane to run ${command}`,
    Effect.map(s.bridge.listPanes, (panes) => panes.find((p) => p.paneId === pane)?.currentCommand ?? "<no pane>"),
    (current) => current === command
  )

/** The fake agent (claude) in a session of its own, at its prompt: a terminal UI reading pastes. */
const startFakeClaude = (s: Setup, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const pane = yield* s.bridge.createSession({
      name: randomName(),
      cwd: s.dir,
      env: { HOME: s.dir, ...env },
      command: `exec node ${FAKE_AGENTS}/fake-agent.mjs claude`
    })
    yield* waitUntil("the agent's prompt", s.bridge.capture(pane, 0), (t) => t.includes("claude>"), { attempts: 200 })
    yield* waitForCommand(s, pane, "node")
    return pane
  })

/** Takes events until `done` holds for what was taken so far; bounded by `within`. */
const takeUntil = (
  events: Queue.Dequeue<ControlEvent>,
  done: (seen: ReadonlyArray<ControlEvent>) => boolean,
  within: Duration.DurationInput = Duration.seconds(10)
) =>
  Effect.gen(function*() {
    const seen: Array<ControlEvent> = []
    while (!done(seen)) seen.push(...Chunk.toReadonlyArray(yield* Queue.takeBetween(events, 1, 1024)))
    return seen
  }).pipe(
    Effect.timeoutFail({ duration: within, onTimeout: () => new Error("expected events did not arrive") })
  )

/** What each pane wrote, one entry per notification, as TmuxControl.onOutput told it (for the scope's life). */
const recordOutput = (control: TmuxControl["Type"]) =>
  Effect.gen(function*() {
    const writes: Array<{ readonly paneId: PaneId; readonly data: string }> = []
    yield* control.onOutput((paneId, output) => void writes.push({ paneId, data: output.data }))
    const of = (pane: PaneId) => writes.filter((w) => w.paneId === pane).map((w) => w.data)
    const until = (pane: PaneId, text: string, within: Duration.DurationInput = Duration.seconds(10)) =>
      Effect.gen(function*() {
        while (!of(pane).join("").includes(text)) yield* Effect.sleep(Duration.millis(20))
      }).pipe(
        Effect.timeoutFail({ duration: within, onTimeout: () => new Error(`${pane} never wrote ${text}`) })
      )
    return { of, until }
  })

const signal = (pid: number, sig: NodeJS.Signals) => Effect.sync(() => process.kill(pid, sig))

const serverPid = (socket: string) =>
  Effect.map(tmuxCommand(socket, "display-message", "-p", "#{pid}"), (o) => Number(o.trim()))

/** A stopped server for the scope's lifetime; continued (so it can be killed) when the scope closes. */
const stopServer = (pid: number) =>
  Effect.acquireRelease(signal(pid, "SIGSTOP"), () => Effect.ignore(signal(pid, "SIGCONT")))

/** Child processes of this test process whose command line is a tmux control client. */
const controlClientChildren = (): ReadonlyArray<number> =>
  readdirSync("/proc").flatMap((entry) => {
    if (!/^\d+$/.test(entry)) return []
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")
      return ppid === process.pid && argv.some((a) => a.endsWith("tmux")) &&
          (argv.includes("-C") || argv.includes("attach-session"))
        ? [Number(entry)]
        : []
    } catch {
      return []
    }
  })

const live = <A, E>(self: Effect.Effect<A, E, Scope.Scope | CommandExecutor.CommandExecutor | FileSystem.FileSystem>) =>
  self.pipe(Effect.provide(NodeContext.layer))

describe("TmuxControl reconnect backoff", () => {
  it.effect("grows exponentially from the base, jittered, and never waits longer than the max", () =>
    Effect.gen(function*() {
      const delays = Chunk.toReadonlyArray(
        yield* Schedule.run(
          Schedule.delays(reconnectBackoff(CONTROL_RECONNECT_BASE, CONTROL_RECONNECT_MAX)),
          0,
          Array.from({ length: 14 }, () => undefined)
        )
      ).map(Duration.toMillis)
      const base = Duration.toMillis(CONTROL_RECONNECT_BASE)
      const max = Duration.toMillis(CONTROL_RECONNECT_MAX)
      delays.forEach((delay, i) => {
        const exponential = base * 2 ** i
        assert.isAtMost(delay, max, `attempt ${i}`)
        assert.isAtLeast(delay, Math.min(exponential * 0.8, max), `attempt ${i}`)
        assert.isAtMost(delay, Math.min(exponential * 1.2, max), `attempt ${i}`)
      })
      assert.strictEqual(delays.at(-1), max)
    }))
})

describe("TmuxControl on real tmux", () => {
  it.scopedLive("frames replies by their own triple: pane lines reading %end / %begin come back as text", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const { pane } = yield* startShell(s)
      yield* runLine(s, pane, "printf '%%end 1 2 3\\n%%begin 9 9 9\\n%%error 1 2 3\\n'; echo after-$((6*7))")
      const screen = yield* waitUntil(
        "the look-alike lines",
        s.bridge.capture(pane, 0),
        (t) => linesOf(t).includes("after-42")
      )
      const lines = linesOf(screen)
      for (const line of ["%end 1 2 3", "%begin 9 9 9", "%error 1 2 3"]) assert.include(lines, line)
      // The channel still pairs every reply with its own command.
      for (let i = 0; i < 20; i++) {
        assert.deepStrictEqual(yield* s.control.run(["display-message", "-p", `reply-${i}`]), [`reply-${i}`])
        assert.include(linesOf(yield* s.bridge.capture(pane, 0)), "%begin 9 9 9")
      }
    })))

  it.scopedLive("captureEach gives each pane's lines as capture gives its text; a missing pane ends the list", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const a = yield* startShell(s)
      const b = yield* startShell(s)
      yield* runLine(
        s,
        a.pane,
        "printf '%%end 1 2 3\\n  \\n\\303\\251t\\303\\251 \\342\\234\\223\\n'; echo done-$((6*7))"
      )
      yield* waitUntil("a's output", s.bridge.capture(a.pane, 0), (t) => linesOf(t).includes("done-42"))
      yield* runLine(s, b.pane, "clear; echo only-$((2+3))")
      yield* waitUntil("b's output", s.bridge.capture(b.pane, 0), (t) => linesOf(t).includes("only-5"))

      const each = yield* s.bridge.captureEach([a.pane, b.pane], 10)
      assert.lengthOf(each, 2)
      for (const [i, pane] of [a.pane, b.pane].entries()) {
        const lines = Either.getOrThrow(each[i]!)
        assert.strictEqual(lines.join("\n"), yield* s.bridge.capture(pane, 10))
        assert.notStrictEqual(lines[lines.length - 1]!.trim(), "", "trailing blank rows are dropped")
      }
      const first = Either.getOrThrow(each[0]!)
      assert.include(first, "%end 1 2 3")
      assert.include(first, "", "a blank line between written ones stays")
      assert.include(first, "été ✓")

      const missing = yield* s.bridge.captureEach([b.pane, "%99999" as PaneId, a.pane], 0)
      assert.lengthOf(missing, 2, "the capture after the refused one is not tried")
      assert.isTrue(Either.isRight(missing[0]!))
      assert.strictEqual(Either.flip(missing[1]!).pipe(Either.getOrThrow)._tag, "TmuxSessionNotFound")

      // given each pane's last lines (right, another pane's, none), the lines are the same as without;
      // and the lists after one cut short by a refusal (its blocks shifted) still read right
      const second = Either.getOrThrow(each[1]!)
      const given = yield* s.bridge.captureEach([a.pane, b.pane, a.pane], 10, [first, first, undefined])
      assert.deepStrictEqual(given.map(Either.getOrThrow), [first, second, first])
      const cut = yield* Effect.all([
        s.bridge.captureEach([a.pane, "%99999" as PaneId, b.pane], 10, [first, second, second]),
        s.bridge.captureEach([b.pane, a.pane], 10, [second, first])
      ], { concurrency: "unbounded" })
      assert.deepStrictEqual(Either.getOrThrow(cut[0][0]!), first)
      assert.deepStrictEqual(cut[1].map(Either.getOrThrow), [second, first])
    })))

  it.scopedLive("pane output reaches output listeners with multi-byte characters split across writes intact", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const { pane } = yield* startShell(s)
      const output = yield* recordOutput(s.control)
      // Each printf writes part of a character; the sleeps make tmux send them as separate %output lines.
      const parts = [
        "U:\\303",
        "\\251 \\342\\234",
        "\\223 \\346\\227\\245",
        "\\346\\234\\254 \\360\\237",
        "\\230\\200:END\\n"
      ]
      yield* runLine(s, pane, parts.map((p) => `printf '${p}'`).join("; sleep 0.1; "))
      const expected = "U:é ✓ 日本 😀:END"
      yield* output.until(pane, expected)
      assert.notInclude(output.of(pane).join(""), "\uFFFD")
      assert.isAbove(output.of(pane).length, 2)
      assert.isTrue(output.of(pane).every((data) => data.length > 0), "no empty writes")
    })))

  it.scopedLive("an output listener that throws is logged; the reader and the other listeners go on", () =>
    live(Effect.gen(function*() {
      const logged: Array<ReadonlyArray<unknown>> = []
      const collect = Logger.make(({ message }) => void logged.push(Array.isArray(message) ? message : [message]))
      const s = yield* setup().pipe(Effect.provide(Logger.replace(Logger.defaultLogger, collect)))
      let thrown = 0
      yield* s.control.onOutput(() => {
        thrown++
        throw new Error("a listener's bug")
      })
      const output = yield* recordOutput(s.control)
      const { pane } = yield* startShell(s)
      yield* runLine(s, pane, "echo first-$((6*7))")
      yield* output.until(pane, "first-42")
      const failures = () => logged.filter(([text]) => text === "an output listener failed")
      yield* waitUntil("the failure's log", Effect.sync(() => String(failures().length)), (n) => n !== "0")
      assert.strictEqual((failures()[0]![1] as Error).message, "a listener's bug")
      // still reading: a later output reaches the other listener
      yield* runLine(s, pane, "echo second-$((6*7))")
      yield* output.until(pane, "second-42")
      assert.isAtLeast(thrown, 2)
      assert.isAtMost(failures().length, thrown)
    })))

  it.scopedLive("PaneChanged reports the pane's command as it changes", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const { pane } = yield* startShell(s)
      const events = yield* s.control.subscribe
      yield* runLine(s, pane, "sleep 2")
      const changed = (value: string) => (seen: ReadonlyArray<ControlEvent>) =>
        seen.some((e) => e._tag === "PaneChanged" && e.paneId === pane && e.field === "command" && e.value === value)
      yield* takeUntil(events, changed("sleep"))
      yield* takeUntil(events, changed("bash"))
    })))

  it.scopedLive("quoting: set-buffer through the channel stores exactly the text, whatever it holds", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const big = Array.from({ length: 1600 }, (_, i) => `${i} ;\\; $HOME ~ ' " \\ #{pane_id} ✓\n`).join("")
      assert.isAtLeast(big.length, 50 * 1024)
      const texts = [
        "a;b",
        ";",
        "\\;",
        "x ; y",
        "$HOME",
        "${HOME}",
        "~",
        "~/x",
        "~root",
        "'",
        "\"",
        "''\"\"",
        "back\\slash\\",
        "\\\\",
        "line1\nline2\n",
        "\r\n",
        "tab\there",
        "#{pane_id}",
        "#{session_name}#[fg=red]",
        "-",
        "--",
        "-t %0",
        "%if 1",
        "{ braces }",
        "# not a comment",
        "ünïcødé ✓ — 日本語 😀",
        "\u0001\u001b[31m\u007f",
        big
      ]
      for (const [i, text] of texts.entries()) {
        yield* s.control.run(["set-buffer", "-b", `q${i}`, "--", text])
        const stored = yield* tmuxCommand(s.socket, "save-buffer", "-b", `q${i}`, "-")
        assert.isTrue(
          stored === text,
          `buffer ${i} differs: ${JSON.stringify(text.slice(0, 60))} → ${JSON.stringify(stored.slice(0, 60))}`
        )
      }
      // Formats passed on purpose to a command that expands them are expanded.
      const [hubPane] = yield* s.control.run([
        "display-message",
        "-p",
        "-t",
        `=${HUB_SESSION}:0`,
        "#{pane_id} #{session_name}"
      ])
      assert.match(hubPane!, new RegExp(`^%\\d+ ${HUB_SESSION}$`))
    })))

  it.scopedLive("a command that times out is TmuxTimeout; its late reply is dropped, the next command gets its own", () =>
    live(Effect.gen(function*() {
      // hang detection (its own test below) kept out of the way: under load the fillers can take
      // longer to queue than the default 3 × 400 ms, and the client was restarted mid-test
      const s = yield* setup({ commandTimeout: Duration.millis(400), hangTimeout: Duration.seconds(20) })
      const pid = yield* serverPid(s.socket)
      const late = yield* Effect.scoped(Effect.gen(function*() {
        yield* stopServer(pid)
        const start = Date.now()
        const error = yield* Effect.flip(s.control.run(["display-message", "-p", "late-reply"]))
        const waited = Date.now() - start
        assert.isAtLeast(waited, 390)
        assert.isBelow(waited, 1500)
        // Fill the pending table: one more fails at once, typed, instead of queueing.
        const fillers = yield* Effect.fork(Effect.forEach(
          Array.from({ length: CONTROL_PENDING_MAX - 1 }, (_, i) => i),
          (i) => Effect.either(s.control.run(["display-message", "-p", `filler-${i}`])),
          { concurrency: "unbounded" }
        ))
        yield* Effect.sleep(Duration.millis(100))
        const overflow = yield* Effect.flip(s.control.run(["display-message", "-p", "overflow"]))
        assert.strictEqual(overflow._tag, "TmuxCommandFailed")
        assert.match(overflow.message, /already wait/)
        assert.isTrue((yield* Fiber.join(fillers)).every((r) => r._tag === "Left" && r.left._tag === "TmuxTimeout"))
        return error
      }))
      assert.strictEqual(late._tag, "TmuxTimeout")
      // The timed-out commands hold their places until tmux, continued, answers them all.
      const next = yield* s.control.run(["display-message", "-p", "next-reply"]).pipe(
        Effect.retry({
          while: (e) => /already wait/.test(e.message),
          schedule: Schedule.spaced(Duration.millis(50)),
          times: 100
        })
      )
      assert.deepStrictEqual(next, ["next-reply"])
      assert.deepStrictEqual(yield* s.control.run(["display-message", "-p", "after"]), ["after"])
      assert.isTrue(yield* s.control.isConnected)
    })))

  it.scopedLive(
    "a server that stops answering is a hung client: Disconnected, then Connected once it answers again",
    () =>
      live(Effect.gen(function*() {
        const socket = yield* scopedTmuxSocket
        const context = yield* Layer.build(
          TmuxControlLive.layer({ socket, commandTimeout: Duration.millis(300), hangTimeout: Duration.millis(800) })
        )
        const control = Context.get(context, TmuxControl)
        assert.isTrue(yield* control.isConnected)
        const events = yield* control.subscribe
        const pid = yield* serverPid(socket)
        yield* Effect.scoped(Effect.gen(function*() {
          yield* stopServer(pid)
          assert.strictEqual((yield* Effect.flip(control.run(["display-message", "-p", "x"])))._tag, "TmuxTimeout")
          yield* takeUntil(events, (seen) => seen.some((e) => e._tag === "Disconnected"), Duration.seconds(5))
          const down = yield* Effect.flip(control.run(["display-message", "-p", "y"]))
          assert.strictEqual(down._tag, "ControlChannelDown", "run fails fast while disconnected")
          assert.isFalse(down._tag === "ControlChannelDown" && down.sent, "a command that was never written")
        }))
        yield* takeUntil(events, (seen) => seen.some((e) => e._tag === "Connected"), Duration.seconds(20))
        assert.deepStrictEqual(yield* control.run(["display-message", "-p", "back"]), ["back"])
      })),
    40_000
  )

  it.scopedLive("reconnects by itself after kill-server; a session created afterwards reports its output", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const events = yield* s.control.subscribe
      const output = yield* recordOutput(s.control)
      const firstPid = yield* s.control.clientPid
      assert.isTrue(Option.isSome(firstPid))
      yield* tmuxCommand(s.socket, "kill-server").pipe(Effect.ignore)
      const seen = yield* takeUntil(events, (seen) => seen.some((e) => e._tag === "Connected"))
      assert.isTrue(seen.some((e) => e._tag === "Disconnected"))
      assert.isFalse(isAlive(Option.getOrThrow(firstPid)), "the old client was reaped")
      assert.isTrue(Option.isSome(yield* s.control.clientPid))

      const { pane } = yield* startShell(s)
      yield* runLine(s, pane, "echo fresh-$((20+3))")
      yield* output.until(pane, "fresh-23")
    })))

  it.scopedLive("re-links every session's window into the hub when it reconnects", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const { name, pane } = yield* startShell(s)
      const events = yield* s.control.subscribe
      const output = yield* recordOutput(s.control)
      // The hub goes away (and with it its links) while the session stays.
      yield* tmuxCommand(s.socket, "kill-session", "-t", `=${HUB_SESSION}`)
      yield* takeUntil(events, (seen) => seen.some((e) => e._tag === "Connected"))
      const linked = yield* tmuxCommand(
        s.socket,
        "display-message",
        "-p",
        "-t",
        `=${name}:`,
        "#{window_linked_sessions_list}"
      )
      assert.sameMembers(linked.trim().split(","), [name, HUB_SESSION])
      yield* runLine(s, pane, "echo relinked-$((1+1))")
      yield* output.until(pane, "relinked-2")
    })))

  it.scopedLive("closing the layer ends the control client (reaped)", () =>
    live(Effect.gen(function*() {
      const socket = yield* scopedTmuxSocket
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(TmuxControlLive.layer({ socket }), scope)
      const pid = Option.getOrThrow(yield* Context.get(context, TmuxControl).clientPid)
      assert.isTrue(isAlive(pid))
      assert.include(controlClientChildren(), pid)
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(isAlive(pid))
    })))

  it.scopedLive("closing the layer is bounded even when tmux stopped reading and the client's input is full", () =>
    live(Effect.gen(function*() {
      const socket = yield* scopedTmuxSocket
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        TmuxControlLive.layer({ socket, commandTimeout: Duration.seconds(30) }),
        scope
      )
      const control = Context.get(context, TmuxControl)
      const pid = Option.getOrThrow(yield* control.clientPid)
      yield* stopServer(yield* serverPid(socket))
      const payload = "x".repeat(64 * 1024)
      // 16 MB of commands: more than the pipe and socket buffers between us and a stopped server hold.
      yield* Effect.forkScoped(Effect.forEach(
        Array.from({ length: 256 }, (_, i) => i),
        (i) => Effect.either(control.run(["set-buffer", "-b", `fill-${i}`, "--", payload])),
        { concurrency: "unbounded" }
      ))
      yield* Effect.sleep(Duration.millis(300))
      const start = Date.now()
      yield* Scope.close(scope, Exit.void)
      assert.isBelow(Date.now() - start, 5000)
      assert.isFalse(isAlive(pid))
    })))
})

describe("ControlBridge on real tmux", () => {
  it.scopedLive(
    "20 sessions: one control client, and no tmux spawned while they sit idle or are read",
    () =>
      live(Effect.gen(function*() {
        const { dir: binDir, fs } = yield* tempDir
        const log = `${binDir}/spawns.log`
        const binary = `${binDir}/tmux`
        yield* fs.writeFileString(binary, `#!/bin/sh\necho "$*" >> '${log}'\nexec tmux "$@"\n`)
        yield* fs.chmod(binary, 0o755)
        const s = yield* setup({ tmuxBinary: binary })
        const spawns = Effect.map(fs.readFileString(log), (text) => text.split("\n").filter((l) => l.length > 0))

        const panes = yield* Effect.forEach(Array.from({ length: 20 }), () =>
          s.bridge.createSession({
            name: randomName(),
            cwd: s.dir,
            env: {},
            command: "HISTFILE= exec bash --noprofile --norc"
          }))
        yield* waitUntil(
          "20 panes",
          Effect.map(s.bridge.listPanes, (p) => String(p.length)),
          (n) => n === "20"
        )

        // two clients, whatever the number of sessions: the events client and the input client
        const clients = controlClientChildren()
        assert.sameMembers([...clients], [
          Option.getOrThrow(yield* s.control.clientPid),
          Option.getOrThrow(yield* s.input.clientPid)
        ])

        const before = (yield* spawns).length
        yield* Effect.sleep(Duration.seconds(3))
        for (const pane of panes) yield* s.bridge.capture(pane, 10)
        yield* s.bridge.listPanes
        yield* s.bridge.type(panes[0]!, "true", true)
        yield* s.bridge.sendKeys(panes[0]!, [key("Enter")])
        const after = yield* spawns
        assert.deepStrictEqual(after.slice(before), [], "tmux was spawned while sessions sat idle or were read")
        assert.isAtMost(controlClientChildren().length, 2)
      })),
    40_000
  )

  it.scopedLive("linking a 200x50 window into the hub leaves its size alone; linking twice links once", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const { name, pane } = yield* startShell(s, { width: 200, height: 50 })
      yield* s.control.watchWindowOf(name)
      const size = yield* tmuxCommand(s.socket, "display-message", "-p", "-t", pane, "#{window_width}x#{window_height}")
      assert.strictEqual(size.trim(), "200x50")
      const hubWindows = yield* tmuxCommand(s.socket, "list-windows", "-t", `=${HUB_SESSION}`, "-F", "#{window_id}")
      const windowId = (yield* tmuxCommand(s.socket, "display-message", "-p", "-t", pane, "#{window_id}")).trim()
      assert.strictEqual(linesOf(hubWindows).filter((w) => w === windowId).length, 1)
    })))

  it.scopedLive("pastes tricky text and 50 KB literally, sends keys, captures", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const { pane } = yield* startShell(s)
      const pasteThroughCat = (text: string, tag: number) =>
        Effect.gen(function*() {
          // the end is read from a file, not the screen: under load the terminal may draw the tty's echo of a
          // long paste after cat's own output, so no screen line is a reliable mark
          yield* runLine(s, pane, `cat > out-${tag}.txt; echo END-$((${tag}+1000)) > end-${tag}.txt`)
          yield* waitForCommand(s, pane, "cat")
          yield* s.bridge.paste(pane, text)
          yield* s.bridge.sendKeys(pane, [key("C-d")])
          const end = s.fs.readFileString(`${s.dir}/end-${tag}.txt`).pipe(Effect.orElseSucceed(() => ""))
          yield* waitUntil("cat to finish", end, (t) => t === `END-${tag + 1000}\n`, { attempts: 200 })
          return yield* s.fs.readFileString(`${s.dir}/out-${tag}.txt`)
        })
      const tricky = [
        "-n -e --not-an-option",
        "  'single' \"double\" `tick` $HOME ${PATH} $(whoami) ~ ~/x !!",
        "back\\slash \\n \\t \\\\ end\\",
        "semi; colon \\; ; #{pane_id} %end 1 2 3",
        "ünïcødé ✓ — 日本語 😀",
        ""
      ].join("\n")
      assert.strictEqual(yield* pasteThroughCat(tricky, 1), tricky)
      const line = (i: number) => `${String(i).padStart(4, "0")} ${"abc'$\"\\;xyz-~#{}".repeat(8)}`.slice(0, 99)
      const big = Array.from({ length: 512 }, (_, i) => line(i) + "\n").join("")
      assert.isAtLeast(big.length, 50 * 1024)
      const written = yield* pasteThroughCat(big, 2)
      assert.strictEqual(written.length, big.length)
      assert.isTrue(written === big, "the 50 KB file differs from the pasted text")
      assert.strictEqual(yield* tmuxCommand(s.socket, "list-buffers"), "", "no buffer left behind")

      yield* runLine(s, pane, "echo recall-$((40+2))")
      yield* waitUntil("the echo", s.bridge.capture(pane, 0), (t) => linesOf(t).includes("recall-42"))
      yield* s.bridge.sendKeys(pane, [key("Up"), key("Enter")])
      yield* waitUntil("the recalled echo", s.bridge.capture(pane, 0), (t) =>
        linesOf(t).filter((l) =>
          l === "recall-42"
        ).length === 2)
      yield* runLine(s, pane, "sleep 100")
      yield* waitForCommand(s, pane, "sleep")
      yield* s.bridge.sendKeys(pane, [key("C-c")])
      yield* waitForCommand(s, pane, "bash")
    })), 40_000)

  it.scopedLive("type leaves copy-mode; resize; listPanes without the hub or duplicate linked entries", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const a = yield* startShell(s)
      const b = yield* startShell(s)
      const inMode = Effect.map(
        tmuxCommand(s.socket, "display-message", "-p", "-t", a.pane, "#{pane_in_mode}"),
        (o) => o.trim()
      )
      yield* tmuxCommand(s.socket, "copy-mode", "-t", a.pane)
      assert.strictEqual(yield* inMode, "1")
      yield* s.bridge.type(a.pane, "echo out-of-mode-$((3+4))", true)
      yield* waitUntil(
        "the typed command's output",
        s.bridge.capture(a.pane, 0),
        (t) => linesOf(t).includes("out-of-mode-7")
      )
      assert.strictEqual(yield* inMode, "0")

      yield* s.bridge.resize(b.pane, 100, 40)
      const size = yield* tmuxCommand(s.socket, "display-message", "-p", "-t", b.pane, "#{pane_width}x#{pane_height}")
      assert.strictEqual(size.trim(), "100x40")

      const panes = yield* s.bridge.listPanes
      assert.sameMembers(panes.map((p) => p.paneId), [a.pane, b.pane])
      assert.sameMembers(panes.map((p) => p.sessionName), [a.name, b.name])
      const all = yield* tmuxCommand(s.socket, "list-panes", "-a", "-F", "#{session_name}")
      assert.include(linesOf(all), HUB_SESSION, "the hub does exist; listPanes leaves it out")

      const missing = "%99999" as PaneId
      assert.strictEqual((yield* Effect.flip(s.bridge.capture(missing, 0)))._tag, "TmuxSessionNotFound")
      assert.strictEqual((yield* Effect.flip(s.bridge.type(missing, "x", true)))._tag, "TmuxSessionNotFound")
      assert.strictEqual((yield* Effect.flip(s.bridge.paste(missing, "x")))._tag, "TmuxSessionNotFound")
      assert.strictEqual(yield* tmuxCommand(s.socket, "list-buffers"), "", "the failed paste deleted its buffer")
    })))

  it.scopedLive("command lists on the input client: a block per command (an if-shell two), the first refusal ends the list", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const { pane } = yield* startShell(s)
      const display = (text: string) => ["display-message", "-p", text]
      const all = yield* s.input.runList([display("one"), display("two;three"), display("four")])
      assert.deepStrictEqual(all.blocks, [["one"], ["two;three"], ["four"]])
      assert.isTrue(Option.isNone(all.refused))

      const stopped = yield* s.input.runList([
        display("before"),
        ["send-keys", "-t", "%99999", "x"],
        display("skipped")
      ])
      assert.deepStrictEqual(stopped.blocks, [["before"]])
      assert.strictEqual(Option.getOrThrow(stopped.refused)._tag, "TmuxSessionNotFound")

      const branch = (
        format: string
      ) => ["if-shell", "-F", "-t", pane, format, "display-message -p yes", "display-message -p no"]
      const ifs = yield* s.input.runList([display("first"), branch("1")])
      assert.deepStrictEqual(ifs.blocks, [["first"], [], ["yes"]])
      assert.deepStrictEqual((yield* s.input.runList([branch("0")])).blocks, [[], ["no"]])
      // the channel still pairs every list with its own blocks
      assert.deepStrictEqual((yield* s.input.runList([display("after")])).blocks, [["after"]])
    })))

  it.scopedLive("type at a shell (bash, bracketed paste on): text and Enter go together and the command runs exactly once", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const { pane } = yield* startShell(s)
      const log = `${s.dir}/once.log`
      const read = s.fs.readFileString(log).pipe(Effect.orElseSucceed(() => ""))
      yield* s.bridge.type(pane, "echo once-$((40+2)) >> once.log", true)
      // two lines in one paste: bash reads them as one edit, and the one Enter runs both
      yield* s.bridge.type(pane, "echo two-a >> once.log\necho two-b >> once.log", true)
      yield* s.bridge.type(pane, "echo sentinel-$((1+1))", true)
      yield* waitUntil("the sentinel", s.bridge.capture(pane, 0), (t) => linesOf(t).includes("sentinel-2"))
      assert.strictEqual(yield* read, "once-42\ntwo-a\ntwo-b\n")
    })))

  it.scopedLive(
    "type into an agent's UI (fake agent): Enter sent with the paste is swallowed; type waits for the paste to show, and the agent answers once",
    () =>
      live(Effect.gen(function*() {
        const s = yield* setup()
        const pane = yield* startFakeClaude(s)

        // the premise: paste and Enter in one list, as for a shell — the UI reads that Enter as part of the paste
        const buffer = "premise"
        yield* s.input.runList([
          ["set-buffer", "-b", buffer, "--", "swallowed"],
          ["paste-buffer", "-p", "-d", "-b", buffer, "-t", pane],
          ["send-keys", "-t", pane, "Enter"]
        ])
        yield* waitUntil("the swallowed paste drawn", s.bridge.capture(pane, 0), (t) => t.includes("swallowed"))
        yield* Effect.sleep(Duration.millis(500))
        assert.notInclude(yield* s.bridge.capture(pane, 0), "reply: swallowed")
        yield* s.bridge.sendKeys(pane, [key("C-u")])
        // the UI's redraw of the cleared line must be out before `type` marks the pane: output it
        // sees after its mark is its signal that the paste landed (CI once saw this redraw instead)
        yield* waitUntil("the cleared line", s.bridge.capture(pane, 0), (t) => t.trimEnd().endsWith("claude>"))

        const start = Date.now()
        yield* s.bridge.type(pane, "answered", true)
        const took = Date.now() - start
        const screen = yield* waitUntil(
          "the agent's answer",
          s.bridge.capture(pane, 0),
          (t) => t.includes("reply: answered")
        )
        assert.isBelow(took, 450, "the Enter followed the paste's echo, not the bound")
        yield* Effect.sleep(Duration.millis(300))
        const after = yield* s.bridge.capture(pane, 0)
        assert.strictEqual(after.split("reply: answered").length - 1, 1, screen)
      })),
    30_000
  )

  it.scopedLive(
    "type into an agent still busy with its last answer: its late prompt is not taken for the paste landing, the agent answers once",
    () =>
      live(Effect.gen(function*() {
        const s = yield* setup()
        const pane = yield* startFakeClaude(s)
        // answered at once, then 400 ms reading nothing (a slow hook), then its prompt
        yield* s.bridge.type(pane, "busy:400", true)
        yield* waitUntil("the busy answer", s.bridge.capture(pane, 0), (t) => t.includes("reply: busy:400"))
        // pasted while it is busy: the first output after the paste is that late prompt
        yield* s.bridge.type(pane, "after the hook", true)
        yield* waitUntil("the agent's answer", s.bridge.capture(pane, 0), (t) => t.includes("reply: after the hook"), {
          attempts: 100
        })
        yield* Effect.sleep(Duration.millis(300))
        const after = yield* s.bridge.capture(pane, 0)
        assert.strictEqual(after.split("reply: after the hook").length - 1, 1, after)
      })),
    30_000
  )

  it.scopedLive(
    "type into an agent that draws a paste as a summary: the Enter follows its quiet after that draw, before the bound",
    () =>
      live(Effect.gen(function*() {
        const s = yield* setup()
        const pane = yield* startFakeClaude(s, { FAKE_AGENT_PASTE_SUMMARY: "1" })
        const start = Date.now()
        yield* s.bridge.type(pane, "summarised", true)
        const took = Date.now() - start
        yield* waitUntil("the agent's answer", s.bridge.capture(pane, 0), (t) => t.includes("reply: summarised"))
        assert.isBelow(took, Duration.toMillis(PASTE_LANDED_TIMEOUT), "the Enter followed the summary, not the bound")
        assert.isAtLeast(took, Duration.toMillis(PASTE_QUIET), "the Enter waited for the quiet after the summary")
      })),
    30_000
  )

  it.scopedLive("an application that shows nothing of the paste gets its Enter after PASTE_LANDED_TIMEOUT, even from uninterruptible input", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const { pane } = yield* startShell(s)
      // no echo: the paste draws nothing; cat writes the line once it has its Enter
      yield* runLine(s, pane, "stty -echo; cat; stty echo")
      yield* waitForCommand(s, pane, "cat")
      const start = Date.now()
      yield* Effect.uninterruptible(s.bridge.type(pane, "silent-line", true))
      const took = Date.now() - start
      assert.isAtLeast(took, Duration.toMillis(PASTE_LANDED_TIMEOUT) - 50)
      assert.isBelow(took, Duration.toMillis(PASTE_LANDED_TIMEOUT) + 1000)
      yield* waitUntil("cat's line", s.bridge.capture(pane, 0), (t) => linesOf(t).includes("silent-line"))
      yield* s.bridge.sendKeys(pane, [key("C-d")])
    })))

  it.scopedLive(
    "input never waits behind captures: typed while hundreds of large captures are queued on the events client",
    () =>
      live(Effect.gen(function*() {
        const s = yield* setup()
        const big = yield* startShell(s, { width: 200, height: 50 })
        const typed = yield* startShell(s)
        yield* runLine(s, big.pane, "yes \"$(printf '%0190d' 7)\" | head -n 3000; echo filled-$((1+2))")
        yield* waitUntil("the history filled", s.bridge.capture(big.pane, 0), (t) => linesOf(t).includes("filled-3"))
        // a screen and 100 lines of history each, as the output poller captures (about 28 MB in all)
        const captures = yield* Effect.fork(
          Effect.forEach(Array.from({ length: 1000 }), () => s.bridge.capture(big.pane, 100), {
            concurrency: "unbounded",
            discard: true
          })
        )
        yield* Effect.sleep(Duration.millis(20))
        const start = Date.now()
        const behind = yield* Effect.fork(
          Effect.map(s.control.run(["display-message", "-p", "behind"]), () => Date.now() - start)
        )
        yield* s.bridge.type(typed.pane, "echo meanwhile-$((5*5))", true)
        const took = Date.now() - start
        const queued = yield* Fiber.join(behind)
        yield* Fiber.join(captures)
        // a command queued behind the captures on their client waits for all of them
        assert.isBelow(took * 4, queued, `input answered in ${took} ms, a command behind the captures in ${queued} ms`)
        yield* waitUntil("the typed command's output", s.bridge.capture(typed.pane, 0), (t) =>
          linesOf(t).includes("meanwhile-25"))
      })),
    40_000
  )

  it.scopedLive("killSession ends the shell even though its window is linked into the hub", () =>
    live(Effect.gen(function*() {
      const s = yield* setup()
      const doomed = yield* startShell(s)
      const survivor = yield* startShell(s)
      const pidOf = (pane: PaneId) =>
        Effect.map(s.bridge.listPanes, (panes) => panes.find((p) => p.paneId === pane)?.panePid ?? -1)
      const doomedPid = yield* pidOf(doomed.pane)
      assert.isTrue(isAlive(doomedPid))

      // The premise: a plain kill-session leaves a window that is also linked into the hub alive.
      const premise = yield* startShell(s)
      const premisePid = yield* pidOf(premise.pane)
      yield* tmuxCommand(s.socket, "kill-session", "-t", `=${premise.name}`)
      assert.isTrue(isAlive(premisePid))

      yield* s.bridge.killSession(doomed.name)
      yield* waitUntil("the shell to exit", Effect.sync(() => String(isAlive(doomedPid))), (alive) => alive === "false")
      assert.strictEqual((yield* Effect.flip(s.bridge.capture(doomed.pane, 0)))._tag, "TmuxSessionNotFound")
      assert.strictEqual((yield* Effect.flip(s.bridge.killSession(doomed.name)))._tag, "TmuxSessionNotFound")
      assert.deepStrictEqual((yield* s.bridge.listPanes).map((p) => p.paneId).filter((p) => p !== premise.pane), [
        survivor.pane
      ])
    })))

  it.scopedLive("while the channel is down, the bridge runs the same operations by spawning tmux", () =>
    live(Effect.gen(function*() {
      const { dir: binDir, fs } = yield* tempDir
      const binary = `${binDir}/tmux`
      // A tmux whose control clients cannot start: the channel never comes up.
      yield* fs.writeFileString(binary, `#!/bin/sh\nfor a; do [ "$a" = -C ] && exit 1; done\nexec tmux "$@"\n`)
      yield* fs.chmod(binary, 0o755)
      const s = yield* setup({ tmuxBinary: binary })
      assert.isFalse(yield* s.control.isConnected)
      const down = yield* Effect.flip(s.control.run(["display-message", "-p", "x"]))
      assert.strictEqual(down._tag, "ControlChannelDown")
      assert.isFalse(down._tag === "ControlChannelDown" && down.sent)

      const { name, pane } = yield* startShell(s)
      yield* runLine(s, pane, "echo spawned-$((3*3))")
      yield* waitUntil("the echo", s.bridge.capture(pane, 0), (t) => linesOf(t).includes("spawned-9"))
      yield* s.bridge.type(pane, "echo typed-while-down-$((2*2))", true)
      yield* waitUntil("the typed echo", s.bridge.capture(pane, 0), (t) => linesOf(t).includes("typed-while-down-4"))
      assert.deepStrictEqual((yield* s.bridge.listPanes).map((p) => p.paneId), [pane])
      yield* s.bridge.killSession(name)
      assert.strictEqual((yield* Effect.flip(s.bridge.capture(pane, 0)))._tag, "TmuxSessionNotFound")
    })))
})
