import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as toml from "toml"
import {
  hasCodexNotify,
  installCodexNotify,
  parseStringArray,
  PREVIOUS_NOTIFY_MARK,
  tomlString,
  uninstallCodexNotify
} from "../src/agents/CodexNotifyToml.js"
import {
  BACKUP_SUFFIX,
  CLAUDE_FLAVOUR,
  CLAUDE_HOOK_EVENTS,
  codexNotifyArgv,
  GEMINI_FLAVOUR,
  GEMINI_HOOK_EVENTS,
  hookCommandLine,
  install,
  installJsonHooks,
  settingsFileOf,
  uninstall,
  uninstallJsonHooks
} from "../src/agents/HookInstall.js"

const HOOK = ["/usr/bin/node", "/opt/tele mux/dist/hook.js"]
const FILE = "/home/u/.claude/settings.json"

const right = <A, E>(either: Either.Either<A, E>): A => {
  if (Either.isLeft(either)) assert.fail(`expected Right, got ${String(either.left)}`)
  return (either as Either.Right<E, A>).right
}

const claudeInstall = (text: string | undefined) => right(installJsonHooks(CLAUDE_FLAVOUR, FILE, text, HOOK))
const claudeUninstall = (text: string | undefined) => right(uninstallJsonHooks(CLAUDE_FLAVOUR, FILE, text, HOOK))

const USER_SETTINGS = {
  model: "opus",
  permissions: { allow: ["Bash(npm test:*)"] },
  hooks: {
    Stop: [{ hooks: [{ type: "command", command: "say done" }] }],
    PreToolUse: [{ matcher: "Bash", hooks: [{ type: "command", command: "audit.sh" }] }]
  }
}

describe("Claude Code settings.json", () => {
  it("a missing file gets the four hooks in the documented shape", () => {
    const text = claudeInstall(undefined)
    const settings = JSON.parse(text)
    assert.deepStrictEqual(Object.keys(settings.hooks), [...CLAUDE_HOOK_EVENTS])
    for (const event of CLAUDE_HOOK_EVENTS) {
      assert.deepStrictEqual(settings.hooks[event], [
        { hooks: [{ type: "command", command: hookCommandLine(HOOK, "claude", event), timeout: 10 }] }
      ])
    }
    assert.strictEqual(
      hookCommandLine(HOOK, "claude", "Stop"),
      "/usr/bin/node '/opt/tele mux/dist/hook.js' claude Stop"
    )
    assert.isTrue(text.endsWith("}\n"))
  })

  it("keeps the user's settings and hooks, and installing twice is installing once", () => {
    const original = JSON.stringify(USER_SETTINGS, null, 4) + "\n"
    const once = claudeInstall(original)
    const twice = claudeInstall(once)
    assert.strictEqual(twice, once)
    const settings = JSON.parse(once)
    assert.strictEqual(settings.model, "opus")
    assert.deepStrictEqual(settings.permissions, USER_SETTINGS.permissions)
    assert.deepStrictEqual(settings.hooks.PreToolUse, USER_SETTINGS.hooks.PreToolUse)
    assert.strictEqual(settings.hooks.Stop.length, 2)
    assert.deepStrictEqual(settings.hooks.Stop[0], USER_SETTINGS.hooks.Stop[0])
    // the file's own indentation is kept
    assert.isTrue(once.includes("\n    \"model\": \"opus\""))
  })

  it("an already complete file is left byte for byte", () => {
    const installed = claudeInstall(undefined)
    const reformatted = installed.replace(/\n\s*/g, "") // same JSON, different layout
    assert.strictEqual(claudeInstall(reformatted), reformatted)
  })

  it("uninstall removes exactly telemux's entries", () => {
    const original = JSON.stringify(USER_SETTINGS, null, 2) + "\n"
    const restored = claudeUninstall(claudeInstall(original))
    assert.strictEqual(restored, original)
    // a group shared with the user's own hook keeps the user's hook
    const shared = JSON.stringify({
      hooks: {
        Stop: [{
          hooks: [{ type: "command", command: "say done" }, {
            type: "command",
            command: hookCommandLine(HOOK, "claude", "Stop")
          }]
        }]
      }
    })
    assert.deepStrictEqual(JSON.parse(claudeUninstall(shared)!), {
      hooks: { Stop: [{ hooks: [{ type: "command", command: "say done" }] }] }
    })
    // nothing of ours: untouched; no file: nothing to do
    assert.strictEqual(claudeUninstall(original), original)
    assert.strictEqual(claudeUninstall(undefined), undefined)
    // only ours: the hooks key goes with them
    assert.strictEqual(claudeUninstall(claudeInstall(`{"model":"haiku"}`)), `{\n  "model": "haiku"\n}\n`)
  })

  it("hooks of another hook command (another install) are not ours", () => {
    const other = right(installJsonHooks(CLAUDE_FLAVOUR, FILE, undefined, ["/other/node", "/other/hook.js"]))
    assert.strictEqual(claudeUninstall(other), other)
  })

  it("files it cannot read are refused, not overwritten", () => {
    for (const text of ["{ // comment\n}", "[1]", `{"hooks": []}`, `{"hooks": {"Stop": {}}}`]) {
      const result = installJsonHooks(CLAUDE_FLAVOUR, FILE, text, HOOK)
      assert.isTrue(Either.isLeft(result), text)
      assert.strictEqual((result as Either.Left<{ _tag: string }, string>).left._tag, "HookConfigUnreadable")
    }
  })
})

describe("Gemini CLI settings.json", () => {
  it("gets named hooks on its own events, timeouts in milliseconds", () => {
    const text = right(installJsonHooks(GEMINI_FLAVOUR, FILE, `{"theme":"Dracula"}`, HOOK))
    const settings = JSON.parse(text)
    assert.strictEqual(settings.theme, "Dracula")
    assert.deepStrictEqual(Object.keys(settings.hooks), [...GEMINI_HOOK_EVENTS])
    assert.deepStrictEqual(settings.hooks.AfterAgent, [
      {
        hooks: [{
          name: "telemux-AfterAgent",
          type: "command",
          command: hookCommandLine(HOOK, "gemini", "AfterAgent"),
          timeout: 10000
        }]
      }
    ])
    assert.strictEqual(right(installJsonHooks(GEMINI_FLAVOUR, FILE, text, HOOK)), text)
    assert.strictEqual(right(uninstallJsonHooks(GEMINI_FLAVOUR, FILE, text, HOOK)), `{\n  "theme": "Dracula"\n}\n`)
  })
})

describe("Codex config.toml", () => {
  const argv = codexNotifyArgv(HOOK)
  const parse = (text: string) => toml.parse(text) as Record<string, unknown>

  it("a missing or empty file gets the notify line", () => {
    const text = installCodexNotify(undefined, argv)
    assert.deepStrictEqual(parse(text).notify, [...argv])
    assert.strictEqual(installCodexNotify("", argv), text)
  })

  it("notify goes among the top-level keys, before the first table, and the rest is kept", () => {
    const original = [
      "# my codex",
      "model = \"o3\"",
      "matrix = [",
      "  [1, 2],", // a line starting with [ inside a value is not a table header
      "  [3, 4],",
      "]",
      "note = \"\"\"",
      "[not a table]",
      "\"\"\"",
      "",
      "[tui]",
      "notifications = true",
      "",
      "[profiles.fast]",
      "notify = [\"profile-notifier\"]",
      ""
    ].join("\n")
    const text = installCodexNotify(original, argv)
    const parsed = parse(text)
    assert.deepStrictEqual(parsed.notify, [...argv])
    assert.deepStrictEqual(parsed.matrix, [[1, 2], [3, 4]])
    assert.deepStrictEqual(parsed.tui, { notifications: true })
    assert.deepStrictEqual((parsed.profiles as Record<string, unknown>).fast, { notify: ["profile-notifier"] })
    const lines = text.split("\n")
    assert.strictEqual(lines.indexOf("\"\"\"") + 1, lines.findIndex((l) => l.startsWith("notify = ")))
    assert.strictEqual(installCodexNotify(text, argv), text)
    assert.strictEqual(uninstallCodexNotify(text, argv), original)
  })

  it("a file of tables only gets notify on its first line", () => {
    const original = "[tui]\nnotifications = true\n"
    const text = installCodexNotify(original, argv)
    assert.isTrue(text.startsWith("notify = ["))
    assert.deepStrictEqual(parse(text).notify, [...argv])
    assert.strictEqual(uninstallCodexNotify(text, argv), original)
  })

  it("a user's own notify is kept aside and restored by uninstall", () => {
    const original = [
      "model = \"o3\"",
      "notify = [",
      "  \"python3\",",
      "  \"/home/u/notify.py\", # desktop",
      "]",
      "",
      "[tui]",
      ""
    ].join("\n")
    const text = installCodexNotify(original, argv)
    assert.deepStrictEqual(parse(text).notify, [...argv])
    assert.include(text, `${PREVIOUS_NOTIFY_MARK}notify = [`)
    assert.strictEqual(installCodexNotify(text, argv), text)
    assert.isTrue(hasCodexNotify(text, argv))
    const restored = uninstallCodexNotify(text, argv)
    assert.strictEqual(restored, original)
    assert.deepStrictEqual(parse(restored).notify, ["python3", "/home/u/notify.py"])
  })

  it("a notify the user set after installing is not removed", () => {
    const installed = installCodexNotify("model = \"o3\"\n", argv)
    const changed = installed.replace(/^notify = .*$/m, "notify = [\"mine\"]")
    assert.strictEqual(uninstallCodexNotify(changed, argv), changed)
  })

  it("strings with quotes, backslashes and control characters round-trip", () => {
    const odd = ["/p/with \"quote\"", "back\\slash", "tab\t", "é✓", "'single'"]
    assert.deepStrictEqual(parseStringArray(`[${odd.map(tomlString).join(", ")}]`), odd)
    assert.deepStrictEqual(parse(`notify = [${odd.map(tomlString).join(", ")}]`).notify, odd)
    assert.deepStrictEqual(parseStringArray(`['lit\\eral', "x"] # c`), ["lit\\eral", "x"])
    assert.strictEqual(parseStringArray(`[1, 2]`), undefined)
    assert.strictEqual(parseStringArray(`"x"`), undefined)
  })
})

describe("install and uninstall on files", () => {
  const withHome = <A, E>(body: (home: string) => Effect.Effect<A, E, NodeContext.NodeContext>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "telemux-install-"))),
      (home) => body(home).pipe(Effect.provide(NodeContext.layer)),
      (home) => Effect.sync(() => fs.rmSync(home, { recursive: true, force: true }))
    )

  const read = (file: string) => fs.readFileSync(file, "utf8")

  it.effect("creates what is missing, is idempotent, backs up before the first change, and uninstalls cleanly", () =>
    withHome((home) =>
      Effect.gen(function*() {
        const claude = settingsFileOf(home, "claude")
        const codex = settingsFileOf(home, "codex")
        const gemini = settingsFileOf(home, "gemini")
        fs.mkdirSync(path.dirname(codex), { recursive: true })
        const userCodex = "model = \"o3\"\nnotify = [\"notify-send\", \"codex\"]\n\n[tui]\nnotifications = true\n"
        fs.writeFileSync(codex, userCodex, { mode: 0o600 })

        const first = yield* install({ home, hookCommand: HOOK })
        assert.deepStrictEqual(first.map((r) => [r.agent, r.outcome]), [["claude", "changed"], ["codex", "changed"], [
          "gemini",
          "changed"
        ]])
        const afterFirst = [read(claude), read(codex), read(gemini)]
        assert.strictEqual(fs.statSync(codex).mode & 0o777, 0o600, "the file's mode is kept")
        // a backup only of what existed, holding the original
        assert.strictEqual(read(codex + BACKUP_SUFFIX), userCodex)
        assert.isFalse(fs.existsSync(claude + BACKUP_SUFFIX))

        const second = yield* install({ home, hookCommand: HOOK })
        assert.deepStrictEqual(second.map((r) => r.outcome), ["unchanged", "unchanged", "unchanged"])
        assert.deepStrictEqual([read(claude), read(codex), read(gemini)], afterFirst)
        assert.deepStrictEqual(fs.readdirSync(path.dirname(codex)).sort(), [
          "config.toml",
          "config.toml.telemux-backup"
        ])

        const removed = yield* uninstall({ home, hookCommand: HOOK })
        assert.deepStrictEqual(removed.map((r) => r.outcome), ["changed", "changed", "changed"])
        assert.strictEqual(read(codex), userCodex)
        assert.deepStrictEqual(JSON.parse(read(claude)), {})
        // the backup is of the user's file, not of a later state
        assert.strictEqual(read(codex + BACKUP_SUFFIX), userCodex)

        const again = yield* uninstall({ home, hookCommand: HOOK })
        assert.deepStrictEqual(again.map((r) => r.outcome), ["unchanged", "unchanged", "unchanged"])
      })
    ))

  it.effect("a settings file it cannot read is reported and left alone; the other agents are still set up", () =>
    withHome((home) =>
      Effect.gen(function*() {
        const claude = settingsFileOf(home, "claude")
        fs.mkdirSync(path.dirname(claude), { recursive: true })
        fs.writeFileSync(claude, "{ not json")
        const reports = yield* install({ home, hookCommand: HOOK })
        assert.strictEqual(reports[0]!.outcome, "failed")
        assert.strictEqual(reports[0]!.error?._tag, "HookConfigUnreadable")
        assert.strictEqual(read(claude), "{ not json")
        assert.deepStrictEqual(reports.slice(1).map((r) => r.outcome), ["changed", "changed"])
        const only = yield* install({ home, hookCommand: HOOK, agents: ["gemini"] })
        assert.deepStrictEqual(only.map((r) => [r.agent, r.outcome]), [["gemini", "unchanged"]])
        assert.deepStrictEqual(
          (yield* uninstall({ home, hookCommand: HOOK, agents: ["claude"] })).map((r) => r.outcome),
          ["failed"]
        )
      })
    ))
})
