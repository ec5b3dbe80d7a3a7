/**
 * Shutdown: SIGTERM → exit of the real daemon (dist/main.js, private tmux socket, temp state dir)
 * with 50 sessions, 50 stream clients each watching a session, and one half-open request (a
 * request line and one header, never finished), beside the same daemon idle (no sessions, no
 * clients) in the same run; the rounds alternate between the two. Time runs from `kill` to the
 * child's `exit` event (the bench is the parent: no reaping delay). Target: ≤ 1 s.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import WebSocket from "ws"
import {
  api,
  type DaemonEnv,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon
} from "../test/support/daemonProcess.js"
import type { BenchRow } from "./measure.js"

const SESSIONS = 50
const CLIENTS = 50
const ROUNDS = 5
const TARGET_MS = 1000
const GOING_AWAY = 1001

const median = (values: ReadonlyArray<number>) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN
const ms = (n: number) => `${n.toFixed(0)} ms`
const verdict = (n: number) => (n <= TARGET_MS ? "(met)" : "(MISSED)")

/** A stream client watching one session; `watching` resolves once that session's screen has arrived (bounded). */
const watcher = (env: DaemonEnv, token: string, sessionId: string) => {
  const ws = new WebSocket(`ws://127.0.0.1:${env.port}/v1/stream`, { headers: { authorization: `Bearer ${token}` } })
  ws.on("error", () => undefined)
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)))
  const watching = new Promise<void>((resolve, reject) => {
    ws.on("message", (raw) => {
      const message = JSON.parse(raw.toString()) as { type: string; sessionId?: string }
      if (message.type === "ready") {
        ws.send(JSON.stringify({ type: "subscribe", sessions: true, output: [{ sessionId }] }))
      }
      // the session's screen: an `output` frame, or a `resync` with a fresh snapshot
      if ((message.type === "output" || message.type === "resync") && message.sessionId === sessionId) resolve()
    })
    ws.once("close", (code) => reject(new Error(`stream client closed (${code}) before its first screen`)))
    setTimeout(() => reject(new Error(`no screen of ${sessionId} within 15 s`)), 15_000).unref()
  })
  return { closed, watching }
}

/** SIGTERM, then the time until the child's `exit` event; the daemon must exit 0 within 10 s. */
const terminate = async (daemon: RunningDaemon) => {
  let exitAt = 0
  daemon.child.once("exit", () => (exitAt = performance.now()))
  const sent = performance.now()
  daemon.child.kill("SIGTERM")
  let timer: NodeJS.Timeout | undefined
  const exit = await Promise.race([
    daemon.exited,
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 10_000)))
  ])
  clearTimeout(timer)
  if (exit === undefined) {
    daemon.child.kill("SIGKILL")
    throw new Error(`the daemon ignored SIGTERM for 10 s:\n${daemon.logs().slice(-3000)}`)
  }
  if (exit.code !== 0) {
    throw new Error(`the daemon exited ${exit.code ?? exit.signal} on SIGTERM:\n${daemon.logs().slice(-3000)}`)
  }
  return exitAt - sent
}

const idleRound = async (env: DaemonEnv) => terminate(await startDaemon(env, { TELEMUX_LOG_LEVEL: "Warning" }))

/** One loaded round: the daemon restarted (adopting the sessions), the clients and the half-open request in place, then SIGTERM. */
const loadedRound = async (env: DaemonEnv, sessionIds: ReadonlyArray<string>) => {
  const daemon = await startDaemon(env, { TELEMUX_LOG_LEVEL: "Warning" })
  const prepare = async () => {
    const listed = await api(env)("GET", "/v1/sessions")
    if (!Array.isArray(listed.body) || listed.body.length !== sessionIds.length) {
      throw new Error(
        `the daemon adopted ${Array.isArray(listed.body) ? listed.body.length : "no"} of ${sessionIds.length} sessions`
      )
    }
    const token = fs.readFileSync(path.join(env.home, "token"), "utf8").trim()
    const clients = Array.from({ length: CLIENTS }, (_, i) => watcher(env, token, sessionIds[i % sessionIds.length]!))
    await Promise.all(clients.map((c) => c.watching))
    const halfOpen = net.connect({ host: "127.0.0.1", port: env.port })
    halfOpen.on("error", () => undefined)
    const halfClosed = new Promise<void>((resolve) => halfOpen.once("close", () => resolve()))
    await new Promise<void>((resolve) => halfOpen.once("connect", () => resolve()))
    halfOpen.write("GET /health HTTP/1.1\r\nHost: localhost\r\n")
    return { clients, halfClosed }
  }
  const { clients, halfClosed } = await prepare().catch((error: unknown) => {
    daemon.child.kill("SIGKILL")
    throw error
  })
  const elapsed = await terminate(daemon)
  const codes = await Promise.all(clients.map((c) => c.closed))
  await halfClosed
  return { elapsed, goingAway: codes.filter((code) => code === GOING_AWAY).length }
}

export const benchShutdown = async (): Promise<ReadonlyArray<BenchRow>> => {
  const idleEnv = await makeDaemonEnv()
  const loadedEnv = await makeDaemonEnv()
  try {
    // The sessions are made once: they outlive each daemon, and every restart adopts them.
    const setup = await startDaemon(loadedEnv, { TELEMUX_LOG_LEVEL: "Warning" })
    const call = api(loadedEnv)
    const sessionIds: Array<string> = []
    for (let i = 0; i < SESSIONS; i++) {
      const created = await call("POST", "/v1/sessions", { projectDir: loadedEnv.projectDir, title: `bench-${i}` })
      if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`)
      sessionIds.push(created.body.sessionId)
    }
    await terminate(setup)

    const idle: Array<number> = []
    const loaded: Array<number> = []
    let goingAway = 0
    for (let round = 0; round < ROUNDS; round++) {
      idle.push(await idleRound(idleEnv))
      const result = await loadedRound(loadedEnv, sessionIds)
      loaded.push(result.elapsed)
      goingAway += result.goingAway
    }
    const load = `${SESSIONS} sessions + ${CLIENTS} stream clients + 1 half-open request`
    return [
      {
        name: `SIGTERM → exit, ${load}, median of ${ROUNDS} (target ≤ ${TARGET_MS} ms)`,
        value: `${ms(median(loaded))} ${verdict(median(loaded))}`,
        baseline: `${ms(median(idle))} idle daemon`,
        ratio: `${(median(loaded) / median(idle)).toFixed(1)}× idle`
      },
      {
        name: `SIGTERM → exit, ${load}, max of ${ROUNDS}`,
        value: `${ms(Math.max(...loaded))} ${verdict(Math.max(...loaded))}`,
        baseline: `${ms(Math.max(...idle))} idle daemon`,
        ratio: `${(Math.max(...loaded) / Math.max(...idle)).toFixed(1)}× idle`
      },
      {
        name: "  stream clients closed with 1001 (going away)",
        value: `${goingAway}/${CLIENTS * ROUNDS}`,
        baseline: ""
      }
    ]
  } finally {
    removeDaemonEnv(idleEnv)
    removeDaemonEnv(loadedEnv)
  }
}

export const main = async () => {
  const { printRows } = await import("./measure.js")
  printRows("shutdown: SIGTERM → exit of the daemon (dist/main.js), under load and idle", await benchShutdown())
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
