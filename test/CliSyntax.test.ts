/**
 * The command line as telemux reads it before @effect/cli does (src/cli/Argv.ts), the key syntax
 * (src/cli/KeyArgs.ts), `new`'s checks, display widths and tables that fit, and the help pages.
 */
import { Effect, Either, Exit, Option, Schema } from "effect"
import { assert, describe, it } from "vitest"
import { type Invocation, literal, prepare, unmark } from "../src/cli/Argv.js"
import { telemux } from "../src/cli/Commands.js"
import { bashScript, zshScript } from "../src/cli/Completion.js"
import { displayWidth, sliceToWidth, wrapWords } from "../src/cli/DisplayWidth.js"
import { colorWanted, stripAnsi } from "../src/cli/Entry.js"
import { commandHelp, rootHelp } from "../src/cli/Help.js"
import { canonicalKeyName, parseKeyArg, parseKeyArgs } from "../src/cli/KeyArgs.js"
import { checkNewOptions } from "../src/cli/NewChecks.js"
import { formatTable, truncate } from "../src/cli/Table.js"
import { KeyName } from "../src/domain/Keys.js"

const runArgs = (invocation: Invocation): ReadonlyArray<string> => {
  assert.strictEqual(invocation._tag, "Run", JSON.stringify(invocation))
  return (invocation as Extract<Invocation, { _tag: "Run" }>).args
}

describe("the command line before @effect/cli", () => {
  it("send: every word after the id is text, marked so that no built-in option takes it", () => {
    assert.deepStrictEqual(runArgs(prepare(["send", "abc", "--", "--version"])), [
      "send",
      literal("abc"),
      literal("--version")
    ])
    for (const word of ["--help", "-h", "--wizard", "--version", "--completions", "--no-enter"]) {
      assert.deepStrictEqual(runArgs(prepare(["send", "abc", word])), ["send", literal("abc"), literal(word)])
    }
    // options before the id; `--` before the id ends them; a second `--` is text
    assert.deepStrictEqual(runArgs(prepare(["send", "--no-enter", "abc", "hi", "--", "x"])), [
      "send",
      "--no-enter",
      literal("abc"),
      literal("hi"),
      literal("--"),
      literal("x")
    ])
    assert.deepStrictEqual(runArgs(prepare(["--config", "/c.json", "send", "--", "abc", "--", "-x"])), [
      "--config",
      "/c.json",
      "send",
      literal("abc"),
      literal("--"),
      literal("-x")
    ])
    assert.deepStrictEqual(runArgs(prepare(["send", "abc", "-"])), ["send", literal("abc"), literal("-")])
    assert.strictEqual(unmark(literal("--help")), "--help")
    assert.strictEqual(unmark("plain"), "plain")
  })

  it("help where an option may stand is telemux's help; after `--` or as a text option's value it is not", () => {
    assert.deepStrictEqual(prepare(["--help"]), { _tag: "Help", path: [] } as Invocation)
    assert.deepStrictEqual(prepare(["-h"]), { _tag: "Help", path: [] } as Invocation)
    assert.deepStrictEqual(prepare(["send", "--help"]), { _tag: "Help", path: ["send"] } as Invocation)
    assert.deepStrictEqual(prepare(["ls", "--json", "-h"]), { _tag: "Help", path: ["ls"] } as Invocation)
    assert.deepStrictEqual(
      prepare(["hooks", "install", "--help"]),
      { _tag: "Help", path: ["hooks", "install"] } as Invocation
    )
    assert.deepStrictEqual(runArgs(prepare(["keys", "abc", "--", "--help"])), ["keys", "abc", literal("--help")])
    assert.deepStrictEqual(runArgs(prepare(["new", ".", "--agent", "claude", "--prompt", "--help"])), [
      "new",
      ".",
      "--agent",
      "claude",
      "--prompt",
      literal("--help")
    ])
    assert.deepStrictEqual(runArgs(prepare(["tail", "--lines", "-5", "abc"])), ["tail", "--lines", "-5", "abc"])
    assert.deepStrictEqual(prepare(["--completions", "bash"]), { _tag: "Completions", shell: "bash" } as Invocation)
    assert.deepStrictEqual(runArgs(prepare(["--completions", "fish"])), ["--completions", "fish"])
    assert.deepStrictEqual(runArgs(prepare(["--version"])), ["--version"])
  })
})

const refusalOf = (arg: string): string =>
  Either.match(parseKeyArg(arg), { onLeft: (error) => error.message, onRight: () => assert.fail(`${arg} accepted`) })

/** ESC [ … : an ANSI escape sequence. */
const ANSI_START = String.fromCharCode(27) + "["

describe("key names on the command line", () => {
  it("are case-insensitive where unambiguous; M-'s letter keeps its case; F1-F12 and M-x are keys", () => {
    assert.strictEqual(canonicalKeyName("enter"), "Enter")
    assert.strictEqual(canonicalKeyName("ESCAPE"), "Escape")
    assert.strictEqual(canonicalKeyName("bspace"), "BSpace")
    assert.strictEqual(canonicalKeyName("f5"), "F5")
    assert.strictEqual(canonicalKeyName("c-C"), "C-c")
    assert.strictEqual(canonicalKeyName("m-x"), "M-x")
    assert.strictEqual(canonicalKeyName("M-X"), "M-X")
    assert.strictEqual(canonicalKeyName("M-7"), "M-7")
    for (const bad of ["F13", "F0", "C-1", "M-", "M-xy", "M-!", "Bogus"]) {
      assert.isUndefined(canonicalKeyName(bad), bad)
    }
    assert.deepStrictEqual(Either.getOrThrow(parseKeyArgs(["up*3", "f12", "M-b"])), [
      { key: "Up", repeat: 3 },
      "F12",
      "M-b"
    ])
    // the daemon's schema accepts what the CLI produces, and refuses F13 still
    assert.isTrue(Schema.is(KeyName)("F12") && Schema.is(KeyName)("M-Q") && !Schema.is(KeyName)("F13"))
  })

  it("a refusal speaks the CLI's syntax (Up*3), not the API's JSON", () => {
    const message = refusalOf("Bogus")
    assert.include(message, "Up*3")
    assert.include(message, "F1-F12")
    assert.notInclude(message, "{")
    assert.include(refusalOf("Up*500"), "1 to 200")
  })
})

describe("new's command line", () => {
  const options = (o: Partial<{ dir: string; agent: string; mode: string; prompt: string }>) => ({
    dir: o.dir ?? ".",
    agent: Option.fromNullable(o.agent),
    mode: Option.fromNullable(o.mode),
    prompt: Option.fromNullable(o.prompt)
  })
  const refusal = (o: Parameters<typeof options>[0]) => {
    const exit = Effect.runSyncExit(checkNewOptions(options(o)))
    return Exit.isFailure(exit) ? String(Exit.causeOption(exit).pipe(Option.map((c) => c.toString()))) : undefined
  }

  it("refuses an empty directory, --mode/--prompt without --agent, and an empty prompt; passes the rest", () => {
    assert.include(refusal({ dir: "" }), "telemux new .")
    assert.include(refusal({ dir: "  " }), "name the directory")
    assert.include(refusal({ mode: "fast" }), "--mode is for an agent")
    assert.include(refusal({ prompt: "hi", mode: "deep" }), "--mode and --prompt are for an agent")
    assert.include(refusal({ agent: "claude", prompt: " " }), "--prompt is empty")
    assert.isUndefined(refusal({ agent: "claude", mode: "fast", prompt: "hello" }))
    assert.isUndefined(refusal({ dir: "/tmp" }))
  })
})

describe("display width", () => {
  it("counts wide CJK and emoji as 2 columns, combining marks as 0", () => {
    assert.strictEqual(displayWidth("abc"), 3)
    assert.strictEqual(displayWidth("日本語"), 6)
    assert.strictEqual(displayWidth("🚀x"), 3)
    assert.strictEqual(displayWidth("e\u0301te\u0301"), 3)
    assert.strictEqual(displayWidth("한국"), 4)
    assert.strictEqual(displayWidth("👍🏽"), 2)
    assert.strictEqual(sliceToWidth("日本語", 5), "日本")
    assert.strictEqual(sliceToWidth("e\u0301e\u0301", 1), "e\u0301")
    assert.deepStrictEqual(wrapWords("aa bb cc", 5), ["aa bb", "cc"])
  })

  it("tables pad and cut by display width, and fit a given terminal width", () => {
    const rows = [{ title: "日本語のタイトルです", dir: "/home/user/projects/a-long-directory-name" }, {
      title: "plain",
      dir: "/tmp"
    }]
    const columns = [
      { header: "ID", cell: () => "12345678" },
      { header: "TITLE", cell: (r: typeof rows[number]) => r.title, max: 24 },
      { header: "DIRECTORY", cell: (r: typeof rows[number]) => r.dir, max: 40 }
    ]
    const wide = formatTable(columns, rows).split("\n")
    // every line's cells start at the same column: the header's TITLE and DIRECTORY line up with the rows'
    const dirColumn = displayWidth(wide[0]!.slice(0, wide[0]!.indexOf("DIRECTORY")))
    for (const line of wide.slice(1)) {
      assert.strictEqual(displayWidth(line.slice(0, line.indexOf("/"))), dirColumn, line)
    }
    for (const width of [60, 40, 30]) {
      const lines = formatTable(columns, rows, width).split("\n")
      for (const line of lines) assert.isAtMost(displayWidth(line), width, `${width}: ${line}`)
      assert.include(lines[1], "…")
      assert.include(lines[0], "TITLE")
    }
    // too narrow for every column at its floor: the last cut columns are left out, never the first
    const narrow = formatTable(columns, rows, 20).split("\n")
    assert.strictEqual(narrow[0], "ID        TITLE")
    for (const line of narrow) assert.isAtMost(displayWidth(line), 20, line)
    assert.strictEqual(truncate("日本語", 4), "日…")
  })
})

describe("help", () => {
  it("the root help fits 80 columns, has no ANSI without colour, and lists every command", () => {
    const text = rootHelp(telemux, "9.9.9", { width: 80, color: false })
    for (const line of text.split("\n")) assert.isAtMost(displayWidth(line), 80, line)
    assert.notInclude(text, ANSI_START)
    for (const command of ["daemon", "ls", "new", "send", "keys", "tail", "doctor", "hooks"]) {
      assert.match(text, new RegExp(`^  ${command} `, "m"), command)
    }
    assert.include(rootHelp(telemux, "9.9.9", { width: 80, color: true }), `${ANSI_START}1m`)
  })

  it("a command's help starts with `Usage: telemux <cmd>`, without @effect/cli's boilerplate", () => {
    const send = commandHelp(telemux, ["send"], { width: 80, color: false })!
    assert.match(send, /^Usage: telemux send \[--no-enter\] <id> <text>\.\.\./)
    assert.include(send, "type text into a session")
    assert.notInclude(send, "A user-defined piece of text")
    assert.notInclude(send, "--wizard")
    assert.match(
      commandHelp(telemux, ["hooks", "install"], { width: 80, color: false })!,
      /^Usage: telemux hooks install /
    )
    assert.match(commandHelp(telemux, ["hooks"], { width: 80, color: false })!, /^Usage: telemux hooks <command>/)
    assert.isUndefined(commandHelp(telemux, ["nope"], { width: 80, color: false }))
  })

  it("colour only on a terminal without NO_COLOR or TERM=dumb; stripAnsi takes the codes out", () => {
    assert.isTrue(colorWanted({}, { isTTY: true }))
    assert.isFalse(colorWanted({}, { isTTY: false }))
    assert.isFalse(colorWanted({ NO_COLOR: "1" }, { isTTY: true }))
    assert.isTrue(colorWanted({ NO_COLOR: "" }, { isTTY: true }))
    assert.isFalse(colorWanted({ TERM: "dumb" }, { isTTY: true }))
    assert.strictEqual(stripAnsi(`${ANSI_START}0;1mUSAGE${ANSI_START}0m x`), "USAGE x")
    // only colour: a cursor movement stays
    assert.strictEqual(stripAnsi(`${ANSI_START}2J${ANSI_START}31mred`), `${ANSI_START}2Jred`)
  })
})

describe("completion scripts", () => {
  // bash's is run for real in CliUsage.process.test.ts; there is no zsh on the test machines
  it("zsh's completes session ids through the daemon, key names, and each command's options from the command tree", () => {
    const zsh = zshScript(telemux)
    assert.match(zsh, /^#compdef telemux\n/)
    assert.include(zsh, "compdef _telemux telemux")
    assert.include(zsh, "command telemux __complete sessions")
    assert.match(zsh, /\(keys\) .*compadd -M 'm:\{a-zA-Z\}=\{A-Za-z\}' -- Enter Escape .* F12 C-a .* C-z M-;/)
    assert.match(zsh, /\("hooks install"\) print -r -- "--agent --help"/)
    assert.match(
      zsh,
      /\("new"\) print -r -- "--json --title --computer --agent --mode --prompt --worktree --branch --base --existing --help"/
    )
    assert.match(zsh, /\("worktree discard"\) print -r -- "--json --force --help"/)
    assert.match(zsh, /\(worktree\) print -r -- "commit push merge discard list clean"/)
    assert.match(zsh, /\|diff\|fork\|"worktree commit"\|/)
    const bash = bashScript(telemux)
    assert.include(bash, "complete -F _telemux_bash_completions telemux")
    assert.match(bash, /"tail"\) echo "--lines --help"/)
  })
})
