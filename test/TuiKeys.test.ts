/**
 * The terminal UI's keys: the help overlay lists what the key tables dispatch on, the footer
 * always says `? help`, Esc cancels every prompt, a paste ending in Enter submits, and the key
 * prompt sends keys by name (Escape among them).
 */
import { cleanup } from "ink-testing-library"
import { afterEach, assert, describe, it } from "vitest"
import { GLOBAL_KEYS, HISTORY_KEYS, PROJECTS_KEYS, SESSIONS_KEYS } from "../src/tui/BrowseKeys.js"
import { DIALOG_KEYS } from "../src/tui/Dialog.js"
import { DIFF_KEYS } from "../src/tui/DiffPane.js"
import { FORK_KEYS } from "../src/tui/ForkDialog.js"
import { helpLines } from "../src/tui/HelpView.js"
import { parseKeyNames } from "../src/tui/KeyNames.js"
import { HELP_KEYS, HELP_SECTIONS } from "../src/tui/Keys.js"
import { footerLine } from "../src/tui/ModeLine.js"
import { CONFIRM_CLOSE_KEYS, FILTER_KEYS, KEY_PROMPT_KEYS, SEND_KEYS } from "../src/tui/PromptKeys.js"
import { KEY, projects, session, setup } from "./support/tuiHarness.js"

afterEach(() => cleanup())

describe("TUI: help overlay", () => {
  it("lists every binding of every key table, opens with ? and closes with Esc", async () => {
    const tables = [
      GLOBAL_KEYS,
      SESSIONS_KEYS,
      PROJECTS_KEYS,
      HISTORY_KEYS,
      DIALOG_KEYS,
      DIFF_KEYS,
      FORK_KEYS,
      SEND_KEYS,
      KEY_PROMPT_KEYS,
      FILTER_KEYS,
      CONFIRM_CLOSE_KEYS,
      HELP_KEYS
    ]
    // every table the dispatch uses is a section of the help, and every line of it comes from one
    assert.sameMembers(HELP_SECTIONS.map((s) => s.keys), tables)
    const lines = helpLines().map((l) => l.text)
    for (const table of tables) {
      for (const binding of table) {
        assert.isTrue(
          lines.some((line) => line.includes(binding.keys) && line.includes(binding.does)),
          `${binding.keys} — ${binding.does}`
        )
      }
    }

    const t = setup()
    t.server({ type: "sessions", sessions: [session(1)] })
    assert.include(await t.frame(), "? help")
    await t.press("?")
    let frame = await t.frame()
    assert.include(frame, "Every view")
    assert.include(frame, "this help")
    assert.strictEqual(t.store.getState().mode._tag, "help")
    // keys in the help do nothing else: q closes it instead of quitting
    await t.press("q")
    assert.strictEqual(t.store.getState().mode._tag, "browse")
    assert.notDeepInclude(t.commands, { _tag: "Quit" })
    await t.press("?")
    // scrolling shows the sections further down
    for (let i = 0; i < 30; i++) await t.press(KEY.down)
    frame = await t.frame()
    assert.include(frame, "Send a key (x)")
    await t.press(KEY.escape)
    assert.strictEqual(t.store.getState().mode._tag, "browse")
    assert.notInclude(await t.frame(), "Every view")
  })

  it("footer fits the width and always ends with ? help", () => {
    for (const view of ["sessions", "projects", "history"] as const) {
      for (const width of [30, 50, 80, 200]) {
        const line = footerLine(view, width)
        assert.isAtMost(line.length, width, `${view} at ${width}`)
        assert.isTrue(line.endsWith("? help"), `${view} at ${width}: ${line}`)
      }
    }
    assert.include(footerLine("sessions", 200), "s send")
    assert.include(footerLine("projects", 200), "r reload")
  })
})

describe("TUI: prompts", () => {
  it("Esc cancels every prompt and sends nothing", async () => {
    const t = setup()
    const a = session(1)
    t.store.dispatch({ _tag: "ProjectsLoaded", projects })
    t.server({ type: "sessions", sessions: [a] })
    t.commands.length = 0
    for (const open of ["/", "s", "x", "d", "n", "?"]) {
      await t.press(open)
      assert.notStrictEqual(t.store.getState().mode._tag, "browse", open)
      await t.press(KEY.escape)
      assert.strictEqual(t.store.getState().mode._tag, "browse", `Esc after ${open}`)
    }
    // nothing reached the session: no text, no key (Escape is not sent), no close
    assert.deepStrictEqual(
      t.commands.filter((c) => c._tag === "SendText" || c._tag === "SendKeys" || c._tag === "Close"),
      []
    )
  })

  it("a chunk of text ending in a line break (a paste) is typed, then submitted", async () => {
    const t = setup()
    const a = session(1)
    t.store.dispatch({ _tag: "ProjectsLoaded", projects })
    t.server({ type: "sessions", sessions: [a] })
    await t.press("s", "hello\r")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "SendText", sessionId: a.sessionId, text: "hello" })
    assert.strictEqual(t.store.getState().mode._tag, "browse")
    // line breaks inside the paste stay spaces; only the last one submits
    await t.press("s", "one\rtwo\r\n")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "SendText", sessionId: a.sessionId, text: "one two" })
    await t.press("/", "s1\r")
    assert.strictEqual(t.store.getState().filter, "s1")
    assert.strictEqual(t.store.getState().mode._tag, "browse")
    await t.press(KEY.escape)
    await t.press("x", "Escape\r")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "SendKeys", sessionId: a.sessionId, keys: ["Escape"] })
    await t.press("n", "\x15", "/tmp/pasted\r")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "Create", dir: "/tmp/pasted" })
  })

  it("keys typed ahead while the screen was busy (one chunk) act one at a time; a paste in the list does nothing", async () => {
    const t = setup()
    const [a, b, c] = [session(1), session(2), session(3)]
    t.store.dispatch({ _tag: "ProjectsLoaded", projects })
    t.server({ type: "sessions", sessions: [a, b, c] })
    // x opens the key prompt, which takes the rest: the name typed, then Enter
    await t.press("xEscape\r")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "SendKeys", sessionId: a.sessionId, keys: ["Escape"] })
    assert.strictEqual(t.store.getState().mode._tag, "browse")
    // s, the text and Enter: sent; j j: two moves down
    await t.press("shi there\r")
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "SendText", sessionId: a.sessionId, text: "hi there" })
    await t.press("jj")
    assert.strictEqual(t.store.getState().cursor, c.sessionId)
    // a paste into the list is not typing: none of its letters runs (its a would attach, d y close)
    const before = t.commands.length
    await t.press("ready? a day to remember")
    assert.strictEqual(t.commands.length, before)
    assert.strictEqual(t.store.getState().mode._tag, "browse")
    assert.strictEqual(t.store.getState().cursor, c.sessionId)
  })

  it("the key prompt sends a key pressed at once, or keys typed by name on Enter", async () => {
    const t = setup()
    const a = session(1)
    t.server({ type: "sessions", sessions: [a] })
    await t.press("x")
    assert.include(await t.frame(), "type a name (Escape, C-c, Up*3)")
    await t.press(..."esc", KEY.enter)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "SendKeys", sessionId: a.sessionId, keys: ["Escape"] })
    await t.press("x", ..."Up*3 c-c", KEY.enter)
    assert.deepStrictEqual(t.commands.at(-1), {
      _tag: "SendKeys",
      sessionId: a.sessionId,
      keys: [{ key: "Up", repeat: 3 }, "C-c"]
    })
    // a name it does not know: said in the prompt, nothing sent, Backspace corrects it
    const before = t.commands.length
    await t.press("x", ..."Escap", "x", KEY.enter)
    assert.include(await t.frame(), `unknown key "Escapx"`)
    assert.strictEqual(t.commands.length, before)
    await t.press(KEY.backspace, "e", KEY.enter)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "SendKeys", sessionId: a.sessionId, keys: ["Escape"] })
    // Backspace with nothing typed is the key itself
    await t.press("x", KEY.backspace)
    assert.deepStrictEqual(t.commands.at(-1), { _tag: "SendKeys", sessionId: a.sessionId, keys: ["BSpace"] })
  })

  it("parses key names in any case, with aliases and repeats, and refuses the rest", () => {
    assert.deepStrictEqual(parseKeyNames("ESCAPE"), { keys: ["Escape"] })
    assert.deepStrictEqual(parseKeyNames("pgup bspace*5 Ctrl+x ^a"), {
      keys: ["PPage", { key: "BSpace", repeat: 5 }, "C-x", "C-a"]
    })
    assert.deepStrictEqual(parseKeyNames("Tab*1"), { keys: ["Tab"] })
    assert.match((parseKeyNames("Up*0") as { error: string }).error, /1 to 200 times/)
    assert.match((parseKeyNames("Up*201") as { error: string }).error, /1 to 200 times/)
    assert.match((parseKeyNames("F13") as { error: string }).error, /unknown key "F13"/)
    assert.match((parseKeyNames("  ") as { error: string }).error, /type a key name/)
  })
})
