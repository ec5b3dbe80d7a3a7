/**
 * The dashboard's worktree parts in Chromium, against a real daemon and real git: a project that is
 * a git repository (trusted) with a bare `file://` origin; a shell session started from the create
 * dialog in a new worktree; a file written in its terminal listed by the Changes view with its
 * patch; a commit from the Commit button; Discard asked first, refused while the commit is on no
 * remote, then forced, leaving a salvage ref; the user's own checkout untouched throughout.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Browser, Page } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { ARTIFACTS, launchChromium, pageProblems, seriousViolations, signInWithLink } from "./support/browser.js"
import { removeEnv } from "./support/cliProcess.js"
import { api, type DaemonEnv, makeDaemonEnv, type RunningDaemon, startDaemon } from "./support/daemonProcess.js"

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
      const done = changes.getByRole("status").filter({ hasText: /^Discard: / })
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
})
