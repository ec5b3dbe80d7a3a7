import { benchBusy } from "./busyBench.js"
import { benchCache } from "./cacheBench.js"
import { benchControl } from "./controlBench.js"
import { benchDiff } from "./diffBench.js"
import { benchDiscovery } from "./discoveryBench.js"
import { benchFleet } from "./fleetBench.js"
import { benchHook } from "./hookBench.js"
import { benchHttp } from "./httpBench.js"
import { benchInput } from "./inputBench.js"
import { type BenchRow, printRows } from "./measure.js"
import { benchMemory } from "./memoryBench.js"
import { benchMetrics } from "./metricsBench.js"
import { benchIdle, benchOutput, idleDaemon, type IdleFigures } from "./outputBench.js"
import { benchShutdown } from "./shutdownBench.js"
import { benchStore } from "./storeBench.js"
import { benchTerminal } from "./terminalBench.js"
import { type Alongside, benchWeb } from "./webBench.js"

/**
 * The idle section's daemon, when the web section runs too: it settles and is watched inside the
 * web section's two minutes with the list open (see `idleDaemon`), and its rows are printed after.
 * Its 200 sessions are made before those two minutes are watched; inside them it adds its own idle
 * cost (under 1 % of a core) to the machine, and what it measures is its own process only.
 */
let idleHosted: Promise<IdleFigures> | undefined
const hostIdle = (): Alongside => {
  let daemon: Awaited<ReturnType<typeof idleDaemon>> | undefined
  return {
    start: async () => {
      daemon = await idleDaemon()
    },
    during: () => {
      idleHosted = daemon!.measure()
      // its failure is the idle section's to report, not the web section's
      return idleHosted.then(() => undefined, () => undefined)
    },
    end: async () => {
      await daemon?.stop()
    }
  }
}

/** Every section, in the order `npm run bench` runs them; `npm run bench -- <section>…` runs the ones named. */
const SECTIONS: Record<string, { readonly title: string; readonly run: () => Promise<ReadonlyArray<BenchRow>> }> = {
  cache: { title: "cache (in-memory read model)", run: benchCache },
  store: { title: "session store (SQLite file)", run: benchStore },
  control: { title: "tmux commands: control channel vs a process per call", run: benchControl },
  input: {
    title:
      "input → the command's output (dist/main.js over HTTP) vs a bare tmux -C client on the same server (the floor)",
    run: benchInput
  },
  output: { title: "live output: the daemon over its WebSocket vs a 1 s spawn-per-command poller", run: benchOutput },
  terminal: {
    title: "terminal stream: keystroke → echo and cat throughput on the WebSocket vs a bare tmux -C client (the floor)",
    run: benchTerminal
  },
  web: {
    title: "web dashboard in Chromium: first load, keystroke → drawn beside the stream's own figure, 50 busy sessions",
    run: () => benchWeb(selected.includes("idle") ? hostIdle() : undefined)
  },
  idle: {
    title:
      "idle: the daemon with 200 idle sessions vs a 1 s spawn-per-command poller (watched in the web section's quiet wait when both run)",
    run: () => benchIdle(idleHosted)
  },
  busy: {
    title: "500 busy sessions: the daemon over its WebSocket vs a bare tmux -C client on the same layout (the floor)",
    run: benchBusy
  },
  http: {
    title: "HTTP throughput: the daemon (dist/main.js) vs a trivial node:http server answering the same bytes",
    run: benchHttp
  },
  metrics: {
    title: "metrics on vs off (TELEMUX_METRICS=false): request throughput and CPU per output update, same run",
    run: benchMetrics
  },
  memory: { title: "memory: daemon RSS per open session and over 2,000 create/close cycles", run: benchMemory },
  discovery: {
    title: "fleet discovery: SCAN vs KEYS among 100k unrelated keys (own redis-server)",
    run: benchDiscovery
  },
  fleet: { title: "fleet requests over Redis (own redis-server)", run: benchFleet },
  hook: { title: "agent hook command", run: benchHook },
  diff: {
    title: "worktree diff (temporary index, untracked included) of 10,000 files with 500 changed vs plain git diff",
    run: benchDiff
  },
  shutdown: { title: "shutdown: SIGTERM → exit of the daemon (dist/main.js), under load vs idle", run: benchShutdown }
}

const usage = `usage: npm run bench [-- <section>…]; sections: ${
  Object.keys(SECTIONS).join(", ")
} (all when none is named)`
const args = process.argv.slice(2)
/** In the order of SECTIONS, whatever the order named (the idle section follows the web section that hosts it). */
const selected = Object.keys(SECTIONS).filter((name) => args.length === 0 || args.includes(name))
if (args.includes("--help") || args.includes("-h")) {
  console.log(usage)
  process.exit(0)
}
const unknown = args.filter((name) => !(name in SECTIONS))
if (unknown.length > 0) {
  console.error(`unknown section${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}\n${usage}`)
  process.exit(2)
}

console.log(`telemux benchmarks — node ${process.version}, ${new Date().toISOString()}`)
console.log(usage)
const began = performance.now()
for (const name of selected) {
  const section = SECTIONS[name]!
  const started = performance.now()
  printRows(section.title, await section.run())
  console.log(`(${name}: ${((performance.now() - started) / 1000).toFixed(0)} s)`)
}
console.log(`\nall sections: ${((performance.now() - began) / 1000).toFixed(0)} s`)
