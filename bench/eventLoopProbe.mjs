// Preloaded into the daemon by the benchmark (node --import): records event-loop delay and
// writes it, with the process's CPU time, to $TELEMUX_BENCH_PROBE on SIGUSR2 (and resets).
//
// The histogram holds the times between the ticks of a RESOLUTION_MS timer, not how late each tick
// was: a daemon doing nothing reads p50 5.1 ms, and a loop blocked for 15 ms every 100 ms reads p99
// 18.5 ms. The delay is that time less RESOLUTION_MS; both are written (tick* the raw ones).
import fs from "node:fs"
import { monitorEventLoopDelay } from "node:perf_hooks"

const out = process.env.TELEMUX_BENCH_PROBE
if (out) {
  const RESOLUTION_MS = 5
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  const delay = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS)
  histogram.enable()
  process.on("SIGUSR2", () => {
    const cpu = process.cpuUsage()
    // Written aside, then renamed: the bench reads the file as soon as it exists, and under load it
    // once read it half-written ("Unexpected end of JSON input" in the output section).
    fs.writeFileSync(`${out}.tmp`, JSON.stringify({
      p50Ms: delay(histogram.percentile(50)),
      p99Ms: delay(histogram.percentile(99)),
      maxMs: delay(histogram.max),
      tickP99Ms: histogram.percentile(99) / 1e6,
      resolutionMs: RESOLUTION_MS,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      at: Date.now()
    }))
    fs.renameSync(`${out}.tmp`, out)
    histogram.reset()
  })
}
