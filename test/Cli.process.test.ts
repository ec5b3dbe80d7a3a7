/**
 * `node dist/cli.js …` as a person runs it, against a real daemon (dist/main.js) on a temp state
 * dir and a private tmux socket, configured only through the daemon's own TELEMUX_* names.
 */
import { DateTime, Schema } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { EXIT } from "../src/cli/ExitCodes.js"
import { Computer } from "../src/domain/Computer.js"
import { ComputerName, Session } from "../src/domain/Session.js"
import { cliEnv, eventually, fakeCommand, removeEnv, runCli, spawnCli } from "./support/cliProcess.js"
import {
  api,
  type DaemonEnv,
  freePort,
  leftoverProcesses,
  makeDaemonEnv,
  type RunningDaemon,
  startDaemon,
  tmuxServerPid
} from "./support/daemonProcess.js"
import { makeSession } from "./support/fixtures.js"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const envs: Array<DaemonEnv> = []
afterAll(() => {
  for (const env of envs) removeEnv(env)
})

const freshEnv = async () => {
  const env = await makeDaemonEnv()
  envs.push(env)
  return env
}

describe("telemux daemon", () => {
  it("runs the daemon in the foreground: /health answers, SIGTERM stops it cleanly", async () => {
    const env = await freshEnv()
    const daemon = spawnCli(["daemon"], { env: cliEnv(env, { TELEMUX_COMPUTER: "clibox" }) })
    const health = await eventually(
      async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${env.port}/health`, { signal: AbortSignal.timeout(1000) })
          return res.ok ? (await res.json()) as { computer: string } : undefined
        } catch {
          return undefined
        }
      },
      "the daemon's /health",
      20_000
    )
    assert.strictEqual(health.computer, "clibox")
    assert.strictEqual(fs.statSync(path.join(env.home, "token")).mode & 0o777, 0o600)
    const tmuxPid = tmuxServerPid(env.socket)
    const sent = Date.now()
    daemon.child.kill("SIGTERM")
    const result = await daemon.exited
    assert.strictEqual(result.code, 0, result.stdout + result.stderr)
    assert.isBelow(Date.now() - sent, 3000)
    // its logs are the daemon's JSON lines
    const lines = result.stdout.trim().split("\n")
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), undefined, line)
    assert.isTrue(lines.some((line) => line.includes("telemux starting")))
    assert.deepStrictEqual(leftoverProcesses(env.marker, tmuxPid), [])
  }, 40_000)
})

describe("telemux against a running daemon", () => {
  let env: DaemonEnv
  let daemon: RunningDaemon
  let run: (
    args: ReadonlyArray<string>,
    options?: { input?: string; extra?: Record<string, string>; cwd?: string }
  ) => ReturnType<typeof runCli>
  let call: ReturnType<typeof api>
  /** Ids of sessions created so far. */
  const created: Array<string> = []

  const newSession = async (title: string) => {
    const result = await run(["new", env.projectDir, "--title", title])
    assert.strictEqual(result.code, 0, result.stderr)
    const id = result.stdout.trim()
    assert.match(id, UUID)
    created.push(id)
    return id
  }
  const tailShows = (id: string, text: string) =>
    eventually(async () => {
      const result = await run(["tail", id])
      return result.code === 0 && result.stdout.includes(text) ? result.stdout : undefined
    }, `${text} on the screen of ${id}`)

  beforeAll(async () => {
    env = await freshEnv()
    fs.mkdirSync(path.join(env.projectDir, "todos", "login-page"), { recursive: true })
    fs.writeFileSync(
      path.join(env.projectDir, "todos", "roadmap.md"),
      "# Roadmap\n\n- [>] login-page\n  The login form.\n- [ ] dark-mode\n"
    )
    fs.writeFileSync(path.join(env.projectDir, "todos", "login-page", "requirements.md"), "reqs\n")
    daemon = await startDaemon(env, { TELEMUX_TRUSTED_DIRS: env.projectDir })
    call = api(env)
    run = (args, options = {}) =>
      runCli(args, {
        env: cliEnv(env, options.extra ?? {}),
        ...(options.input === undefined ? {} : { input: options.input }),
        ...(options.cwd === undefined ? {} : { cwd: options.cwd })
      })
  }, 30_000)

  afterAll(async () => {
    const stopped = await daemon.stop()
    assert.strictEqual(stopped.code, 0, daemon.logs())
  })

  it("doctor: every check passes on a healthy setup", async () => {
    const result = await run(["doctor"])
    assert.strictEqual(result.code, 0, result.stdout + result.stderr)
    assert.match(result.stdout, /^✓ tmux \d+\.\d+/m)
    assert.include(result.stdout, `✓ daemon reachable at 127.0.0.1:${env.port} (computer testbox`)
    assert.match(result.stdout, /^✓ token file .*token is private \(0600\)$/m)
    assert.include(result.stdout, "✓ the daemon accepts the token")
    assert.include(result.stdout, "– Redis")
    // the daemon answered the checks above, so its metrics count them (its 503s while starting too)
    assert.match(
      result.stdout,
      /^✓ metrics: [1-9]\d*k? HTTP requests \(\d+k? answered 5xx\), [1-9]\d*k? tmux commands/m
    )
    assert.notInclude(result.stdout, "✗")
  })

  it("new, ls (table, --json, --status, --computer)", async () => {
    const empty = await run(["ls"])
    assert.strictEqual(empty.code, 0, empty.stderr)
    assert.strictEqual(empty.stdout.trim(), "no sessions")
    assert.deepStrictEqual(JSON.parse((await run(["ls", "--json"])).stdout), [])

    const first = await newSession("first")
    // a relative directory is resolved against the caller's working directory
    const relative = await run(["new", "project", "--title", "relative", "--json"], { cwd: env.home })
    assert.strictEqual(relative.code, 0, relative.stderr)
    const second = JSON.parse(relative.stdout)
    assert.strictEqual(second.workingDirectory, env.projectDir)
    created.push(second.sessionId)

    const table = await run(["ls"])
    assert.strictEqual(table.code, 0, table.stderr)
    const lines = table.stdout.trim().split("\n")
    assert.match(lines[0]!, /^ID\s+COMPUTER\s+STATUS\s+AGE\s+TITLE\s+DIRECTORY\s+LAST INPUT$/)
    assert.isTrue(
      lines.some((line) => line.startsWith(first.slice(0, 8)) && line.includes("first") && line.includes("testbox"))
    )
    assert.isTrue(lines.some((line) => line.startsWith(second.sessionId.slice(0, 8)) && line.includes("relative")))

    const listed = JSON.parse((await run(["ls", "--json"])).stdout) as Array<{ sessionId: string; title: string }>
    assert.sameMembers(listed.map((s) => s.sessionId), [first, second.sessionId])
    // decodes as the API's own Session
    for (const row of listed) assert.doesNotThrow(() => Schema.decodeUnknownSync(Session)(row))

    const mine = JSON.parse((await run(["ls", "--json", "--computer", "testbox"])).stdout)
    assert.lengthOf(mine, 2)
    // a computer this daemon cannot reach is an error, never an empty list
    const elsewhere = await run(["ls", "--json", "--computer", "elsewhere"])
    assert.notStrictEqual(elsewhere.code, 0)
    assert.include(elsewhere.stderr, "elsewhere")
    assert.strictEqual(elsewhere.stdout, "")
    assert.deepStrictEqual(JSON.parse((await run(["ls", "--json", "--status", "closed"])).stdout), [])
  }, 60_000)

  it("send (args, stdin with -, --no-enter), keys, and tail shows the result", async () => {
    const id = created[0]!
    const sent = await run(["send", id.slice(0, 6), "echo", "hi-$((6*7))"])
    assert.strictEqual(sent.code, 0, sent.stderr)
    await tailShows(id, "\nhi-42")

    const fromStdin = await run(["send", id, "-"], { input: "echo from-stdin-$((1+2))\n" })
    assert.strictEqual(fromStdin.code, 0, fromStdin.stderr)
    await tailShows(id, "\nfrom-stdin-3")

    const typed = await run(["send", "--no-enter", id, "echo typed-$((2*2))xyz"])
    assert.strictEqual(typed.code, 0, typed.stderr)
    const screen = await tailShows(id, "typed-$((2*2))xyz")
    assert.notInclude(screen, "\ntyped-4")
    const keys = await run(["keys", id, "BSpace*3", "Enter"])
    assert.strictEqual(keys.code, 0, keys.stderr)
    const after = await tailShows(id, "\ntyped-4")
    assert.notInclude(after, "typed-4xyz")

    // C-c interrupts what runs in the pane
    await run(["send", id, "sleep 30"])
    await eventually(
      async () => ((await call("GET", `/v1/sessions/${id}`)).body.status === "running" ? true : undefined),
      "running"
    )
    assert.strictEqual((await run(["keys", id, "C-c"])).code, 0)
    await eventually(
      async () => ((await call("GET", `/v1/sessions/${id}`)).body.status === "idle" ? true : undefined),
      "idle again"
    )

    const tail = await run(["tail", "--lines", "0", id])
    assert.strictEqual(tail.code, 0, tail.stderr)
    assert.include(tail.stdout, "sleep 30")
  }, 60_000)

  it("watch prints new output as it appears and exits cleanly on SIGINT", async () => {
    const id = created[0]!
    const watch = spawnCli(["watch", id.slice(0, 8)], { env: cliEnv(env) })
    await watch.waitForOutput("hi-42")
    await run(["send", id, "echo watched-$((3+4))"])
    await watch.waitForOutput("\nwatched-7")
    const sent = Date.now()
    watch.child.kill("SIGINT")
    const result = await watch.exited
    assert.strictEqual(result.code, 0, result.stderr)
    assert.isBelow(Date.now() - sent, 2000)
    // each line once: the log of a scrolling screen, not a repaint per update
    assert.strictEqual(result.stdout.split("\n").filter((line) => line === "watched-7").length, 1)
    assert.strictEqual(result.stderr, "")
  }, 30_000)

  it("attach runs tmux on the daemon's socket with the session's tmux name, this terminal, and no TMUX", async () => {
    const id = created[0]!
    const tmuxName = (await call("GET", `/v1/sessions/${id}`)).body.tmuxName as string
    const bin = path.join(env.home, "fakebin")
    const log = fakeCommand(bin, "tmux")
    const extra = { PATH: `${bin}:${process.env.PATH}`, TMUX: "/tmp/outer-tmux,1,0" }
    const result = await run(["attach", id.slice(0, 8)], { extra })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.deepStrictEqual(fs.readFileSync(log, "utf8").trim().split("\n"), [
      "-L",
      env.socket,
      "attach-session",
      "-t",
      `=${tmuxName}`,
      // the detach key, shown in tmux's status line as it attaches (tmux's default prefix: the fake knows none)
      ";",
      "display-message",
      "-d",
      "4000",
      "telemux: detach with Ctrl+b then d",
      "TMUX="
    ])
    // and said on the terminal before tmux takes it
    assert.strictEqual(result.stderr, "telemux: detach with Ctrl+b then d\n")
    // tmux's own exit status is passed on
    fakeCommand(bin, "tmux", 3)
    assert.strictEqual((await run(["attach", id], { extra })).code, 3)
    // ssh is for sessions of other computers
    const viaSsh = await run(["attach", id, "--via", "ssh"], { extra })
    assert.strictEqual(viaSsh.code, 2, viaSsh.stderr)
    assert.match(viaSsh.stderr, /--via ssh attaches sessions of other computers; this one runs here/)
  })

  it("computers, projects (text and --json)", async () => {
    const computers = await run(["computers"])
    assert.strictEqual(computers.code, 0, computers.stderr)
    assert.match(computers.stdout, /^NAME\s+HOST\s+USER\s+ROLE\s+ONLINE\s+CPU\s+MEM\s+DISK\s+VERSION$/m)
    assert.match(computers.stdout, /^testbox\s+\S+\s+\S+\s+local\s+yes\s+\d+%/m)
    const computersJson = JSON.parse((await run(["computers", "--json"])).stdout)
    assert.strictEqual(computersJson[0].name, "testbox")

    const projects = await run(["projects"])
    assert.strictEqual(projects.code, 0, projects.stderr)
    assert.include(projects.stdout, `project  ${env.projectDir}`)
    assert.include(projects.stdout, "[>] login-page  (requirements)\n      The login form.")
    assert.include(projects.stdout, "[ ] dark-mode")
    const projectsJson = JSON.parse((await run(["projects", "--json"])).stdout)
    assert.deepStrictEqual(projectsJson[0].todos.map((t: { slug: string }) => t.slug), ["login-page", "dark-mode"])
  })

  it("token prints the daemon's token", async () => {
    const result = await run(["token"])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.strictEqual(result.stdout.trim(), fs.readFileSync(path.join(env.home, "token"), "utf8").trim())
  })

  it("session ids: unknown → 5, ambiguous prefix → 6 with the candidates, bad key → 2", async () => {
    const unknown = await run(["tail", "0123456789abcdef0123456789abcdef"])
    assert.strictEqual(unknown.code, EXIT.notFound, unknown.stderr)
    assert.include(unknown.stderr, "no session matches")
    const missingFull = await run(["close", "6f1c9a64-0000-4000-8000-000000000000"])
    assert.strictEqual(missingFull.code, EXIT.notFound, missingFull.stderr)

    // 17 ids cannot all start with different hex digits
    const byFirst = new Map<string, Array<string>>()
    for (const id of created) byFirst.set(id[0]!, [...(byFirst.get(id[0]!) ?? []), id])
    while (![...byFirst.values()].some((ids) => ids.length >= 2)) {
      const id = await newSession("more")
      byFirst.set(id[0]!, [...(byFirst.get(id[0]!) ?? []), id])
    }
    const [prefix, ids] = [...byFirst].find(([, ids]) => ids.length >= 2)!
    const ambiguous = await run(["tail", prefix])
    assert.strictEqual(ambiguous.code, EXIT.ambiguous, ambiguous.stderr)
    for (const id of ids) assert.include(ambiguous.stderr, id)

    const badKey = await run(["keys", created[0]!, "Bogus"])
    assert.strictEqual(badKey.code, EXIT.usage)
    assert.include(badKey.stderr, "Bogus")
    const noArgs = await run(["send"])
    assert.strictEqual(noArgs.code, EXIT.usage)
  }, 60_000)

  it("close closes the session (the row stays as history)", async () => {
    const id = created[1]!
    // a watcher of the session ends by itself when it closes
    const watch = spawnCli(["watch", id], { env: cliEnv(env) })
    await run(["send", id, "echo ready-$((5*5))"])
    await watch.waitForOutput("\nready-25")
    const result = await run(["close", id.slice(0, 10)])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.strictEqual(result.stdout.trim(), `closed ${id}`)
    const watched = await watch.exited
    assert.strictEqual(watched.code, 0, watched.stderr)
    assert.include(watched.stderr, `session ${id} closed`)
    const open = JSON.parse((await run(["ls", "--json"])).stdout) as Array<{ sessionId: string }>
    assert.notInclude(open.map((s) => s.sessionId), id)
    const all = JSON.parse((await run(["ls", "--json", "--status", "all"])).stdout) as Array<
      { sessionId: string; status: string }
    >
    assert.strictEqual(all.find((s) => s.sessionId === id)?.status, "closed")
    // a closed session refuses input: 409 → 7
    const refused = await run(["send", id, "echo nope"])
    assert.strictEqual(refused.code, EXIT.refused, refused.stderr)
  })

  it("a wrong token → 4, no daemon → 3, each with what to do", async () => {
    const otherHome = path.join(env.home, "other-home")
    fs.mkdirSync(otherHome, { recursive: true })
    fs.writeFileSync(path.join(otherHome, "token"), "f".repeat(64) + "\n", { mode: 0o600 })
    const wrong = await run(["ls"], { extra: { TELEMUX_HOME: otherHome } })
    assert.strictEqual(wrong.code, EXIT.unauthorized, wrong.stderr)
    assert.include(wrong.stderr, "refused the API token")
    assert.include(wrong.stderr, path.join(otherHome, "token"))
    const watch = await run(["watch", "0000"], { extra: { TELEMUX_HOME: otherHome } })
    assert.strictEqual(watch.code, EXIT.unauthorized, watch.stderr)

    const port = await freePort()
    const down = await run(["ls"], { extra: { TELEMUX_PORT: String(port) } })
    assert.strictEqual(down.code, EXIT.unreachable, down.stderr)
    assert.include(down.stderr, `daemon not reachable at 127.0.0.1:${port}`)
    assert.include(down.stderr, "start it with `telemux daemon`")
    const doctor = await run(["doctor"], { extra: { TELEMUX_PORT: String(port) } })
    assert.strictEqual(doctor.code, EXIT.checksFailed)
    assert.match(doctor.stdout, /^✗ daemon not reachable/m)
    assert.match(doctor.stdout, /^✓ tmux/m)

    // a config file names the daemon the same way the daemon reads it
    const config = path.join(env.home, "cli-config.json")
    fs.writeFileSync(config, JSON.stringify({ port: env.port }))
    const { TELEMUX_PORT: _port, ...withoutPort } = cliEnv(env)
    const viaFile = await runCli(["--config", config, "ls", "--json"], { env: withoutPort })
    assert.strictEqual(viaFile.code, 0, viaFile.stderr)
  })

  it("completions: bash completes subcommands and options", async () => {
    const bash = await run(["--completions", "bash"])
    assert.strictEqual(bash.code, 0, bash.stderr)
    const script = path.join(env.home, "telemux-completion.bash")
    fs.writeFileSync(script, bash.stdout)
    const complete = (...words: ReadonlyArray<string>) =>
      execFileSync("bash", [
        "-c",
        `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; ` +
        `_telemux_bash_completions telemux '${words.at(-1)}' '${words.at(-2)}'; printf '%s\\n' "\${COMPREPLY[@]}"`
      ]).toString().trim().split("\n")
    assert.sameMembers(complete("telemux", "c"), ["close", "computers"])
    assert.include(complete("telemux", "ls", "--j"), "--json")
    for (const shell of ["zsh", "fish"]) {
      const out = await run(["--completions", shell])
      assert.strictEqual(out.code, 0)
      assert.include(out.stdout, "watch")
    }
  })
})

describe("telemux token --rotate", () => {
  it("writes a new 0600 token; the running daemon switches to it at once", async () => {
    const env = await freshEnv()
    const first = await startDaemon(env)
    const tokenFile = path.join(env.home, "token")
    const old = fs.readFileSync(tokenFile, "utf8").trim()
    const rotated = await runCli(["token", "--rotate"], { env: cliEnv(env) })
    assert.strictEqual(rotated.code, 0, rotated.stderr)
    const fresh = rotated.stdout.trim()
    assert.match(fresh, /^[0-9a-f]{64}$/)
    assert.notStrictEqual(fresh, old)
    assert.strictEqual(fs.readFileSync(tokenFile, "utf8").trim(), fresh)
    assert.strictEqual(fs.statSync(tokenFile).mode & 0o777, 0o600)
    assert.include(rotated.stderr, "from its next request")
    assert.deepStrictEqual(fs.readdirSync(env.home).filter((f) => f.endsWith(".tmp")), [])

    // the daemon sees the file change: the new token works, the old one is refused
    try {
      const after = await runCli(["ls"], { env: cliEnv(env) })
      assert.strictEqual(after.code, 0, after.stderr)
      const res = await fetch(`http://127.0.0.1:${env.port}/v1/sessions`, {
        headers: { authorization: `Bearer ${old}` }
      })
      assert.strictEqual(res.status, 401)
    } finally {
      await first.stop()
    }
  }, 60_000)
})

describe("telemux attach for a session on another computer", () => {
  it("runs ssh -t <user>@<host> tmux … attach with --via ssh or TELEMUX_ATTACH_VIA=ssh, with the user and host from /v1/computers; the stream by default", async () => {
    const env = await freshEnv()
    const remote = makeSession({ computer: ComputerName.make("farbox"), status: "idle" })
    const now = DateTime.unsafeMake(1_700_000_000_000)
    const computers = [
      new Computer({
        name: ComputerName.make("testbox"),
        host: "localhost",
        user: "me",
        role: "local",
        online: true,
        lastSeenAt: now,
        stats: null,
        version: "0.1.0"
      }),
      new Computer({
        name: ComputerName.make("farbox"),
        host: "far.example.net",
        user: "me",
        role: "peer",
        online: true,
        lastSeenAt: now,
        stats: null,
        version: "0.1.0"
      })
    ]
    // A stand-in daemon: only the three answers attach needs.
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x")
      const json = (body: unknown) =>
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body))
      if (url.pathname === "/health") {
        return json({ ok: true, version: "0.1.0", computer: "testbox", uptimeSeconds: 1, fleet: null })
      }
      if (url.pathname === "/v1/computers") return json(Schema.encodeSync(Schema.Array(Computer))(computers))
      if (url.pathname === "/v1/sessions") return json(Schema.encodeSync(Schema.Array(Session))([remote]))
      if (url.pathname === `/v1/sessions/${remote.sessionId}`) return json(Schema.encodeSync(Session)(remote))
      res.writeHead(404).end()
    })
    const port = await new Promise<number>((resolve) =>
      server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port))
    )
    try {
      fs.writeFileSync(path.join(env.home, "token"), "a".repeat(64), { mode: 0o600 })
      const bin = path.join(env.home, "fakebin")
      const log = fakeCommand(bin, "ssh")
      const variables = cliEnv(env, { TELEMUX_PORT: String(port), PATH: `${bin}:${process.env.PATH}` })
      // by default the daemon's stream, which needs a terminal (this one has pipes); ssh is not run
      const streamed = await runCli(["attach", remote.sessionId.slice(0, 8)], { env: variables })
      assert.strictEqual(streamed.code, 2, streamed.stderr)
      assert.match(streamed.stderr, /telemux attach needs a terminal/)
      assert.isFalse(fs.existsSync(log))

      const viaEnv = await runCli(["attach", remote.sessionId.slice(0, 8)], {
        env: { ...variables, TELEMUX_ATTACH_VIA: "ssh" }
      })
      assert.strictEqual(viaEnv.code, 0, viaEnv.stderr)
      assert.include(fs.readFileSync(log, "utf8"), "me@far.example.net")
      fs.rmSync(log)

      const result = await runCli(["attach", remote.sessionId.slice(0, 8), "--via", "ssh"], { env: variables })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.deepStrictEqual(fs.readFileSync(log, "utf8").trim().split("\n"), [
        "-t",
        "me@far.example.net",
        "tmux",
        "-L",
        env.socket,
        "attach-session",
        "-t",
        `=${remote.tmuxName}`,
        // quoted for the remote shell that reads it
        "\\;",
        "display-message",
        "-d",
        "4000",
        "'telemux: detach with Ctrl+b then d'",
        "TMUX="
      ])
    } finally {
      server.close()
    }
  })
})
