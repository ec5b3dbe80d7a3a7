/**
 * Per-session rate limit of notifications: a token bucket. Each session may send BURST at once,
 * then one more per REFILL; what comes faster is dropped (and counted), not delayed — a person
 * wants the latest state, not a backlog.
 */
import type { Duration } from "effect"
import { Duration as D } from "effect"

/** Buckets kept; past it the least recently used session's is forgotten (it starts full again). */
export const RATE_BUCKETS_MAX = 10_000

interface Bucket {
  tokens: number
  at: number
  /** Dropped since the last one let through. */
  dropped: number
}

export type Verdict =
  | { readonly _tag: "Allowed"; readonly droppedBefore: number }
  | { readonly _tag: "Limited"; readonly dropped: number }

export class RateLimit {
  private readonly buckets = new Map<string, Bucket>()
  private readonly refillMillis: number

  constructor(
    readonly burst: number,
    refill: Duration.DurationInput,
    private readonly max: number = RATE_BUCKETS_MAX
  ) {
    this.refillMillis = D.toMillis(D.decode(refill))
  }

  take(key: string, nowMillis: number): Verdict {
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: nowMillis, dropped: 0 }
    this.buckets.delete(key)
    this.buckets.set(key, bucket)
    if (this.buckets.size > this.max) this.buckets.delete(this.buckets.keys().next().value as string)
    const elapsed = Math.max(0, nowMillis - bucket.at)
    bucket.tokens = Math.min(this.burst, bucket.tokens + elapsed / this.refillMillis)
    bucket.at = nowMillis
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      const droppedBefore = bucket.dropped
      bucket.dropped = 0
      return { _tag: "Allowed", droppedBefore }
    }
    bucket.dropped += 1
    return { _tag: "Limited", dropped: bucket.dropped }
  }

  forget(key: string): void {
    this.buckets.delete(key)
  }

  get size(): number {
    return this.buckets.size
  }
}
