/**
 * A real browser for the web dashboard's tests: Debian's Chromium (`/usr/bin/chromium`, or
 * TELEMUX_CHROMIUM) driven by playwright-core, headless. A missing browser fails the test with how
 * to install it; it is never skipped.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { api, type DaemonEnv } from "./daemonProcess.js"

export const CHROMIUM = process.env.TELEMUX_CHROMIUM ?? "/usr/bin/chromium"
export const CHROMIUM_INSTALL =
  "install it with `apt-get install -y chromium` (or run `bash scripts/system-deps.sh`), or set TELEMUX_CHROMIUM to a Chromium binary"

export const launchChromium = (): Promise<Browser> => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is required by the web dashboard's browser tests and ${CHROMIUM} is missing: ${CHROMIUM_INSTALL}`
    )
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run"
    ]
  })
}

/** Screenshots and the like, kept after the run (gitignored). */
export const ARTIFACTS = path.resolve(import.meta.dirname, "../../test-artifacts/web")

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8")

export interface AxeViolation {
  readonly id: string
  readonly impact: string | null
  readonly help: string
  readonly nodes: ReadonlyArray<string>
}

/**
 * axe-core's serious and critical violations on the page as it is now. The script is evaluated
 * through the DevTools protocol, which the page's Content-Security-Policy does not govern (an
 * inline <script> would be refused, as it should be).
 */
export const seriousViolations = async (page: Page): Promise<ReadonlyArray<AxeViolation>> => {
  await page.evaluate(axeSource)
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as {
      axe: {
        run: (context: unknown, options: object) => Promise<{
          violations: Array<
            { id: string; impact: string | null; help: string; nodes: Array<{ target: Array<unknown> }> }
          >
        }>
      }
    }).axe
    const result = await axe.run((globalThis as any).document, { resultTypes: ["violations"] })
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((node) => node.target.join(" "))
    }))
  })
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical")
}

/** The terminal's visible rows as text (xterm.js's DOM renderer draws one element per row). */
export const terminalRows = (page: Page): Promise<ReadonlyArray<string>> =>
  page.$$eval(".xterm-rows > div", (rows) => rows.map((row) => (row.textContent ?? "").replace(/\u00a0/g, " ")))

/** Waits until the terminal shows a row for which `accept` holds; fails with the rows last seen. */
export const waitForRows = async (
  page: Page,
  what: string,
  accept: (rows: ReadonlyArray<string>) => boolean,
  timeoutMs = 20_000
): Promise<ReadonlyArray<string>> => {
  const deadline = Date.now() + timeoutMs
  let rows: ReadonlyArray<string> = []
  for (;;) {
    rows = await terminalRows(page)
    if (accept(rows)) return rows
    if (Date.now() > deadline) throw new Error(`the terminal never showed ${what}; it showed:\n${rows.join("\n")}`)
    await page.waitForTimeout(100)
  }
}

/**
 * Signs `page` in the way a person does: a sign-in link (`telemux web`'s code) opened in the
 * browser; ends on the Sessions view. The link, used.
 */
export const signInWithLink = async (page: Page, env: DaemonEnv): Promise<string> => {
  const code = await api(env)("POST", "/v1/web/sign-in-codes")
  if (code.status !== 201) throw new Error(`no sign-in code: ${code.status} ${JSON.stringify(code.body)}`)
  const link = `http://127.0.0.1:${env.port}${code.body.path}`
  await page.goto(link)
  await page.getByRole("heading", { name: "Sessions", level: 1 }).waitFor()
  return link
}

/** Collects what the page reports as broken: uncaught errors and refusals by its Content-Security-Policy. */
export const pageProblems = (page: Page): ReadonlyArray<string> => {
  const problems: Array<string> = []
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`))
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy|Refused to/i.test(message.text())) {
      problems.push(`console: ${message.text()}`)
    }
  })
  return problems
}
