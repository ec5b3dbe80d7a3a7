/**
 * The daemon as a process (dist/main.js) with a certificate (made with openssl, signed by a test
 * CA): HTTPS /health, WSS /v1/stream, `telemux web` and `telemux ls` against it with the CA given
 * (TELEMUX_TLS_CA), the sign-in link's code exchanged for a Secure cookie that survives a restart
 * and ends at `telemux token --rotate`; an untrusted certificate or a key that is not the
 * certificate's each said plainly.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import WebSocket from "ws"
import { cliEnv, eventually, fakeCommand, removeEnv, runCli } from "./support/cliProcess.js"
import { type DaemonEnv, daemonVariables, DIST_MAIN, makeDaemonEnv } from "./support/daemonProcess.js"
import { makeTestCerts, type TestCerts } from "./support/webCerts.js"
import { cookiePair, webRequest } from "./support/webHttp.js"

interface TlsDaemon {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
  readonly stop: () => Promise<void>
}

const startTlsDaemon = (env: DaemonEnv, extra: Record<string, string>): TlsDaemon => {
  if (!fs.existsSync(DIST_MAIN)) throw new Error(`${DIST_MAIN} is missing: run npm run build (npm test does)`)
  const child = spawn(process.execPath, [DIST_MAIN], {
    env: daemonVariables(env, { TELEMUX_LOG_LEVEL: "Debug", ...extra }),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return {
    child,
    output: () => output,
    exited,
    stop: async () => {
      child.kill("SIGTERM")
      await exited
    }
  }
}

const healthy = (env: DaemonEnv, ca: string, daemon: TlsDaemon) =>
  eventually(
    async () => {
      if (daemon.child.exitCode !== null) {
        throw new Error(
          `the daemon exited (${daemon.child.exitCode}):\n${daemon.output()}`
        )
      }
      const reply = await webRequest(env.port, { path: "/health", ca }).catch(() => undefined)
      return reply?.status === 200 ? reply : undefined
    },
    "the HTTPS daemon to be healthy",
    20_000
  )

const firstMessage = (url: string, headers: Record<string, string>, ca: string) =>
  new Promise<string>((resolve) => {
    const ws = new WebSocket(url, { headers, ca })
    const timer = setTimeout(() => {
      ws.terminate()
      resolve("timeout")
    }, 5000)
    const done = (what: string) => {
      clearTimeout(timer)
      ws.terminate()
      resolve(what)
    }
    ws.once("message", (data) => done(data.toString()))
    ws.once("unexpected-response", (_request, response) => done(`HTTP ${response.statusCode}`))
    ws.once("error", (error) => done(`error ${error.message}`))
  })

describe("the daemon over HTTPS (dist/main.js, a certificate made with openssl)", () => {
  const envs: Array<DaemonEnv> = []
  const certDirs: Array<TestCerts> = []
  afterAll(() => {
    for (const env of envs) removeEnv(env)
    for (const made of certDirs) fs.rmSync(made.dir, { recursive: true, force: true })
  })

  it(
    "serves HTTPS and WSS; `telemux ls` and `telemux web` work with the CA; the cookie is Secure, outlives a restart and ends at a rotation",
    async () => {
      const env = await makeDaemonEnv()
      envs.push(env)
      const made = makeTestCerts()
      certDirs.push(made)
      const ca = fs.readFileSync(made.ca, "utf8")
      const tlsVars = { TELEMUX_TLS_CERT: made.cert, TELEMUX_TLS_KEY: made.key }
      let daemon = startTlsDaemon(env, tlsVars)
      const health = await healthy(env, ca, daemon)
      assert.strictEqual(health.json.computer, "testbox")

      const cli = cliEnv(env, { ...tlsVars, TELEMUX_TLS_CA: made.ca })
      const ls = await runCli(["ls", "--json"], { env: cli })
      assert.strictEqual(ls.code, 0, ls.stderr)
      assert.deepStrictEqual(JSON.parse(ls.stdout), [])

      const web = await runCli(["web", "--no-open"], { env: cli })
      assert.strictEqual(web.code, 0, web.stderr)
      const link = web.stdout.trim()
      assert.match(link, new RegExp(`^https://127\\.0\\.0\\.1:${env.port}/sign-in#code=[A-Za-z0-9_-]{43}$`))
      assert.include(web.stderr, "it works once")
      const code = link.split("#code=")[1]!
      const origin = `https://127.0.0.1:${env.port}`
      const exchange = () =>
        webRequest(env.port, { method: "POST", path: "/v1/web/sign-in", headers: { origin }, body: { code }, ca })
      const signedIn = await exchange()
      assert.strictEqual(signedIn.status, 204, signedIn.text)
      const setCookie = signedIn.headers["set-cookie"]?.[0] ?? ""
      assert.match(setCookie, /; HttpOnly; Secure; SameSite=Strict$/)
      assert.strictEqual((await exchange()).status, 401)
      const cookie = cookiePair(setCookie)
      const page = await webRequest(env.port, { path: "/", ca })
      assert.strictEqual(page.status, 200)
      assert.include(page.text, "telemux")
      assert.include(String(page.headers["content-security-policy"]), `wss://127.0.0.1:${env.port}`)

      const token = fs.readFileSync(path.join(env.home, "token"), "utf8").trim()
      const stream = `wss://127.0.0.1:${env.port}/v1/stream`
      assert.strictEqual(await firstMessage(stream, { authorization: `Bearer ${token}` }, ca), "{\"type\":\"ready\"}")
      assert.strictEqual(await firstMessage(stream, { cookie, origin }, ca), "{\"type\":\"ready\"}")

      // the sign-in outlives the daemon (SQLite keeps its hash)
      await daemon.stop()
      daemon = startTlsDaemon(env, tlsVars)
      await healthy(env, ca, daemon)
      const list = await webRequest(env.port, { path: "/v1/sessions", headers: { cookie }, ca })
      assert.strictEqual(list.status, 200, list.text)

      // a rotated token ends it (the daemon looks at the token file at least once a second)
      const rotated = await runCli(["token", "--rotate"], { env: cli })
      assert.strictEqual(rotated.code, 0, rotated.stderr)
      await eventually(
        async () => {
          const reply = await webRequest(env.port, { path: "/v1/sessions", headers: { cookie }, ca })
          return reply.status === 401 ? reply : undefined
        },
        "the cookie to be refused after the rotation",
        5000
      )
      await daemon.stop()
    },
    60_000
  )

  it("`telemux web` opens the link where a browser can be, and never fails where none can", async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    const made = makeTestCerts()
    certDirs.push(made)
    const ca = fs.readFileSync(made.ca, "utf8")
    const tlsVars = { TELEMUX_TLS_CERT: made.cert, TELEMUX_TLS_KEY: made.key }
    const daemon = startTlsDaemon(env, tlsVars)
    await healthy(env, ca, daemon)
    const bin = path.join(env.home, "bin")
    fakeCommand(bin, "xdg-open")
    const base = cliEnv(env, { ...tlsVars, TELEMUX_TLS_CA: made.ca })
    const withDisplay = { ...base, PATH: `${bin}:${base.PATH}`, DISPLAY: ":99" }
    const opened = await runCli(["web"], { env: withDisplay })
    assert.strictEqual(opened.code, 0, opened.stderr)
    const log = path.join(bin, "xdg-open.log")
    const argv = await eventually(
      async () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : undefined),
      "xdg-open to be run"
    )
    assert.include(argv, opened.stdout.trim())
    fs.rmSync(log)
    // under CI, and without a display, nothing is opened and the link is printed all the same
    for (const env of [{ ...withDisplay, CI: "true" }, { ...base, PATH: `${bin}:${base.PATH}` }]) {
      const printed = await runCli(["web"], { env })
      assert.strictEqual(printed.code, 0, printed.stderr)
      assert.match(printed.stdout, /sign-in#code=/)
    }
    // and without any opener installed, with a display, it still succeeds
    const none = await runCli(["web"], { env: { ...base, DISPLAY: ":99", PATH: "/nonexistent" } })
    assert.strictEqual(none.code, 0, none.stderr)
    await new Promise((r) => setTimeout(r, 300))
    assert.isFalse(fs.existsSync(log))
    await daemon.stop()
  }, 60_000)

  it(
    "a certificate the CLI does not trust is said plainly; a key that is not the certificate's stops the daemon, naming it",
    async () => {
      const env = await makeDaemonEnv()
      envs.push(env)
      const made = makeTestCerts()
      certDirs.push(made)
      const ca = fs.readFileSync(made.ca, "utf8")
      const daemon = startTlsDaemon(env, { TELEMUX_TLS_CERT: made.cert, TELEMUX_TLS_KEY: made.key })
      await healthy(env, ca, daemon)
      const untrusted = await runCli(["ls"], { env: cliEnv(env, { TELEMUX_URL: `https://127.0.0.1:${env.port}` }) })
      assert.notStrictEqual(untrusted.code, 0)
      assert.include(untrusted.stderr, "TELEMUX_TLS_CA")
      const trusted = await runCli(["ls"], {
        env: cliEnv(env, { TELEMUX_URL: `https://127.0.0.1:${env.port}`, TELEMUX_TLS_CA: made.ca })
      })
      assert.strictEqual(trusted.code, 0, trusted.stderr)
      await daemon.stop()

      const wrongKey = startTlsDaemon(env, { TELEMUX_TLS_CERT: made.cert, TELEMUX_TLS_KEY: made.otherKey })
      const exitCode = await Promise.race([
        wrongKey.exited,
        new Promise((r) => setTimeout(() => r("still running"), 15_000))
      ])
      if (exitCode === "still running") wrongKey.child.kill("SIGKILL")
      assert.notStrictEqual(exitCode, 0)
      assert.notStrictEqual(exitCode, "still running")
      assert.include(wrongKey.output(), "other.key")
      assert.include(wrongKey.output(), "is not the private key")
    },
    60_000
  )
})
