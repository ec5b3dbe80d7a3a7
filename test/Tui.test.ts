/** The terminal UI's views and keys on ink-testing-library (test/support/tuiHarness.ts). */
import { DateTime } from "effect"
import { cleanup } from "ink-testing-library"
import { afterEach, assert, describe, it } from "vitest"
import { ComputerName, PromptDelivery, type Session } from "../src/domain/Session.js"
import { initialState, NODE_UI_MAX, noKey, SESSION_UI_MAX, type TuiState } from "../src/tui/Model.js"
import { computerKey } from "../src/tui/Tree.js"
import { update } from "../src/tui/Update.js"
import { KEY, projects, screenOf, session, setup } from "./support/tuiHarness.js"

afterEach(() => cleanup())

describe("TUI: Sessions view", () => {
  it("renders the tree computer → project → session with status and last input, and previews the selected session", async () => {
    const t = setup()
    const a = session(1, { lastInput: "make test", status: "running" })
    const b = session(2, { workingDirectory: "/work/lib/src", title: "lib-work" })
    const c = session(3, { computer: ComputerName.make("beta"), workingDirectory: "/srv/other", title: "remote" })
    t.store.dispatch({ _tag: "ProjectsLoaded", projects })
    t.server({ type: "sessions", sessions: [a, b, c] })
    const frame = await t.frame()
    for (
      const text of [
        "alpha (2)",
        "beta (1)",
        "app (1)",
        "lib (1)",
        "/srv/other (1)",
        "s1",
        "lib-work",
        "remote",
        "running",
        "make test"
      ]
    ) {
      assert.include(frame, text)
    }
    // local computer first, then the others
    assert.isBelow(frame.indexOf("alpha (2)"), frame.indexOf("beta (1)"))
    // the first session is selected at once and its output is followed
    assert.deepStrictEqual(t.commands, [{ _tag: "WatchOutput", sessionId: a.sessionId }])
    t.server(screenOf(a.sessionId, 1, "$ make test\nall 12 tests passed\n$ \n\n\n"))
    const withScreen = await t.frame()
    assert.include(withScreen, "all 12 tests passed")
    // another session's output is not shown
    t.server(screenOf(b.sessionId, 1, "SHOULD-NOT-SHOW"))
    assert.notInclude(await t.frame(), "SHOULD-NOT-SHOW")
  })

  it("moves with the arrows, folds nodes, follows the selected session's output, and filters", async () => {
    const t = setup()
    const a = session(1)
    const b = session(2, { title: "second" })
    t.store.dispatch({ _tag: "ProjectsLoaded", projects })
    t.server({ type: "sessions", sessions: [a, b] })
    await t.press(KEY.down)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "WatchOutput", sessionId: b.sessionId })
    t.server(screenOf(b.sessionId, 7, "second screen"))
    assert.include(await t.frame(), "second screen")

    // up twice: the project node (no session selected, nothing followed), then fold it
    await t.press(KEY.up, KEY.up)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "WatchOutput", sessionId: undefined })
    await t.press(KEY.left)
    let frame = await t.frame()
    assert.include(frame, "▸ app (2)")
    assert.notInclude(frame, "second")
    await t.press(KEY.enter)
    frame = await t.frame()
    assert.include(frame, "▾ app (2)")
    assert.include(frame, "second")

    // the filter hides what does not match, Esc clears it
    await t.press("/", "s", "e", "c")
    frame = await t.frame()
    assert.include(frame, "filter: sec")
    assert.include(frame, "second")
    assert.notInclude(frame, " s1 ")
    await t.press(KEY.enter)
    assert.strictEqual(t.store.getState().filter, "sec")
    await t.press(KEY.escape)
    assert.strictEqual(t.store.getState().filter, "")
    assert.include(await t.frame(), "s1")
  })

  it("shows a session appearing and disappearing through stream events, and prunes its UI state", async () => {
    const t = setup()
    const a = session(1)
    t.server({ type: "sessions", sessions: [a] })
    assert.notInclude(await t.frame(), "newcomer")
    const b = session(2, { title: "newcomer", status: "running" })
    t.server({ type: "session", event: "upserted", session: b })
    assert.include(await t.frame(), "newcomer")
    // a status change is remembered (previous state) while the session exists
    t.server({ type: "session", event: "upserted", session: session(2, { title: "newcomer", status: "idle" }) })
    assert.deepStrictEqual(t.store.getState().sessionUi.get(b.sessionId)?.previousStatus, "running")
    await t.press(KEY.down)
    assert.include(await t.frame(), "idle (was running)")

    t.server({ type: "session", event: "removed", sessionId: b.sessionId, computer: b.computer })
    const frame = await t.frame()
    assert.notInclude(frame, "newcomer")
    assert.isFalse(t.store.getState().sessionUi.has(b.sessionId))
    // the cursor lands on what is left, and the preview follows it
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "WatchOutput", sessionId: a.sessionId })

    // a closed session leaves the list too
    t.server({ type: "session", event: "upserted", session: session(1, { status: "closed" }) })
    assert.include(await t.frame(), "no sessions — press n to start one")
    assert.strictEqual(t.store.getState().sessions.size, 0)
  })

  it("a prompt not delivered is said where the user looks: the footer once, a mark in the tree, the reason in the preview", async () => {
    const t = setup()
    const at = DateTime.unsafeMake(1_700_000_000_000)
    const pending = session(1, {
      title: "agent-work",
      promptDelivery: new PromptDelivery({ state: "pending", detail: "", at })
    })
    t.store.dispatch({ _tag: "ProjectsLoaded", projects })
    t.server({ type: "sessions", sessions: [pending] })
    assert.include(await t.frame(), "prompt: waiting for the agent to be ready")
    const failed = session(1, {
      title: "agent-work",
      promptDelivery: new PromptDelivery({
        state: "failed",
        detail: "the pane is still at its shell; send it with telemux send",
        at
      })
    })
    t.server({ type: "session", event: "upserted", session: failed })
    const frame = await t.frame()
    assert.include(frame, "agent-work: prompt not delivered: the pane is still at its shell")
    assert.include(frame, "! prompt not delivered")
    // the tree's row: the status symbol, then the mark
    assert.match(frame, /^ {4}\S! idle +\S+ agent-work/m)
    // said once: the same failure again raises no new notice
    t.store.dispatch({ _tag: "Notice", notice: { kind: "info", text: "something else" } })
    t.server({ type: "session", event: "upserted", session: failed })
    assert.notInclude(await t.frame(), "agent-work: prompt not delivered")
  })
})

describe("TUI: actions", () => {
  it("turns keys into commands: create, send text, send a key, close with confirmation, attach, quit", async () => {
    const t = setup()
    const a = session(1)
    t.store.dispatch({ _tag: "ProjectsLoaded", projects })
    t.server({ type: "sessions", sessions: [a] })
    t.commands.length = 0

    // n opens the dialog on the selected session's project directory; Ctrl+U clears it
    await t.press("n")
    assert.match(await t.frame(), /Directory\s+\/work\/app▏/)
    await t.press("\x15", ..."/tmp/x", KEY.enter)
    assert.deepStrictEqual(t.commands, [{ _tag: "LoadComputers" }, { _tag: "Create", dir: "/tmp/x" }])
    // the dialog waits for the daemon's answer; Esc leaves it
    assert.strictEqual(t.store.getState().mode._tag, "create")
    await t.press(KEY.escape)
    assert.strictEqual(t.store.getState().mode._tag, "browse")

    // s: a field for the text; Esc keeps the draft for the session; Enter sends
    await t.press("s", ..."echo hu", KEY.backspace, "i")
    assert.include(await t.frame(), "send to s1: echo hi")
    await t.press(KEY.escape)
    assert.strictEqual(t.store.getState().sessionUi.get(a.sessionId)?.draft, "echo hi")
    await t.press("s")
    assert.include(await t.frame(), "send to s1: echo hi")
    await t.press(KEY.enter)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "SendText", sessionId: a.sessionId, text: "echo hi" })
    assert.strictEqual(t.store.getState().sessionUi.get(a.sessionId)?.draft, "")

    // x then a key: Ctrl+C, Enter, Up
    await t.press("x", KEY.ctrlC)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "SendKeys", sessionId: a.sessionId, keys: ["C-c"] })
    await t.press("x", KEY.enter)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "SendKeys", sessionId: a.sessionId, keys: ["Enter"] })
    await t.press("x", KEY.up)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "SendKeys", sessionId: a.sessionId, keys: ["Up"] })

    // d asks first: n keeps the session, y closes it
    const before = t.commands.length
    await t.press("d")
    assert.include(await t.frame(), "close s1 (00000000)? y/n")
    await t.press("n")
    assert.strictEqual(t.commands.length, before)
    assert.include(await t.frame(), "not closed")
    await t.press("d", "y")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "Close", sessionId: a.sessionId })

    await t.press("a")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "Attach", sessionId: a.sessionId })
    await t.press("q")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "Quit" })
  })

  it("selects a session it created once the daemon answers, and shows request progress and errors", async () => {
    const t = setup()
    t.server({ type: "sessions", sessions: [session(1)] })
    t.store.dispatch({ _tag: "RequestStarted" })
    t.store.dispatch({ _tag: "Tick" })
    assert.match(await t.frame(), /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/)
    const created = session(9, { title: "fresh" })
    t.store.dispatch({ _tag: "Created", session: created })
    t.store.dispatch({ _tag: "RequestSucceeded", text: "started" })
    assert.strictEqual(t.store.getState().cursor, created.sessionId)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "WatchOutput", sessionId: created.sessionId })
    t.store.dispatch({ _tag: "RequestFailed", text: "daemon not reachable at 127.0.0.1:1" })
    assert.include(await t.frame(), "daemon not reachable at 127.0.0.1:1")
    assert.strictEqual(t.store.getState().pending, 0)
  })
})

describe("TUI: Projects view", () => {
  it("switches views with Tab and 1/2/3, lists projects with their todos, and starts a session in the selected one", async () => {
    const t = setup()
    t.server({ type: "sessions", sessions: [session(1)] })
    await t.press(KEY.tab)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "LoadProjects" })
    assert.include(await t.frame(), "loading projects")
    t.store.dispatch({ _tag: "ProjectsLoaded", projects })
    const frame = await t.frame()
    for (
      const text of [
        "app  /work/app",
        "the app",
        "[>] login-page  (req) — build it",
        "[ ] dark-mode  (plan)",
        "lib  /work/lib",
        "no todos"
      ]
    ) {
      assert.include(frame, text)
    }
    await t.press(KEY.down, "n")
    assert.match(await t.frame(), /Directory\s+\/work\/lib▏/)
    await t.press(KEY.escape, "1")
    assert.strictEqual(t.store.getState().view, "sessions")
    await t.press("2")
    assert.strictEqual(t.store.getState().view, "projects")
  })
})

describe("TUI: bounded UI state", () => {
  const statusFlip = (state: TuiState, sessions: ReadonlyArray<Session>) =>
    sessions.reduce((s, one) => update(s, { _tag: "SessionUpserted", session: one }).state, state)

  it(`keeps per-session state for at most ${SESSION_UI_MAX} sessions and drops it when sessions go`, () => {
    const count = SESSION_UI_MAX + 50
    const running = Array.from({ length: count }, (_, i) => session(i + 1, { status: "running" }))
    let state =
      update(initialState({ defaultDir: "/", localComputer: "alpha" }), { _tag: "SessionsListed", sessions: running })
        .state
    assert.strictEqual(state.sessionUi.size, 0)
    state = statusFlip(state, Array.from({ length: count }, (_, i) => session(i + 1, { status: "idle" })))
    assert.strictEqual(state.sessions.size, count)
    assert.strictEqual(state.sessionUi.size, SESSION_UI_MAX)
    // the most recently touched are kept
    assert.isTrue(state.sessionUi.has(running.at(-1)!.sessionId))
    assert.isFalse(state.sessionUi.has(running[0]!.sessionId))

    for (const s of running.slice(-10)) state = update(state, { _tag: "SessionRemoved", sessionId: s.sessionId }).state
    assert.strictEqual(state.sessionUi.size, SESSION_UI_MAX - 10)
    // a snapshot without them prunes the rest
    state = update(state, { _tag: "SessionsListed", sessions: running.slice(0, 5) }).state
    assert.isAtMost(state.sessionUi.size, 5)
    for (const id of state.sessionUi.keys()) assert.isTrue(state.sessions.has(id))
  })

  it(`keeps fold state for at most ${NODE_UI_MAX} nodes and prunes nodes that no longer exist`, () => {
    const count = NODE_UI_MAX + 20
    const sessions = Array.from(
      { length: count },
      (_, i) =>
        session(i + 1, { computer: ComputerName.make(`c${String(i).padStart(4, "0")}`), workingDirectory: `/p/${i}` })
    )
    let state =
      update(initialState({ defaultDir: "/", localComputer: "c0000" }), { _tag: "SessionsListed", sessions }).state
    // fold every computer node: cursor on it, ←
    for (const s of sessions) {
      state = { ...state, cursor: computerKey(s.computer) }
      state = update(state, { _tag: "Key", input: "h", key: noKey }).state
    }
    assert.strictEqual(state.nodeUi.size, NODE_UI_MAX)
    state = update(state, { _tag: "SessionsListed", sessions: sessions.slice(-3) }).state
    assert.isAtMost(state.nodeUi.size, 3)
    for (const key of state.nodeUi.keys()) assert.match(key, /^computer:c02/)
  })
})
