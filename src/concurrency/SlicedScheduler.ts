import { Scheduler } from "effect"

/** Longest stretch of fiber work in one macrotask before Node reads sockets and fires timers again. */
export const SLICE_MS = 3
/** Tasks run before the queue's consumed head is dropped (keeps the array from growing). */
const COMPACT_AFTER = 1024

/**
 * A scheduler for the daemon: fibers run in macrotasks (setImmediate), like Scheduler.makeBatched,
 * but each macrotask stops taking tasks once SLICE_MS have passed and leaves the rest to the next.
 * A burst of work (a hundred screens arriving at once) then never holds the event loop for more
 * than a slice plus one task, and a socket or timer waits at most that long.
 */
export const makeSlicedScheduler = (sliceMs: number = SLICE_MS): Scheduler.Scheduler => {
  const queue: Array<() => void> = []
  let head = 0
  let scheduled = false
  const run = () => {
    const deadline = performance.now() + sliceMs
    while (head < queue.length) {
      const task = queue[head++]!
      task()
      if (performance.now() >= deadline) break
    }
    if (head >= queue.length) {
      queue.length = 0
      head = 0
      scheduled = false
      return
    }
    if (head >= COMPACT_AFTER) {
      queue.splice(0, head)
      head = 0
    }
    setImmediate(run)
  }
  return Scheduler.make((task) => {
    queue.push(task)
    if (!scheduled) {
      scheduled = true
      setImmediate(run)
    }
  }, Scheduler.defaultShouldYield)
}
