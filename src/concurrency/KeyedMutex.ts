import { Data, Effect } from "effect"

export class LockTableFull extends Data.TaggedError("LockTableFull")<{ readonly capacity: number }> {
  override get message() {
    return `more than ${this.capacity} keys are locked at once`
  }
}

interface Slot {
  readonly semaphore: Effect.Semaphore
  users: number
}

/**
 * One mutex per key, for serialising work on a session. A key's entry lives only while some
 * fiber holds or waits for it, so the table prunes itself; `capacity` bounds it outright.
 */
export class KeyedMutex<K> {
  private readonly slots = new Map<K, Slot>()

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.slots.size
  }

  withLock<K2 extends K>(key: K2) {
    return <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | LockTableFull, R> =>
      Effect.suspend((): Effect.Effect<A, E | LockTableFull, R> => {
        let slot = this.slots.get(key)
        if (slot === undefined) {
          if (this.slots.size >= this.capacity) return Effect.fail(new LockTableFull({ capacity: this.capacity }))
          slot = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 }
          this.slots.set(key, slot)
        }
        const held = slot
        held.users++
        return held.semaphore.withPermits(1)(effect).pipe(
          Effect.ensuring(Effect.sync(() => {
            held.users--
            if (held.users === 0 && this.slots.get(key) === held) this.slots.delete(key)
          }))
        )
      })
  }
}
