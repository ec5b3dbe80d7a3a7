/**
 * Label sets made once and reused. Effect's registry finds the series of a labelled update by the
 * identity of its label array: a fresh array per update would mean a lookup by value each time
 * (hashing every label). Label values here come from small fixed sets (routes, tmux commands,
 * statuses); the cap only guards against a bug making them many — past it, sets are made afresh.
 */
import * as MetricLabel from "effect/MetricLabel"

const LABEL_SETS_MAX = 4096

/** A memo of label arrays for the given label names, by their values. */
export const labelSets = (...names: ReadonlyArray<string>) => {
  const known = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
  return (...values: ReadonlyArray<string>): ReadonlyArray<MetricLabel.MetricLabel> => {
    const key = values.join("\u0000")
    const found = known.get(key)
    if (found !== undefined) return found
    const labels = names.map((name, i) => MetricLabel.make(name, values[i] ?? ""))
    if (known.size < LABEL_SETS_MAX) known.set(key, labels)
    return labels
  }
}
