/**
 * Series bound to their labels once. A labelled update through Effect's `Metric` finds its series
 * in the registry on every call (by the identity of its label array at best, by hashing every
 * label at worst — `Metric.tagged` builds a fresh array per update); a metric made from a key that
 * already carries its labels goes straight to its series. On the request and tmux-command paths
 * that lookup was most of what recording cost.
 */
import { Metric, type MetricKeyType } from "effect"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"

/** What a bound series' `unsafeUpdate` is given: no labels beyond its own. */
export const NO_LABELS: ReadonlyArray<MetricLabel.MetricLabel> = []

/** Label values here come from small fixed sets; the cap guards against a bug making them many. */
const SERIES_MAX = 4096

/** The series of `key` for the given label names, by their values, each made once. */
export const seriesOf = <Type extends MetricKeyType.MetricKeyType<any, any>>(
  key: MetricKey.MetricKey<Type>,
  ...names: ReadonlyArray<string>
) => {
  const known = new Map<string, Metric.Metric<Type, MetricKeyType.MetricKeyType.InType<Type>, unknown>>()
  return (...values: ReadonlyArray<string>) => {
    const id = values.join("\u0000")
    const found = known.get(id)
    if (found !== undefined) return found
    const labels = names.map((name, i) => MetricLabel.make(name, values[i] ?? ""))
    const series = Metric.fromMetricKey(MetricKey.taggedWithLabels(key, labels))
    if (known.size < SERIES_MAX) known.set(id, series)
    return series
  }
}
