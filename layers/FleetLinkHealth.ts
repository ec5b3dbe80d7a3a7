import { Clock, DateTime, Effect, Option } from "effect"
import type { FleetLinkStatus, PositionReset } from "../services/Fleet.js"
import type { Transport, TransportError } from "../services/Transport.js"

/**
 * What keeps a connected link from working: writes refused (out of memory, read-only) or the
 * reader failing. The transport knows only whether it is connected; this is what the fleet saw.
 */
export type Fault = "writes" | "reader"

const labels: Record<Fault, string> = { writes: "fleet writes fail", reader: "the fleet reader cannot read" }

/**
 * The fleet link's health: the transport's connection state, `degraded` while a fault of the
 * current up period stands (one left from an outage never outlives the reconnect; each clears on
 * the next success), and the last read position that had to be reset. Clients are told the
 * failure's advice, never Redis's reply (that goes to the log).
 */
export const make = (transport: Transport["Type"]) =>
  Effect.sync(() => {
    const faults = new Map<Fault, { readonly since: number; readonly at: number; readonly advice: string }>()
    const state = { writesBackAt: 0, lastReset: null as PositionReset | null }

    /** Records a failure; true when it starts a run of them. */
    const failed = (fault: Fault, error: TransportError) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const previous = faults.get(fault)
        faults.set(fault, { since: previous?.since ?? now, at: now, advice: error.advice })
        return previous === undefined
      })

    /** Records a success; true when it ends a run of failures. */
    const succeeded = (fault: Fault) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (!faults.delete(fault)) return false
        if (fault === "writes") state.writesBackAt = now
        return true
      })

    /** A write whose outcome the health reflects; the first failure of a run is logged with Redis's reply. */
    const tracked = <A>(operation: string, write: Effect.Effect<A, TransportError>) =>
      write.pipe(
        Effect.tapError((error) =>
          Effect.flatMap(failed("writes", error), (first) =>
            first
              ? Effect.logWarning(`fleet write failed: ${error.advice}`, error).pipe(Effect.annotateLogs({ operation }))
              : Effect.void)
        ),
        Effect.tap(() =>
          Effect.flatMap(
            succeeded("writes"),
            (recovered) => (recovered ? Effect.logInfo("fleet writes work again") : Effect.void)
          )
        )
      )

    /** Faults of the up period that began at `upSince`, oldest first. */
    const current = (upSince: number) =>
      Array.from(faults).filter(([, f]) => f.at >= upSince).sort(([, a], [, b]) => a.since - b.since)

    const status: Effect.Effect<FleetLinkStatus> = Effect.map(transport.link, (link) => {
      const { lastReset } = state
      if (link.state !== "up") return { ...link, lastReset }
      const standing = current(DateTime.toEpochMillis(link.since))
      if (standing.length === 0) return { ...link, lastReset }
      return {
        state: "degraded",
        since: DateTime.max(link.since, DateTime.unsafeMake(standing[0]![1].since)),
        attempt: 0,
        lastError: standing.map(([fault, f]) => `${labels[fault]}: ${f.advice}`).join("; "),
        lastReset
      }
    })

    /**
     * Since when this daemon could see the fleet and be seen by it (link up, writes working), or
     * none: a computer missing from Redis is forgotten only after a full TTL of that.
     */
    const seeingSince: Effect.Effect<Option.Option<number>> = Effect.map(transport.link, (link) => {
      if (link.state !== "up") return Option.none()
      const upSince = DateTime.toEpochMillis(link.since)
      if (current(upSince).some(([fault]) => fault === "writes")) return Option.none()
      return Option.some(Math.max(upSince, state.writesBackAt))
    })

    const reset = (position: PositionReset) => Effect.sync(() => void (state.lastReset = position))

    return { failed, succeeded, tracked, status, seeingSince, reset } as const
  })

export type FleetLinkHealth = Effect.Effect.Success<ReturnType<typeof make>>
