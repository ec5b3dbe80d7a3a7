import { benchCache } from "./cacheBench.js"
import { benchControl } from "./controlBench.js"
import { benchDiscovery } from "./discoveryBench.js"
import { benchFleet } from "./fleetBench.js"
import { benchHook } from "./hookBench.js"
import { printRows } from "./measure.js"
import { benchOutput } from "./outputBench.js"
import { benchStore } from "./storeBench.js"

console.log(`telemux benchmarks — node ${process.version}, ${new Date().toISOString()}`)
printRows("cache (in-memory read model)", await benchCache())
printRows("session store (SQLite file)", await benchStore())
printRows("tmux commands: control channel vs a process per call", await benchControl())
printRows("live output: the daemon over its WebSocket vs a 1 s spawn-per-command poller", await benchOutput())
printRows("fleet discovery: SCAN vs KEYS among 100k unrelated keys (own redis-server)", await benchDiscovery())
printRows("fleet requests over Redis (own redis-server)", await benchFleet())
printRows("agent hook command", await benchHook())
