import { MetricBoundaries } from "effect"

/**
 * Latency buckets, in seconds, shared by the daemon's latency histograms: from a cached read or a
 * control-mode tmux command (~0.1–1 ms) to one that waited out a timeout (5–10 s).
 */
export const LATENCY_BUCKETS_SECONDS: ReadonlyArray<number> = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10
]

export const latencyBoundaries = MetricBoundaries.fromIterable(LATENCY_BUCKETS_SECONDS)
