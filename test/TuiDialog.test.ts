/**
 * The terminal UI's new-session dialog, status styles, ticking ages and History view, on
 * ink-testing-library (test/support/tuiHarness.ts).
 */
import { DateTime } from "effect"
import { cleanup } from "ink-testing-library"
import { afterEach, assert, describe, it } from "vitest"
import { ComputerName, type SessionStatus } from "../src/domain/Session.js"
import { HISTORY_MAX } from "../src/tui/Model.js"
import { STATUS_STYLE } from "../src/tui/Status.js"
import { KEY, projects, session, setup } from "./support/tuiHarness.js"

afterEach(() => cleanup())

const T0 = 1_700_000_000_000

describe("TUI: new-session dialog", () => {
  it("completes the directory from the projects, chooses computer, agent and mode, and sends them all", async () => {
    const t = setup()
    t.store.dispatch({ _tag: "ProjectsLoaded", projects })
    t.server({ type: "sessions", sessions: [] })
    await t.press("n")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "LoadComputers" })
    t.store.dispatch({
      _tag: "ComputersLoaded",
      computers: [{ name: "alpha", online: true }, { name: "beta", online: false }]
    })
    let frame = await t.frame()
    for (const text of ["New session", "Directory", "Computer", "Start", "Mode", "Prompt", "Title"]) {
      assert.include(frame, text)
    }
    // Tab cycles the projects matching what was typed; typing starts over
    await t.press("\x15", "/", "w", KEY.tab)
    assert.match(await t.frame(), /Directory\s+\/work\/app▏/)
    assert.include(await t.frame(), "Tab: /work/app  /work/lib")
    await t.press(KEY.tab)
    assert.match(await t.frame(), /Directory\s+\/work\/lib▏/)
    await t.press(KEY.tab)
    assert.match(await t.frame(), /Directory\s+\/work\/app▏/)
    await t.press("\x15", ..."li", KEY.tab)
    assert.match(await t.frame(), /Directory\s+\/work\/lib▏/)

    // the computer: → moves to beta, which says it is offline
    await t.press(KEY.down, KEY.right)
    frame = await t.frame()
    assert.include(frame, "‹beta›")
    assert.include(frame, "(offline)")
    // shell → claude; mode and prompt apply now
    await t.press(KEY.down, KEY.right)
    assert.include(await t.frame(), "‹claude›")
    await t.press(KEY.down, KEY.right, KEY.right)
    assert.include(await t.frame(), "‹deep›")
    await t.press(KEY.down, ..."fix the tests", KEY.down, ..."fixer", KEY.enter)
    assert.deepStrictEqual(t.commands.at(-1), {
      _tag: "Create",
      dir: "/work/lib",
      title: "fixer",
      computer: "beta",
      agent: "claude",
      mode: "deep",
      prompt: "fix the tests"
    })
    assert.include(await t.frame(), "starting…")
  })

  it("keeps the dialog open with what was typed and the daemon's refusal, and closes it once created", async () => {
    const t = setup()
    t.store.dispatch({ _tag: "ProjectsLoaded", projects })
    t.server({ type: "sessions", sessions: [] })
    await t.press("n", "\x15", ..."/nope", KEY.down, KEY.down, KEY.right, KEY.enter)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "Create", dir: "/nope", agent: "claude", mode: "med" })
    // Enter while the request is in flight does not send it twice
    const sent = t.commands.length
    await t.press(KEY.enter)
    assert.strictEqual(t.commands.length, sent)
    t.store.dispatch({ _tag: "RequestStarted" })
    t.store.dispatch({ _tag: "CreateFailed", text: "agent claude is not installed: claude not found on PATH" })
    let frame = await t.frame()
    assert.include(frame, "✕ agent claude is not installed: claude not found on PATH")
    assert.include(frame, "/nope")
    assert.include(frame, "‹claude›")
    assert.strictEqual(t.store.getState().pending, 0)
    // fix it and send again: the error goes, the session appears selected and the dialog closes
    await t.press(KEY.up, KEY.up, "\x15", ..."/work/app", KEY.enter)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "Create", dir: "/work/app", agent: "claude", mode: "med" })
    assert.notInclude(await t.frame(), "not installed")
    const created = session(5, { title: "made", status: "creating" })
    t.store.dispatch({ _tag: "Created", session: created })
    frame = await t.frame()
    assert.strictEqual(t.store.getState().mode._tag, "browse")
    assert.strictEqual(t.store.getState().cursor, created.sessionId)
    assert.include(frame, "made")
  })

  it("refuses an empty directory in the dialog without asking the daemon", async () => {
    const t = setup()
    t.server({ type: "sessions", sessions: [] })
    await t.press("n", "\x15", KEY.enter)
    assert.include(await t.frame(), "type a directory")
    assert.isFalse(t.commands.some((c) => c._tag === "Create"))
  })
})

describe("TUI: statuses and ages", () => {
  it("gives each status its own symbol and word (readable without colour) and colour", async () => {
    const statuses: ReadonlyArray<SessionStatus> = ["creating", "running", "idle", "waiting_input", "closed"]
    assert.strictEqual(new Set(statuses.map((s) => STATUS_STYLE[s].symbol)).size, statuses.length)
    assert.strictEqual(new Set(statuses.map((s) => STATUS_STYLE[s].color)).size, statuses.length)
    assert.strictEqual(new Set(statuses.map((s) => STATUS_STYLE[s].label)).size, statuses.length)
    const t = setup()
    t.server({
      type: "sessions",
      sessions: statuses.slice(0, 4).map((status, i) => session(i + 1, { status, title: `t-${status}` }))
    })
    // the test terminal has no colour: symbol and word carry it
    const frame = await t.frame()
    for (const status of statuses.slice(0, 4)) {
      const { label, symbol } = STATUS_STYLE[status]
      assert.match(frame, new RegExp(`\\${symbol} ${label}\\s+\\d+s t-${status}`), status)
    }
  })

  it("counts ages from the clock, so that they tick without any other change", async () => {
    const t = setup({ now: T0 + 1000 })
    const a = session(1, { createdAt: DateTime.unsafeMake(T0), lastOutputAt: DateTime.unsafeMake(T0) })
    t.server({ type: "sessions", sessions: [a] })
    assert.match(await t.frame(), /idle\s+1s s1/)
    t.store.dispatch({ _tag: "Clock", now: T0 + 7000 })
    let frame = await t.frame()
    assert.match(frame, /idle\s+7s s1/)
    assert.include(frame, "idle · up 7s · output 7s ago")
    t.store.dispatch({ _tag: "Clock", now: T0 + 125_000 })
    frame = await t.frame()
    assert.match(frame, /idle\s+2m s1/)
  })
})

describe("TUI: History view", () => {
  it("loads the closed sessions on 3, newest first, adds one that closes, and keeps at most HISTORY_MAX", async () => {
    const t = setup({ now: T0 + 600_000 })
    t.server({ type: "sessions", sessions: [session(1, { title: "open-one" })] })
    await t.press("3")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "LoadHistory" })
    assert.include(await t.frame(), "loading closed sessions")
    const closed = (n: number, closedAt: number, overrides: Parameters<typeof session>[1] = {}) =>
      session(n, {
        status: "closed",
        closedAt: DateTime.unsafeMake(closedAt),
        closeReason: "user",
        title: `old-${n}`,
        ...overrides
      })
    t.store.dispatch({
      _tag: "HistoryLoaded",
      sessions: [closed(2, T0 + 60_000), closed(3, T0 + 300_000, { closeReason: "tmux_gone", lastInput: "make" })]
    })
    let frame = await t.frame()
    assert.isBelow(frame.indexOf("old-3"), frame.indexOf("old-2"))
    assert.match(frame, /✕\s+5m old-3 00000000 tmux_gone/)
    assert.include(frame, "› make")
    assert.notInclude(frame, "open-one")
    await t.press(KEY.down)
    assert.include(await t.frame(), "closed 9m ago (user)")

    // a session closing while the UI runs goes to the top
    t.server({ type: "session", event: "upserted", session: closed(1, T0 + 590_000, { title: "open-one" }) })
    frame = await t.frame()
    assert.isBelow(frame.indexOf("open-one"), frame.indexOf("old-3"))

    const many = Array.from({ length: HISTORY_MAX + 30 }, (_, i) => closed(100 + i, T0 + i))
    t.store.dispatch({ _tag: "HistoryLoaded", sessions: many })
    assert.strictEqual(t.store.getState().history.length, HISTORY_MAX)
    assert.strictEqual(t.store.getState().history[0]!.sessionId, many.at(-1)!.sessionId)
    t.server({
      type: "session",
      event: "upserted",
      session: closed(1, T0 + 999_999, { computer: ComputerName.make("alpha") })
    })
    assert.strictEqual(t.store.getState().history.length, HISTORY_MAX)
    await t.press("r")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "LoadHistory" })
  })
})
