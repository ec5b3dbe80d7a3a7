/** One printed line of `npm run bench`: a figure beside its baseline, measured in the same run. */
export interface BenchRow {
  readonly name: string
  readonly value: string
  readonly baseline: string
  readonly ratio?: string
}

export interface Timing {
  /** Median time of one operation, in nanoseconds. */
  readonly medianNs: number
  readonly p99Ns: number
}

/**
 * Times `op` in `samples` batches of `batch` calls each (after a warm-up) and returns the
 * per-call median and p99 across batches. Batching keeps timer resolution out of sub-µs figures.
 */
export const time = (
  op: () => unknown,
  options: { readonly samples?: number; readonly batch?: number } = {}
): Timing => {
  const samples = options.samples ?? 101
  const batch = options.batch ?? 100
  let sink: unknown
  // warm up by time so the JIT has settled whatever one call costs
  const warmUntil = process.hrtime.bigint() + 200_000_000n
  for (let i = 0; i < 10 || process.hrtime.bigint() < warmUntil; i++) sink = op()
  const perCall: Array<number> = []
  for (let s = 0; s < samples; s++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < batch; i++) sink = op()
    perCall.push(Number(process.hrtime.bigint() - start) / batch)
  }
  if (sink === Symbol.for("never")) console.log(sink)
  perCall.sort((a, b) => a - b)
  return {
    medianNs: perCall[Math.floor(perCall.length / 2)]!,
    p99Ns: perCall[Math.min(perCall.length - 1, Math.floor(perCall.length * 0.99))]!
  }
}

export const formatNs = (ns: number): string =>
  ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`

export const formatRate = (nsPerOp: number): string => {
  const perSecond = 1e9 / nsPerOp
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M ops/s` : `${(perSecond / 1e3).toFixed(1)} k ops/s`
}

export const ratio = (baseline: number, value: number): string => `${(baseline / value).toFixed(1)}×`

export const printRows = (title: string, rows: ReadonlyArray<BenchRow>) => {
  const widths = [
    Math.max(4, ...rows.map((r) => r.name.length)),
    Math.max(5, ...rows.map((r) => r.value.length)),
    Math.max(8, ...rows.map((r) => r.baseline.length))
  ]
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ")
  console.log(`\n## ${title}`)
  console.log(line(["case", "value", "baseline", "ratio"]))
  for (const r of rows) console.log(line([r.name, r.value, r.baseline, r.ratio ?? ""]))
}
