/**
 * The web dashboard in a real browser (Debian's Chromium, headless, by playwright-core) against a
 * real daemon (dist/main.js) with real tmux: signed in through a sign-in link, the sessions list,
 * a shell session created from the dialog, typed into key by key in xterm.js, a full-screen
 * program drawn, Ctrl-C from the key bar, the daemon restarted under the open page, the phone and
 * desktop layouts (screenshots in test-artifacts/web), axe-core on every view, and the session
 * closed after a confirmation and found in the history. Every wait is for a condition.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import {
  ARTIFACTS,
  launchChromium,
  pageProblems,
  seriousViolations,
  signInWithLink,
  terminalRows,
  waitForRows
} from "./support/browser.js"
import { removeEnv } from "./support/cliProcess.js"
import {
  api,
  type DaemonEnv,
  freePort,
  makeDaemonEnv,
  type RunningDaemon,
  startDaemon
} from "./support/daemonProcess.js"

const STEP_MS = 90_000

/** The page's own, in functions run inside the browser (this program has no DOM types). */
declare const document: any

describe("the web dashboard in Chromium", () => {
  let env: DaemonEnv
  let daemon: RunningDaemon
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let origin: string
  let sessionId = ""
  let pageErrors: ReadonlyArray<string> = []

  const start = () => startDaemon(env, { TELEMUX_TRUSTED_DIRS: env.projectDir })

  beforeAll(async () => {
    browser = await launchChromium()
    env = await makeDaemonEnv()
    fs.mkdirSync(path.join(env.projectDir, "todos"))
    fs.writeFileSync(
      path.join(env.projectDir, "todos", "roadmap.md"),
      "- [>] web-dashboard\n  Build the dashboard\n- [ ] notifications\n"
    )
    daemon = await start()
    origin = `http://127.0.0.1:${env.port}`
    fs.mkdirSync(ARTIFACTS, { recursive: true })
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    // the page's WebSockets, kept where the test can cut one (as a network drop would)
    await context.addInitScript(() => {
      const global = globalThis as any
      const Native = global.WebSocket
      const sockets: Array<unknown> = []
      global.__testSockets = sockets
      global.WebSocket = class extends Native {
        constructor(...args: Array<unknown>) {
          super(...args)
          sockets.push(this)
          this.addEventListener("message", (event: { data: unknown }) => {
            if (typeof event.data === "string" && event.data.startsWith("{\"type\":\"terminal\"")) {
              global.__testSnapshots = (global.__testSnapshots ?? 0) + 1
            }
          })
        }
      }
    })
    page = await context.newPage()
    pageErrors = pageProblems(page)
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await daemon?.stop().catch(() => undefined)
    if (env !== undefined) removeEnv(env)
  })

  const axeClean = async (view: string) => {
    const violations = await seriousViolations(page)
    assert.deepStrictEqual(violations, [], `${view}: axe-core found serious or critical violations`)
  }

  it("a page that is not signed in offers the sign-in; the link signs in and shows the sessions list", async () => {
    await page.goto(`${origin}/`)
    await page.getByRole("link", { name: "Sign in" }).waitFor()
    await axeClean("signed out")

    const link = await signInWithLink(page, env)
    await page.getByText("No open session").waitFor()
    assert.strictEqual(new URL(page.url()).pathname, "/")
    await page.getByRole("status").filter({ hasText: "live" }).waitFor()
    await axeClean("sessions (empty)")

    // the link works once: in another browser it says so, and that browser stays signed out
    const elsewhere = await browser.newContext()
    try {
      const other = await elsewhere.newPage()
      await other.goto(link)
      const refused = other.locator("#message.error")
      await refused.waitFor()
      assert.notStrictEqual((await refused.innerText()).trim(), "")
      assert.deepStrictEqual(await seriousViolations(other), [], "sign-in page")
      await other.goto(`${origin}/`)
      await other.getByRole("link", { name: "Sign in" }).waitFor()
    } finally {
      await elsewhere.close()
    }
  }, STEP_MS)

  it("a page of another origin in the same browser cannot use the cookie: its stream is refused", async () => {
    // another port of the same host is the same *site*: the browser sends the SameSite cookie, and
    // the daemon's own Origin check is what refuses it
    const daemonOrigin = origin
    const evil = http.createServer((_request, response) => {
      response.writeHead(200, { "content-type": "text/html" })
      response.end(`<!doctype html><title>elsewhere</title><script>
        window.outcome = new Promise((resolve) => {
          const ws = new WebSocket(${JSON.stringify(daemonOrigin.replace("http", "ws"))} + "/v1/stream")
          let heard = []
          ws.onopen = () => ws.send(JSON.stringify({ type: "subscribe", sessions: true }))
          ws.onmessage = (event) => heard.push(String(event.data).slice(0, 40))
          ws.onclose = (event) => resolve({ code: event.code, heard })
        })
      </script>`)
    })
    const port = await freePort()
    await new Promise<void>((resolve) => evil.listen(port, "127.0.0.1", resolve))
    const other = await context.newPage()
    try {
      await other.goto(`http://127.0.0.1:${port}/`)
      const outcome: { code: number; heard: Array<string> } = await other.evaluate("window.outcome")
      assert.deepStrictEqual(outcome.heard, [], "the stream said nothing to the other origin")
      // refused before the upgrade (a 401): the handshake never completed
      assert.strictEqual(outcome.code, 1006)
      assert.strictEqual((await api(env)("GET", "/v1/sessions")).status, 200)
    } finally {
      await other.close()
      evil.close()
    }
  }, STEP_MS)

  it("lists the projects with their todos and the computers with their figures", async () => {
    const nav = page.getByRole("navigation", { name: "Views" })
    await nav.getByRole("link", { name: "Projects" }).click()
    await page.waitForURL(`${origin}/projects`)
    const project = page.getByRole("region", { name: "Project project" })
    await project.waitFor()
    const text = await project.innerText()
    for (const expected of [env.projectDir, "in progress", "web-dashboard", "Build the dashboard", "notifications"]) {
      assert.include(text, expected)
    }
    assert.strictEqual(await nav.getByRole("link", { name: "Projects" }).getAttribute("aria-current"), "page")
    await axeClean("projects")

    await nav.getByRole("link", { name: "Computers" }).click()
    const computer = page.getByRole("region", { name: "Computer testbox" })
    await computer.waitFor()
    const figures = await computer.innerText()
    assert.include(figures, "testbox (this one)")
    assert.include(figures, "online")
    assert.include(figures, "Fleet link: none")
    await axeClean("computers")
    // a reload keeps the view (the daemon serves the app for its own paths)
    await page.reload()
    await computer.waitFor()
    await page.goto(`${origin}/projects`)
    await project.waitFor()
  }, STEP_MS)

  it("creates a shell session from the dialog and shows its live terminal", async () => {
    // from the project's own button: the dialog opens with it chosen
    await page.getByRole("region", { name: "Project project" }).getByRole("button", { name: "New session here" })
      .click()
    const dialog = page.getByRole("dialog", { name: "New session" })
    await dialog.waitFor()
    assert.strictEqual(await dialog.getByLabel("Project").inputValue(), env.projectDir)
    await axeClean("create dialog")
    // a directory that is not there is refused where the user is looking, and nothing starts
    await dialog.getByLabel("Project").selectOption({ label: "Another directory…" })
    await dialog.getByLabel(/^Directory/).fill(path.join(env.projectDir, "missing"))
    await dialog.getByRole("button", { name: "Start" }).click()
    await dialog.getByRole("alert").waitFor()
    assert.strictEqual((await api(env)("GET", "/v1/sessions")).body.length, 0)

    await dialog.getByLabel("Project").selectOption(env.projectDir)
    await dialog.getByLabel("Title (optional)").fill("web test")
    await dialog.getByRole("button", { name: "Start" }).click()
    await page.waitForURL(/\/session\/[0-9a-f-]{36}$/)
    sessionId = new URL(page.url()).pathname.split("/").pop()!
    await page.getByRole("heading", { name: "web test", level: 1 }).waitFor()
    await page.locator(".terminal-host[data-drawn=yes]").waitFor()
    // the shell's prompt is drawn
    await waitForRows(page, "a shell prompt", (rows) => rows.some((row) => /[$#] ?$/.test(row.trimEnd() + " ")))
  }, STEP_MS)

  it("types key by key into the terminal and sees the shell's answer", async () => {
    await page.locator(".terminal-host").click()
    await page.keyboard.type("echo hi-$((6*7))", { delay: 15 })
    await page.keyboard.press("Enter")
    await waitForRows(page, "hi-42", (rows) => rows.some((row) => row.trim() === "hi-42"))
  }, STEP_MS)

  it(
    "a dropped connection is made again by itself: what the shell printed meanwhile shows once, nothing doubled",
    async () => {
      const sockets = () => page.evaluate(() => (globalThis as any).__testSockets.length as number)
      const before = await sockets()
      const snapshots = () => page.evaluate(() => (globalThis as any).__testSnapshots as number)
      const snapshotsBefore = await snapshots()
      // printed a moment after the connection is cut, before it is made again (250 ms at the soonest)
      await page.keyboard.type("sleep 0.1; echo during-$((5*5))", { delay: 10 })
      await page.keyboard.press("Enter")
      await page.evaluate(() => {
        const list = (globalThis as any).__testSockets
        list[list.length - 1].close()
      })
      const rows = await waitForRows(page, "during-25", (rows) => rows.some((row) => row.trim() === "during-25"))
      assert.isAbove(await sockets(), before, "a new connection was made")
      // resumed from the last seq drawn (the daemon's ring), not redrawn from a snapshot
      assert.strictEqual(await snapshots(), snapshotsBefore, "no snapshot was needed")
      await page.getByRole("status").filter({ hasText: "live" }).waitFor()
      const once = (line: string) => rows.filter((row) => row.trim() === line).length
      assert.strictEqual(once("during-25"), 1, rows.join("\n"))
      assert.strictEqual(once("hi-42"), 1, rows.join("\n"))
      // and the terminal still takes keys
      await page.locator(".terminal-host").click()
      await page.keyboard.type("echo again-$((4*4))", { delay: 10 })
      await page.keyboard.press("Enter")
      const after = await waitForRows(page, "again-16", (rows) => rows.some((row) => row.trim() === "again-16"))
      assert.strictEqual(after.filter((row) => row.trim() === "during-25").length, 1, after.join("\n"))
    },
    STEP_MS
  )

  it("draws a full-screen program (less), and Ctrl-C from the key bar interrupts a command", async () => {
    await page.keyboard.type("seq 1 500 | less", { delay: 10 })
    await page.keyboard.press("Enter")
    // less on the alternate screen: the numbers from the top row, its prompt on the last one
    await waitForRows(
      page,
      "less's first page",
      (rows) => rows[0]?.trim() === "1" && rows.some((r) => r.trim() === "2")
    )
    await page.keyboard.press("Space")
    await waitForRows(
      page,
      "less's second page",
      (rows) => rows[0]?.trim() !== "1" && /^\d+$/.test(rows[0]?.trim() ?? "")
    )
    await page.keyboard.press("q")
    await waitForRows(page, "the shell again", (rows) => rows.some((row) => row.includes("seq 1 500 | less")))

    await page.keyboard.type("sleep 600", { delay: 10 })
    await page.keyboard.press("Enter")
    await page.getByRole("toolbar", { name: "Terminal keys" }).getByRole("button", { name: /^Ctrl-C/ }).click()
    // only a shell back at its prompt runs what is typed next
    await page.locator(".terminal-host").click()
    await page.keyboard.type("echo after-$((1+1))", { delay: 10 })
    await page.keyboard.press("Enter")
    await waitForRows(page, "after-2", (rows) => rows.some((row) => row.trim() === "after-2"))
    await axeClean("session")
  }, STEP_MS)

  const fitsIn = async (selector: string, width: number, height: number) => {
    const box = await page.locator(selector).boundingBox()
    assert.isNotNull(box, `${selector} is not shown`)
    assert.isTrue(await page.locator(selector).isVisible(), `${selector} is not visible`)
    assert.isAtLeast(box!.x, 0, `${selector} starts left of the screen`)
    assert.isAtLeast(box!.y, 0, `${selector} starts above the screen`)
    assert.isAtMost(box!.x + box!.width, width + 0.5, `${selector} overflows the screen's width`)
    assert.isAtMost(box!.y + box!.height, height + 0.5, `${selector} overflows the screen's height`)
    assert.isAbove(box!.height, 0)
    return box!
  }

  /** The terminal resized to the page (a `resize` round trip): xterm's screen fits inside its frame. */
  const terminalFits = (what: string) =>
    page.waitForFunction(
      () => {
        const host = document.querySelector(".terminal-host")
        const screen = document.querySelector(".xterm-screen")
        if (host === null || screen === null) return false
        const outer = host.getBoundingClientRect()
        const inner = screen.getBoundingClientRect()
        return inner.width > 0 && inner.width <= outer.width + 1 && inner.height <= outer.height + 1
      },
      undefined,
      { timeout: 20_000 }
    ).catch((error) => {
      throw new Error(`${what}: the terminal was not resized to fit the page (${String(error)})`)
    })

  it(
    "fits a desktop (1440×900) and a phone (390×844): terminal and key bar on screen, nothing overflowing",
    async () => {
      for (const [name, width, height] of [["desktop", 1440, 900], ["phone", 390, 844]] as const) {
        await page.setViewportSize({ width, height })
        await terminalFits(name)
        const terminal = await fitsIn(".terminal-host", width, height)
        const keys = await fitsIn(".key-bar", width, height)
        assert.isAtLeast(keys.y, terminal.y + terminal.height - 1, `${name}: the key bar is below the terminal`)
        assert.isAtLeast(terminal.height, height * 0.4, `${name}: the terminal takes most of the screen`)
        const scroll = await page.evaluate(() => ({
          width: document.documentElement.scrollWidth,
          height: document.documentElement.scrollHeight
        }))
        assert.isAtMost(scroll.width, width, `${name}: the page scrolls sideways`)
        assert.isAtMost(scroll.height, height, `${name}: the page scrolls down`)
        // every key of the bar can be reached (scrolling the bar itself if need be)
        const bar = page.getByRole("toolbar", { name: "Terminal keys" })
        for (const key of ["Esc (Escape)", "Tab", "Ctrl-C (interrupt)", "PgDn (page down)", "Enter"]) {
          const button = bar.getByRole("button", { name: key })
          await button.scrollIntoViewIfNeeded()
          assert.isTrue(await button.isVisible(), `${name}: the ${key} key`)
        }
        await page.screenshot({ path: path.join(ARTIFACTS, `session-${name}-${width}x${height}.png`) })
        await axeClean(`session at ${width}×${height}`)
      }
      // typing still works at the phone's size, on a terminal as wide as the phone
      await page.locator(".terminal-host").click()
      await page.keyboard.type("echo narrow-$((3*3))", { delay: 10 })
      await page.keyboard.press("Enter")
      await waitForRows(page, "narrow-9", (rows) => rows.some((row) => row.trim() === "narrow-9"))
      assert.isAtMost((await terminalRows(page))[0]!.length, 60, "the terminal is as narrow as the phone")

      await page.goto(`${origin}/`)
      await page.getByRole("link", { name: /web test/ }).waitFor()
      await page.screenshot({ path: path.join(ARTIFACTS, "sessions-phone-390x844.png") })
      await axeClean("sessions at 390×844")
      await page.setViewportSize({ width: 1440, height: 900 })
      await page.screenshot({ path: path.join(ARTIFACTS, "sessions-desktop-1440x900.png") })
      const row = page.getByRole("link", { name: /web test/ })
      assert.include(await row.innerText(), "shell")
      // the list is live: the session's last output follows what the shell printed
      await row.filter({ hasText: "narrow-9" }).waitFor({ timeout: 20_000 })
      assert.match(await row.innerText(), /started \d+ s ago/)
    },
    STEP_MS
  )

  it("reconnects by itself when the daemon restarts; the session is still there and answers", async () => {
    await page.getByRole("link", { name: /web test/ }).click()
    await page.locator(".terminal-host[data-drawn=yes]").waitFor()
    await daemon.stop()
    await page.getByRole("status").filter({ hasText: "reconnecting" }).waitFor()
    daemon = await start()
    await page.getByRole("status").filter({ hasText: "live" }).waitFor({ timeout: 30_000 })
    await page.getByRole("heading", { name: "web test", level: 1 }).waitFor()
    await page.locator(".terminal-host").click()
    await page.keyboard.type("echo back-$((2+3))", { delay: 10 })
    await page.keyboard.press("Enter")
    const rows = await waitForRows(page, "back-5", (rows) => rows.some((row) => row.trim() === "back-5"))
    // drawn once: no line of the output doubled by the reconnection
    assert.strictEqual(rows.filter((row) => row.trim() === "back-5").length, 1, rows.join("\n"))
  }, STEP_MS)

  it("closes the session after a confirmation; it is then in the history", async () => {
    await page.getByRole("button", { name: "Close…" }).click()
    const confirm = page.getByRole("alertdialog", { name: "Close this session?" })
    await confirm.waitFor()
    await axeClean("close confirmation")
    await confirm.getByRole("button", { name: "Cancel" }).click()
    await confirm.waitFor({ state: "hidden" })
    assert.strictEqual((await api(env)("GET", `/v1/sessions/${sessionId}`)).body.status !== "closed", true)

    await page.getByRole("button", { name: "Close…" }).click()
    await confirm.getByRole("button", { name: "Close session" }).click()
    await page.getByRole("heading", { name: "Sessions", level: 1 }).waitFor()
    await page.getByText("No open session").waitFor()
    assert.strictEqual((await api(env)("GET", `/v1/sessions/${sessionId}`)).body.status, "closed")

    await page.getByLabel("Status").selectOption("closed")
    const closed = page.getByRole("link", { name: /web test/ })
    await closed.waitFor()
    assert.include(await closed.innerText(), "closed")
    await axeClean("history")
    assert.deepStrictEqual(pageErrors, [])
  }, STEP_MS)

  it("is installable: a manifest with an icon, and a service worker that caches the app shell only", async () => {
    const href = await page.locator("link[rel=manifest]").getAttribute("href")
    const manifest: any = await (await fetch(`${origin}${href}`)).json()
    assert.strictEqual(manifest.start_url, "/")
    assert.strictEqual(manifest.display, "standalone")
    const icon = await fetch(`${origin}${manifest.icons[0].src}`)
    assert.strictEqual(icon.status, 200)
    assert.strictEqual(icon.headers.get("content-type"), "image/svg+xml")

    await page.evaluate(() => (globalThis as any).navigator.serviceWorker.ready.then(() => true))
    await page.reload()
    await page.getByRole("heading", { name: "Sessions", level: 1 }).waitFor()
    assert.isTrue(await page.evaluate(() => (globalThis as any).navigator.serviceWorker.controller !== null))
    // the page, its API calls and its stream went through a controlled page: still, only the shell is kept
    await page.getByRole("navigation", { name: "Views" }).getByRole("link", { name: "Computers" }).click()
    await page.getByRole("region", { name: "Computer testbox" }).waitFor()
    const cached: ReadonlyArray<string> = await page.evaluate(async () => {
      const caches = (globalThis as any).caches
      const paths: Array<string> = []
      for (const name of await caches.keys()) {
        for (const request of await (await caches.open(name)).keys()) paths.push(new URL(request.url).pathname)
      }
      return paths
    })
    assert.includeMembers([...cached], ["/", "/sign-in", "/manifest.webmanifest"])
    const outside = cached.filter((p) => !["/", "/sign-in", "/icon.svg", "/manifest.webmanifest"].includes(p))
    assert.isTrue(outside.every((p) => /^\/assets\/[\w-]+\.(js|css)$/.test(p)), cached.join("\n"))
    assert.isFalse(cached.some((p) => p.startsWith("/v1") || p === "/health"), cached.join("\n"))
    assert.deepStrictEqual(pageErrors, [])
  }, STEP_MS)
})
