import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, assert, describe, it } from "vitest"
import { cliEnv } from "./support/cliProcess.js"
import { type DaemonEnv, makeDaemonEnv, removeDaemonEnv, startDaemon } from "./support/daemonProcess.js"

const exec = promisify(execFile)
const REPO = path.resolve(import.meta.dirname, "..")

describe("the README's Quick start, as a newcomer runs it from the clone", () => {
  const envs: Array<DaemonEnv> = []
  const prefixes: Array<string> = []
  afterAll(() => {
    for (const env of envs) removeDaemonEnv(env)
    for (const prefix of prefixes) fs.rmSync(prefix, { recursive: true, force: true })
  })

  it("npm install -g --prefix DIR . puts a working telemux on DIR/bin; new . and ls reach the daemon", async () => {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-prefix-"))
    prefixes.push(prefix)
    // --offline: a local folder needs nothing from a registry
    await exec("npm", ["install", "-g", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", "."], {
      cwd: REPO,
      timeout: 120_000
    })
    const telemux = path.join(prefix, "bin", "telemux")
    assert.strictEqual(fs.realpathSync(telemux), path.join(fs.realpathSync(REPO), "dist", "cli.js"))

    const env = await makeDaemonEnv()
    envs.push(env)
    const daemon = await startDaemon(env)
    try {
      const shellEnv = cliEnv(env, { PATH: `${path.join(prefix, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}` })
      const version = await exec("telemux", ["--version"], { env: shellEnv, timeout: 60_000 })
      assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+/)
      const created = await exec("telemux", ["new", "."], { env: shellEnv, cwd: env.projectDir, timeout: 60_000 })
      const id = created.stdout.trim()
      assert.match(id, /^[0-9a-f-]{36}$/)
      const listed = await exec("telemux", ["ls", "--json"], { env: shellEnv, timeout: 60_000 })
      const sessions = JSON.parse(listed.stdout) as Array<{ sessionId: string; workingDirectory: string }>
      assert.strictEqual(sessions.find((s) => s.sessionId === id)?.workingDirectory, env.projectDir)
    } finally {
      await daemon.stop()
    }
  }, 240_000)
})
