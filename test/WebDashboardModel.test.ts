/**
 * The web dashboard's pure parts, in Node: the terminal feed's seq rule on a real xterm.js
 * (snapshot drawn at its size, chunks applied once and in order, a gap reported), input split for
 * the stream's 64 KiB bound, and the Sessions view's grouping, filter and ages.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { FRESH_MODES, type TerminalSnapshot } from "../src/domain/TerminalSnapshot.js"
import { alertFor, SeenAlerts } from "../web/app/Alerts.js"
import { age, groupSessions, matches } from "../web/app/Fleet.js"
import { inputFailedNotice, pieces, TerminalFeed } from "../web/app/TerminalFeed.js"
import type { ProjectJson, SessionJson } from "../web/app/Wire.js"
import { makeTerminal, screenOf, write } from "./support/xterm.js"

const snapshotOf = (width: number, height: number, screen: ReadonlyArray<string>): TerminalSnapshot => ({
  width,
  height,
  cursor: { x: screen[screen.length - 1]!.length, y: screen.length - 1 },
  modes: FRESH_MODES,
  scrollRegion: { top: 0, bottom: height - 1 },
  history: [],
  screen: [...screen, ...Array.from({ length: height - screen.length }, () => "")]
})

const bytes = (text: string) => new TextEncoder().encode(text)

/** A feed into a headless xterm.js; `flush` waits until everything written is parsed. */
const feedInto = () => {
  const terminal = makeTerminal(80, 24)
  let last: Promise<void> = Promise.resolve()
  const feed = new TerminalFeed({
    resize: (cols, rows) => terminal.resize(cols, rows),
    write: (data) => {
      last = new Promise((resolve) => terminal.write(data, resolve))
    }
  })
  return { terminal, feed, flush: () => Effect.promise(() => last).pipe(Effect.zipRight(write(terminal, ""))) }
}

describe("TerminalFeed", () => {
  it.effect("draws a snapshot at its size, then applies each chunk once, in order", () =>
    Effect.gen(function*() {
      const { feed, flush, terminal } = feedInto()
      assert.strictEqual(feed.chunk(1, bytes("early")), "skipped", "nothing applies before the first snapshot")
      feed.snapshot(10, snapshotOf(40, 5, ["$ echo a", "a", "$ "]))
      assert.strictEqual(feed.lastSeq, 10)
      assert.strictEqual(feed.chunk(10, bytes("old")), "skipped")
      assert.strictEqual(feed.chunk(11, bytes("echo b\r\n")), "applied")
      assert.strictEqual(feed.chunk(11, bytes("echo b\r\n")), "skipped", "a repeated chunk is not drawn twice")
      assert.strictEqual(feed.chunk(12, bytes("b\r\n$ ")), "applied")
      yield* flush()
      assert.strictEqual(terminal.cols, 40)
      assert.strictEqual(terminal.rows, 5)
      assert.deepStrictEqual(screenOf(terminal).text, ["$ echo a", "a", "$ echo b", "b", "$"])
      assert.strictEqual(feed.lastSeq, 12)
    }))

  it.effect("a chunk past the next seq is a gap: not drawn, and the last seq stays for `since`", () =>
    Effect.gen(function*() {
      const { feed, flush, terminal } = feedInto()
      feed.snapshot(3, snapshotOf(20, 3, ["$ "]))
      assert.strictEqual(feed.chunk(5, bytes("lost")), "gap")
      assert.strictEqual(feed.lastSeq, 3)
      assert.strictEqual(feed.chunk(4, bytes("x")), "applied")
      assert.strictEqual(feed.chunk(5, bytes("y")), "applied")
      yield* flush()
      assert.deepStrictEqual(screenOf(terminal).text, ["$ xy", "", ""])
      // a later snapshot replaces the screen and the seq
      feed.snapshot(9, snapshotOf(20, 3, ["fresh"]))
      assert.strictEqual(feed.chunk(6, bytes("z")), "skipped")
      yield* flush()
      assert.deepStrictEqual(screenOf(terminal).text, ["fresh", "", ""])
    }))
})

describe("pieces", () => {
  it("splits at the size, never inside a surrogate pair, and loses nothing", () => {
    assert.deepStrictEqual(pieces("", 4), [])
    assert.deepStrictEqual(pieces("abcdefghij", 4), ["abcd", "efgh", "ij"])
    const emoji = "ab😀cd😀"
    const split = pieces(emoji, 3)
    assert.strictEqual(split.join(""), emoji)
    for (const piece of split) assert.isFalse(/[\ud800-\udbff]$/.test(piece), JSON.stringify(split))
    assert.deepStrictEqual(pieces("😀😀", 1), ["😀", "😀"])
    const long = "é".repeat(40_000)
    assert.isTrue(pieces(long, 16_000).every((piece) => new TextEncoder().encode(piece).length <= 64 * 1024))
  })
})

describe("a keystroke failure's notice", () => {
  it("says to type again only when nothing arrived; with no answer, to look first", () => {
    const failure = (error: string, message: string) =>
      ({ type: "inputFailed", sessionId: "s1", error, message }) as const
    const notDone = inputFailedNotice(failure("TerminalUnavailable", "tmux is gone"))
    assert.strictEqual(notDone, "What you typed did not arrive (tmux is gone): type it again.")
    const unknown = inputFailedNotice(failure("OutcomeUnknown", "computer far did not answer within 10 seconds"))
    assert.include(unknown, "may have arrived: look at the screen before typing it again")
    assert.include(unknown, "computer far did not answer within 10 seconds")
    assert.notInclude(unknown, "type it again.")
  })
})

const session = (fields: Partial<SessionJson> & Pick<SessionJson, "sessionId">): SessionJson => ({
  computer: "here",
  tmuxName: "tmx_00000000",
  paneId: "%1",
  title: "",
  workingDirectory: "/work/alpha",
  status: "idle",
  createdAt: "2026-01-01T00:00:00.000Z",
  lastActivityAt: null,
  lastOutputAt: null,
  lastInput: null,
  lastOutput: null,
  agent: null,
  agentMode: null,
  nativeSessionId: null,
  nativeLogFile: null,
  initiatorSessionId: null,
  initiatorComputer: null,
  closedAt: null,
  closeReason: null,
  ...fields
})

describe("the Sessions view's model", () => {
  const projects: ReadonlyArray<ProjectJson> = [
    { name: "alpha", path: "/work/alpha", description: "", todos: [] },
    { name: "alpha-web", path: "/work/alpha/web", description: "", todos: [] }
  ]

  it("groups computer → project (the deepest holding the directory; this computer first)", () => {
    const groups = groupSessions(
      [
        session({ sessionId: "a", workingDirectory: "/work/alpha/web/src" }),
        session({ sessionId: "b", workingDirectory: "/work/alpha", lastOutputAt: "2026-01-01T00:00:05.000Z" }),
        session({ sessionId: "c", workingDirectory: "/work/alpha" }),
        session({ sessionId: "d", computer: "another", workingDirectory: "/work/alpha" }),
        session({ sessionId: "e", workingDirectory: "/elsewhere" })
      ],
      projects,
      "here"
    )
    assert.deepStrictEqual(
      groups.map((g) => [g.computer, g.count, g.projects.map((p) => [p.label, p.sessions.map((s) => s.sessionId)])]),
      [
        ["here", 4, [["/elsewhere", ["e"]], ["alpha", ["b", "c"]], ["alpha-web", ["a"]]]],
        // another computer's projects are not known here: its sessions go by directory
        ["another", 1, [["/work/alpha", ["d"]]]]
      ]
    )
  })

  it("filters by status (open ones by default) and by text in any field, any case", () => {
    const running = session({ sessionId: "r", status: "running", title: "Build", lastOutput: "make: done" })
    const closed = session({ sessionId: "x", status: "closed" })
    assert.isTrue(matches(running, "open", ""))
    assert.isFalse(matches(closed, "open", ""))
    assert.isTrue(matches(closed, "closed", ""))
    assert.isFalse(matches(running, "idle", ""))
    assert.isTrue(matches(running, "open", "MAKE"))
    assert.isTrue(matches(running, "open", "build"))
    assert.isTrue(matches(running, "open", "shell"))
    assert.isFalse(matches(running, "open", "claude"))
  })

  it("ages read in the largest whole unit", () => {
    const now = Date.parse("2026-01-02T00:00:00.000Z")
    assert.strictEqual(age("2026-01-01T23:59:48.000Z", now), "12 s")
    assert.strictEqual(age("2026-01-01T23:55:00.000Z", now), "5 min")
    assert.strictEqual(age("2026-01-01T21:00:00.000Z", now), "3 h")
    assert.strictEqual(age("2025-12-31T00:00:00.000Z", now), "2 d")
    assert.strictEqual(age(null, now), "never")
  })
})

describe("alerts", () => {
  const agent = session({ sessionId: "s", title: "fix", agent: "claude", status: "running", lastOutputAt: "t1" })

  it("a session starting to wait for input, and an agent finishing its turn, are news; nothing else is", () => {
    const waiting = { ...agent, status: "waiting_input" as const, lastOutput: "which branch?", lastOutputAt: "t2" }
    assert.deepStrictEqual(alertFor(agent, waiting), {
      key: "s:waiting_input:t2",
      sessionId: "s",
      title: "fix is waiting for input",
      body: "which branch?"
    })
    assert.isUndefined(alertFor(waiting, { ...waiting, lastOutputAt: "t3" }), "still waiting: no news")
    assert.strictEqual(alertFor(agent, { ...agent, status: "idle" })?.title, "fix: claude finished its turn")
    assert.isUndefined(alertFor({ ...agent, agent: null }, { ...agent, agent: null, status: "idle" }), "a shell's idle")
    assert.isUndefined(alertFor(undefined, { ...agent, status: "idle" }), "first seen idle")
    assert.strictEqual(alertFor(undefined, waiting)?.key, "s:waiting_input:t2", "first seen waiting")
  })

  it("the same alert is raised once; the keys kept are bounded, oldest forgotten first", () => {
    const seen = new SeenAlerts(3)
    assert.isTrue(seen.first("a"))
    assert.isFalse(seen.first("a"))
    for (const key of ["b", "c", "d"]) assert.isTrue(seen.first(key))
    assert.strictEqual(seen.size, 3)
    assert.isTrue(seen.first("a"), "a was forgotten when d came")
    assert.isFalse(seen.first("d"))
  })
})
