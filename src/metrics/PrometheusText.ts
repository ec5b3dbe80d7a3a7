/**
 * Effect's metric registry in the Prometheus text exposition format (version 0.0.4): one family
 * per metric name with its `# HELP` and `# TYPE`, series by their labels, histograms as cumulative
 * `_bucket{le}` series with `_sum` and `_count`, summaries as quantiles. Written here rather than
 * through a client library: the metrics are Effect's own (`Metric.counter`, …), and a second
 * registry would mean recording everything twice.
 */
import { type MetricPair, MetricState, Option } from "effect"

/** The content type Prometheus expects for this format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** A sample value as Prometheus spells it (`+Inf`, `-Inf`, `NaN`). */
const formatValue = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Number.POSITIVE_INFINITY) return "+Inf"
  if (value === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(value)
}

type Labels = ReadonlyArray<readonly [string, string]>

const formatLabels = (labels: Labels): string =>
  labels.length === 0 ? "" : `{${labels.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(",")}}`

const labelsOf = (pair: MetricPair.MetricPair.Untyped): Labels =>
  pair.metricKey.tags.map((tag) => [tag.key, tag.value] as const)

interface Family {
  readonly type: "counter" | "gauge" | "histogram" | "summary"
  readonly help: string
  readonly lines: Array<string>
}

/**
 * The registry's pairs as exposition text. Series of one name are grouped under one family (the
 * registry keeps one pair per label set), in a stable order; a name whose pairs disagree on the
 * type keeps the first.
 */
export const render = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  const familyOf = (name: string, type: Family["type"], help: string): Family | undefined => {
    const known = families.get(name)
    if (known !== undefined) return known.type === type ? known : undefined
    const family: Family = { type, help, lines: [] }
    families.set(name, family)
    return family
  }
  const keyed = pairs.map((pair) => ({ pair, key: `${pair.metricKey.name}${formatLabels(labelsOf(pair))}` }))
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  for (const { pair } of keyed) {
    const name = pair.metricKey.name
    const help = Option.getOrElse(pair.metricKey.description, () => name)
    const labels = labelsOf(pair)
    const state = pair.metricState
    if (MetricState.isCounterState(state)) {
      familyOf(name, "counter", help)?.lines.push(`${name}${formatLabels(labels)} ${formatValue(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      familyOf(name, "gauge", help)?.lines.push(`${name}${formatLabels(labels)} ${formatValue(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      const family = familyOf(name, "histogram", help)
      if (family === undefined) continue
      let sawInfinity = false
      for (const [bound, count] of state.buckets) {
        if (bound === Number.POSITIVE_INFINITY) sawInfinity = true
        family.lines.push(`${name}_bucket${formatLabels([...labels, ["le", formatValue(bound)]])} ${count}`)
      }
      if (!sawInfinity) family.lines.push(`${name}_bucket${formatLabels([...labels, ["le", "+Inf"]])} ${state.count}`)
      family.lines.push(`${name}_sum${formatLabels(labels)} ${formatValue(state.sum)}`)
      family.lines.push(`${name}_count${formatLabels(labels)} ${state.count}`)
    } else if (MetricState.isSummaryState(state)) {
      const family = familyOf(name, "summary", help)
      if (family === undefined) continue
      for (const [quantile, value] of state.quantiles) {
        const sample = Option.getOrElse(value, () => Number.NaN)
        family.lines.push(`${name}${formatLabels([...labels, ["quantile", String(quantile)]])} ${formatValue(sample)}`)
      }
      family.lines.push(`${name}_sum${formatLabels(labels)} ${formatValue(state.sum)}`)
      family.lines.push(`${name}_count${formatLabels(labels)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      // occurrences by word: a counter per word, the word as a label
      const family = familyOf(name, "counter", help)
      if (family === undefined) continue
      for (const [word, count] of state.occurrences) {
        family.lines.push(`${name}${formatLabels([...labels, ["value", word]])} ${count}`)
      }
    }
  }
  const out: Array<string> = []
  for (const name of [...families.keys()].sort()) {
    const family = families.get(name)!
    if (family.lines.length === 0) continue
    out.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`)
    for (const line of family.lines) out.push(line)
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}

/** One sample of an exposition: a series' name, its labels, its value. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g
const unescapeLabel = (value: string) => value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))

/** The samples of an exposition (comments and unreadable lines skipped): what `telemux doctor` and tests read. */
export const parse = (text: string): ReadonlyArray<Sample> => {
  const samples: Array<Sample> = []
  for (const line of text.split("\n")) {
    const match = SAMPLE_LINE.exec(line)
    if (match === null) continue
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? "").matchAll(LABEL_PAIR)) labels[pair[1]!] = unescapeLabel(pair[2]!)
    const value = match[3] === "+Inf" ? Infinity : match[3] === "-Inf" ? -Infinity : Number(match[3])
    samples.push({ name: match[1]!, labels, value })
  }
  return samples
}

/** The sum of a metric's samples whose labels include `where`. */
export const sum = (
  samples: ReadonlyArray<Sample>,
  name: string,
  where: (labels: Readonly<Record<string, string>>) => boolean = () => true
): number => samples.reduce((total, s) => (s.name === name && where(s.labels) ? total + s.value : total), 0)
