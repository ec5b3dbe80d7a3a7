import { Effect, Schema } from "effect"
import * as IndexedCache from "../layers/IndexedCache.js"
import { ComputerName, Session, SessionId } from "../src/domain/Session.js"
import { makeSession } from "../test/support/fixtures.js"
import { type BenchRow, formatNs, formatRate, ratio, time } from "./measure.js"

const TARGET = ComputerName.make("target")
const ON_TARGET = 10

/**
 * `n` sessions, 10 of them on TARGET, the rest spread over 100 other computers. Copies of one
 * validated session (validating each of 100,000 took over a minute of the bench, measuring nothing).
 */
const populate = (n: number) => {
  const template = makeSession({}, 0)
  const sessions: Array<Session> = []
  for (let i = 0; i < n; i++) {
    const computer = i < ON_TARGET ? TARGET : ComputerName.make(`c${i % 100}`)
    const sessionId = SessionId.make(`00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`)
    sessions.push(new Session({ ...template, sessionId, computer, status: i % 3 === 0 ? "idle" : "running" }, true))
  }
  return sessions
}

export const benchCache = (): Promise<ReadonlyArray<BenchRow>> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const rows: Array<BenchRow> = []
    for (const n of [1_000, 10_000, 100_000]) {
      const cache = yield* IndexedCache.make
      const all = populate(n)
      yield* Effect.forEach(all, cache.upsertSession, { discard: true })
      const indexed = time(() => Effect.runSync(cache.getSessionsForComputer(TARGET)), {
        batch: 200
      })
      const linear = time(() => all.filter((s) => s.computer === TARGET), { batch: n >= 100_000 ? 2 : 20, samples: 51 })
      const found = Effect.runSync(cache.getSessionsForComputer(TARGET)).length
      if (found !== ON_TARGET) throw new Error(`indexed lookup found ${found}, expected ${ON_TARGET}`)
      rows.push({
        name: `getSessionsForComputer, ${ON_TARGET} of ${n.toLocaleString("en")} (median)`,
        value: formatNs(indexed.medianNs),
        baseline: `${formatNs(linear.medianNs)} linear filter`,
        ratio: ratio(linear.medianNs, indexed.medianNs)
      })
    }

    const cache = yield* IndexedCache.make
    const session = makeSession({ title: "encode me", lastInput: "echo hello", lastOutput: "hello" }, 1)
    yield* cache.upsertSession(session)
    const encode = Schema.encodeSync(Session)
    const cached = time(() => Effect.runSync(cache.getSessionJson(session.sessionId)), { batch: 1000 })
    const recomputed = time(() => JSON.stringify(encode(session)), { batch: 1000 })
    rows.push({
      name: "session encode on read (unchanged session)",
      value: `${formatRate(cached.medianNs)} cached`,
      baseline: `${formatRate(recomputed.medianNs)} re-encoded`,
      ratio: ratio(recomputed.medianNs, cached.medianNs)
    })
    return rows
  })))
