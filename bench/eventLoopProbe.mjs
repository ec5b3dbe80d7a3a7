// Preloaded into the daemon by the benchmark (node --import): records event-loop delay and
// writes it, with the process's CPU time, to $TELEMUX_BENCH_PROBE on SIGUSR2 (and resets).
import fs from "node:fs"
import { monitorEventLoopDelay } from "node:perf_hooks"

const out = process.env.TELEMUX_BENCH_PROBE
if (out) {
  const histogram = monitorEventLoopDelay({ resolution: 5 })
  histogram.enable()
  process.on("SIGUSR2", () => {
    const cpu = process.cpuUsage()
    // Written aside, then renamed: the bench reads the file as soon as it exists, and under load it
    // once read it half-written ("Unexpected end of JSON input" in the output section).
    fs.writeFileSync(`${out}.tmp`, JSON.stringify({
      p50Ms: histogram.percentile(50) / 1e6,
      p99Ms: histogram.percentile(99) / 1e6,
      maxMs: histogram.max / 1e6,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      at: Date.now()
    }))
    fs.renameSync(`${out}.tmp`, out)
    histogram.reset()
  })
}
