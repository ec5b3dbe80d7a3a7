import { Duration, Effect, Layer } from "effect"
import * as v8 from "node:v8"
import { OutputLog } from "../services/OutputLog.js"
import { every } from "../src/concurrency/Workers.js"

/**
 * How far V8 lets the heap grow past what survived its last full collection
 * (`--heap-growing-percent`), set by load.
 *
 * Quiet, the daemon favours memory (1.2×): a daemon that runs for weeks gives back what a burst
 * took (`npm run bench -- memory`: after 2,000 session create/close cycles ~+28 MB RSS at 1.2×,
 * ~+50 MB at 1.5×). Under a sustained flood of screen updates it favours CPU (1.5×): every update
 * the output log keeps survives into the old space, and at 1.2× a full collection came every
 * ~1.5 s with 500 busy sessions — 10–15 % of the daemon's CPU per update more than at 1.5×
 * (`npm run bench -- busy`), and the event loop's longest pauses. V8 reads the flag each time it
 * sets the limit, so a change applies from the next collection on.
 */
export const HEAP_GROWING_QUIET = 20
export const HEAP_GROWING_BUSY = 50
/** Screen updates a second, over the last look, from which the daemon counts as busy… */
export const BUSY_UPDATES_PER_SECOND = 1500
/** …and below which as quiet again (between the two, it stays as it was). */
export const QUIET_UPDATES_PER_SECOND = 750
export const HEAP_POLICY_INTERVAL = Duration.seconds(2)

/** The growing percent for `rate` updates a second, given the one in force. */
export const heapGrowingPercent = (rate: number, current: number): number =>
  rate >= BUSY_UPDATES_PER_SECOND
    ? HEAP_GROWING_BUSY
    : rate < QUIET_UPDATES_PER_SECOND
    ? HEAP_GROWING_QUIET
    : current

/** Sets V8's flag now; the daemon's start sets the quiet one before any layer is built. */
export const setHeapGrowingPercent = (percent: number) => v8.setFlagsFromString(`--heap-growing-percent=${percent}`)

/** Counts the output log's updates and sets the growing percent every HEAP_POLICY_INTERVAL. */
export const make = (set: (percent: number) => void) =>
  Effect.gen(function*() {
    const log = yield* OutputLog
    let updates = 0
    let current = HEAP_GROWING_QUIET
    yield* log.listen((event) => {
      if (event._tag === "OutputChanged") updates++
    })
    const look = Effect.suspend(() => {
      const rate = updates / Duration.toSeconds(HEAP_POLICY_INTERVAL)
      updates = 0
      const next = heapGrowingPercent(rate, current)
      if (next === current) return Effect.void
      current = next
      set(next)
      return Effect.logInfo("heap growth set by load").pipe(
        Effect.annotateLogs({ heapGrowingPercent: next, updatesPerSecond: Math.round(rate) })
      )
    })
    yield* Effect.forkScoped(every("heap-policy", HEAP_POLICY_INTERVAL, look, { delayed: true }))
  })

export const layer = Layer.scopedDiscard(make(setHeapGrowingPercent))
