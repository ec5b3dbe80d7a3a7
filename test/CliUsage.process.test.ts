/**
 * The command line a newcomer meets, as a person runs it (`node dist/cli.js …`) against a real
 * daemon on a private tmux socket: text that looks like an option is typed, usage errors exit 2
 * with what is valid and change nothing, key names in any case and F-keys / M-x reach the pane,
 * help and tables fit and carry no ANSI into a pipe, completions complete session ids and keys,
 * and doctor checks the agents, hooks, state dir, lock and Redis.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { displayWidth } from "../src/cli/DisplayWidth.js"
import { EXIT } from "../src/cli/ExitCodes.js"
import { VERSION } from "../src/Version.js"
import { cliEnv, DIST_CLI, eventually, fakeCommand, removeEnv, runCli } from "./support/cliProcess.js"
import {
  api,
  type DaemonEnv,
  freePort,
  makeDaemonEnv,
  type RunningDaemon,
  startDaemon
} from "./support/daemonProcess.js"
import { startRedisServer } from "./support/redisServer.js"

const ESC = String.fromCharCode(27)

describe("telemux's command line against a running daemon", () => {
  let env: DaemonEnv
  let daemon: RunningDaemon
  let call: ReturnType<typeof api>
  let id: string
  const run = (args: ReadonlyArray<string>, extra: Record<string, string> = {}, input?: string) =>
    runCli(args, { env: cliEnv(env, extra), ...(input === undefined ? {} : { input }) })
  const screen = async () => (await call("GET", `/v1/sessions/${id}/output?lines=50`)).body.screen as string
  const screenShows = (text: string | RegExp) =>
    eventually(async () => {
      const s = await screen()
      return (typeof text === "string" ? s.includes(text) : text.test(s)) ? s : undefined
    }, `${String(text)} on the screen`)
  const openSessions = async () => ((await call("GET", "/v1/sessions")).body as Array<unknown>).length

  beforeAll(async () => {
    env = await makeDaemonEnv()
    daemon = await startDaemon(env, { TELEMUX_TRUSTED_DIRS: env.projectDir })
    call = api(env)
    const created = await run(["new", env.projectDir, "--title", "usage"])
    assert.strictEqual(created.code, 0, created.stderr)
    id = created.stdout.trim()
  }, 30_000)

  afterAll(async () => {
    await daemon?.stop()
    if (env !== undefined) {
      removeEnv(env)
      fs.rmSync(`${env.home}-bin`, { recursive: true, force: true })
    }
  })

  it("send: after --, and every word after the id, is text — --version, --help, -h, --wizard are typed", async () => {
    const version = await run(["send", id, "--", "--version"])
    assert.strictEqual(version.code, 0, version.stderr)
    assert.notInclude(version.stdout, VERSION)
    assert.strictEqual(version.stdout, "")
    await screenShows(/--version: command not found/)

    const flags = await run(["send", id.slice(0, 8), "echo", "typed:", "--help", "-h", "--wizard", "--no-enter"])
    assert.strictEqual(flags.code, 0, flags.stderr)
    await screenShows("\ntyped: --help -h --wizard --no-enter")

    // options before the id still work: --no-enter leaves the line unsent
    const unsent = await run(["send", "--no-enter", id, "echo", "pending-$((40+2))"])
    assert.strictEqual(unsent.code, 0, unsent.stderr)
    const pending = await screenShows("pending-$((40+2))")
    assert.notInclude(pending, "\npending-42")
    assert.strictEqual((await run(["keys", id, "C-u"])).code, 0)

    // help before the id is help, and sends nothing
    const help = await run(["send", "--help"])
    assert.strictEqual(help.code, 0, help.stderr)
    assert.match(help.stdout, /^Usage: telemux send \[--no-enter\] <id> <text>\.\.\./)
  }, 60_000)

  it("usage errors exit 2 locally with what is valid, and start nothing", async () => {
    const before = await openSessions()
    const cases: ReadonlyArray<[ReadonlyArray<string>, string]> = [
      [["tail", "--lines", "-5", id], "--lines takes 0 to 2000"],
      [["tail", "--lines", "99999", id], "--lines takes 0 to 2000"],
      [["new", ""], "telemux new ."],
      [["new", env.projectDir, "--mode", "fast"], "--mode is for an agent: add --agent claude|codex|gemini"],
      [["new", env.projectDir, "--prompt", "hello"], "--prompt is for an agent"],
      [["new", env.projectDir, "--computer", "elsewhere"], "TELEMUX_REDIS_URL"],
      [["keys", id, "Bogus"], "Up*3"],
      [["keys", id, "Up*0"], "1 to 200"]
    ]
    for (const [args, message] of cases) {
      const result = await run(args)
      assert.strictEqual(result.code, EXIT.usage, `${args.join(" ")}: ${result.stderr}`)
      assert.include(result.stderr, message, args.join(" "))
      assert.notInclude(result.stderr, "the daemon failed", args.join(" "))
      assert.notInclude(result.stderr, "same version", args.join(" "))
    }
    assert.notInclude((await run(["keys", id, "Bogus"])).stderr, `"key"`)
    // what the parser refuses ends with where the right form is
    const missing = await run(["send", id])
    assert.strictEqual(missing.code, EXIT.usage)
    assert.include(missing.stderr, "Missing argument <text>")
    assert.include(missing.stderr, "`telemux send --help` shows its usage")
    assert.strictEqual(await openSessions(), before)
  }, 60_000)

  it("keys: names in any case, F1-F12 and M-x reach the program in the pane", async () => {
    const cat = await run(["send", id, "clear; cat -v"])
    assert.strictEqual(cat.code, 0, cat.stderr)
    await eventually(
      async () => ((await call("GET", `/v1/sessions/${id}`)).body.status === "running" ? true : undefined),
      "cat running"
    )
    const pressed = await run(["keys", id, "f5", "M-x", "m-Q", "F12", "enter"])
    assert.strictEqual(pressed.code, 0, pressed.stderr)
    // cat -v shows ESC as ^[: F5 is ESC [15~, Alt+x is ESC x, Alt+Shift+q is ESC Q, F12 is ESC [24~
    await screenShows("^[[15~^[x^[Q^[[24~")
    const stopped = await run(["keys", id, "c-C"])
    assert.strictEqual(stopped.code, 0, stopped.stderr)
    await eventually(
      async () => ((await call("GET", `/v1/sessions/${id}`)).body.status === "idle" ? true : undefined),
      "cat stopped by C-c"
    )
  }, 60_000)

  it("help and errors carry no ANSI into a pipe or with NO_COLOR; the root help fits 80 columns", async () => {
    const root = await run(["--help"])
    assert.strictEqual(root.code, 0, root.stderr)
    assert.notInclude(root.stdout, ESC)
    for (const line of root.stdout.split("\n")) assert.isAtMost(displayWidth(line), 80, line)
    assert.include(root.stdout, "Usage: telemux [--config FILE] <command>")
    for (const command of ["new", "send", "keys", "doctor"]) {
      assert.match(root.stdout, new RegExp(`^  ${command} `, "m"))
    }

    const nested = await run(["hooks", "install", "-h"])
    assert.match(nested.stdout, /^Usage: telemux hooks install /)
    assert.notInclude(nested.stdout, "--wizard")

    const refused = await run(["ls", "--status", "bogus"], { NO_COLOR: "1" })
    assert.strictEqual(refused.code, EXIT.usage)
    assert.include(refused.stderr, "running")
    assert.notInclude(refused.stderr, ESC)
  }, 60_000)

  it("ls fits the terminal width by display width (a CJK title is two columns a character)", async () => {
    const wide = await run(["new", env.projectDir, "--title", "日本語のタイトル🚀とても長い名前です"])
    assert.strictEqual(wide.code, 0, wide.stderr)
    for (const columns of [100, 70, 50]) {
      const table = await run(["ls"], { COLUMNS: String(columns) })
      assert.strictEqual(table.code, 0, table.stderr)
      const lines = table.stdout.trimEnd().split("\n")
      assert.isAtLeast(lines.length, 3)
      for (const line of lines) assert.isAtMost(displayWidth(line), columns, `${columns}: ${line}`)
    }
    // into a pipe without COLUMNS: whole cells up to each column's own limit
    const piped = await run(["ls"])
    assert.include(piped.stdout, "日本語のタイトル🚀とて…  ")
    assert.strictEqual((await run(["close", wide.stdout.trim()])).code, 0)
  }, 60_000)

  it(
    "bash completion completes session ids (asking the daemon) and key names, and is silent without a daemon",
    async () => {
      // beside the state dir, not in it: doctor would rightly call a 0644 file there a leak
      const bin = path.join(path.dirname(env.home), `${path.basename(env.home)}-bin`)
      fs.mkdirSync(bin, { recursive: true })
      fs.writeFileSync(path.join(bin, "telemux"), `#!/bin/sh\nexec "${process.execPath}" "${DIST_CLI}" "$@"\n`, {
        mode: 0o755
      })
      const script = path.join(bin, "telemux.bash")
      const generated = await run(["--completions", "bash"])
      assert.strictEqual(generated.code, 0, generated.stderr)
      fs.writeFileSync(script, generated.stdout)
      const complete = (words: ReadonlyArray<string>, extra: Record<string, string> = {}) => {
        const quoted = words.map((w) => `'${w}'`).join(" ")
        return execFileSync("bash", [
          "--norc",
          "-c",
          `source '${script}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; ` +
          `_telemux_bash_completions; printf '%s\\n' "\${COMPREPLY[@]}"`
        ], { env: { ...cliEnv(env, extra), PATH: `${bin}:${process.env.PATH}` }, timeout: 10_000 }).toString()
          .split("\n").filter((line) => line !== "")
      }
      assert.deepStrictEqual(complete(["telemux", "send", id.slice(0, 6)]), [id])
      assert.deepStrictEqual(complete(["telemux", "tail", "--lines", "5", id.slice(0, 4)]), [id])
      assert.deepStrictEqual(complete(["telemux", "keys", id, "ent"]), ["Enter"])
      assert.sameMembers(complete(["telemux", "keys", id, "F1"]), ["F1", "F10", "F11", "F12"])
      assert.includeMembers(complete(["telemux", "keys", id, "c-"]), ["C-a", "C-c", "C-z"])
      assert.deepStrictEqual(complete(["telemux", "new", "--agent", "cl"]), ["claude"])
      assert.includeMembers(complete(["telemux", "new", "--"]), ["--agent", "--mode", "--prompt", "--title"])
      assert.sameMembers(complete(["telemux", "hooks", "in"]), ["install"])
      assert.includeMembers(complete(["telemux", "hooks", "install", "--"]), ["--agent"])
      // no daemon at the address: nothing offered, nothing printed, no wait past the bound
      const started = Date.now()
      assert.deepStrictEqual(complete(["telemux", "send", ""], { TELEMUX_PORT: String(await freePort()) }), [])
      assert.isBelow(Date.now() - started, 10_000)
    },
    60_000
  )

  it("doctor: agents, hooks, the state dir's modes and lock, and Redis, each failure with what to do", async () => {
    const agents = path.join(env.home, "agents")
    fakeCommand(agents, "claude-wrapper")
    const configured = {
      TELEMUX_AGENT_CLAUDE: `${path.join(agents, "claude-wrapper")} --verbose`,
      TELEMUX_AGENT_CODEX: path.join(agents, "no-such-codex")
    }
    const first = await run(["doctor"], configured)
    assert.strictEqual(first.code, EXIT.checksFailed, first.stdout + first.stderr)
    assert.include(first.stdout, `✓ agent claude: ${path.join(agents, "claude-wrapper")} is`)
    assert.match(first.stdout, /^✗ agent codex: .*no-such-codex is not an executable file — .*TELEMUX_AGENT_CODEX/m)
    assert.match(first.stdout, /^✗ hooks for claude: .* — run `telemux hooks install --agent claude`$/m)
    assert.match(first.stdout, /^– agent gemini: gemini is not on PATH; to use it, install it/m)
    assert.include(first.stdout, `✓ state dir ${env.home} is private (0700, its files 0600)`)
    assert.match(first.stdout, /^✓ state dir lock is held by the daemon \(pid \d+, port \d+/m)

    const installed = await run(["hooks", "install", "--agent", "claude"])
    assert.strictEqual(installed.code, 0, installed.stderr)
    const loose = path.join(env.home, "notes.txt")
    fs.writeFileSync(loose, "x", { mode: 0o644 })
    fs.chmodSync(loose, 0o644)
    const redis = await startRedisServer()
    try {
      const second = await run(["doctor"], {
        TELEMUX_AGENT_CLAUDE: configured.TELEMUX_AGENT_CLAUDE,
        TELEMUX_REDIS_URL: redis.url
      })
      assert.match(second.stdout, /^✓ hooks for claude are installed in /m)
      assert.match(second.stdout, /^✓ Redis at redis:\/\/127\.0\.0\.1:\d+\/? answers PING \(PONG\)$/m)
      assert.match(second.stdout, /^✗ state dir .* is readable by others: chmod 600 .*notes\.txt \(0644\)/m)
      assert.strictEqual(second.code, EXIT.checksFailed)
      fs.rmSync(loose)

      const deadPort = await freePort()
      const third = await run(["doctor"], {
        TELEMUX_AGENT_CLAUDE: configured.TELEMUX_AGENT_CLAUDE,
        TELEMUX_REDIS_URL: `redis://:sekret@127.0.0.1:${deadPort}`,
        TELEMUX_PORT: String(await freePort())
      })
      assert.strictEqual(third.code, EXIT.checksFailed)
      assert.match(third.stdout, /^✗ Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/? did not answer PING .* — check/m)
      assert.notInclude(third.stdout, "sekret")
      assert.match(third.stdout, /^✗ the daemon on .* listens on port \d+, this CLI looks on \d+: set TELEMUX_PORT=/m)
    } finally {
      await redis.stop()
    }
  }, 90_000)
})
