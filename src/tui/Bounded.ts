/**
 * Bounded, immutable per-key UI state: a Map kept in least-recently-touched order, never longer
 * than its cap (the oldest entries go first), and pruned to the keys that still exist.
 */

/** `map` with `key` set to `value` and moved to the newest end; the oldest entries beyond `max` dropped. */
export const touch = <K, V>(map: ReadonlyMap<K, V>, key: K, value: V, max: number): ReadonlyMap<K, V> => {
  const next = new Map(map)
  next.delete(key)
  next.set(key, value)
  for (const oldest of next.keys()) {
    if (next.size <= max) break
    next.delete(oldest)
  }
  return next
}

/** `map` without the keys `keep` refuses (the same map when nothing goes). */
export const prune = <K, V>(map: ReadonlyMap<K, V>, keep: (key: K) => boolean): ReadonlyMap<K, V> => {
  let next: Map<K, V> | undefined
  for (const key of map.keys()) {
    if (keep(key)) continue
    next ??= new Map(map)
    next.delete(key)
  }
  return next ?? map
}

export const remove = <K, V>(map: ReadonlyMap<K, V>, key: K): ReadonlyMap<K, V> => {
  if (!map.has(key)) return map
  const next = new Map(map)
  next.delete(key)
  return next
}
