/**
 * The dashboard of one computer driving a session on another (two daemons, dist/main.js, on a real
 * Redis): the other computer offered in the create dialog, a shell started there in one of its
 * trusted directories, its terminal drawn and typed into through the first daemon's stream, and
 * the session listed under its own computer; the create dialog's project picker offering every
 * computer's projects, grouped by computer, one of the other computer's starting the session there.
 */
import { randomBytes } from "node:crypto"
import type { Browser, Page } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { launchChromium, pageProblems, signInWithLink, waitForRows } from "./support/browser.js"
import { removeEnv } from "./support/cliProcess.js"
import { api, type DaemonEnv, makeDaemonEnv, type RunningDaemon, startDaemon } from "./support/daemonProcess.js"
import { type RedisForTest, redisForTest } from "./support/redisServer.js"

const run = `${process.pid}-${randomBytes(3).toString("hex")}`
const A = `web-a-${run}`
const B = `web-b-${run}`
const SECRET = `web-fleet-${randomBytes(8).toString("hex")}`

describe("the web dashboard across the fleet (two daemons, real Redis, Chromium)", () => {
  let redis: RedisForTest
  let envA: DaemonEnv
  let envB: DaemonEnv
  let daemonA: RunningDaemon
  let daemonB: RunningDaemon
  let browser: Browser
  let page: Page
  let problems: ReadonlyArray<string> = []

  const fleetEnv = (name: string, trusted: string) => ({
    TELEMUX_COMPUTER: name,
    TELEMUX_REDIS_URL: redis.url,
    TELEMUX_FLEET_SECRET: SECRET,
    TELEMUX_HEARTBEAT_INTERVAL: "1 second",
    TELEMUX_TRUSTED_DIRS: trusted
  })

  beforeAll(async () => {
    browser = await launchChromium()
    redis = await redisForTest()
    envA = await makeDaemonEnv()
    envB = await makeDaemonEnv()
    daemonA = await startDaemon(envA, fleetEnv(A, envA.projectDir))
    daemonB = await startDaemon(envB, fleetEnv(B, envB.projectDir))
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage()
    problems = pageProblems(page)
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await daemonA?.stop().catch(() => undefined)
    await daemonB?.stop().catch(() => undefined)
    for (const env of [envA, envB]) if (env !== undefined) removeEnv(env)
    await redis?.stop()
  }, 60_000)

  it("starts a shell on the other computer from the dialog, and types into its terminal", async () => {
    // A knows B once it has seen B's heartbeat
    const deadline = Date.now() + 20_000
    for (;;) {
      const computers = (await api(envA)("GET", "/v1/computers")).body as ReadonlyArray<
        { name: string; online: boolean }
      >
      if (computers.some((c) => c.name === B && c.online)) break
      if (Date.now() > deadline) throw new Error(`A never saw B online: ${JSON.stringify(computers)}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }

    await signInWithLink(page, envA)
    await page.getByRole("button", { name: "New session" }).click()
    const dialog = page.getByRole("dialog", { name: "New session" })
    await dialog.getByLabel("Computer").selectOption(B)
    // B's projects are B's: its directory is typed
    await dialog.getByLabel(/^Directory/).fill(envB.projectDir)
    await dialog.getByLabel("Title (optional)").fill("over there")
    await dialog.getByRole("button", { name: "Start" }).click()
    await page.waitForURL(/\/session\/[0-9a-f-]{36}$/, { timeout: 30_000 })
    await page.getByRole("heading", { name: "over there", level: 1 }).waitFor()
    assert.include(await page.locator(".session-head").innerText(), B)
    await page.locator(".terminal-host[data-drawn=yes]").waitFor({ timeout: 30_000 })

    await page.locator(".terminal-host").click()
    await page.keyboard.type("echo remote-$((6*7))", { delay: 15 })
    await page.keyboard.press("Enter")
    await waitForRows(page, "remote-42", (rows) => rows.some((row) => row.trim() === "remote-42"), 30_000)
    const sessionId = new URL(page.url()).pathname.split("/").pop()!
    const owned = await api(envB)("GET", `/v1/sessions/${sessionId}`)
    assert.strictEqual(owned.body.computer, B, "the session runs on B")

    await page.getByRole("link", { name: "← Sessions" }).click()
    const group = page.getByRole("region", { name: `Computer ${B}` })
    await group.getByRole("link", { name: /over there/ }).waitFor()
    assert.deepStrictEqual(problems, [])
  }, 120_000)

  it(
    "the project picker lists every computer's projects by computer; choosing B's sets the computer to B",
    async () => {
      await page.goto(`http://127.0.0.1:${envA.port}/`)
      await page.getByRole("heading", { name: "Sessions", level: 1 }).waitFor()
      await page.getByRole("button", { name: "New session" }).click()
      const dialog = page.getByRole("dialog", { name: "New session" })
      const picker = dialog.getByLabel("Project")
      const labels = await picker.locator("optgroup").evaluateAll((groups) =>
        groups.map((g) => (g as unknown as { label: string }).label)
      )
      assert.deepStrictEqual(labels, [`${A} (this one)`, B], "A's projects first, then B's")
      assert.strictEqual(await dialog.getByLabel("Computer").inputValue(), A)
      await picker.selectOption(`${B}:${envB.projectDir}`)
      assert.strictEqual(await dialog.getByLabel("Computer").inputValue(), B, "B's project starts it on B")
      await dialog.getByLabel("Title (optional)").fill("b's project")
      await dialog.getByRole("button", { name: "Start" }).click()
      await page.waitForURL(/\/session\/[0-9a-f-]{36}$/, { timeout: 30_000 })
      const sessionId = new URL(page.url()).pathname.split("/").pop()!
      const owned = await api(envB)("GET", `/v1/sessions/${sessionId}`)
      assert.strictEqual(owned.body.computer, B)
      assert.strictEqual(owned.body.workingDirectory, envB.projectDir)
      assert.deepStrictEqual(problems, [])
    },
    120_000
  )
})
