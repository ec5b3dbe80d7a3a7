import { Clock, DateTime, Effect, Layer, Option, Ref } from "effect"
import {
  type DeadLetter,
  HookOutbox,
  OUTBOX_DEAD_LETTERS_MAX,
  OUTBOX_ROWS_MAX,
  type OutboxEntry,
  sessionRefOf
} from "../services/AgentHooks.js"
import { type OutboxInsert, sessionKeyOf } from "../src/agents/OutboxSchema.js"

/**
 * The outbox in memory, with the SQLite outbox's rules (per-session heads, retry times, bounded
 * rows and dead letters): a test double for daemon tests that need no file.
 */

interface Pending {
  readonly id: number
  readonly key: string
  readonly row: OutboxInsert
  readonly attempts: number
  readonly nextAttemptAt: number
  readonly lastError: string | null
}

interface State {
  readonly nextId: number
  readonly nextDeadId: number
  readonly pending: ReadonlyArray<Pending>
  readonly dead: ReadonlyArray<DeadLetter>
}

export const make = Effect.gen(function*() {
  const state = yield* Ref.make<State>({ nextId: 1, nextDeadId: 1, pending: [], dead: [] })

  const entryOf = (pending: Pending): Option.Option<OutboxEntry> =>
    Option.map(
      sessionRefOf(pending.row),
      (ref) => ({
        id: pending.id,
        ref,
        agent: pending.row.agent,
        event: pending.row.event,
        payload: pending.row.payload,
        createdAt: DateTime.unsafeMake(pending.row.createdAt),
        attempts: pending.attempts
      })
    )

  const deadLetter = (id: number, error: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.update(state, (s) => {
        const pending = s.pending.find((p) => p.id === id)
        if (pending === undefined) return s
        const letter: DeadLetter = {
          id: s.nextDeadId,
          outboxId: pending.id,
          ref: Option.getOrUndefined(
            sessionRefOf(pending.row)
          ),
          agent: pending.row.agent,
          event: pending.row.event,
          payload: pending.row.payload,
          createdAt: DateTime.unsafeMake(pending.row.createdAt),
          attempts: pending.attempts + 1,
          failedAt: DateTime.unsafeMake(now),
          error
        }
        return {
          ...s,
          nextDeadId: s.nextDeadId + 1,
          pending: s.pending.filter((p) => p.id !== id),
          dead: [...s.dead, letter].slice(-OUTBOX_DEAD_LETTERS_MAX)
        }
      }))

  return HookOutbox.of({
    // only the hook command rings the bell; rows enqueued here are found by the poll
    rung: Effect.never,
    enqueue: (row) =>
      Ref.modify(state, (s) => {
        const id = s.nextId
        const added: Pending = { id, key: sessionKeyOf(row), row, attempts: 0, nextAttemptAt: 0, lastError: null }
        const pending = [...s.pending, added]
        const oldest = pending[0]!.id
        return [id, {
          ...s,
          nextId: id + 1,
          pending: oldest > id - OUTBOX_ROWS_MAX ? pending : pending.filter((p) => p.id > id - OUTBOX_ROWS_MAX)
        }]
      }),
    claimDue: (limit) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const { pending } = yield* Ref.get(state)
        const heads = new Map<string, Pending>()
        for (const p of pending) if (!heads.has(p.key)) heads.set(p.key, p)
        const due = [...heads.values()].filter((p) => p.nextAttemptAt <= now).sort((a, b) => a.id - b.id).slice(
          0,
          limit
        )
        const entries: Array<OutboxEntry> = []
        for (const p of due) {
          const entry = entryOf(p)
          if (Option.isSome(entry)) entries.push(entry.value)
          else yield* deadLetter(p.id, "the row names no valid session id or pane id")
        }
        return entries
      }),
    markDelivered: (id) => Ref.update(state, (s) => ({ ...s, pending: s.pending.filter((p) => p.id !== id) })),
    markFailed: (id, failure) =>
      Ref.update(state, (s) => ({
        ...s,
        pending: s.pending.map((p) =>
          p.id === id
            ? {
              ...p,
              attempts: p.attempts + 1,
              nextAttemptAt: DateTime.toEpochMillis(failure.retryAt),
              lastError: failure.error
            }
            : p
        )
      })),
    deadLetter,
    stats: Effect.map(Ref.get(state), (s) => ({ pending: s.pending.length, deadLetters: s.dead.length })),
    deadLetters: (limit) => Effect.map(Ref.get(state), (s) => [...s.dead].reverse().slice(0, limit))
  })
})

export const layer: Layer.Layer<HookOutbox> = Layer.effect(HookOutbox, make)
