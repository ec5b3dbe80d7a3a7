import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { spawnCli } from "./support/cliProcess.js"
import { DIST_MAIN } from "./support/daemonProcess.js"

/** `telemux service …` as a process, on a temporary HOME with no user session bus (no service manager reachable). */
const run = async (home: string, args: ReadonlyArray<string>, extra: Record<string, string> = {}) => {
  const result = await spawnCli(["service", ...args], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      XDG_RUNTIME_DIR: path.join(home, "run"),
      TELEMUX_PORT: "4999",
      TELEMUX_NOTIFY_SECRET: "50%-off$HOME\"q\\",
      TELEMUX_SESSION_ID: "not-for-the-daemon",
      ...extra
    }
  }).exited
  return { code: result.code, stdout: result.stdout, stderr: result.stderr }
}

const hasSystemdAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0

const snapshot = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name)
      if (entry.isDirectory()) walk(full)
      else out[path.relative(dir, full)] = `${fs.statSync(full).mode & 0o777}:${fs.readFileSync(full, "utf8")}`
    }
  }
  walk(dir)
  return out
}

describe("telemux service (dist/cli.js on a temporary HOME)", () => {
  const homes: Array<string> = []
  const makeHome = () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-service-"))
    fs.mkdirSync(path.join(home, "run"), { mode: 0o700 })
    homes.push(home)
    return home
  }
  afterAll(() => {
    for (const home of homes) fs.rmSync(home, { recursive: true, force: true })
  })

  it(
    "systemd: install writes a unit that verifies, twice gives the same files, status reports it, uninstall removes only it",
    async () => {
      const home = makeHome()
      const unitDir = path.join(home, ".config", "systemd", "user")
      fs.mkdirSync(unitDir, { recursive: true })
      fs.writeFileSync(path.join(unitDir, "other.service"), "[Service]\nExecStart=/bin/true\n")
      const before = snapshot(home)
      const unit = path.join(unitDir, "telemux.service")

      const first = await run(home, ["install"])
      assert.strictEqual(first.code, 0, first.stderr)
      assert.include(first.stdout, `wrote ${unit}`)
      assert.include(first.stdout, "the service manager is not reachable here")
      assert.include(first.stdout, "systemctl --user daemon-reload && systemctl --user enable --now telemux.service")
      assert.strictEqual(fs.statSync(unit).mode & 0o777, 0o600)
      const text = fs.readFileSync(unit, "utf8")
      assert.include(text, `ExecStart="${process.execPath}" "${DIST_MAIN}"`)
      assert.include(text, "\nRestart=on-failure\n")
      assert.include(text, "\nKillMode=process\n")
      assert.include(text, `\nEnvironment="PATH=${process.env.PATH}"\n`)
      assert.include(text, "\nEnvironment=\"TELEMUX_PORT=4999\"\n")
      // % is a specifier and must be doubled; $ has no meaning in Environment=; " and \ escaped
      assert.include(text, "\nEnvironment=\"TELEMUX_NOTIFY_SECRET=50%%-off$HOME\\\"q\\\\\"\n")
      assert.notInclude(text, "TELEMUX_SESSION_ID")
      if (hasSystemdAnalyze) {
        const verify = spawnSync("systemd-analyze", ["verify", "--user", unit], {
          env: { ...process.env, XDG_RUNTIME_DIR: path.join(home, "run") },
          encoding: "utf8"
        })
        assert.strictEqual(verify.status, 0, verify.stderr)
        assert.strictEqual(verify.stderr.trim(), "", "no warning about any line of the unit")
      }

      const installed = snapshot(home)
      const second = await run(home, ["install"])
      assert.strictEqual(second.code, 0, second.stderr)
      assert.include(second.stdout, `unchanged ${unit}`)
      assert.deepStrictEqual(snapshot(home), installed)

      const status = await run(home, ["status"])
      assert.strictEqual(status.code, 0, status.stderr)
      assert.include(status.stdout, `installed: ${unit}\n`)
      assert.include(status.stdout, "service: unknown — systemctl --user is not reachable here")
      // another environment than the one installed: status says to install again
      assert.include(
        (await run(home, ["status"], { TELEMUX_PORT: "5000" })).stdout,
        "differs from what install writes now"
      )

      const removed = await run(home, ["uninstall"])
      assert.strictEqual(removed.code, 0, removed.stderr)
      assert.include(removed.stdout, `removed ${unit}`)
      assert.deepStrictEqual(snapshot(home), before)
      assert.include((await run(home, ["status"])).stdout, "not installed")
      assert.include((await run(home, ["uninstall"])).stdout, "not installed")
    },
    180_000
  )

  it("a unit telemux did not write is left alone by install and uninstall, with a message", async () => {
    const home = makeHome()
    const unit = path.join(home, ".config", "systemd", "user", "telemux.service")
    fs.mkdirSync(path.dirname(unit), { recursive: true })
    fs.writeFileSync(unit, "[Service]\nExecStart=/usr/bin/my-own-telemux\n")
    for (const action of ["install", "uninstall"]) {
      const result = await run(home, [action])
      assert.notStrictEqual(result.code, 0)
      assert.include(result.stderr, `${unit} exists and was not written by \`telemux service install\``)
      assert.strictEqual(fs.readFileSync(unit, "utf8"), "[Service]\nExecStart=/usr/bin/my-own-telemux\n")
    }
  }, 180_000)

  it(
    "launchd: a plist with the program, its environment, restart on failure; idempotent; uninstall restores",
    async () => {
      const home = makeHome()
      const before = snapshot(home)
      const plist = path.join(home, "Library", "LaunchAgents", "local.telemux.daemon.plist")
      const first = await run(home, ["install", "--manager", "launchd"])
      assert.strictEqual(first.code, 0, first.stderr)
      assert.include(first.stdout, `wrote ${plist}`)
      const text = fs.readFileSync(plist, "utf8")
      assert.include(text, `<string>${process.execPath}</string>\n    <string>${DIST_MAIN}</string>`)
      assert.include(text, "<key>TELEMUX_NOTIFY_SECRET</key>\n    <string>50%-off$HOME&quot;q\\</string>")
      assert.include(text, "<key>SuccessfulExit</key>\n    <false/>")
      assert.include(text, "<key>AbandonProcessGroup</key>\n  <true/>")
      if (spawnSync("xmllint", ["--version"]).status === 0) execFileSync("xmllint", ["--noout", plist])
      const installed = snapshot(home)
      assert.include((await run(home, ["install", "--manager", "launchd"])).stdout, `unchanged ${plist}`)
      assert.deepStrictEqual(snapshot(home), installed)
      const removed = await run(home, ["uninstall", "--manager", "launchd"])
      assert.strictEqual(removed.code, 0, removed.stderr)
      assert.isFalse(fs.existsSync(plist))
      const left = snapshot(home)
      assert.deepStrictEqual(left, before)
    },
    180_000
  )
})
