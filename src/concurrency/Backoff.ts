/**
 * The daemon's one reconnect backoff. Retry only the *connect* step with it and serve with
 * `Effect.forever`: each outage then starts a fresh schedule. (`Schedule.resetAfter` counts from
 * the schedule's start, not from the last success, so it is not how this resets.)
 */
import { type Duration, Schedule } from "effect"

/** Delays between connect attempts of one outage: exponential from `base`, jittered, never above `max`. */
export const reconnectBackoff = (
  base: Duration.DurationInput,
  max: Duration.DurationInput
): Schedule.Schedule<Duration.Duration> =>
  Schedule.exponential(base).pipe(
    Schedule.jittered,
    Schedule.union(Schedule.spaced(max)),
    Schedule.map(([delay]) => delay)
  )
