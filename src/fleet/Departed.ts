import type { ComputerName, SessionId } from "../domain/Session.js"

/** Sessions remembered for computers that left; beyond it the least recently touched are forgotten. */
export const DEPARTED_SESSIONS_MAX = 10_000
/** Computers remembered as offline (with when they left); a fleet is far smaller. */
export const DEPARTED_COMPUTERS_MAX = 1_000

/** A computer that left the fleet, and when (epoch ms on this daemon's clock). */
export interface Departure {
  readonly computer: ComputerName
  readonly since: number
}

/** A map that holds at most `capacity` entries, forgetting the least recently used first. */
class Lru<K, V> {
  private readonly entries = new Map<K, V>()
  constructor(private readonly capacity: number) {}

  get size() {
    return this.entries.size
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key)
    if (value !== undefined) {
      // re-inserted: a Map iterates in insertion order, so the first key is the least recently used
      this.entries.delete(key)
      this.entries.set(key, value)
    }
    return value
  }

  set(key: K, value: V) {
    this.entries.delete(key)
    this.entries.set(key, value)
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K)
  }

  delete(key: K) {
    this.entries.delete(key)
  }

  deleteWhere(predicate: (value: V) => boolean) {
    for (const [key, value] of this.entries) if (predicate(value)) this.entries.delete(key)
  }
}

/**
 * What this daemon knew of computers that left the fleet: their open sessions, so a request for
 * one answers "its computer is offline" (503) and never "no such session" (404). Bounded: a
 * session forgotten here (pushed out by 10k newer ones) reads as not found again.
 */
export const makeDeparted = (capacity = { sessions: DEPARTED_SESSIONS_MAX, computers: DEPARTED_COMPUTERS_MAX }) => {
  const sessions = new Lru<SessionId, Departure>(capacity.sessions)
  const computers = new Lru<ComputerName, Departure>(capacity.computers)
  return {
    /** `computer` left at `since` with these sessions open. */
    left: (computer: ComputerName, sessionIds: Iterable<SessionId>, since: number) => {
      const departure = { computer, since }
      computers.set(computer, departure)
      for (const id of sessionIds) sessions.set(id, departure)
    },
    /** `computer` is back and its sessions are listed again: nothing of it needs remembering. */
    returned: (computer: ComputerName) => {
      computers.delete(computer)
      sessions.deleteWhere((d) => d.computer === computer)
    },
    session: (id: SessionId): Departure | undefined => sessions.get(id),
    computer: (name: ComputerName): Departure | undefined => computers.get(name),
    sessionCount: () => sessions.size
  } as const
}

export type Departed = ReturnType<typeof makeDeparted>
