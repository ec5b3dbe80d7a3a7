import { Scheduler } from "effect"

/** Longest stretch of fiber work before Node reads sockets and fires timers again. */
export const SLICE_MS = 3
/** Tasks run before the queue's consumed head is dropped (keeps the array from growing). */
const COMPACT_AFTER = 1024

/**
 * A scheduler for the daemon that bounds how long fiber work holds the event loop, without making
 * a quiet daemon's requests wait for the loop to come round.
 *
 * Fiber work continues as microtasks of the callback that started it (a request's fiber reaches
 * tmux before Node turns to the next socket, as with Effect's default scheduler) until it has used
 * SLICE_MS in this turn of the event loop; what is left then runs in macrotasks (setImmediate) of
 * at most SLICE_MS each, between which Node reads sockets and fires timers. A burst of work (a
 * hundred screens arriving at once) therefore never holds the loop for much more than two slices,
 * and a lone request pays no loop turn per step: with every task in a macrotask, each await of an
 * input cost a turn (about 1 ms each under load).
 *
 * A turn starts with the first task after the loop's last check phase and ends at the next one
 * (one setImmediate per turn with fiber work marks it).
 */
export const makeSlicedScheduler = (
  sliceMs: number = SLICE_MS,
  now: () => number = () => performance.now()
): Scheduler.Scheduler => {
  const queue: Array<() => void> = []
  let head = 0
  /** A drain is scheduled or running: new tasks only join the queue. */
  let draining = false
  /** When this turn's fiber work began; undefined between turns. */
  let turnStart: number | undefined

  const endTurn = () => {
    turnStart = undefined
  }

  /** Runs tasks until the queue is empty or `deadline`; what is left goes to a macrotask. */
  const drain = (deadline: number) => {
    while (head < queue.length) {
      const task = queue[head++]!
      task()
      if (now() >= deadline) break
    }
    if (head >= queue.length) {
      queue.length = 0
      head = 0
      draining = false
      return
    }
    if (head >= COMPACT_AFTER) {
      queue.splice(0, head)
      head = 0
    }
    setImmediate(inMacrotask)
  }

  const inMacrotask = () => drain(now() + sliceMs)
  const inMicrotask = () => drain(turnStart === undefined ? now() + sliceMs : turnStart + sliceMs)

  return Scheduler.make((task) => {
    queue.push(task)
    if (draining) return
    draining = true
    if (turnStart === undefined) {
      turnStart = now()
      setImmediate(endTurn)
    }
    if (now() - turnStart < sliceMs) queueMicrotask(inMicrotask)
    else setImmediate(inMacrotask)
  }, Scheduler.defaultShouldYield)
}
