/**
 * Trace export on the daemon as a process (dist/main.js), read back by an in-test OTLP/HTTP
 * receiver: one request's HTTP → session → tmux span chain in one trace; a caller's `traceparent`
 * continued; nothing sent by a daemon started without the OpenTelemetry variables; and a fleet
 * request's spans on both daemons (the caller's, and the callee's reached over Redis) under one
 * trace id.
 */
import { randomBytes } from "node:crypto"
import * as http from "node:http"
import type * as net from "node:net"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import {
  type DaemonEnv,
  makeDaemonEnv,
  removeDaemonEnv,
  type RunningDaemon,
  startDaemon
} from "./support/daemonProcess.js"
import { caller } from "./support/faultInjection.js"
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "./support/otlpReceiver.js"
import { type RedisForTest, redisForTest } from "./support/redisServer.js"

const WAIT_MS = 20_000
/** How long a daemon that is not exporting is given to send something anyway (its batches would go every 200 ms). */
const SILENCE_MS = 1000
const run = `${process.pid}-${randomBytes(3).toString("hex")}`
const ONE = `trace-one-${run}`
const SILENT = `trace-silent-${run}`
const STUCK = `trace-stuck-${run}`
const A = `trace-a-${run}`
const B = `trace-b-${run}`
const FLEET_SECRET = `tracing-process-${randomBytes(8).toString("hex")}`

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const hex = (bytes: number) => randomBytes(bytes).toString("hex")

interface Daemon {
  readonly name: string
  readonly env: DaemonEnv
  readonly process: RunningDaemon
  readonly call: ReturnType<typeof caller>
}

const computerOf = (span: ReceivedSpan) => span.resource["telemux.computer"]

/** A trace as indented lines (name, computer, span id ← parent id), children under their parents. */
const render = (trace: ReadonlyArray<ReceivedSpan>): string => {
  const ids = new Set(trace.map((span) => span.spanId))
  const lines: Array<string> = []
  const walk = (span: ReceivedSpan, depth: number) => {
    lines.push(
      `${"  ".repeat(depth)}${span.name} [${computerOf(span)}] ${span.spanId}` +
        (span.parentSpanId === undefined ? "" : ` ← ${span.parentSpanId}`)
    )
    for (const child of trace.filter((s) => s.parentSpanId === span.spanId)) walk(child, depth + 1)
  }
  for (const root of trace.filter((span) => span.parentSpanId === undefined || !ids.has(span.parentSpanId))) {
    walk(root, 0)
  }
  return lines.join("\n")
}

const inTrace = (spans: ReadonlyArray<ReceivedSpan>, traceId: string) => spans.filter((s) => s.traceId === traceId)

/** The server span of a request to `path` on `computer`, made by the tracing HTTP middleware. */
const isServerSpan = (computer: string, method: string, urlPath: string) => (span: ReceivedSpan) =>
  computerOf(span) === computer && span.name === `http.server ${method}` && span.attributes["url.path"] === urlPath

const childOf = (spans: ReadonlyArray<ReceivedSpan>, parent: ReceivedSpan, name: string) =>
  spans.find((span) => span.traceId === parent.traceId && span.parentSpanId === parent.spanId && span.name === name)

describe("trace export from the daemon as a process to an in-test OTLP receiver", () => {
  let receiver: OtlpReceiver
  let redis: RedisForTest | undefined
  const daemons: Array<Daemon> = []
  const envs: Array<DaemonEnv> = []

  const start = async (name: string, extra: Record<string, string>): Promise<Daemon> => {
    const env = await makeDaemonEnv()
    envs.push(env)
    const started = await startDaemon(env, { TELEMUX_COMPUTER: name, TELEMUX_TRUSTED_DIRS: env.projectDir, ...extra })
    const daemon: Daemon = {
      name,
      env,
      process: started,
      call: caller(env, WAIT_MS)
    }
    daemons.push(daemon)
    return daemon
  }
  const exporting = () => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "200"
  })
  const createSession = async (daemon: Daemon, body: Record<string, unknown>) => {
    const created = await daemon.call("POST", "/v1/sessions", body)
    assert.strictEqual(created.status, 201, `POST /v1/sessions on ${daemon.name}: ${JSON.stringify(created.body)}`)
    return (created.body as { readonly sessionId: string }).sessionId
  }
  const logsOf = (daemon: Daemon) => `\n--- ${daemon.name}'s output:\n${daemon.process.logs()}`

  beforeAll(async () => {
    receiver = await startOtlpReceiver()
  })

  afterAll(async () => {
    const counts = new Map<string, number>()
    for (const span of receiver?.spans() ?? []) {
      const key = `${computerOf(span)} ${span.name}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    console.log(`spans received, by computer and name:\n${[...counts].map(([key, n]) => `${n}× ${key}`).join("\n")}`)
    try {
      // SIGTERM, so each exporter flushes and closes while the receiver still listens; all must exit cleanly
      const exits = await Promise.all(daemons.map(async (daemon) => ({ daemon, exit: await daemon.process.stop() })))
      for (const { daemon, exit } of exits) {
        assert.strictEqual(exit.code, 0, `${daemon.name}'s exit on SIGTERM${logsOf(daemon)}`)
      }
    } finally {
      for (const env of envs) removeDaemonEnv(env)
      await receiver?.close()
      await redis?.stop()
    }
  }, 60_000)

  let one: Daemon | undefined

  it(
    "exports a session create as one trace: http.server POST → Sessions.create → ControlBridge.createSession",
    async () => {
      one = await start(ONE, exporting())
      assert.include(one.process.logs(), "exporting traces", "the daemon announces the export")
      const sessionId = await createSession(one, { projectDir: one.env.projectDir, title: "traced" })

      const chain = await receiver.waitFor(
        `${ONE}'s POST /v1/sessions traced down to the tmux command`,
        (spans) => {
          for (const http of spans.filter(isServerSpan(ONE, "POST", "/v1/sessions"))) {
            const create = childOf(spans, http, "Sessions.create")
            const tmux = create && childOf(spans, create, "ControlBridge.createSession")
            if (tmux !== undefined) return { http, create: create!, tmux }
          }
          return undefined
        },
        WAIT_MS
      )
      const trace = inTrace(receiver.spans(), chain.http.traceId)
      console.log(`POST /v1/sessions on ${ONE}, trace ${chain.http.traceId}:\n${render(trace)}`)
      assert.isUndefined(chain.http.parentSpanId, "a request without traceparent starts a trace")
      assert.strictEqual(chain.http.attributes["http.request.method"], "POST")
      assert.strictEqual(chain.http.attributes["http.response.status_code"], 201)
      assert.match(chain.http.traceId, /^[0-9a-f]{32}$/)
      for (const span of [chain.http, chain.create, chain.tmux]) {
        assert.strictEqual(span.traceId, chain.http.traceId, `${span.name} is in the request's trace`)
        assert.strictEqual(span.resource["service.name"], "telemux")
      }
      assert.isTrue(
        trace.some((span) => span.name === "sql.execute"),
        `the session's row written in the same trace:\n${render(trace)}`
      )
      assert.deepStrictEqual(receiver.refusals(), [])

      // a caller's W3C trace context is continued: the server span joins the caller's trace under its span
      const callerTrace = hex(16)
      const callerSpan = hex(8)
      const sent = await one.call("POST", `/v1/sessions/${sessionId}/input`, { text: "echo hi", enter: true }, {
        traceparent: `00-${callerTrace}-${callerSpan}-01`
      })
      assert.strictEqual(sent.status, 204, JSON.stringify(sent.body))
      const joined = await receiver.waitFor(
        `the server span of POST /v1/sessions/${sessionId}/input in the caller's trace ${callerTrace}`,
        (spans) => spans.find((span) => span.traceId === callerTrace && span.name === "http.server POST"),
        WAIT_MS
      )
      console.log(
        `POST /v1/sessions/:id/input with traceparent 00-${callerTrace}-${callerSpan}-01:\n` +
          render(inTrace(receiver.spans(), callerTrace))
      )
      assert.strictEqual(joined.parentSpanId, callerSpan, "the server span's parent is the caller's span")
      assert.strictEqual(joined.attributes["url.path"], `/v1/sessions/${sessionId}/input`)
      assert.strictEqual(computerOf(joined), ONE)
    },
    60_000
  )

  it("exports nothing from a daemon started without OTEL_EXPORTER_OTLP_ENDPOINT", async () => {
    const silent = await start(SILENT, { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_BSP_SCHEDULE_DELAY: "200" })
    const sessionId = await createSession(silent, { projectDir: silent.env.projectDir, title: "untraced" })
    const sent = await silent.call("POST", `/v1/sessions/${sessionId}/input`, { text: "echo hi", enter: true }, {
      traceparent: `00-${hex(16)}-${hex(8)}-01`
    })
    assert.strictEqual(sent.status, 204, JSON.stringify(sent.body))
    const quietFrom = Date.now()

    // the receiver is listening meanwhile: a request traced after the silent daemon's arrives
    const control = hex(16)
    assert.isDefined(one, "the exporting daemon of the previous test")
    const listed = await one!.call("POST", "/v1/sessions", { projectDir: one!.env.projectDir, title: "control" }, {
      traceparent: `00-${control}-${hex(8)}-01`
    })
    assert.strictEqual(listed.status, 201, JSON.stringify(listed.body))
    await receiver.waitFor(
      `the control request's trace ${control} from ${ONE}`,
      (spans) => spans.find((span) => span.traceId === control),
      WAIT_MS
    )
    await sleep(Math.max(0, quietFrom + SILENCE_MS - Date.now()))

    const fromSilent = receiver.spans().filter((span) => computerOf(span) === SILENT)
    console.log(
      `${SILENT} (no endpoint) after ${Date.now() - quietFrom} ms: ${fromSilent.length} spans; ` +
        `the receiver holds ${receiver.spans().length} from ${
          [...new Set(receiver.spans().map(computerOf))].join(", ")
        }`
    )
    assert.deepStrictEqual(fromSilent.map((span) => span.name), [], "spans exported by the daemon without an endpoint")
    assert.notInclude(silent.process.logs(), "exporting traces")
  }, 60_000)

  it("a collector that accepts and never answers costs neither the requests nor the SIGTERM bound", async () => {
    // a collector that takes every request in and answers none (its connections are cut at the end)
    const sockets = new Set<net.Socket>()
    const frozen = http.createServer((request) => request.resume())
    frozen.on("connection", (socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    await new Promise<void>((resolve) => frozen.listen(0, "127.0.0.1", resolve))
    const port = (frozen.address() as net.AddressInfo).port
    try {
      const stuck = await start(STUCK, {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_BSP_SCHEDULE_DELAY: "100"
      })
      for (let i = 0; i < 3; i++) await createSession(stuck, { projectDir: stuck.env.projectDir, title: `stuck ${i}` })
      // exports went out and hang
      await sleep(500)
      assert.isAbove(sockets.size, 0, "the daemon's exporter reached the frozen collector")
      const listed = await stuck.call("GET", "/v1/computers")
      assert.strictEqual(listed.status, 200, "requests are answered while exports hang")
      const exit = await stuck.process.stop()
      daemons.splice(daemons.indexOf(stuck), 1)
      console.log(`SIGTERM with exports hanging on a frozen collector: exit ${exit.code} after ${exit.elapsedMs} ms`)
      assert.strictEqual(exit.code, 0, logsOf(stuck))
      assert.isBelow(exit.elapsedMs, 1000, `the exit waited on the collector${logsOf(stuck)}`)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => frozen.close(() => resolve()))
    }
  }, 60_000)

  it("puts a fleet request's spans on both daemons under one trace id", async () => {
    redis = await redisForTest()
    const fleet = {
      ...exporting(),
      TELEMUX_REDIS_URL: redis!.url,
      TELEMUX_FLEET_SECRET: FLEET_SECRET,
      TELEMUX_HEARTBEAT_INTERVAL: "1 second"
    }
    const a = await start(A, fleet)
    const b = await start(B, fleet)
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      const computers = await a.call("GET", "/v1/computers")
      const names = computers.status === 200 ? (computers.body as ReadonlyArray<{ readonly name: string }>) : []
      if (names.some((c) => c.name === B)) break
      if (Date.now() > deadline) {
        assert.fail(`${A} did not list ${B} within ${WAIT_MS} ms: ${JSON.stringify(computers.body)}${logsOf(a)}`)
      }
      await sleep(100)
    }

    const sessionId = await createSession(a, { projectDir: b.env.projectDir, computer: B, title: "across" })

    const found = await receiver.waitFor(
      `one trace holding ${A}'s POST /v1/sessions and ${B}'s RpcServer span and Sessions.create`,
      (spans) => {
        for (const http of spans.filter(isServerSpan(A, "POST", "/v1/sessions"))) {
          const trace = inTrace(spans, http.traceId)
          const server = trace.find((span) => computerOf(span) === B && span.name.startsWith("RpcServer."))
          const create = server &&
            trace.find((span) => span.parentSpanId === server.spanId && span.name === "Sessions.create")
          if (create !== undefined) return { http, server: server!, create, trace }
        }
        return undefined
      },
      WAIT_MS
    ).catch((error) => {
      const onB = receiver.spans().filter((span) => computerOf(span) === B && span.name.startsWith("RpcServer."))
      const traces = [
        ...new Set(receiver.spans().filter((s) => computerOf(s) === A || computerOf(s) === B).map((s) => s.traceId))
      ]
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}\n${B}'s rpc server spans: ${JSON.stringify(onB)}\n` +
          traces.map((traceId) => `trace ${traceId}:\n${render(inTrace(receiver.spans(), traceId))}`).join("\n")
      )
    })
    // B's spans after the create may still be in its next batch
    const { http, server, create } = found
    await receiver.waitFor(
      `${B}'s ControlBridge.createSession under its Sessions.create`,
      (spans) => childOf(spans, create, "ControlBridge.createSession"),
      WAIT_MS
    )
    const trace = inTrace(receiver.spans(), http.traceId)
    console.log(`POST /v1/sessions on ${A} for ${B} (session ${sessionId}), trace ${http.traceId}:\n${render(trace)}`)

    const caller = trace.find((span) => span.spanId === server.parentSpanId)
    assert.isDefined(caller, `the parent of ${B}'s ${server.name} is a span of the trace:\n${render(trace)}`)
    assert.strictEqual(computerOf(caller!), A, `${B}'s ${server.name} continues a span of ${A}`)
    assert.strictEqual(
      caller!.name,
      server.name.replace(/^RpcServer\./, "RpcClient."),
      "its parent is A's rpc client span"
    )
    assert.strictEqual(server.name, "RpcServer.CreateSession")
    const onA = new Set(trace.filter((span) => computerOf(span) === A).map((span) => span.name))
    const onB = new Set(trace.filter((span) => computerOf(span) === B).map((span) => span.name))
    for (const name of ["http.server POST", "RpcClient.CreateSession"]) assert.isTrue(onA.has(name), `${name} on ${A}`)
    for (const name of ["RpcServer.CreateSession", "Sessions.create", "ControlBridge.createSession"]) {
      assert.isTrue(onB.has(name), `${name} on ${B}`)
    }
    // the caller's rpc span descends from its HTTP request
    const byId = new Map(trace.map((span) => [span.spanId, span]))
    let ancestor: ReceivedSpan | undefined = caller
    while (ancestor !== undefined && ancestor.spanId !== http.spanId) {
      ancestor = ancestor.parentSpanId === undefined ? undefined : byId.get(ancestor.parentSpanId)
    }
    assert.isDefined(ancestor, `${caller!.name} descends from ${A}'s http.server POST:\n${render(trace)}`)
    assert.deepStrictEqual(receiver.refusals(), [])
  }, 90_000)
})
