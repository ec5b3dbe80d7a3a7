import { benchCache } from "./cacheBench.js"
import { printRows } from "./measure.js"
import { benchStore } from "./storeBench.js"

console.log(`telemux benchmarks — node ${process.version}, ${new Date().toISOString()}`)
printRows("cache (in-memory read model)", await benchCache())
printRows("session store (SQLite file)", await benchStore())
