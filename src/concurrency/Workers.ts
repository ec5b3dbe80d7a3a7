/**
 * The daemon's one way to write a background loop: each round or event is handled on its own, a
 * failure (or a defect) is logged under the worker's name and the loop goes on. Fork the result
 * into a scope (`Effect.forkScoped`, a FiberSet/FiberMap) — never as a daemon fiber.
 */
import { type Duration, Effect, Queue, Schedule } from "effect"

/** Runs `task` now and then every `interval` (or, with `delayed`, first after one interval), forever. */
export const every = <A, E, R>(
  name: string,
  interval: Duration.Duration,
  task: Effect.Effect<A, E, R>,
  options: { readonly delayed?: boolean } = {}
): Effect.Effect<never, never, R> =>
  task.pipe(
    Effect.catchAllCause((cause) => Effect.logError(`${name} failed`, cause)),
    Effect.repeat(Schedule.spaced(interval)),
    (loop) => (options.delayed === true ? Effect.delay(loop, interval) : loop),
    Effect.zipRight(Effect.never),
    Effect.annotateLogs({ worker: name })
  )

/** Takes items from `queue` forever, one at a time; a failing item is logged and the next one taken. */
export const consume = <A, E, R>(
  name: string,
  queue: Queue.Dequeue<A>,
  handle: (item: A) => Effect.Effect<void, E, R>
): Effect.Effect<never, never, R> =>
  Queue.take(queue).pipe(
    Effect.flatMap((item) =>
      handle(item).pipe(Effect.catchAllCause((cause) => Effect.logError(`${name} failed`, cause)))
    ),
    Effect.forever,
    Effect.annotateLogs({ worker: name })
  )
