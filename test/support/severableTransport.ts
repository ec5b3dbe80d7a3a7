import { Effect } from "effect"
import { Transport, TransportError } from "../../services/Transport.js"

/**
 * The shared transport as one daemon sees it, with a switch that cuts that daemon off: what a crash
 * (or SIGSTOP, or a lost link to Redis) looks like to the others — its records stop, and it cleans
 * nothing up. Every operation fails as unavailable while cut; `heal` brings it back.
 */
export const severable = (t: Transport["Type"]) => {
  const cut = { value: false }
  const gate = <A>(operation: string, effect: Effect.Effect<A, TransportError>) =>
    Effect.suspend(() =>
      cut.value ? Effect.fail(new TransportError({ operation, message: "cut off", failure: "unavailable" })) : effect
    )
  const transport = Transport.of({
    link: t.link,
    linkChanges: t.linkChanges,
    put: (key, value, ttl) => gate("put", t.put(key, value, ttl)),
    get: (key) => gate("get", t.get(key)),
    getMany: (keys) => gate("getMany", t.getMany(keys)),
    remove: (key) => gate("remove", t.remove(key)),
    claim: (key, value, ttl) => gate("claim", t.claim(key, value, ttl)),
    renewIfHeld: (key, value, ttl) => gate("renewIfHeld", t.renewIfHeld(key, value, ttl)),
    releaseIfHeld: (key, value) => gate("releaseIfHeld", t.releaseIfHeld(key, value)),
    putIfHeld: (fence, key, value, ttl) => gate("putIfHeld", t.putIfHeld(fence, key, value, ttl)),
    scan: (pattern) => gate("scan", t.scan(pattern)),
    append: (stream, payload, options) => gate("append", t.append(stream, payload, options)),
    lastId: (stream) => gate("lastId", t.lastId(stream)),
    lastGeneratedIds: (streams) => gate("lastGeneratedIds", t.lastGeneratedIds(streams)),
    reader: Effect.map(
      t.reader,
      (reader) => ({ read: (positions, options) => gate("read", reader.read(positions, options)) })
    )
  })
  return {
    transport,
    sever: Effect.sync(() => void (cut.value = true)),
    heal: Effect.sync(() => void (cut.value = false))
  }
}
