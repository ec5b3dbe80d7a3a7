import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { randomBytes } from "node:crypto"
import { realpathSync } from "node:fs"
import { makeTmuxBridge } from "../layers/TmuxBridge.js"
import {
  CAPTURE_HISTORY_MAX,
  mayHaveRun,
  type PaneInfo,
  TmuxCommandFailed,
  TmuxSessionNotFound,
  TmuxTimeout
} from "../services/TerminalBridge.js"
import { ControlChannelDown } from "../services/TmuxControl.js"
import type { KeyPress } from "../src/domain/Keys.js"
import { PaneId, TmuxName } from "../src/domain/Session.js"
import { commandFailure, isSupportedTmuxVersion, parsePaneList, parseTmuxVersion } from "../src/tmux/Commands.js"
import { isAlive } from "./support/processes.js"
import { scopedTmuxSocket, tmuxCommand, waitUntil } from "./support/tmuxSocket.js"

const PROMPT = "tmx$"
const WIDTH = 120
const HEIGHT = 30

const randomName = () => TmuxName.make(`tmx_${randomBytes(4).toString("hex")}`)
const key = (name: KeyPress["key"], repeat = 1): KeyPress => ({ key: name, repeat })

/** A bridge on a fresh private socket (server killed at scope end) and a temp dir for the shell. */
const setup = Effect.gen(function*() {
  const socket = yield* scopedTmuxSocket
  const bridge = yield* makeTmuxBridge({ socket })
  const fs = yield* FileSystem.FileSystem
  const dir = realpathSync(yield* fs.makeTempDirectoryScoped({ prefix: "telemux-tmux-" }))
  return { socket, bridge, dir, fs }
})

type Setup = Effect.Effect.Success<typeof setup>

/** A bash without rc files, history file or surprises in its prompt. */
const startShell = ({ bridge, dir }: Setup, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const name = randomName()
    const pane = yield* bridge.createSession({
      name,
      cwd: dir,
      env,
      width: WIDTH,
      height: HEIGHT,
      command: `PS1='${PROMPT} ' HISTFILE= exec bash --noprofile --norc`
    })
    yield* waitUntil("the shell prompt", bridge.capture(pane, 0), (s) => s.includes(PROMPT))
    return { name, pane }
  })

const runLine = ({ bridge }: Setup, pane: PaneId, line: string) =>
  Effect.zipRight(bridge.paste(pane, line), bridge.sendKeys(pane, [key("Enter")]))

const paneOf = ({ bridge }: Setup, pane: PaneId) =>
  Effect.map(bridge.listPanes, (panes) => panes.find((p) => p.paneId === pane))

const waitForCommand = (s: Setup, pane: PaneId, command: string) =>
  waitUntil(
    `the pane to run ${command}`,
    Effect.map(paneOf(s, pane), (p) => p?.currentCommand ?? "<no pane>"),
    (current) => current === command
  )

const linesOf = (screen: string) => screen.split("\n")

/**
 * Has `cat` in the pane write what is pasted into a file, ends it with C-d, and returns the
 * file's content — the byte-for-byte proof that the text arrived literally.
 */
const pasteThroughCat = (s: Setup, pane: PaneId, text: string, tag: number) =>
  Effect.gen(function*() {
    const file = `${s.dir}/out-${tag}.txt`
    yield* runLine(s, pane, `cat > out-${tag}.txt; echo END-$((${tag}+1000))`)
    // Once cat runs, bash has switched bracketed paste off again, so no markers land in the file.
    yield* waitForCommand(s, pane, "cat")
    yield* s.bridge.paste(pane, text)
    yield* s.bridge.sendKeys(pane, [key("C-d")])
    yield* waitUntil("cat to finish", s.bridge.capture(pane, 0), (screen) =>
      linesOf(screen).includes(`END-${tag + 1000}`), { attempts: 200 })
    return yield* s.fs.readFileString(file)
  })

const elapsedMillis = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = Date.now()
    const result = yield* self
    return [result, Date.now() - start] as const
  })

/** An executable stand-in for tmux; `body` is POSIX sh. */
const fakeTmux = (fs: FileSystem.FileSystem, dir: string, body: string) =>
  Effect.gen(function*() {
    const path = `${dir}/fake-tmux`
    yield* fs.writeFileString(path, `#!/bin/sh\n${body}\n`)
    yield* fs.chmod(path, 0o755)
    return path
  })

describe("tmux version parsing", () => {
  it("accepts 3.2 and newer, development builds, and refuses older or unknown output", () => {
    assert.deepStrictEqual(parseTmuxVersion("tmux 3.3a\n"), { major: 3, minor: 3 })
    assert.deepStrictEqual(parseTmuxVersion("tmux next-3.4"), { major: 3, minor: 4 })
    assert.strictEqual(parseTmuxVersion("tmux master"), "development")
    assert.isTrue(isSupportedTmuxVersion("tmux 3.2"))
    assert.isTrue(isSupportedTmuxVersion("tmux 3.3a"))
    assert.isTrue(isSupportedTmuxVersion("tmux 10.0"))
    assert.isTrue(isSupportedTmuxVersion("tmux next-3.4"))
    assert.isTrue(isSupportedTmuxVersion("tmux master"))
    assert.isFalse(isSupportedTmuxVersion("tmux 3.1c"))
    assert.isFalse(isSupportedTmuxVersion("tmux 2.9a"))
    assert.isFalse(isSupportedTmuxVersion("screen 4.09"))
    assert.isFalse(isSupportedTmuxVersion(""))
  })

  it("parses pane lines split by the unit separator and skips malformed ones", () => {
    const sep = "\u001f"
    const panes = parsePaneList(
      [
        ["%3", "123", "0", "1", "tmx_0badf00d", "bash", "1795493864", "/tmp/with\ttab"].join(sep),
        "garbage line",
        ["%x", "1", "0", "0", "s", "c", "0", "/"].join(sep),
        ["%4", "77", "1", "0", "other", "vim", "", `/odd${sep}path`].join(sep),
        ""
      ].join("\n")
    )
    assert.deepStrictEqual(
      panes,
      [
        {
          paneId: PaneId.make("%3"),
          panePid: 123,
          dead: false,
          inMode: true,
          sessionName: "tmx_0badf00d",
          currentCommand: "bash",
          activityAt: 1795493864000,
          currentPath: "/tmp/with\ttab"
        },
        {
          paneId: PaneId.make("%4"),
          panePid: 77,
          dead: true,
          inMode: false,
          sessionName: "other",
          currentCommand: "vim",
          activityAt: 0,
          currentPath: `/odd${sep}path`
        }
      ] satisfies ReadonlyArray<PaneInfo>
    )
  })
})

describe("tmux failures", () => {
  it("one not-found rule, spawned or over the channel: the target or the whole server is missing", () => {
    const failure = (stderr: string) => commandFailure({ command: "capture-pane", target: "%7", exitCode: 1, stderr })
    for (
      const stderr of [
        "can't find pane: %7",
        "can't find session: =tmx_0badf00d",
        "can't find window: @3",
        "no server running on /tmp/tmux-1000/telemux",
        "error connecting to /tmp/tmux-1000/telemux (No such file or directory)",
        "error connecting to /tmp/tmux-1000/telemux (Connection refused)"
      ]
    ) assert.deepStrictEqual(failure(stderr), new TmuxSessionNotFound({ target: "%7" }), stderr)
    for (
      const stderr of ["error connecting to /tmp/tmux-1000/telemux (Permission denied)", "unknown command: frob", ""]
    ) {
      assert.deepStrictEqual(
        failure(stderr),
        new TmuxCommandFailed({ command: "capture-pane", exitCode: 1, stderr }),
        stderr
      )
    }
  })

  it("may have run: a timeout, or the channel lost after the command was written; nothing else", () => {
    const timeout = Duration.seconds(5)
    assert.isTrue(mayHaveRun(new TmuxTimeout({ command: "paste-buffer", timeout })))
    assert.isTrue(mayHaveRun(new ControlChannelDown({ command: "paste-buffer", reason: "client exited", sent: true })))
    assert.isFalse(
      mayHaveRun(new ControlChannelDown({ command: "paste-buffer", reason: "not connected", sent: false }))
    )
    assert.isFalse(mayHaveRun(new TmuxSessionNotFound({ target: "%1" })))
    assert.isFalse(mayHaveRun(new TmuxCommandFailed({ command: "paste-buffer", exitCode: 1, stderr: "no buffer" })))
  })
})

describe("TmuxBridge on real tmux", () => {
  it.scopedLive("reports the installed version", () =>
    Effect.gen(function*() {
      const { bridge } = yield* setup
      const version = yield* bridge.version
      assert.match(version, /^tmux /)
      assert.isTrue(isSupportedTmuxVersion(version))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("refuses a tmux older than 3.2", () =>
    Effect.gen(function*() {
      const { dir, fs } = yield* setup
      const binary = yield* fakeTmux(fs, dir, "echo 'tmux 3.1c'")
      const bridge = yield* makeTmuxBridge({ socket: "unused", tmuxBinary: binary })
      const error = yield* Effect.flip(bridge.version)
      assert.strictEqual(error._tag, "TmuxVersionUnsupported")
      assert.strictEqual((error as { found?: string }).found, "tmux 3.1c")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("lists no panes when no server runs on the socket", () =>
    Effect.gen(function*() {
      const { bridge } = yield* setup
      assert.deepStrictEqual(yield* bridge.listPanes, [])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("creates a session in the directory with the environment, visible in one listPanes", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const sessionId = "4f1c2a3b-0000-4000-8000-00000000abcd"
      const { name, pane } = yield* startShell(s, { TELEMUX_SESSION_ID: sessionId })
      const other = yield* startShell(s)
      assert.match(pane, /^%\d+$/)

      yield* runLine(s, pane, "echo \"id=$TELEMUX_SESSION_ID\"; echo \"cwd=$(pwd)\"; echo cwd\"-end\"")
      yield* waitUntil("the echoes", s.bridge.capture(pane, 0), (t) => linesOf(t).includes("cwd-end"))
      const screen = linesOf(yield* s.bridge.capture(pane, 0))
      assert.include(screen, `id=${sessionId}`)
      assert.include(screen, `cwd=${s.dir}`)

      const panes = yield* s.bridge.listPanes
      assert.strictEqual(panes.length, 2)
      const info = panes.find((p) => p.paneId === pane)
      assert.isDefined(info)
      assert.strictEqual(info!.sessionName, name)
      assert.isAbove(info!.panePid, 1)
      assert.isTrue(isAlive(info!.panePid))
      assert.isFalse(info!.dead)
      // the echoes just written are the window's last activity (tmux keeps it to the second)
      assert.isAtLeast(info!.activityAt, Date.now() - 10_000)
      assert.isAtMost(info!.activityAt, Date.now())
      assert.isFalse(info!.inMode)
      assert.strictEqual(info!.currentCommand, "bash")
      assert.strictEqual(info!.currentPath, s.dir)
      assert.isDefined(panes.find((p) => p.paneId === other.pane && p.sessionName === other.name))

      const duplicate = yield* Effect.flip(
        s.bridge.createSession({ name, cwd: s.dir, env: {}, command: "bash --noprofile --norc" })
      )
      assert.strictEqual(duplicate._tag, "TmuxCommandFailed")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("pastes multi-line text with quotes, $, backslashes, ; and a leading - literally", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const { pane } = yield* startShell(s)
      const tricky = [
        "-n -e --not-an-option",
        "  indented 'single' \"double\" `backtick` $HOME ${PATH} $(whoami) !!",
        "back\\slash \\n \\t \\\\ end\\",
        "semi; colon \\; ; tab\there",
        "ünïcødé ✓ — 日本語",
        ""
      ].join("\n")
      assert.strictEqual(yield* pasteThroughCat(s, pane, tricky, 1), tricky)

      const leadingDash = "-\n--\n-t %0 -b x\n"
      assert.strictEqual(yield* pasteThroughCat(s, pane, leadingDash, 2), leadingDash)

      // Nothing is left behind in tmux's buffer list.
      assert.strictEqual(yield* tmuxCommand(s.socket, "list-buffers"), "")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("pastes 50 KB in one go", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const { pane } = yield* startShell(s)
      const line = (i: number) => `${String(i).padStart(4, "0")} ${"abc'$\"\\;xyz-".repeat(8)}`.slice(0, 99)
      const big = Array.from({ length: 512 }, (_, i) => line(i) + "\n").join("")
      assert.isAtLeast(big.length, 50 * 1024)
      const written = yield* pasteThroughCat(s, pane, big, 3)
      assert.strictEqual(written.length, big.length)
      assert.isTrue(written === big, "the 50 KB file differs from the pasted text")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("type: takes a pane out of copy-mode, pastes, and presses Enter with the paste at a shell: the command runs once", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const { pane } = yield* startShell(s)
      yield* tmuxCommand(s.socket, "copy-mode", "-t", pane)
      assert.isTrue((yield* paneOf(s, pane))?.inMode)
      yield* s.bridge.type(pane, "echo typed-$((2+3)) >> typed.log", true)
      yield* waitUntil(
        "the typed command's file",
        s.fs.readFileString(`${s.dir}/typed.log`).pipe(Effect.orElseSucceed(() => "")),
        (t) => t === "typed-5\n"
      )
      assert.isFalse((yield* paneOf(s, pane))?.inMode)
      // in no mode: nothing to leave, no error; without Enter the text waits on the line
      yield* s.bridge.type(pane, "echo pending-$((1+1))", false)
      yield* waitUntil("the pending line", s.bridge.capture(pane, 0), (t) => t.endsWith("echo pending-$((1+1))"))
      yield* s.bridge.type(pane, "", true)
      yield* waitUntil(
        "the pending command's output",
        s.bridge.capture(pane, 0),
        (t) => linesOf(t).includes("pending-2")
      )
      assert.strictEqual(yield* s.fs.readFileString(`${s.dir}/typed.log`), "typed-5\n", "run exactly once")
      assert.strictEqual(yield* tmuxCommand(s.socket, "list-buffers"), "", "no buffer left behind")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("type: an application that is not a shell gets its Enter only after the paste showed", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const { pane } = yield* startShell(s)
      // cat in the foreground (cooked mode): the tty echoes the paste, cat repeats the line on Enter
      yield* runLine(s, pane, "cat")
      yield* waitForCommand(s, pane, "cat")
      yield* s.bridge.type(pane, "through-cat", true)
      yield* waitUntil(
        "cat's copy of the line",
        s.bridge.capture(pane, 0),
        (t) => linesOf(t).filter((l) => l === "through-cat").length === 2
      )
      yield* s.bridge.sendKeys(pane, [key("C-d")])
      yield* waitForCommand(s, pane, "bash")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("sends keys: C-c interrupts, Up recalls history, BSpace repeats", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const { pane } = yield* startShell(s)

      yield* runLine(s, pane, "sleep 100")
      yield* waitForCommand(s, pane, "sleep")
      yield* s.bridge.sendKeys(pane, [key("C-c")])
      yield* waitForCommand(s, pane, "bash")

      const count = (screen: string, line: string) => linesOf(screen).filter((l) => l === line).length
      yield* runLine(s, pane, "echo recall-$((40+2))")
      yield* waitUntil("the first echo", s.bridge.capture(pane, 0), (t) => count(t, "recall-42") === 1)
      yield* s.bridge.sendKeys(pane, [key("Up"), key("Enter")])
      yield* waitUntil("the recalled echo", s.bridge.capture(pane, 0), (t) => count(t, "recall-42") === 2)

      yield* s.bridge.paste(pane, "echo word-abcdef")
      yield* s.bridge.sendKeys(pane, [key("BSpace", 3), key("Enter")])
      const screen = yield* waitUntil("the shortened echo", s.bridge.capture(pane, 0), (t) =>
        linesOf(t).includes("word-abc"))
      assert.notInclude(linesOf(screen), "word-abcdef")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("captures the visible screen, or it plus history, with trailing blank lines trimmed", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const { pane } = yield* startShell(s)

      const fresh = yield* s.bridge.capture(pane, 0)
      assert.strictEqual(fresh, PROMPT, "a fresh screen is one prompt line, without the blank rows below it")

      yield* runLine(s, pane, "seq 1 300; echo SEQ-$((1+1))")
      yield* waitUntil("seq to finish", s.bridge.capture(pane, 0), (t) => linesOf(t).includes("SEQ-2"))

      const visible = linesOf(yield* s.bridge.capture(pane, 0))
      assert.isAtMost(visible.length, HEIGHT)
      assert.notInclude(visible, "1")
      assert.include(visible, "300")

      const withHistory = linesOf(yield* s.bridge.capture(pane, 100))
      assert.isAbove(withHistory.length, HEIGHT)
      assert.isAtMost(withHistory.length, HEIGHT + 100)
      assert.notInclude(withHistory, "1")

      const everything = linesOf(yield* s.bridge.capture(pane, CAPTURE_HISTORY_MAX * 10))
      assert.include(everything, "1")
      assert.include(everything, "300")
      assert.deepStrictEqual(linesOf(yield* s.bridge.capture(pane, -5)), visible)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("resizes the pane", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const { pane } = yield* startShell(s)
      const size = tmuxCommand(s.socket, "display-message", "-p", "-t", pane, "#{pane_width}x#{pane_height}")
      assert.strictEqual((yield* size).trim(), `${WIDTH}x${HEIGHT}`)
      yield* s.bridge.resize(pane, 100, 40)
      assert.strictEqual((yield* size).trim(), "100x40")
      yield* runLine(s, pane, "echo size=$(stty size)")
      yield* waitUntil("stty to see the new size", s.bridge.capture(pane, 0), (t) => linesOf(t).includes("size=40 100"))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("kills a session by exact name; afterwards its pane is not found", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const doomed = yield* startShell(s)
      const survivor = yield* startShell(s)

      const missing = yield* Effect.flip(s.bridge.killSession(randomName()))
      assert.strictEqual(missing._tag, "TmuxSessionNotFound")

      yield* s.bridge.killSession(doomed.name)
      const capture = yield* Effect.flip(s.bridge.capture(doomed.pane, 0))
      assert.strictEqual(capture._tag, "TmuxSessionNotFound")
      const again = yield* Effect.flip(s.bridge.killSession(doomed.name))
      assert.strictEqual(again._tag, "TmuxSessionNotFound")
      for (
        const error of [
          yield* Effect.flip(s.bridge.paste(doomed.pane, "x")),
          yield* Effect.flip(s.bridge.sendKeys(doomed.pane, [key("Enter")])),
          yield* Effect.flip(s.bridge.type(doomed.pane, "x", true)),
          yield* Effect.flip(s.bridge.resize(doomed.pane, 80, 24))
        ]
      ) {
        assert.strictEqual(error._tag, "TmuxSessionNotFound")
      }
      // The failed paste deleted the buffer it had loaded.
      assert.strictEqual(yield* tmuxCommand(s.socket, "list-buffers"), "")

      const panes = yield* s.bridge.listPanes
      assert.deepStrictEqual(panes.map((p) => p.paneId), [survivor.pane])

      yield* s.bridge.killSession(survivor.name)
      // The server exits with its last session; the pane is still reported as not found.
      assert.strictEqual((yield* Effect.flip(s.bridge.capture(survivor.pane, 0)))._tag, "TmuxSessionNotFound")
      assert.deepStrictEqual(yield* s.bridge.listPanes, [])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a tmux that hangs gives TmuxTimeout (never not-found or empty), killed and reaped", () =>
    Effect.gen(function*() {
      const { dir, fs } = yield* setup
      const pidFile = `${dir}/pid`
      const binary = yield* fakeTmux(fs, dir, `trap '' TERM\necho $$ >> '${pidFile}'\nexec sleep 60`)
      const bridge = yield* makeTmuxBridge({
        socket: "unused",
        tmuxBinary: binary,
        timeout: Duration.millis(500),
        killGrace: Duration.millis(200)
      })

      const [listError, ms] = yield* elapsedMillis(Effect.flip(bridge.listPanes))
      assert.strictEqual(listError._tag, "TmuxTimeout")
      assert.isBelow(ms, 2000)
      assert.strictEqual((yield* Effect.flip(bridge.capture(PaneId.make("%1"), 10)))._tag, "TmuxTimeout")
      assert.strictEqual((yield* Effect.flip(bridge.killSession(randomName())))._tag, "TmuxTimeout")

      const pids = (yield* fs.readFileString(pidFile)).trim().split("\n").map(Number)
      assert.strictEqual(pids.length, 3)
      for (const pid of pids) assert.isFalse(isAlive(pid), `fake tmux ${pid} outlived its timeout`)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a tmux that cannot be started is TmuxCommandFailed", () =>
    Effect.gen(function*() {
      const bridge = yield* makeTmuxBridge({ socket: "unused", tmuxBinary: "/nonexistent/tmux" })
      const error = yield* Effect.flip(bridge.listPanes)
      assert.strictEqual(error._tag, "TmuxCommandFailed")
    }).pipe(Effect.provide(NodeContext.layer)))
})
