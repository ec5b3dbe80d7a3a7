import { spawn } from "node:child_process"
import { afterAll, assert, describe, it } from "vitest"
import { VERSION } from "../src/Version.js"
import {
  type DaemonEnv,
  daemonVariables,
  DIST_MAIN,
  makeDaemonEnv,
  removeDaemonEnv,
  startDaemon
} from "./support/daemonProcess.js"

/** The daemon run under `script`, which gives it a pseudo-terminal for stdout and stderr, as a person's shell would. */
const startOnTerminal = (env: DaemonEnv, extra: Record<string, string> = {}) => {
  const child = spawn("script", [
    "-qec",
    `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(DIST_MAIN)}`,
    "/dev/null"
  ], {
    env: daemonVariables(env, extra),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, output: () => output, exited }
}

const waitFor = async (what: string, probe: () => boolean, output: () => string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${output()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The lines the daemon wrote, without the terminal's carriage returns. */
const linesOf = (text: string) => text.split(/\r?\n/).map((line) => line.replace(/\r/g, "")).filter((l) => l !== "")

describe("the daemon's first lines and log format", () => {
  const envs: Array<DaemonEnv> = []
  afterAll(() => {
    for (const env of envs) removeDaemonEnv(env)
  })

  it("on a terminal: says what it is, where it serves, where the token is and what to run next; logs are pretty", async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    const daemon = startOnTerminal(env)
    await waitFor("the ready lines", () => daemon.output().includes("stop: Ctrl+C"), daemon.output)
    const lines = linesOf(daemon.output())
    assert.match(lines[0]!, /^telemux \S+ starting — computer testbox, state dir /, daemon.output())
    assert.include(lines, `telemux ${VERSION} is ready at http://127.0.0.1:${env.port}`)
    assert.include(lines, `  API token: ${env.home}/token (the CLI and TUI read it from there)`)
    assert.isTrue(lines.some((l) => l.includes("`telemux doctor`") && l.includes("another terminal")))
    assert.isTrue(lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} INFO +tmux found version=/.test(l)), daemon.output())
    assert.isFalse(lines.some((l) => l.startsWith("{")), daemon.output())
    daemon.child.kill("SIGTERM")
    await daemon.exited
  })

  it("on a terminal with TELEMUX_LOG_FORMAT=json: the person's lines on stderr, every log line JSON", async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    const daemon = startOnTerminal(env, { TELEMUX_LOG_FORMAT: "JSON" })
    await waitFor("the ready lines", () => daemon.output().includes("stop: Ctrl+C"), daemon.output)
    const lines = linesOf(daemon.output())
    const json = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { message: string })
    assert.isTrue(json.some((line) => line.message === "tmux found"), daemon.output())
    const others = lines.filter((l) => !l.startsWith("{"))
    assert.isTrue(others.every((l) => l.startsWith("telemux ") || l.startsWith("  ")), daemon.output())
    assert.isTrue(others.some((l) => l.includes("is ready at")))
    daemon.child.kill("SIGTERM")
    await daemon.exited
  })

  it("with its output in pipes: JSON lines only, the ready facts in a log line, no lines for a person", async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    const daemon = await startDaemon(env)
    await waitFor("the ready line", () => daemon.logs().includes("telemux ready"), daemon.logs)
    const lines = linesOf(daemon.logs())
    const parsed = lines.map((l) => JSON.parse(l) as { message: string; annotations: Record<string, unknown> })
    const ready = parsed.find((line) => line.message === "telemux ready")
    assert.strictEqual(ready?.annotations.url, `http://127.0.0.1:${env.port}`)
    assert.strictEqual(ready?.annotations.tokenPath, `${env.home}/token`)
    assert.notInclude(daemon.logs(), "another terminal")
    await daemon.stop()
  })

  it("TELEMUX_LOG_FORMAT=pretty in pipes gives pretty lines; an unknown format stops it with a message", async () => {
    const env = await makeDaemonEnv()
    envs.push(env)
    const pretty = await startDaemon(env, { TELEMUX_LOG_FORMAT: "pretty" })
    await waitFor("the ready line", () => pretty.logs().includes("telemux ready"), pretty.logs)
    assert.isTrue(linesOf(pretty.logs()).every((l) => /^\d\d:\d\d:\d\d\.\d{3} [A-Z]+ /.test(l)), pretty.logs())
    await pretty.stop()

    const bad = spawn(process.execPath, [DIST_MAIN], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: env.home,
        TELEMUX_HOME: env.home,
        TELEMUX_LOG_FORMAT: "xml"
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    bad.stderr.on("data", (chunk) => (stderr += chunk))
    const code = await new Promise<number | null>((resolve) => bad.once("exit", resolve))
    assert.notStrictEqual(code, 0)
    assert.include(stderr, `TELEMUX_LOG_FORMAT "xml" is not json or pretty`)
  })
})
