import { Effect, Equal, Layer, Option, PubSub, Schema } from "effect"
import { Cache, CACHE_EVENTS_CAPACITY, type CacheEvent } from "../services/Cache.js"
import type { Computer } from "../src/domain/Computer.js"
import type { Project } from "../src/domain/Project.js"
import { type ComputerName, Session, type SessionId, type SessionStatus } from "../src/domain/Session.js"

const encodeSession = Schema.encodeSync(Session)

interface Entry {
  readonly session: Session
  readonly version: number
  /** Wire form, filled on first read of this version. */
  json: string | undefined
}

interface SessionFilter {
  readonly computer?: ComputerName
  readonly status?: SessionStatus
  readonly limit?: number
}

const addTo = <K, V>(index: Map<K, Set<V>>, key: K, value: V) => {
  const set = index.get(key)
  if (set === undefined) index.set(key, new Set([value]))
  else set.add(value)
}

const removeFrom = <K, V>(index: Map<K, Set<V>>, key: K, value: V) => {
  const set = index.get(key)
  if (set === undefined) return
  set.delete(value)
  if (set.size === 0) index.delete(key)
}

/** Distinct list filters remembered between two changes (a client's few views; more start over). */
export const LIST_MEMO_MAX = 32

const newestFirst = (a: Entry, b: Entry) => b.session.createdAt.epochMillis - a.session.createdAt.epochMillis

/**
 * Session read model with secondary indexes. Mutations are synchronous (one JS turn), so the
 * primary map and both indexes are always consistent with each other when observed.
 */
export class SessionIndex {
  private readonly byId = new Map<SessionId, Entry>()
  private readonly byComputer = new Map<ComputerName, Set<SessionId>>()
  private readonly byStatus = new Map<SessionStatus, Set<SessionId>>()
  private nextVersion = 1
  /**
   * selectJson's answers since the last change, by filter: a list read again before anything
   * changed is the same string (no sort, no join), which lets a reader keep what it derived from it
   * (the HTTP layer's bytes). Emptied by every change; bounded by LIST_MEMO_MAX filters.
   */
  private readonly listMemo = new Map<string, string>()
  /** How many times a session was encoded: once per version read, however many reads. */
  encodes = 0

  /** Returns the new version, or undefined when the session is unchanged. */
  upsert(session: Session): number | undefined {
    const previous = this.byId.get(session.sessionId)
    if (previous !== undefined) {
      if (Equal.equals(previous.session, session)) return undefined
      if (previous.session.computer !== session.computer) {
        removeFrom(this.byComputer, previous.session.computer, session.sessionId)
        addTo(this.byComputer, session.computer, session.sessionId)
      }
      if (previous.session.status !== session.status) {
        removeFrom(this.byStatus, previous.session.status, session.sessionId)
        addTo(this.byStatus, session.status, session.sessionId)
      }
    } else {
      addTo(this.byComputer, session.computer, session.sessionId)
      addTo(this.byStatus, session.status, session.sessionId)
    }
    const version = this.nextVersion++
    this.byId.set(session.sessionId, { session, version, json: undefined })
    this.listMemo.clear()
    return version
  }

  remove(id: SessionId): Session | undefined {
    const entry = this.byId.get(id)
    if (entry === undefined) return undefined
    this.byId.delete(id)
    this.listMemo.clear()
    removeFrom(this.byComputer, entry.session.computer, id)
    removeFrom(this.byStatus, entry.session.status, id)
    return entry.session
  }

  get(id: SessionId): Session | undefined {
    return this.byId.get(id)?.session
  }

  get size(): number {
    return this.byId.size
  }

  /** Index sizes, for tests that check nothing is left behind. */
  indexSizes(): { readonly computers: number; readonly statuses: number; readonly entries: number } {
    let entries = 0
    for (const set of this.byComputer.values()) entries += set.size
    return { computers: this.byComputer.size, statuses: this.byStatus.size, entries }
  }

  json(id: SessionId): string | undefined {
    const entry = this.byId.get(id)
    return entry === undefined ? undefined : this.entryJson(entry)
  }

  select(filter: SessionFilter = {}): ReadonlyArray<Session> {
    return this.selectEntries(filter).map((entry) => entry.session)
  }

  selectJson(filter: SessionFilter = {}): string {
    const key = `${filter.computer ?? ""}\u0000${filter.status ?? ""}\u0000${filter.limit ?? ""}`
    const memo = this.listMemo.get(key)
    if (memo !== undefined) return memo
    const json = "[" + this.selectEntries(filter).map((entry) => this.entryJson(entry)).join(",") + "]"
    if (this.listMemo.size >= LIST_MEMO_MAX) this.listMemo.clear()
    this.listMemo.set(key, json)
    return json
  }

  private entryJson(entry: Entry): string {
    if (entry.json === undefined) {
      entry.json = JSON.stringify(encodeSession(entry.session))
      this.encodes++
    }
    return entry.json
  }

  /** Walks the smaller of the matching index sets: O(k) in the answer, never O(n). */
  private selectEntries(filter: SessionFilter): Array<Entry> {
    const candidates: Iterable<SessionId> = this.candidates(filter)
    const out: Array<Entry> = []
    for (const id of candidates) {
      const entry = this.byId.get(id)!
      if (filter.computer !== undefined && entry.session.computer !== filter.computer) continue
      if (filter.status !== undefined && entry.session.status !== filter.status) continue
      out.push(entry)
    }
    out.sort(newestFirst)
    return filter.limit !== undefined && out.length > filter.limit ? out.slice(0, filter.limit) : out
  }

  private candidates(filter: SessionFilter): Iterable<SessionId> {
    const byComputer = filter.computer === undefined ? undefined : this.byComputer.get(filter.computer)
    const byStatus = filter.status === undefined ? undefined : this.byStatus.get(filter.status)
    if (filter.computer !== undefined && byComputer === undefined) return []
    if (filter.status !== undefined && byStatus === undefined) return []
    if (byComputer !== undefined && byStatus !== undefined) {
      return byComputer.size <= byStatus.size ? byComputer : byStatus
    }
    return byComputer ?? byStatus ?? this.byId.keys()
  }
}

export const make = Effect.gen(function*() {
  const sessions = new SessionIndex()
  const computers = new Map<ComputerName, Computer>()
  const projects = new Map<ComputerName, ReadonlyArray<Project>>()
  const events = yield* Effect.acquireRelease(
    PubSub.sliding<CacheEvent>(CACHE_EVENTS_CAPACITY),
    PubSub.shutdown
  )
  const publish = (event: CacheEvent) => PubSub.publish(events, event).pipe(Effect.asVoid)

  return Cache.of({
    upsertSession: (session) =>
      Effect.suspend(() => {
        const version = sessions.upsert(session)
        return version === undefined ? Effect.void : publish({ _tag: "SessionUpserted", session, version })
      }),
    removeSession: (id) =>
      Effect.suspend(() => {
        const removed = sessions.remove(id)
        return removed === undefined
          ? Effect.void
          : publish({ _tag: "SessionRemoved", sessionId: id, computer: removed.computer })
      }),
    getSession: (id) => Effect.sync(() => Option.fromNullable(sessions.get(id))),
    getSessions: (filter) => Effect.sync(() => sessions.select(filter)),
    getSessionsForComputer: (computer) => Effect.sync(() => sessions.select({ computer })),
    getSessionsByStatus: (status) => Effect.sync(() => sessions.select({ status })),
    getSessionJson: (id) => Effect.sync(() => Option.fromNullable(sessions.json(id))),
    getSessionsJson: (filter) => Effect.sync(() => sessions.selectJson(filter)),
    sessionCount: Effect.sync(() => sessions.size),

    upsertComputer: (computer) =>
      Effect.suspend(() => {
        const previous = computers.get(computer.name)
        if (previous !== undefined && Equal.equals(previous, computer)) return Effect.void
        computers.set(computer.name, computer)
        return publish({ _tag: "ComputerUpserted", computer })
      }),
    removeComputer: (name) =>
      Effect.suspend(() => computers.delete(name) ? publish({ _tag: "ComputerRemoved", name }) : Effect.void),
    getComputers: Effect.sync(() => Array.from(computers.values())),

    setProjects: (computer, list) =>
      Effect.suspend(() => {
        projects.set(computer, list)
        return publish({ _tag: "ProjectsReplaced", computer })
      }),
    getProjects: (computer) =>
      Effect.sync(() => computer === undefined ? Array.from(projects.values()).flat() : projects.get(computer) ?? []),

    events
  })
})

export const layer: Layer.Layer<Cache> = Layer.scoped(Cache, make)
