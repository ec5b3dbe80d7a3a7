/**
 * HTTP throughput: the real daemon (dist/main.js, auth on as users run it: `Authorization: Bearer`
 * from its token file, private tmux socket, 200 open shell sessions) on `GET /health` and
 * `GET /v1/sessions`, beside a trivial node:http server that answers the same bytes with the same
 * content type (the daemon's own reply, fetched once) — measured the same way, in the same run.
 *
 * Three processes, so that nothing shares an event loop: the daemon, the trivial server (a fork of
 * this module), and the load generator (another fork): a closed loop of keep-alive HTTP/1.1
 * connections on raw sockets (each sends its next request when the previous answer is complete),
 * counting answers and timing each one. Each cell: WARMUP_MS, then MEASURE_MS counted.
 * Target (issue 11): the daemon ≥ 0.3× the trivial server's requests per second.
 *
 * `npx tsx bench/httpBench.ts` runs it alone (after `npm run build`). TELEMUX_BENCH_NODE_ARGS adds
 * flags to the daemon's node (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"); TELEMUX_BENCH_MAIN runs
 * another build of the daemon than dist/main.js.
 */
import { fork } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { BenchRow } from "./measure.js"
import { createSessions, type Daemon, startDaemon } from "./outputBench.js"

const SELF = fileURLToPath(import.meta.url)
const ROLE_ENV = "TELEMUX_HTTP_BENCH_ROLE"

const SESSIONS = 200
const CONNECTIONS = [10, 50] as const
const WARMUP_MS = 1000
const MEASURE_MS = 3000
const TARGET_RATIO = 0.3

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** CPU seconds used by `pid` so far (user + system, from /proc). */
const cpuSeconds = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

// ---------------------------------------------------------------------------
// The load generator (its own process)
// ---------------------------------------------------------------------------

interface LoadRequest {
  readonly port: number
  readonly path: string
  readonly token: string
  readonly connections: number
  readonly warmupMs: number
  readonly measureMs: number
}

export interface LoadResult {
  readonly requests: number
  readonly errors: number
  /** Statuses other than 200 seen, with their counts. */
  readonly statuses: Record<string, number>
  readonly bytes: number
  readonly seconds: number
  readonly p50Ms: number
  readonly p99Ms: number
}

const HEADER_END = Buffer.from("\r\n\r\n")
const CHUNKED_END = Buffer.from("\r\n0\r\n\r\n")

/**
 * One keep-alive connection in a closed loop. Answers are framed by Content-Length (or a chunked
 * body's last chunk); only the head is parsed, the body is counted, not copied.
 */
const connection = (
  request: LoadRequest,
  onAnswer: (status: number, latencyMs: number, bytes: number) => void,
  isRunning: () => boolean,
  onClosed: () => void
) => {
  const bytes = Buffer.from(
    `GET ${request.path} HTTP/1.1\r\nHost: 127.0.0.1:${request.port}\r\nAuthorization: Bearer ${request.token}\r\n\r\n`,
    "latin1"
  )
  let socket: net.Socket
  let head: Buffer | undefined
  let status = 0
  let remaining = -1
  let chunked = false
  let tail = Buffer.alloc(0)
  let received = 0
  let sentAt = 0
  const send = () => {
    head = undefined
    remaining = -1
    chunked = false
    received = 0
    sentAt = performance.now()
    socket.write(bytes)
  }
  const complete = () => {
    onAnswer(status, performance.now() - sentAt, received)
    if (isRunning()) send()
    else socket.destroy()
  }
  const onData = (chunk: Buffer) => {
    received += chunk.length
    if (remaining < 0 && !chunked) {
      head = head === undefined ? chunk : Buffer.concat([head, chunk])
      const end = head.indexOf(HEADER_END)
      if (end < 0) return
      const text = head.toString("latin1", 0, end)
      status = Number(text.slice(9, 12))
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text)
      chunked = length === null && /\r\ntransfer-encoding:\s*chunked/i.test(text)
      const body = head.subarray(end + 4)
      if (chunked) tail = Buffer.alloc(0)
      else remaining = Number(length?.[1] ?? 0)
      chunk = body
    }
    if (chunked) {
      tail = Buffer.concat([tail, chunk]).subarray(-CHUNKED_END.length)
      if (tail.equals(CHUNKED_END)) complete()
    } else {
      remaining -= chunk.length
      if (remaining <= 0) complete()
    }
  }
  const open = () => {
    socket = net.connect({ host: "127.0.0.1", port: request.port, noDelay: true })
    socket.on("data", onData)
    socket.on("error", () => undefined)
    // a server that closes a keep-alive connection: count the answer lost, and go on on a new one
    socket.on("close", () => {
      if (!isRunning()) return onClosed()
      onAnswer(-1, 0, 0)
      open()
    })
    socket.once("connect", send)
  }
  open()
}

/** `onWindow` is told when counting starts and when it stops, so that the server's CPU is read over the same window. */
const runLoad = async (
  request: LoadRequest,
  onWindow: (edge: "start" | "stop") => void = () => undefined
): Promise<LoadResult> => {
  let counting = false
  let running = true
  const latencies: Array<number> = []
  const statuses: Record<string, number> = {}
  let errors = 0
  let bytes = 0
  let open = request.connections
  let allClosed: () => void = () => undefined
  const closed = new Promise<void>((resolve) => (allClosed = resolve))
  for (let i = 0; i < request.connections; i++) {
    connection(
      request,
      (status, latencyMs, size) => {
        if (!counting) return
        if (status === 200) {
          latencies.push(latencyMs)
          bytes += size
        } else {
          errors++
          statuses[String(status)] = (statuses[String(status)] ?? 0) + 1
        }
      },
      () => running,
      () => {
        if (--open === 0) allClosed()
      }
    )
  }
  await sleep(request.warmupMs)
  onWindow("start")
  counting = true
  const start = performance.now()
  await sleep(request.measureMs)
  counting = false
  const seconds = (performance.now() - start) / 1000
  onWindow("stop")
  running = false
  // the answers still in flight finish (uncounted) before the next cell starts
  await Promise.race([closed, sleep(5000)])
  latencies.sort((a, b) => a - b)
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN
  return { requests: latencies.length, errors, statuses, bytes, seconds, p50Ms: at(0.5), p99Ms: at(0.99) }
}

// ---------------------------------------------------------------------------
// The trivial server (its own process): the same bytes, the same content type
// ---------------------------------------------------------------------------

interface Route {
  readonly contentType: string
  readonly body: string
}

const serveTrivial = (routes: Record<string, Route>) =>
  new Promise<number>((resolve) => {
    const answers = new Map(
      Object.entries(routes).map(([url, route]) => [url, { ...route, body: Buffer.from(route.body, "base64") }])
    )
    const server = http.createServer((req, res) => {
      const answer = answers.get(req.url ?? "")
      if (answer === undefined) {
        res.writeHead(404).end()
        return
      }
      res.writeHead(200, { "content-type": answer.contentType, "content-length": answer.body.length })
      res.end(answer.body)
    })
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port))
  })

// ---------------------------------------------------------------------------
// The parent: the daemon, the trivial server, the cells
// ---------------------------------------------------------------------------

/** A forked copy of this module playing `role`; `ask` sends one message and waits for its answer. */
export const forkRole = (role: "load" | "trivial") => {
  const child = fork(SELF, [], {
    env: { ...process.env, [ROLE_ENV]: role },
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  /** Resolves with the first message `accept` returns a value for; others go to `onOther`. */
  const ask = <A>(
    message: unknown,
    accept: (answer: any) => A | undefined = (answer) => answer as A,
    onOther: (answer: any) => void = () => undefined
  ) =>
    new Promise<A>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the ${role} process exited (${code})`))
      const onMessage = (answer: unknown) => {
        const accepted = accept(answer)
        if (accepted === undefined) return onOther(answer)
        child.off("exit", onExit)
        child.off("message", onMessage)
        resolve(accepted)
      }
      child.once("exit", onExit)
      child.on("message", onMessage)
      child.send(message as object)
    })
  return { child, ask }
}

/** A GET as the load generator sees it: status, content type and the exact bytes. */
const getRaw = async (daemon: Daemon, route: string) => {
  const res = await fetch(`http://127.0.0.1:${daemon.port}${route}`, {
    headers: { authorization: `Bearer ${daemon.token}` }
  })
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", text: await res.text() }
}

export interface Cell {
  readonly result: LoadResult
  /** Server CPU per answered request, in µs. */
  readonly cpuUs: number
}

/** One cell: the load generator's figures, and the server's CPU over the counted window. */
export const measure = async (load: ReturnType<typeof forkRole>, pid: number, request: LoadRequest): Promise<Cell> => {
  let cpuStart = NaN
  let cpuStop = NaN
  const result = await load.ask<LoadResult>(
    request,
    (answer: { type: string; result?: LoadResult }) => (answer.type === "result" ? answer.result : undefined),
    (edge: { type: string }) => {
      if (edge.type === "start") cpuStart = cpuSeconds(pid)
      if (edge.type === "stop") cpuStop = cpuSeconds(pid)
    }
  )
  return { result, cpuUs: result.requests === 0 ? NaN : ((cpuStop - cpuStart) / result.requests) * 1e6 }
}

export const rate = (r: LoadResult) => r.requests / r.seconds
const formatRate = (
  perSecond: number
) => (perSecond >= 1000 ? `${(perSecond / 1000).toFixed(1)}k req/s` : `${perSecond.toFixed(0)} req/s`)
export const describe = (cell: Cell) =>
  `${formatRate(rate(cell.result))}, p50 ${cell.result.p50Ms.toFixed(2)} / p99 ${cell.result.p99Ms.toFixed(2)} ms, ` +
  `${cell.cpuUs.toFixed(0)} µs CPU/req` +
  (cell.result.errors > 0 ? `, ${cell.result.errors} not 200 (${JSON.stringify(cell.result.statuses)})` : "")

export const benchHttp = async (): Promise<ReadonlyArray<BenchRow>> => {
  const daemon = await startDaemon()
  const load = forkRole("load")
  const trivial = forkRole("trivial")
  try {
    await createSessions(daemon, SESSIONS, os.tmpdir())
    // the new shells print their first prompt: let the list settle before its bytes are taken
    await sleep(2000)
    const paths = { health: "/health", sessions: "/v1/sessions" } as const
    const routes: Record<string, Route> = {}
    for (const url of Object.values(paths)) {
      const answer = await getRaw(daemon, url)
      if (answer.status !== 200) throw new Error(`GET ${url}: ${answer.status} ${answer.text}`)
      routes[url] = { contentType: answer.contentType, body: Buffer.from(answer.text).toString("base64") }
    }
    const listed =
      (JSON.parse(Buffer.from(routes[paths.sessions]!.body, "base64").toString()) as ReadonlyArray<unknown>).length
    if (listed !== SESSIONS) throw new Error(`the daemon lists ${listed} sessions, not ${SESSIONS}`)
    const trivialPort = await trivial.ask<number>({ routes })
    const listBytes = Buffer.byteLength(Buffer.from(routes[paths.sessions]!.body, "base64"))

    const rows: Array<BenchRow> = []
    for (const [name, url] of Object.entries(paths)) {
      for (const connections of CONNECTIONS) {
        const base = { path: url, token: daemon.token, connections, warmupMs: WARMUP_MS, measureMs: MEASURE_MS }
        const floor = await measure(load, trivial.child.pid!, { ...base, port: trivialPort })
        const ours = await measure(load, daemon.pid, { ...base, port: daemon.port })
        const ratio = rate(ours.result) / rate(floor.result)
        const what = name === "sessions"
          ? `GET ${url} (${SESSIONS} sessions, ${(listBytes / 1024).toFixed(0)} KB)`
          : `GET ${url}`
        rows.push({
          name: `${what}, ${connections} connections, bearer auth on`,
          value: describe(ours),
          baseline: `trivial node:http ${describe(floor)}`,
          ratio: `${ratio.toFixed(2)}× ${ratio >= TARGET_RATIO ? "(met" : "(MISSED"} ≥ ${TARGET_RATIO}×)`
        })
      }
    }
    return rows
  } finally {
    load.child.kill()
    trivial.child.kill()
    await daemon.stop()
  }
}

export const main = async () => {
  const { printRows } = await import("./measure.js")
  printRows(
    `HTTP throughput: the daemon (dist/main.js) vs a trivial node:http server answering the same bytes (${
      WARMUP_MS / 1000
    } s warm-up, ${MEASURE_MS / 1000} s counted per cell)`,
    await benchHttp()
  )
}

const role = process.env[ROLE_ENV]
if (role !== undefined) process.on("disconnect", () => process.exit(0))
if (role === "load") {
  process.on("message", (message) => {
    void runLoad(message as LoadRequest, (edge) => process.send!({ type: edge })).then((result) =>
      process.send!({ type: "result", result })
    )
  })
} else if (role === "trivial") {
  process.once("message", (message) => {
    void serveTrivial((message as { routes: Record<string, Route> }).routes).then((port) => process.send!(port))
  })
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
