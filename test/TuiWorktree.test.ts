/**
 * The terminal UI's worktree parts on ink-testing-library (test/support/tuiHarness.ts): the diff
 * pane (`c`), the new-session dialog's worktree fields, and the fork dialog (`f`).
 */
import { cleanup } from "ink-testing-library"
import { afterEach, assert, describe, it } from "vitest"
import { DiffFile, SessionWorktree, WorktreeDiff } from "../src/domain/Worktree.js"
import { DIFF_LINES_MAX, diffLines } from "../src/tui/DiffPane.js"
import { helpLines } from "../src/tui/HelpView.js"
import { KEY, projects, session, setup } from "./support/tuiHarness.js"

afterEach(() => cleanup())

const worktree = new SessionWorktree({
  repository: "/work/app",
  path: "/state/worktrees/app/fix-login",
  branch: "telemux/fix-login",
  base: "main",
  createdBranch: true
})

const PATCH = [
  "diff --git a/src/login.ts b/src/login.ts",
  "index 1111111..2222222 100644",
  "--- a/src/login.ts",
  "+++ b/src/login.ts",
  "@@ -1,2 +1,2 @@",
  " const keep = 1",
  "-const old = 2",
  "+const fresh = 3",
  ""
].join("\n")

const diff = (overrides: Partial<ConstructorParameters<typeof WorktreeDiff>[0]> = {}) =>
  new WorktreeDiff({
    branch: "telemux/fix-login",
    base: "main",
    mergeBase: "0123456789abcdef0123456789abcdef01234567",
    files: [new DiffFile({ path: "src/login.ts", oldPath: null, change: "modified", additions: 1, deletions: 1 })],
    additions: 1,
    deletions: 1,
    patch: PATCH,
    truncated: false,
    ...overrides
  })

describe("TUI: the diff pane", () => {
  it("c asks for the selected session's diff and shows its stats, then the patch; scrolls; Esc goes back", async () => {
    const t = setup()
    const a = session(1, { worktree, agent: "claude" })
    t.store.dispatch({ _tag: "ProjectsLoaded", projects })
    t.server({ type: "sessions", sessions: [a] })
    await t.press("c")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "LoadDiff", sessionId: a.sessionId })
    assert.include(await t.frame(), "reading the diff…")
    assert.include(await t.frame(), "Changes of s1 — telemux/fix-login against main")
    t.store.dispatch({ _tag: "RequestStarted" })
    t.store.dispatch({ _tag: "DiffLoaded", sessionId: a.sessionId, diff: diff() })
    let frame = await t.frame()
    assert.include(frame, "src/login.ts  +1 -1  modified")
    assert.include(frame, "1 file changed, +1 -1 on telemux/fix-login against main")
    assert.include(frame, "-const old = 2")
    assert.include(frame, "+const fresh = 3")
    assert.isBelow(frame.indexOf("src/login.ts  +1"), frame.indexOf("diff --git"))
    assert.strictEqual(t.store.getState().pending, 0)
    // scrolling moves the first line shown
    await t.press(KEY.down, KEY.down)
    frame = await t.frame()
    assert.notInclude(frame, "src/login.ts  +1 -1")
    assert.include(frame, "3-")
    // r asks again
    await t.press("r")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "LoadDiff", sessionId: a.sessionId })
    await t.press(KEY.escape)
    assert.strictEqual(t.store.getState().mode._tag, "browse")
  })

  it("a truncated diff says so and how to see all of it; a failure is shown in the pane; a late answer for another session is dropped", async () => {
    const t = setup()
    const a = session(1, { worktree })
    t.server({ type: "sessions", sessions: [a] })
    await t.press("c")
    t.store.dispatch({ _tag: "DiffLoaded", sessionId: session(9).sessionId, diff: diff() })
    assert.include(await t.frame(), "reading the diff…")
    t.store.dispatch({ _tag: "DiffLoaded", sessionId: a.sessionId, diff: diff({ truncated: true }) })
    const cut = await t.frame()
    assert.include(cut, "the diff was cut at its bound")
    assert.include(cut, "git -C /state/worktrees/app/fix-login diff 0123456789abcdef0123456789abcdef01234567")
    await t.press("r")
    t.store.dispatch({ _tag: "DiffFailed", sessionId: a.sessionId, text: "git failed: fatal: bad object" })
    assert.include(await t.frame(), "✕ git failed: fatal: bad object · r asks again")
  })

  it("a session without a worktree: said plainly, nothing asked of the daemon", async () => {
    const t = setup()
    t.server({ type: "sessions", sessions: [session(1)] })
    const before = t.commands.length
    await t.press("c")
    const frame = await t.frame()
    assert.include(frame, "runs in no git worktree")
    assert.include(frame, "Worktree: new branch")
    assert.strictEqual(t.commands.length, before)
  })

  it("the pane's lines are typed for colour (header, hunk, add, del) and bounded", () => {
    const kinds = diffLines(diff(), "/w").map((l) => l.kind)
    assert.deepStrictEqual(kinds, [
      "stat",
      "note",
      "note",
      "header",
      "header",
      "header",
      "header",
      "hunk",
      "context",
      "del",
      "add"
    ])
    const huge = diffLines(diff({ patch: "+x\n".repeat(DIFF_LINES_MAX + 50) }), "/w")
    assert.isAtMost(huge.length, DIFF_LINES_MAX + 4)
    assert.include(huge.at(-1)!.text, "telemux diff")
  })
})

describe("TUI: the new-session dialog's worktree", () => {
  it("off by default; a new branch with a name and a base; an existing branch needs its name", async () => {
    const t = setup()
    t.store.dispatch({ _tag: "ProjectsLoaded", projects })
    t.server({ type: "sessions", sessions: [] })
    await t.press("n")
    let frame = await t.frame()
    assert.match(frame, /Worktree\s+\[off\]/)
    assert.include(frame, "– (worktree only)")
    // directory, computer, start, title (mode and prompt are for agents), then worktree
    await t.press("\x15", ..."/work/app", KEY.down, KEY.down, KEY.down, KEY.down, KEY.right)
    frame = await t.frame()
    assert.include(frame, "‹new branch›")
    assert.include(frame, "(HEAD)")
    await t.press(KEY.down, ..."fix-login", KEY.down, ..."develop", KEY.enter)
    assert.deepStrictEqual(t.commands.at(-1), {
      _tag: "Create",
      dir: "/work/app",
      worktree: { branch: "fix-login", base: "develop" }
    })
    t.store.dispatch({ _tag: "RequestStarted" })
    t.store.dispatch({
      _tag: "CreateFailed",
      text: "branch fix-login exists: choose another name, or check it out with existing"
    })
    assert.include(await t.frame(), "✕ branch fix-login exists")

    // existing branch: Base does not apply; Branch empty is refused in the dialog
    await t.press(KEY.up, KEY.up, KEY.right, KEY.down, "\x15", KEY.enter)
    frame = await t.frame()
    assert.include(frame, "‹existing branch›".replace("‹", "[").replace("›", "]"))
    assert.include(frame, "name the existing branch to check out")
    await t.press(..."feature", KEY.enter)
    assert.deepStrictEqual(t.commands.at(-1), {
      _tag: "Create",
      dir: "/work/app",
      worktree: { branch: "feature", existing: true }
    })
  })
})

describe("TUI: fork", () => {
  it("f on an agent's session: computer, a new worktree with a branch, a title; the refusal in the dialog; closed once forked", async () => {
    const t = setup()
    const a = session(1, { agent: "claude", title: "planner" })
    t.server({ type: "sessions", sessions: [a] })
    await t.press("f")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "LoadComputers" })
    t.store.dispatch({
      _tag: "ComputersLoaded",
      computers: [{ name: "alpha", online: true }, { name: "beta", online: true }]
    })
    let frame = await t.frame()
    assert.include(frame, "Fork planner's conversation (claude)")
    assert.include(frame, "‹alpha›")
    assert.include(frame, "planner (fork)")
    await t.press(KEY.right, KEY.down, " ", KEY.down, ..."try-b", KEY.enter)
    assert.deepStrictEqual(t.commands.at(-1), {
      _tag: "Fork",
      sessionId: a.sessionId,
      computer: "beta",
      worktree: { branch: "try-b" },
      title: "planner (fork)"
    })
    t.store.dispatch({ _tag: "RequestStarted" })
    t.store.dispatch({ _tag: "ForkFailed", text: "computer beta is unreachable: check its daemon" })
    frame = await t.frame()
    assert.include(frame, "✕ computer beta is unreachable")
    assert.strictEqual(t.store.getState().mode._tag, "fork")
    const forked = session(2, { agent: "claude", title: "planner (fork)" })
    t.store.dispatch({ _tag: "Created", session: forked })
    assert.strictEqual(t.store.getState().mode._tag, "browse")
  })

  it("f on a shell says fork is for agents; the help lists the changes and fork keys", async () => {
    const t = setup()
    t.server({ type: "sessions", sessions: [session(1)] })
    await t.press("f")
    assert.strictEqual(t.store.getState().mode._tag, "browse")
    assert.include(await t.frame(), "fork is for an agent's session")
    const lines = helpLines().map((l) => l.text)
    assert.isTrue(lines.some((l) => l.includes("c ") && l.includes("changes of the session's git worktree")))
    assert.isTrue(lines.some((l) => l.includes("f ") && l.includes("fork an agent's conversation")))
    assert.include(lines, "Changes (c)")
  })
})
