/**
 * The daemon's memory (dist/main.js, private tmux socket): what one open session holds, and what
 * 2,000 create/close cycles leave behind, each beside the RSS it started from in the same run.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import type { BenchRow } from "./measure.js"
import { createSessions, type Daemon, startDaemon } from "./outputBench.js"

const CYCLES = 2000
const CONCURRENCY = 20
const OPEN_SESSIONS = 200
/** Lets the allocator and V8's scavenges settle after a burst before RSS is read. */
const SETTLE_MS = 3000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
/** A change in RSS with its sign. */
const delta = (bytes: number) => `${bytes < 0 ? "−" : "+"}${mb(Math.abs(bytes))}`

const rssOf = (pid: number): number => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024
}

/** Each session prints a screenful, so it holds a full screen and a few updates. */
const FILL = "for i in $(seq 1 80); do echo \"line $i of a screen that is full of text like a busy shell's\"; done"

const cycles = async (daemon: Daemon, count: number) => {
  let next = 0
  const worker = async () => {
    while (next < count) {
      next++
      const session = await daemon.call("POST", "/v1/sessions", { projectDir: os.tmpdir() })
      await daemon.call("POST", `/v1/sessions/${session.sessionId}/input`, { text: "echo hello" })
      await daemon.call("DELETE", `/v1/sessions/${session.sessionId}`)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}

export const benchMemory = async (): Promise<ReadonlyArray<BenchRow>> => {
  const daemon = await startDaemon({ probe: false })
  try {
    await sleep(SETTLE_MS)
    const start = rssOf(daemon.pid)

    const ids = await createSessions(daemon, OPEN_SESSIONS, os.tmpdir())
    for (let i = 0; i < ids.length; i += 20) {
      await Promise.all(
        ids.slice(i, i + 20).map((id) => daemon.call("POST", `/v1/sessions/${id}/input`, { text: FILL }))
      )
    }
    await sleep(SETTLE_MS)
    const open = rssOf(daemon.pid)
    for (let i = 0; i < ids.length; i += 20) {
      await Promise.all(ids.slice(i, i + 20).map((id) => daemon.call("DELETE", `/v1/sessions/${id}`)))
    }
    await sleep(SETTLE_MS)
    const closed = rssOf(daemon.pid)

    const started = performance.now()
    await cycles(daemon, CYCLES)
    const seconds = (performance.now() - started) / 1000
    await sleep(SETTLE_MS)
    const after = rssOf(daemon.pid)
    return [
      {
        name: `RSS per open session (${OPEN_SESSIONS} sessions, each a full 200×50 screen)`,
        value: mb((open - start) / OPEN_SESSIONS),
        baseline: `${mb(start)} at start, ${mb(open)} with them open`
      },
      {
        name: `RSS after those ${OPEN_SESSIONS} closed`,
        value: mb(closed),
        baseline: `${mb(start)} at start`,
        ratio: delta(closed - start)
      },
      {
        name: `RSS after ${CYCLES} create/input/close cycles (${
          (CYCLES / seconds).toFixed(0)
        } cycles/s, ${CONCURRENCY} at a time)`,
        value: mb(after),
        baseline: `${mb(start)} at start`,
        ratio: delta(after - start)
      }
    ]
  } finally {
    await daemon.stop()
  }
}
