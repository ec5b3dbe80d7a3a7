import { Context, Data, type Effect } from "effect"
import type { ComputerName, SessionId } from "../src/domain/Session.js"

/** Listeners one session may have; more are refused (typed 400). */
export const LISTENERS_PER_SESSION_MAX = 32

export class ListenerStoreError extends Data.TaggedError("ListenerStoreError")<{
  readonly operation: string
  readonly cause: unknown
}> {}

export interface Listener {
  readonly target: SessionId
  readonly listener: SessionId
  readonly listenerComputer: ComputerName
}

/**
 * Who is told when a session finishes a turn or asks for input. Kept in SQLite so it outlives the
 * daemon; a pair is removed when either session closes.
 */
export class Listeners extends Context.Tag("telemux/Listeners")<Listeners, {
  /** Adds the pair (a repeat is a no-op); false when the target already has the most listeners. */
  readonly add: (listener: Listener) => Effect.Effect<boolean, ListenerStoreError>
  readonly of: (target: SessionId) => Effect.Effect<ReadonlyArray<Listener>, ListenerStoreError>
  /** Drops every pair the session is part of, on either side. */
  readonly forget: (session: SessionId) => Effect.Effect<void, ListenerStoreError>
  readonly count: Effect.Effect<number, ListenerStoreError>
}>() {}
