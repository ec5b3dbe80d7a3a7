/**
 * The web dashboard in a real browser (Chromium by playwright-core, as in its tests), against the
 * daemon (dist/main.js) on one loopback, in one run:
 *
 * - First load: the bytes a signed-in browser with nothing cached transfers (scripts apart: at most
 *   300 KB gzipped) and the time from navigation until the sessions list is drawn (target ≤ 1 s).
 * - Keystroke → drawn: a key pressed in the page's terminal until xterm.js has drawn its echo (the
 *   DOM renderer's update, painted in that frame), measured in the page from the key's own event;
 *   beside it the terminal stream's own figure, keystroke → echo on a bare WebSocket client of the
 *   same daemon. Targets p50 ≤ 16 ms, p99 ≤ 50 ms.
 * - 50 sessions each printing every 200 ms, the sessions list open for WEB_BUSY_SECONDS: the
 *   main thread's long tasks (> 50 ms, counted by the page's PerformanceObserver) and the JS heap
 *   after a garbage collection at the start and at the end (flat: the page keeps nothing per update).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { Page } from "playwright-core"
import WebSocket from "ws"
import { decodeChunkFrame } from "../src/api/TerminalFrames.js"
import { launchChromium, signInWithLink } from "../test/support/browser.js"
import {
  type DaemonEnv,
  keepAliveApi,
  makeDaemonEnv,
  removeDaemonEnv,
  startDaemon
} from "../test/support/daemonProcess.js"
import { PRINTER, sessionsOf, show, stats } from "./inputBench.js"
import type { BenchRow } from "./measure.js"
import { startFloorServer } from "./webFloor.js"

const FIRST_LOADS = 5
const KEYS = 150
const WARM_UP_KEYS = 30
const PRINTERS = 50
const WEB_BUSY_SECONDS = Number(process.env.TELEMUX_BENCH_WEB_SECONDS ?? 120)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Keystroke → echo on a bare WebSocket client of the stream (the figure the browser's is beside). */
const streamKeystrokes = async (env: DaemonEnv, sessionId: string, samples: number) => {
  const token = fs.readFileSync(path.join(env.home, "token"), "utf8").trim()
  const ws = new WebSocket(`ws://127.0.0.1:${env.port}/v1/stream`, { headers: { authorization: `Bearer ${token}` } })
  let onChunk: (bytes: Uint8Array) => void = () => undefined
  let drawn: () => void = () => undefined
  const snapshot = new Promise<void>((resolve) => (drawn = resolve))
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      if ((JSON.parse(data.toString()) as { type: string }).type === "terminal") drawn()
      return
    }
    const frame = decodeChunkFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    if (frame !== undefined && frame.sessionId === sessionId) onChunk(frame.bytes)
  })
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve())
    ws.once("error", reject)
  })
  ws.send(JSON.stringify({ type: "subscribe", terminal: [{ sessionId }] }))
  await snapshot
  const times: Array<number> = []
  for (let i = 0; i < samples; i++) {
    if (i % 40 === 39) {
      ws.send(JSON.stringify({ type: "input", sessionId, data: "\x15" }))
      await sleep(100)
    }
    const key = 0x61 + (i % 26)
    const echoed = new Promise<number>((resolve) => {
      const timer = setTimeout(() => resolve(NaN), 5000)
      onChunk = (bytes) => {
        if (!bytes.includes(key)) return
        clearTimeout(timer)
        resolve(performance.now())
      }
    })
    const start = performance.now()
    ws.send(JSON.stringify({ type: "input", sessionId, data: String.fromCharCode(key) }))
    const at = await echoed
    if (!Number.isNaN(at)) times.push(at - start)
    await sleep(5 + Math.random() * 10)
  }
  ws.send(JSON.stringify({ type: "input", sessionId, data: "\x15" }))
  ws.close()
  return stats(times)
}

/**
 * In the page: arms a watch that resolves `__drawn` with the ms from the next keydown in the
 * terminal until `ch` is drawn once more; returns once armed (the key is pressed after). Source
 * text, not a function: tsx would wrap a function's inner names in a helper the page does not have.
 */
const ARM = `(ch) => {
  const rows = document.querySelector(".xterm-rows")
  const count = () => rows.textContent.split(ch).length - 1
  const before = count()
  let start = NaN
  document.querySelector(".xterm-helper-textarea")
    .addEventListener("keydown", (event) => { start = event.timeStamp }, { capture: true, once: true })
  globalThis.__drawn = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (count() <= before) return
      observer.disconnect()
      resolve(performance.now() - start)
    })
    observer.observe(rows, { childList: true, subtree: true, characterData: true })
    setTimeout(() => { observer.disconnect(); resolve(NaN) }, 5000)
  })
  return true
}`

const arm = (page: Page, ch: string): Promise<boolean> => page.evaluate(`(${ARM})(${JSON.stringify(ch)})`)

const browserKeystrokes = async (page: Page, samples: number) => {
  const times: Array<number> = []
  for (let i = 0; i < samples; i++) {
    if (i % 40 === 39) {
      await page.keyboard.press("Control+U")
      await sleep(150)
    }
    const ch = String.fromCharCode(0x61 + (i % 26))
    await arm(page, ch)
    await page.keyboard.press(ch)
    const ms: number = await page.evaluate("globalThis.__drawn")
    if (!Number.isNaN(ms)) times.push(ms)
    await sleep(5 + Math.random() * 10)
  }
  await page.keyboard.press("Control+U")
  return stats(times)
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`

/**
 * Work another section hands to the web section's quiet wait (its WEB_BUSY_SECONDS with the list
 * open): `start` runs before the wait is watched (its burst must not land in it), `during` inside
 * it (it must leave the machine quiet), `end` always, last.
 */
export interface Alongside {
  readonly start: () => Promise<void>
  readonly during: () => Promise<void>
  readonly end: () => Promise<void>
}

export const benchWeb = async (alongside?: Alongside): Promise<ReadonlyArray<BenchRow>> => {
  const env = await makeDaemonEnv()
  const daemon = await startDaemon(env, { TELEMUX_LOG_LEVEL: "Warning", TELEMUX_TRUSTED_DIRS: env.projectDir })
  const call = keepAliveApi(env)
  const browser = await launchChromium()
  const origin = `http://127.0.0.1:${env.port}`
  const rows: Array<BenchRow> = []
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const page = await context.newPage()
    await signInWithLink(page, env)
    const [typing] = await sessionsOf(call, env, 1)

    // first load: a browser holding the cookie and nothing else
    const cookies = await context.cookies()
    const loads: Array<{ ms: number; js: number; total: number }> = []
    for (let i = 0; i < FIRST_LOADS; i++) {
      const fresh = await browser.newContext({ viewport: { width: 1440, height: 900 } })
      await fresh.addCookies(cookies)
      const first = await fresh.newPage()
      await first.goto(`${origin}/`, { waitUntil: "commit" })
      const shownAt = await (await first.waitForFunction(
        () => {
          const document = (globalThis as any).document
          return document.querySelector(".session-row") === null ? false : performance.now()
        },
        undefined,
        { polling: "raf", timeout: 30_000 }
      )).jsonValue() as number
      const transfer = await first.evaluate(() => {
        const performance = (globalThis as any).performance
        const entries: Array<{ name: string; transferSize: number }> = [
          ...performance.getEntriesByType("navigation"),
          ...performance.getEntriesByType("resource")
        ]
        return {
          js: entries.filter((e) => e.name.endsWith(".js")).reduce((n, e) => n + e.transferSize, 0),
          total: entries.reduce((n, e) => n + e.transferSize, 0)
        }
      })
      loads.push({ ms: shownAt, ...transfer })
      await fresh.close()
    }
    const load = stats(loads.map((l) => l.ms))
    rows.push({
      name: "first load (signed in, nothing cached): scripts / everything transferred",
      value: `${kb(loads[0]!.js)} / ${kb(loads[0]!.total)}`,
      baseline: "scripts ≤ 300 KB gzipped",
      ratio: loads[0]!.js <= 300 * 1024 ? "within" : "OVER"
    })
    rows.push({
      name: `first load: navigation → sessions list drawn, p50 / max of ${FIRST_LOADS}`,
      value: `${load.p50.toFixed(0)} / ${load.max.toFixed(0)} ms`,
      baseline: "≤ 1000 ms",
      ratio: load.max <= 1000 ? "within" : "OVER"
    })

    // keystroke → drawn in the browser, beside the stream's own keystroke → echo
    await page.goto(`${origin}/session/${typing!.id}`)
    await page.locator(".terminal-host[data-drawn=yes]").waitFor()
    await page.locator(".terminal-host").click()
    await browserKeystrokes(page, WARM_UP_KEYS)
    const inBrowser = await browserKeystrokes(page, KEYS)
    const onStream = await streamKeystrokes(env, typing!.id, KEYS)
    // the floor: the same browser and xterm.js over a WebSocket that echoes each key at once
    const floor = await startFloorServer()
    const floorPage = await context.newPage()
    let atFloor: ReturnType<typeof stats>
    try {
      await floorPage.goto(floor.origin)
      await floorPage.locator(".terminal-host[data-drawn=yes]").waitFor()
      await floorPage.locator(".terminal-host").click()
      await browserKeystrokes(floorPage, WARM_UP_KEYS)
      atFloor = await browserKeystrokes(floorPage, KEYS)
    } finally {
      await floorPage.close()
      await floor.stop()
    }
    rows.push({
      name: "keystroke → drawn in xterm.js (Chromium), p50/p90/p99/max",
      value: show(inBrowser),
      baseline: `floor (xterm.js on a bare echo WebSocket) ${show(atFloor)}; stream's WebSocket ${show(onStream)}`,
      ratio: `target p50 ≤ 16, p99 ≤ 50: ${inBrowser.p50 <= 16 && inBrowser.p99 <= 50 ? "met" : "NOT met"}`
    })

    // 50 busy sessions on the list
    const printers = await sessionsOf(call, env, PRINTERS)
    await Promise.all(printers.map((s) => call("POST", `/v1/sessions/${s.id}/input`, { text: PRINTER, enter: true })))
    await page.goto(`${origin}/`)
    await page.locator(".session-row").nth(PRINTERS).waitFor({ timeout: 60_000 })
    const listedAt = performance.now()
    await alongside?.start()
    const cdp = await context.newCDPSession(page)
    await cdp.send("Performance.enable")
    const heap = async () => {
      await cdp.send("HeapProfiler.collectGarbage")
      const { metrics } = await cdp.send("Performance.getMetrics")
      return metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? NaN
    }
    // the list settles for 5 s before it is watched, and the work alongside for 2 s after its start
    await sleep(Math.max(alongside === undefined ? 0 : 2000, 5000 - (performance.now() - listedAt)))
    await page.evaluate(() => {
      const global = globalThis as any
      global.__longTasks = []
      new global.PerformanceObserver((list: { getEntries: () => Array<{ duration: number }> }) => {
        for (const entry of list.getEntries()) global.__longTasks.push(entry.duration)
      }).observe({ type: "longtask" })
    })
    const heapStart = await heap()
    const hosted = alongside?.during()
    await sleep(WEB_BUSY_SECONDS * 1000)
    const heapEnd = await heap()
    const longTasks = await page.evaluate(() => (globalThis as any).__longTasks as Array<number>)
    await hosted
    rows.push({
      name: `${PRINTERS} sessions printing every 200 ms, the list open ${WEB_BUSY_SECONDS} s: long tasks (> 50 ms)`,
      value: `${longTasks.length} (${longTasks.reduce((n, d) => n + d, 0).toFixed(0)} ms in all, longest ${
        Math.max(0, ...longTasks).toFixed(0)
      } ms)`,
      baseline: "0 wanted"
    })
    rows.push({
      name: "  the page's JS heap after GC: start → end",
      value: `${(heapStart / 1e6).toFixed(1)} → ${(heapEnd / 1e6).toFixed(1)} MB`,
      baseline: "flat wanted",
      ratio: `${(((heapEnd - heapStart) / heapStart) * 100).toFixed(0)} %`
    })
    return rows
  } finally {
    await alongside?.end()
    await browser.close()
    await daemon.stop()
    removeDaemonEnv(env)
  }
}
