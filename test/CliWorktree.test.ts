/**
 * `telemux diff`, `worktree …`, `fork` and `new --worktree`: the pure parts (colouring, stats,
 * the truncated note, the pager and its fallback, the options' checks), and each command run
 * in-process (src/cli/Entry.ts) against a daemon double: a real HTTP server on loopback answering
 * with the contract's recorded answers (src/api/Api.ts), recording what the CLI asked.
 */
import { Effect, Exit, Option, Schema } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { literal, prepare } from "../src/cli/Argv.js"
import { CliEnvironment } from "../src/cli/CliEnvironment.js"
import { telemux } from "../src/cli/Commands.js"
import { run } from "../src/cli/Entry.js"
import { commandHelp } from "../src/cli/Help.js"
import { worktreeRequestOf } from "../src/cli/NewChecks.js"
import { DEFAULT_PAGER, page, pagerArgv } from "../src/cli/Pager.js"
import { cleanupText, colorPatch, diffStats, diffText, SGR } from "../src/cli/WorktreeRender.js"
import { Session, SessionId } from "../src/domain/Session.js"
import {
  CleanupReport,
  DiffFile,
  FinishResult,
  SessionWorktree,
  WorktreeDiff,
  WorktreeEntry,
  WorktreeHasWork
} from "../src/domain/Worktree.js"
import { makeSession } from "./support/fixtures.js"

const PATCH = [
  "diff --git a/src/a.ts b/src/a.ts",
  "index 1111111..2222222 100644",
  "--- a/src/a.ts",
  "+++ b/src/a.ts",
  "@@ -1,3 +1,3 @@ export const f = () => {",
  " keep",
  "-old line",
  "--- a removed line that looks like a header",
  "+new line",
  "diff --git a/notes.txt b/notes.txt",
  "new file mode 100644",
  "--- /dev/null",
  "+++ b/notes.txt",
  "@@ -0,0 +1 @@",
  "+hello",
  ""
].join("\n")

const diffOf = (overrides: Partial<ConstructorParameters<typeof WorktreeDiff>[0]> = {}) =>
  new WorktreeDiff({
    branch: "telemux/fix-login",
    base: "main",
    mergeBase: "0123456789abcdef0123456789abcdef01234567",
    files: [
      new DiffFile({ path: "src/a.ts", oldPath: null, change: "modified", additions: 1, deletions: 2 }),
      new DiffFile({ path: "notes.txt", oldPath: null, change: "added", additions: 1, deletions: 0 }),
      new DiffFile({ path: "logo.png", oldPath: null, change: "deleted", additions: null, deletions: null }),
      new DiffFile({ path: "b.ts", oldPath: "old-b.ts", change: "renamed", additions: 0, deletions: 0 })
    ],
    additions: 2,
    deletions: 2,
    patch: PATCH,
    truncated: false,
    ...overrides
  })

describe("the diff as text", () => {
  it("colours like git: headers bold, hunks cyan, + green, - red; a `--- ` line inside a hunk is a removed line", () => {
    const lines = colorPatch(PATCH).split("\n")
    assert.strictEqual(lines[0], `${SGR.bold}diff --git a/src/a.ts b/src/a.ts${SGR.reset}`)
    assert.strictEqual(lines[2], `${SGR.bold}--- a/src/a.ts${SGR.reset}`)
    assert.strictEqual(lines[3], `${SGR.bold}+++ b/src/a.ts${SGR.reset}`)
    assert.strictEqual(lines[4], `${SGR.cyan}@@ -1,3 +1,3 @@${SGR.reset} export const f = () => {`)
    assert.strictEqual(lines[5], " keep")
    assert.strictEqual(lines[6], `${SGR.red}-old line${SGR.reset}`)
    assert.strictEqual(lines[7], `${SGR.red}--- a removed line that looks like a header${SGR.reset}`)
    assert.strictEqual(lines[8], `${SGR.green}+new line${SGR.reset}`)
    assert.strictEqual(lines[10], `${SGR.bold}new file mode 100644${SGR.reset}`)
    assert.strictEqual(lines[12], `${SGR.bold}+++ b/notes.txt${SGR.reset}`)
    assert.strictEqual(lines[14], `${SGR.green}+hello${SGR.reset}`)
  })

  it("stats first: `path  +a -d  change` aligned, binary and renames said, then the totals and the base", () => {
    const text = diffStats(diffOf(), false)
    assert.deepStrictEqual(text.split("\n"), [
      "src/a.ts         +1 -2   modified",
      "notes.txt        +1 -0   added",
      "logo.png         binary  deleted",
      "old-b.ts → b.ts  +0 -0   renamed",
      "4 files changed, +2 -2 on telemux/fix-login against main (merge-base 0123456789ab)"
    ])
    assert.include(diffStats(diffOf(), true), `${SGR.green}+1${SGR.reset} ${SGR.red}-2${SGR.reset}`)
    assert.include(
      diffStats(diffOf({ files: [], additions: 0, deletions: 0 }), false),
      "no changes on telemux/fix-login"
    )
  })

  it("a truncated diff says so and how to see the whole in the worktree; no patch with --stat", () => {
    const cut = diffText(diffOf({ truncated: true }), { color: false, worktreePath: "/home/u/.telemux/worktrees/x y" })
    assert.include(cut, "the diff was cut at its bound")
    assert.include(cut, "git -C '/home/u/.telemux/worktrees/x y' diff 0123456789abcdef0123456789abcdef01234567")
    assert.isBelow(cut.indexOf("cut at"), cut.indexOf("diff --git"))
    const stat = diffText(diffOf({ patch: null }), { color: false, worktreePath: "/w" })
    assert.notInclude(stat, "diff --git")
    assert.notInclude(stat, "cut at")
    assert.notInclude(diffText(diffOf(), { color: false, worktreePath: "/w" }), "\u001b[")
  })

  it("cleanup: what was removed with its salvage ref, what was refused and why, and how to force", () => {
    const text = cleanupText(
      new CleanupReport({
        removed: [{ path: "/w/a", salvageRef: null }, { path: "/w/b", salvageRef: "refs/telemux/salvage/b/1" }],
        refused: [{ path: "/w/c", reason: "2 unpushed commits" }]
      }),
      false
    )
    assert.include(text, "removed  /w/a")
    assert.include(text, "git log refs/telemux/salvage/b/1")
    assert.include(text, "refused  /w/c: 2 unpushed commits")
    assert.include(text, "telemux worktree clean --force")
    assert.strictEqual(cleanupText(new CleanupReport({ removed: [], refused: [] }), false), "nothing to clean")
  })
})

describe("the pager", () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-pager-"))
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))

  const show = (text: string, env: NodeJS.ProcessEnv, isTTY: boolean) => {
    const written: Array<string> = []
    const shown = Effect.runSync(page(text, { env, isTTY, write: (t) => Effect.sync(() => void written.push(t)) }))
    return { shown, written }
  }

  it("$PAGER (default less -R) only on a terminal; a pipe gets the text itself", () => {
    assert.deepStrictEqual(pagerArgv({}), DEFAULT_PAGER.split(" "))
    assert.deepStrictEqual(pagerArgv({ PAGER: "  most  -s " }), ["most", "-s"])
    assert.deepStrictEqual(show("x", { PAGER: "/nonexistent" }, false), { shown: "plain", written: ["x"] })
  })

  it("the text goes through a pager that runs (with LESS=FRX unless set)", () => {
    const out = path.join(scratch, "paged")
    const script = path.join(scratch, "pager.sh")
    fs.writeFileSync(script, `#!/bin/sh\n{ printf 'LESS=%s\\n' "$LESS"; cat; } > '${out}'\n`, { mode: 0o755 })
    const { shown, written } = show("line 1\nline 2", { PATH: process.env.PATH, PAGER: script }, true)
    assert.strictEqual(shown, "pager")
    assert.deepStrictEqual(written, [])
    assert.strictEqual(fs.readFileSync(out, "utf8"), "LESS=FRX\nline 1\nline 2\n")
  })

  it("a pager that is not there falls back to plain output, nothing lost", () => {
    assert.deepStrictEqual(show("all of it", { PAGER: path.join(scratch, "no-such-pager") }, true), {
      shown: "plain",
      written: ["all of it"]
    })
  })
})

describe("--worktree options", () => {
  const request = (o: { worktree?: boolean; branch?: string; base?: string; existing?: boolean }) =>
    Effect.runSyncExit(worktreeRequestOf({
      worktree: o.worktree ?? false,
      branch: Option.fromNullable(o.branch),
      base: Option.fromNullable(o.base),
      existing: o.existing ?? false
    }))
  const refusal = (o: Parameters<typeof request>[0]) => {
    const exit = request(o)
    return Exit.isFailure(exit) ? String(exit.cause) : assert.fail(`accepted ${JSON.stringify(o)}`)
  }

  it("--worktree alone is a new derived branch; --branch, --base and --existing make the request", () => {
    assert.deepStrictEqual(request({}), Exit.succeed(undefined))
    assert.deepStrictEqual(request({ worktree: true }), Exit.succeed({}))
    assert.deepStrictEqual(
      request({ worktree: true, branch: "fix/x", base: "main" }),
      Exit.succeed({ branch: "fix/x", base: "main" })
    )
    assert.deepStrictEqual(
      request({ worktree: true, branch: "feature", existing: true }),
      Exit.succeed({ branch: "feature", existing: true })
    )
  })

  it("refuses the worktree options without --worktree, --existing without a branch or with a base, an empty name", () => {
    assert.include(refusal({ branch: "x" }), "--branch is for a worktree: add --worktree")
    assert.include(refusal({ base: "main", existing: true }), "--base, --existing are for a worktree")
    assert.include(refusal({ worktree: true, existing: true }), "name it with --branch NAME")
    assert.include(refusal({ worktree: true, existing: true, branch: "b", base: "main" }), "leave --base out")
    assert.include(refusal({ worktree: true, branch: " " }), "--branch is empty")
  })
})

describe("the command line", () => {
  it("worktree's commands are nested; --message takes any text; help for each", () => {
    assert.deepStrictEqual(prepare(["worktree", "commit", "--message", "--fix it", "abc"]), {
      _tag: "Run",
      args: ["worktree", "commit", "--message", literal("--fix it"), "abc"],
      path: ["worktree", "commit"]
    } as ReturnType<typeof prepare>)
    assert.deepStrictEqual(
      prepare(["worktree", "discard", "-h"]),
      { _tag: "Help", path: ["worktree", "discard"] } as ReturnType<typeof prepare>
    )
    const style = { width: 100, color: false }
    assert.match(commandHelp(telemux, ["diff"], style)!, /^Usage: telemux diff \[--stat\] \[--no-color\] <id>/)
    assert.match(commandHelp(telemux, ["worktree"], style)!, /^Usage: telemux worktree <command>/)
    assert.include(commandHelp(telemux, ["worktree", "discard"], style)!, "salvage ref")
    assert.include(commandHelp(telemux, ["fork"], style)!, "--worktree")
    assert.include(commandHelp(telemux, ["new"], style)!, "--existing")
  })
})

// ---------------------------------------------------------------------------
// The commands in-process, against a daemon double on loopback

const ID = SessionId.make("3f2a0c1e-1111-4111-8111-111111111111")
const SHELL_ID = SessionId.make("a0000000-3333-4333-8333-333333333333")
const worktree = new SessionWorktree({
  repository: "/repo",
  path: "/state/worktrees/repo/fix-login",
  branch: "telemux/fix-login",
  base: "main",
  createdBranch: true
})
const agentSession = makeSession({ sessionId: ID, agent: "claude", agentMode: "med", worktree })
const shellSession = makeSession({ sessionId: SHELL_ID })
const encode = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.encodeSync(schema)(value)

interface Seen {
  readonly method: string
  readonly url: string
  readonly body: unknown
}

/** The daemon double's answers by `METHOD path`; the last answer of each is whatever the test set. */
const answers = new Map<string, { status: number; body: unknown }>()
const seen: Array<Seen> = []
let server: http.Server
let baseUrl = ""

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://x")
      const text = Buffer.concat(chunks).toString("utf8")
      seen.push({
        method: request.method ?? "",
        url: url.pathname + url.search,
        body: text === "" ? null : JSON.parse(text)
      })
      const answer = answers.get(`${request.method} ${url.pathname}`) ??
        { status: 404, body: { _tag: "RouteNotFound", message: `no route ${url.pathname}` } }
      response.writeHead(answer.status, { "content-type": "application/json" })
      response.end(JSON.stringify(answer.body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  answers.set(`GET /v1/sessions/${ID}`, { status: 200, body: encode(Session, agentSession) })
  answers.set(`GET /v1/sessions/${SHELL_ID}`, { status: 200, body: encode(Session, shellSession) })
  answers.set("GET /v1/sessions", { status: 200, body: [agentSession, shellSession].map((s) => encode(Session, s)) })
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

/** `telemux …args` in-process: what it printed (stdout, stderr) and its exit. */
const telemuxRun = async (args: ReadonlyArray<string>, options: { env?: NodeJS.ProcessEnv; isTTY?: boolean } = {}) => {
  seen.length = 0
  const out: Array<string> = []
  const err: Array<string> = []
  const stdout = { isTTY: options.isTTY ?? false, columns: 120, write: () => true } as unknown as NodeJS.WriteStream
  const program = Effect.consoleWith((console) =>
    Effect.withConsole(run(["node", "telemux", ...args]), {
      ...console,
      log: (...a: ReadonlyArray<unknown>) => Effect.sync(() => void out.push(a.join(" "))),
      error: (...a: ReadonlyArray<unknown>) => Effect.sync(() => void err.push(a.join(" ")))
    })
  ).pipe(
    Effect.provideService(CliEnvironment, {
      env: { PATH: process.env.PATH, TELEMUX_URL: baseUrl, ...options.env },
      cwd: "/work",
      stdin: process.stdin,
      stdout
    })
  )
  const exit = await Effect.runPromiseExit(program as Effect.Effect<void, unknown>)
  return { out: out.join("\n"), err: err.join("\n"), exit, seen: [...seen] }
}

const failureText = (exit: Exit.Exit<void, unknown>) => Exit.isFailure(exit) ? String(exit.cause) : ""

describe("the commands against a daemon double", () => {
  it("diff: asks for the diff of the session a prefix names; stats, then the patch; plain into a pipe", async () => {
    answers.set(`GET /v1/sessions/${ID}/diff`, { status: 200, body: encode(WorktreeDiff, diffOf()) })
    const result = await telemuxRun(["diff", "3f2a"])
    assert.isTrue(Exit.isSuccess(result.exit), failureText(result.exit))
    assert.deepStrictEqual(result.seen.map((s) => `${s.method} ${s.url.split("?")[0]}`), [
      "GET /v1/sessions",
      `GET /v1/sessions/${ID}/diff`
    ])
    assert.isTrue(result.out.startsWith("src/a.ts         +1 -2   modified"), result.out)
    assert.include(result.out, "+new line")
    assert.notInclude(result.out, "\u001b[")
  })

  it("diff --stat asks for stats only (?stat=1); on a terminal the patch is coloured, and a missing pager prints it", async () => {
    answers.set(`GET /v1/sessions/${ID}/diff`, { status: 200, body: encode(WorktreeDiff, diffOf({ patch: null })) })
    const stat = await telemuxRun(["diff", "--stat", ID])
    assert.strictEqual(stat.seen.at(-1)!.url, `/v1/sessions/${ID}/diff?stat=1`)
    assert.include(stat.out, "4 files changed")

    answers.set(`GET /v1/sessions/${ID}/diff`, { status: 200, body: encode(WorktreeDiff, diffOf({ truncated: true })) })
    const tty = await telemuxRun(["diff", ID], { isTTY: true, env: { PAGER: "/nonexistent/pager" } })
    assert.isTrue(Exit.isSuccess(tty.exit), failureText(tty.exit))
    assert.include(tty.out, `${SGR.green}+new line${SGR.reset}`)
    assert.include(tty.out, `git -C ${worktree.path} diff `)
    const noColor = await telemuxRun(["diff", "--no-color", ID], { isTTY: true, env: { PAGER: "/nonexistent/pager" } })
    assert.notInclude(noColor.out, "\u001b[")
    const envNoColor = await telemuxRun(["diff", ID], { isTTY: true, env: { PAGER: "/nonexistent", NO_COLOR: "1" } })
    assert.notInclude(envNoColor.out, "\u001b[")
  })

  it("diff of a session without a worktree says so plainly and how to get one, without asking for a diff", async () => {
    const result = await telemuxRun(["diff", SHELL_ID])
    const text = failureText(result.exit)
    assert.include(text, "runs in no worktree")
    assert.include(text, "telemux new DIR --worktree")
    assert.notInclude(result.seen.map((s) => s.url).join(" "), "/diff")
  })

  it("worktree commit/push/discard send the contract's payload and print what was done", async () => {
    answers.set(`POST /v1/sessions/${ID}/worktree`, {
      status: 200,
      body: encode(
        FinishResult,
        new FinishResult({
          action: "commit",
          detail: "committed 3 files on telemux/fix-login",
          commit: "abc123",
          salvageRef: null
        })
      )
    })
    const commit = await telemuxRun(["worktree", "commit", "--message", "Fix the login", ID])
    assert.isTrue(Exit.isSuccess(commit.exit), failureText(commit.exit))
    assert.deepStrictEqual(commit.seen.at(-1)!.body, { action: "commit", message: "Fix the login" })
    assert.include(commit.out, "committed 3 files")
    assert.include(commit.out, "commit abc123")

    await telemuxRun(["worktree", "push", "--remote", "upstream", ID])
    assert.deepStrictEqual(seen.at(-1)!.body, { action: "push", remote: "upstream" })

    answers.set(`POST /v1/sessions/${ID}/worktree`, {
      status: 200,
      body: encode(
        FinishResult,
        new FinishResult({
          action: "discard",
          detail: "removed the worktree",
          commit: null,
          salvageRef: "refs/telemux/salvage/telemux/fix-login/1700000000"
        })
      )
    })
    const forced = await telemuxRun(["worktree", "discard", "--force", ID])
    assert.deepStrictEqual(forced.seen.at(-1)!.body, { action: "discard", force: true })
    assert.include(forced.out, "kept in refs/telemux/salvage/telemux/fix-login/1700000000")
  })

  it("a refused discard shows the daemon's reason and how to force it (keeping a salvage ref)", async () => {
    answers.set(`POST /v1/sessions/${ID}/worktree`, {
      status: 409,
      body: encode(
        WorktreeHasWork,
        new WorktreeHasWork({
          path: worktree.path,
          dirty: true,
          unpushed: 2,
          message: "the worktree has uncommitted changes and 2 unpushed commits"
        })
      )
    })
    const result = await telemuxRun(["worktree", "discard", ID])
    const text = failureText(result.exit)
    assert.include(text, "2 unpushed commits")
    assert.include(text, "telemux worktree discard --force 3f2a0c1e")
    assert.include(text, "salvage ref")
  })

  it("worktree list and clean: the fleet's worktrees; clean sends paths, force and computer", async () => {
    answers.set("GET /v1/worktrees", {
      status: 200,
      body: [
        encode(
          WorktreeEntry,
          new WorktreeEntry({
            computer: "local",
            repository: "/repo",
            path: worktree.path,
            branch: "telemux/fix-login",
            sessionId: ID,
            state: "closed",
            dirty: true,
            unpushed: 1
          })
        )
      ]
    })
    const list = await telemuxRun(["worktree", "list", "--computer", "box"])
    assert.strictEqual(list.seen.at(-1)!.url, "/v1/worktrees?computer=box")
    assert.match(list.out, /^COMPUTER\s+STATE\s+SESSION\s+BRANCH\s+DIRTY\s+UNPUSHED\s+PATH/)
    assert.match(list.out, /local\s+closed\s+3f2a0c1e\s+telemux\/fix-login\s+yes\s+1\s+\/state\/worktrees/)

    answers.set("POST /v1/worktrees/cleanup", {
      status: 200,
      body: encode(
        CleanupReport,
        new CleanupReport({ removed: [], refused: [{ path: "/work/wt", reason: "uncommitted changes" }] })
      )
    })
    const clean = await telemuxRun(["worktree", "clean", "wt", "/abs/other"])
    assert.deepStrictEqual(clean.seen.at(-1)!.body, { paths: ["/work/wt", "/abs/other"] })
    assert.include(clean.out, "refused  /work/wt: uncommitted changes")
    assert.include(clean.out, "--force")
    await telemuxRun(["worktree", "clean", "--force", "--computer", "box"])
    assert.deepStrictEqual(seen.at(-1)!.body, { force: true, computer: "box" })
  })

  it("fork: an agent's session, into a worktree with a branch, a title and a mode; a shell is refused", async () => {
    const forked = makeSession({ agent: "claude" })
    answers.set(`POST /v1/sessions/${ID}/fork`, { status: 201, body: encode(Session, forked) })
    const result = await telemuxRun([
      "fork",
      "--worktree",
      "--branch",
      "try-b",
      "--title",
      "try b",
      "--mode",
      "deep",
      ID
    ])
    assert.isTrue(Exit.isSuccess(result.exit), failureText(result.exit))
    assert.deepStrictEqual(result.seen.at(-1)!.body, { worktree: { branch: "try-b" }, title: "try b", mode: "deep" })
    assert.strictEqual(result.out, forked.sessionId)

    const shell = await telemuxRun(["fork", SHELL_ID])
    assert.include(failureText(shell.exit), "runs a shell, not an agent")
    assert.notInclude(shell.seen.map((s) => s.url).join(" "), "/fork")
  })

  it("new --worktree sends the worktree request; --branch without --worktree is refused before any request", async () => {
    answers.set("POST /v1/sessions", { status: 201, body: encode(Session, agentSession) })
    const created = await telemuxRun(["new", "--worktree", "--base", "develop", "/repo"])
    assert.isTrue(Exit.isSuccess(created.exit), failureText(created.exit))
    assert.deepStrictEqual(created.seen.at(-1)!.body, { projectDir: "/repo", worktree: { base: "develop" } })
    const refused = await telemuxRun(["new", "--branch", "x", "/repo"])
    assert.include(failureText(refused.exit), "--branch is for a worktree")
    assert.deepStrictEqual(refused.seen, [])
  })
})
