import { Context, type Effect, type Option, type PubSub } from "effect"
import type { Computer } from "../src/domain/Computer.js"
import type { Project } from "../src/domain/Project.js"
import type { ComputerName, Session, SessionId, SessionStatus } from "../src/domain/Session.js"

/** Capacity of the change-event PubSub; a subscriber that falls this far behind loses the oldest. */
export const CACHE_EVENTS_CAPACITY = 1024

export type CacheEvent =
  | { readonly _tag: "SessionUpserted"; readonly session: Session; readonly version: number }
  | { readonly _tag: "SessionRemoved"; readonly sessionId: SessionId; readonly computer: ComputerName }
  | { readonly _tag: "ComputerUpserted"; readonly computer: Computer }
  | { readonly _tag: "ComputerRemoved"; readonly name: ComputerName }
  | { readonly _tag: "ProjectsReplaced"; readonly computer: ComputerName }

/**
 * The in-memory read model. Sessions are indexed by id, by owning computer and by status,
 * so lookups by computer or status cost O(k) in the answer, not O(n) in the cache.
 * Each session's wire form (JSON text) is encoded once per version and reused by every read.
 */
export class Cache extends Context.Tag("telemux/Cache")<Cache, {
  readonly upsertSession: (session: Session) => Effect.Effect<void>
  readonly removeSession: (id: SessionId) => Effect.Effect<void>
  readonly getSession: (id: SessionId) => Effect.Effect<Option.Option<Session>>
  readonly getSessions: (filter?: {
    readonly computer?: ComputerName
    readonly status?: SessionStatus
  }) => Effect.Effect<ReadonlyArray<Session>>
  readonly getSessionsForComputer: (computer: ComputerName) => Effect.Effect<ReadonlyArray<Session>>
  readonly getSessionsByStatus: (status: SessionStatus) => Effect.Effect<ReadonlyArray<Session>>
  /** The session's encoded JSON, computed at most once per version. */
  readonly getSessionJson: (id: SessionId) => Effect.Effect<Option.Option<string>>
  /** A JSON array of the matching sessions, built from the per-version encodings. */
  readonly getSessionsJson: (filter?: {
    readonly computer?: ComputerName
    readonly status?: SessionStatus
    readonly limit?: number
  }) => Effect.Effect<string>
  readonly sessionCount: Effect.Effect<number>

  readonly upsertComputer: (computer: Computer) => Effect.Effect<void>
  readonly removeComputer: (name: ComputerName) => Effect.Effect<void>
  readonly getComputers: Effect.Effect<ReadonlyArray<Computer>>

  readonly setProjects: (computer: ComputerName, projects: ReadonlyArray<Project>) => Effect.Effect<void>
  readonly getProjects: (computer?: ComputerName) => Effect.Effect<ReadonlyArray<Project>>

  readonly events: PubSub.PubSub<CacheEvent>
}>() {}
