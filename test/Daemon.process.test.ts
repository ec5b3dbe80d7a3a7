import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { eventually } from "./support/cliProcess.js"
import {
  api,
  type DaemonEnv,
  leftoverProcesses,
  makeDaemonEnv,
  removeDaemonEnv,
  startDaemon,
  tmuxServerPid
} from "./support/daemonProcess.js"

describe("the daemon as a process (dist/main.js, real tmux, real SQLite)", () => {
  const envs: Array<DaemonEnv> = []
  afterAll(() => {
    for (const env of envs) removeDaemonEnv(env)
  })

  it("serves sessions end to end, stops on SIGTERM within 2 s leaving no process, and adopts sessions on restart", async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    const call = api(env)

    const first = await startDaemon(env)
    const tokenFile = path.join(env.home, "token")
    assert.strictEqual(fs.statSync(tokenFile).mode & 0o777, 0o600)
    assert.strictEqual((await fetch(`http://127.0.0.1:${env.port}/v1/sessions`)).status, 401)

    const created = await call("POST", "/v1/sessions", { projectDir: env.projectDir, title: "e2e" })
    assert.strictEqual(created.status, 201, JSON.stringify(created.body))
    const id: string = created.body.sessionId
    assert.strictEqual(created.body.status, "running")

    const sent = await call("POST", `/v1/sessions/${id}/input`, { text: "echo hi-$((6*7))" })
    assert.strictEqual(sent.status, 204, JSON.stringify(sent.body))
    await eventually(async () => {
      const out = await call("GET", `/v1/sessions/${id}/output`)
      return typeof out.body?.screen === "string" && out.body.screen.includes("hi-42") ? true : undefined
    }, "the command's output on screen")

    const doomed = await call("POST", "/v1/sessions", { projectDir: env.projectDir, title: "doomed" })
    assert.strictEqual(doomed.status, 201)

    const tmuxPid = tmuxServerPid(env.socket)
    assert.isDefined(tmuxPid)
    const stopped = await first.stop("SIGTERM")
    assert.strictEqual(stopped.code, 0, first.logs())
    assert.isBelow(stopped.elapsedMs, 2000, "SIGTERM to exit")
    assert.deepStrictEqual(leftoverProcesses(env.marker, tmuxPid), [])

    // tmux keeps the sessions while the daemon is down; one of them is killed meanwhile
    const names = execFileSync("tmux", ["-L", env.socket, "list-sessions", "-F", "#{session_name}"]).toString()
    assert.include(names, `tmx_${id.replace(/-/g, "").slice(0, 8)}`)
    execFileSync("tmux", ["-L", env.socket, "kill-session", "-t", `=${doomed.body.tmuxName}`])

    const second = await startDaemon(env)
    const listed = await call("GET", "/v1/sessions")
    assert.strictEqual(listed.status, 200)
    assert.deepStrictEqual(listed.body.map((s: { sessionId: string }) => s.sessionId), [id], second.logs())
    const gone = await call("GET", `/v1/sessions/${doomed.body.sessionId}`)
    assert.strictEqual(gone.body.status, "closed")
    assert.strictEqual(gone.body.closeReason, "tmux_gone")

    // still usable after the restart
    await call("POST", `/v1/sessions/${id}/input`, { text: "echo again-$((5+5))" })
    await eventually(async () => {
      const out = await call("GET", `/v1/sessions/${id}/output`)
      return out.body?.screen?.includes("again-10") ? true : undefined
    }, "output after restart")

    const closed = await call("DELETE", `/v1/sessions/${id}`)
    assert.strictEqual(closed.status, 200)
    assert.strictEqual(closed.body.closeReason, "user")
    assert.deepStrictEqual((await call("GET", "/v1/sessions")).body, [])

    const stoppedAgain = await second.stop("SIGINT")
    assert.strictEqual(stoppedAgain.code, 0, second.logs())
    assert.isBelow(stoppedAgain.elapsedMs, 2000)
    assert.deepStrictEqual(leftoverProcesses(env.marker, tmuxServerPid(env.socket)), [])
  })

  it("logs one JSON object per line, and refuses an open bind without auth with a typed error", async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    const daemon = await startDaemon(env)
    await daemon.stop()
    const lines = daemon.logs().trim().split("\n")
    assert.isAbove(lines.length, 2)
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), undefined, line)

    const refused = await startDaemon(env, { TELEMUX_HOST: "0.0.0.0", TELEMUX_AUTH: "false" }).then(
      () => "started",
      (error: Error) => error.message
    )
    assert.include(refused, "daemon exited early")
    assert.include(refused, "ConfigInvalid")
  })
})
