/**
 * The dashboard's worktree parts in Chromium, against a real daemon and real git: a project that is
 * a git repository (trusted) with a bare `file://` origin; a shell session started from the create
 * dialog in a new worktree; a file written in its terminal listed by the Changes view with its
 * patch; a commit from the Commit button; Discard asked first, refused while the commit is on no
 * remote, then forced, leaving a salvage ref; the user's own checkout untouched throughout. And
 * the same views against the contract's recorded answers (the daemon's worktree routes answered by
 * the page's own network layer), so the page is checked while the daemon's side is being built.
 */
import { Schema } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Browser, Page } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { ComputerName, Session, SessionId } from "../src/domain/Session.js"
import { DiffFile, FinishResult, SessionWorktree, WorktreeDiff, WorktreeHasWork } from "../src/domain/Worktree.js"
import { ARTIFACTS, launchChromium, pageProblems, seriousViolations, signInWithLink } from "./support/browser.js"
import { removeEnv } from "./support/cliProcess.js"
import { api, type DaemonEnv, makeDaemonEnv, type RunningDaemon, startDaemon } from "./support/daemonProcess.js"
import { makeSession } from "./support/fixtures.js"

const git = (cwd: string, ...args: ReadonlyArray<string>) =>
  execFileSync("git", ["-C", cwd, ...args], {
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.com"
    }
  }).trim()

describe("the web dashboard's worktrees in Chromium", () => {
  let env: DaemonEnv
  let daemon: RunningDaemon
  let browser: Browser
  let page: Page
  let problems: ReadonlyArray<string> = []

  beforeAll(async () => {
    browser = await launchChromium()
    env = await makeDaemonEnv()
    // the daemon's git (HOME = env.home) commits as someone
    fs.writeFileSync(path.join(env.home, ".gitconfig"), "[user]\n\tname = telemux test\n\temail = test@example.com\n")
    const origin = path.join(env.home, "origin.git")
    execFileSync("git", ["init", "--bare", "-b", "main", origin])
    git(env.projectDir, "init", "-b", "main")
    fs.writeFileSync(path.join(env.projectDir, "README.md"), "# project\n")
    git(env.projectDir, "add", "README.md")
    git(env.projectDir, "commit", "-m", "first")
    git(env.projectDir, "remote", "add", "origin", `file://${origin}`)
    git(env.projectDir, "push", "-u", "origin", "main")
    daemon = await startDaemon(env, { TELEMUX_TRUSTED_DIRS: env.projectDir })
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage()
    problems = pageProblems(page)
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await daemon?.stop().catch(() => undefined)
    if (env !== undefined) removeEnv(env)
  })

  it(
    "creates a session in a worktree, shows its changes, commits from the button, discards only when forced",
    async () => {
      const indexBefore = fs.readFileSync(path.join(env.projectDir, ".git", "index"))
      await signInWithLink(page, env)
      await page.getByRole("button", { name: "New session" }).click()
      const dialog = page.getByRole("dialog", { name: "New session" })
      // the projects are grouped by computer, this one first
      const group = dialog.locator("optgroup").first()
      assert.strictEqual(await group.getAttribute("label"), "testbox (this one)")
      assert.strictEqual(await dialog.getByLabel("Project").inputValue(), env.projectDir)
      await dialog.getByLabel("Title (optional)").fill("in a worktree")
      await dialog.getByLabel("Run in a new git worktree").check()
      await dialog.getByLabel(/^Branch/).fill("web-change")
      assert.deepStrictEqual(await seriousViolations(page), [], "create dialog with the worktree's fields")
      await dialog.getByRole("button", { name: "Start" }).click()
      await page.waitForURL(/\/session\/[0-9a-f-]{36}$/, { timeout: 30_000 })
      const sessionId = new URL(page.url()).pathname.split("/").pop()!
      await page.getByRole("heading", { name: "in a worktree", level: 1 }).waitFor()

      const created = (await api(env)("GET", `/v1/sessions/${sessionId}`)).body
      if (created.worktree === undefined) {
        // said with the daemon's own answer for the diff: a daemon without worktrees says so
        const diff = await api(env)("GET", `/v1/sessions/${sessionId}/diff`)
        assert.fail(
          `the session was started without a worktree (${JSON.stringify(created)}); its diff: ${diff.status} ${
            JSON.stringify(diff.body)
          }`
        )
      }
      const worktreePath: string = created.worktree.path
      assert.strictEqual(created.worktree.branch, "web-change")
      assert.strictEqual(created.workingDirectory, worktreePath)
      assert.isFalse(worktreePath.startsWith(env.projectDir + path.sep), "outside the user's working tree")

      // a file written in the terminal
      await page.locator(".terminal-host[data-drawn=yes]").waitFor({ timeout: 30_000 })
      await page.locator(".terminal-host").click()
      await page.keyboard.type("echo hello-from-the-terminal > from-terminal.txt", { delay: 10 })
      await page.keyboard.press("Enter")
      const deadline = Date.now() + 20_000
      while (!fs.existsSync(path.join(worktreePath, "from-terminal.txt"))) {
        if (Date.now() > deadline) throw new Error("the terminal never wrote from-terminal.txt in the worktree")
        await page.waitForTimeout(100)
      }

      // the Changes view lists it (untracked files included), with its patch coloured
      await page.getByRole("button", { name: /^Changes/ }).click()
      const changes = page.getByRole("region", { name: "Changes" })
      const files = changes.getByRole("list", { name: "Changed files" })
      await files.waitFor({ timeout: 20_000 })
      assert.include(await files.innerText(), "from-terminal.txt")
      const added = changes.locator(".patch .patch-add", { hasText: "+hello-from-the-terminal" })
      await added.waitFor()
      assert.notStrictEqual(
        await added.evaluate((el) => (globalThis as any).getComputedStyle(el).backgroundColor as string),
        "rgba(0, 0, 0, 0)",
        "added lines are coloured"
      )
      assert.deepStrictEqual(await seriousViolations(page), [], "Changes view")
      await page.screenshot({ path: path.join(ARTIFACTS, "changes-desktop-1280x900.png") })

      // commit from the button
      await changes.getByLabel("Commit message").fill("Add a file from the terminal")
      await changes.getByRole("button", { name: "Commit" }).click()
      await changes.getByRole("status").filter({ hasText: /^Commit: / }).waitFor({ timeout: 30_000 })
      assert.strictEqual(git(worktreePath, "log", "-1", "--format=%s"), "Add a file from the terminal")
      assert.strictEqual(git(worktreePath, "status", "--porcelain"), "")
      // still listed: the diff is against the merge-base with main
      await changes.getByRole("button", { name: "Refresh" }).click()
      assert.include(await files.innerText(), "from-terminal.txt")

      // discard: asked first; refused while the commit is on no remote
      await changes.getByRole("button", { name: "Discard…" }).click()
      const ask = page.getByRole("alertdialog", { name: "Discard this worktree?" })
      await ask.waitFor()
      assert.include(await ask.innerText(), "salvage ref")
      assert.deepStrictEqual(await seriousViolations(page), [], "discard question")
      await ask.getByRole("button", { name: "Discard", exact: true }).click()
      const refused = changes.getByRole("alert").filter({ hasText: "Discard failed" })
      await refused.waitFor({ timeout: 30_000 })
      assert.include(await refused.innerText(), "WorktreeHasWork")
      assert.isTrue(fs.existsSync(worktreePath), "nothing removed")

      // forced: removed, its work kept in a salvage ref
      await changes.getByRole("button", { name: "Discard…" }).click()
      await ask.getByLabel(/^Force/).check()
      await ask.getByRole("button", { name: "Force discard" }).click()
      // the session closes with its worktree: what was done is said at the top of its view
      const done = page.getByRole("status").filter({ hasText: /^Discard: / })
      await done.waitFor({ timeout: 30_000 })
      assert.include(await done.innerText(), "refs/telemux/salvage/")
      assert.isFalse(fs.existsSync(worktreePath), "the worktree is gone")
      const salvage = git(env.projectDir, "for-each-ref", "--format=%(refname) %(subject)", "refs/telemux/salvage/")
      assert.include(salvage, "Add a file from the terminal")
      // the user's checkout: main still there, its index byte for byte as before
      assert.strictEqual(git(env.projectDir, "rev-parse", "--abbrev-ref", "HEAD"), "main")
      assert.deepStrictEqual(fs.readFileSync(path.join(env.projectDir, ".git", "index")), indexBefore)
      assert.deepStrictEqual(problems, [])
    },
    180_000
  )

  it("against recorded answers: Changes lists and colours, commit, discard refused then forced, fork", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const recorded = await context.newPage()
    const seen = pageProblems(recorded)
    const id = SessionId.make("5e551011-0000-4000-8000-000000000001")
    const forkId = SessionId.make("5e551011-0000-4000-8000-000000000002")
    const worktree = new SessionWorktree({
      repository: env.projectDir,
      path: path.join(env.home, "worktrees", "project", "recorded"),
      branch: "recorded",
      base: "main",
      createdBranch: true
    })
    const session = makeSession({
      sessionId: id,
      computer: ComputerName.make("testbox"),
      title: "recorded",
      agent: "claude",
      agentMode: "med",
      workingDirectory: worktree.path,
      worktree
    })
    const encode = Schema.encodeSync(Session)
    const diff = new WorktreeDiff({
      branch: "recorded",
      base: "main",
      mergeBase: "0123456789abcdef0123456789abcdef01234567",
      files: [
        new DiffFile({ path: "a.txt", oldPath: null, change: "modified", additions: 1, deletions: 1 }),
        new DiffFile({ path: "new.txt", oldPath: null, change: "added", additions: 1, deletions: 0 })
      ],
      additions: 2,
      deletions: 1,
      patch: "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-before\n+after\n" +
        "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+fresh\n",
      truncated: true
    })
    const bodies: Array<unknown> = []
    const json = (status: number, body: unknown) => ({
      status,
      contentType: "application/json",
      body: JSON.stringify(body)
    })
    await recorded.route(new RegExp(`/v1/sessions/(${id}|${forkId})(/.*)?$`), async (route) => {
      const request = route.request()
      const url = new URL(request.url())
      const body = request.postData() === null ? undefined : JSON.parse(request.postData()!)
      if (body !== undefined) bodies.push(body)
      if (url.pathname === `/v1/sessions/${id}`) return route.fulfill(json(200, encode(session)))
      if (url.pathname === `/v1/sessions/${forkId}`) {
        return route.fulfill(json(200, encode(makeSession({ sessionId: forkId, title: "the fork", agent: "claude" }))))
      }
      if (url.pathname.endsWith("/diff")) return route.fulfill(json(200, Schema.encodeSync(WorktreeDiff)(diff)))
      if (url.pathname.endsWith("/fork")) {
        return route.fulfill(json(201, encode(makeSession({ sessionId: forkId, title: "the fork", agent: "claude" }))))
      }
      if (url.pathname.endsWith("/worktree")) {
        if (body.action === "discard" && body.force !== true) {
          return route.fulfill(json(
            409,
            Schema.encodeSync(WorktreeHasWork)(
              new WorktreeHasWork({
                path: worktree.path,
                dirty: false,
                unpushed: 1,
                message: "1 commit is on no remote: push it first, or force (a salvage ref keeps it)"
              })
            )
          ))
        }
        const result = new FinishResult({
          action: body.action,
          detail: body.action === "commit" ? "committed 2 files" : "removed the worktree and branch recorded",
          commit: body.action === "commit" ? "fedcba9876543210" : null,
          salvageRef: body.action === "discard" ? "refs/telemux/salvage/recorded/1700000000" : null
        })
        return route.fulfill(json(200, Schema.encodeSync(FinishResult)(result)))
      }
      return route.fallback()
    })

    await signInWithLink(recorded, env)
    await recorded.goto(`http://127.0.0.1:${env.port}/session/${id}`)
    await recorded.getByRole("heading", { name: "recorded", level: 1 }).waitFor()
    await recorded.getByRole("button", { name: /^Changes/ }).click()
    const changes = recorded.getByRole("region", { name: "Changes" })
    const files = changes.getByRole("list", { name: "Changed files" })
    await files.waitFor()
    assert.include(await files.innerText(), "a.txt")
    assert.include(await files.innerText(), "new.txt")
    assert.include(await changes.getByRole("status").filter({ hasText: "Truncated" }).innerText(), "git -C ")
    const colour = (selector: string) =>
      changes.locator(selector).first().evaluate((el) =>
        (globalThis as any).getComputedStyle(el).backgroundColor as string
      )
    assert.strictEqual(await colour(".patch-add"), "rgb(220, 252, 231)")
    assert.strictEqual(await colour(".patch-del"), "rgb(254, 226, 226)")
    assert.strictEqual((await changes.locator(".patch-del").first().innerText()).trim(), "-before")
    assert.deepStrictEqual(await seriousViolations(recorded), [], "Changes view (recorded)")
    await recorded.screenshot({ path: path.join(ARTIFACTS, "changes-recorded-1280x900.png") })

    await changes.getByLabel("Commit message").fill("Recorded commit")
    await changes.getByRole("button", { name: "Commit" }).click()
    await changes.getByRole("status").filter({ hasText: "Commit: committed 2 files" }).waitFor()
    assert.deepStrictEqual(bodies.at(-1), { action: "commit", message: "Recorded commit" })

    await changes.getByRole("button", { name: "Discard…" }).click()
    const ask = recorded.getByRole("alertdialog", { name: "Discard this worktree?" })
    assert.deepStrictEqual(await seriousViolations(recorded), [], "discard question (recorded)")
    await ask.getByRole("button", { name: "Discard", exact: true }).click()
    const refused = changes.getByRole("alert").filter({ hasText: "Discard failed" })
    await refused.waitFor()
    assert.include(await refused.innerText(), "push it first, or force")
    assert.deepStrictEqual(bodies.at(-1), { action: "discard" })
    await changes.getByRole("button", { name: "Discard…" }).click()
    await ask.getByLabel(/^Force/).check()
    await ask.getByRole("button", { name: "Force discard" }).click()
    await recorded.getByRole("status").filter({ hasText: "refs/telemux/salvage/recorded/1700000000" }).waitFor()
    assert.deepStrictEqual(bodies.at(-1), { action: "discard", force: true })

    await recorded.getByRole("button", { name: "Fork…" }).click()
    const fork = recorded.getByRole("dialog", { name: "Fork the conversation" })
    assert.strictEqual(await fork.getByLabel("Computer").inputValue(), "testbox")
    await fork.getByLabel("In a new git worktree").check()
    await fork.getByLabel(/^Branch/).fill("try-b")
    assert.deepStrictEqual(await seriousViolations(recorded), [], "fork dialog (recorded)")
    await fork.getByRole("button", { name: "Fork", exact: true }).click()
    await recorded.waitForURL(new RegExp(`/session/${forkId}$`))
    assert.deepStrictEqual(bodies.at(-1), { worktree: { branch: "try-b" }, title: "recorded (fork)" })
    assert.deepStrictEqual(seen, [])
    await context.close()
  }, 120_000)
})
