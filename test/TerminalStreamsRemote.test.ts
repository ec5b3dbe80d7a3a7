/**
 * A terminal whose session is on another computer (layers/TerminalStreamsLive.ts): its feed
 * follows the owner's watch, a Fleet double that plays the items the owner would send.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Option, PubSub, Queue } from "effect"
import * as TerminalStreamsLive from "../layers/TerminalStreamsLive.js"
import { Fleet } from "../services/Fleet.js"
import { Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { type TerminalEvent, TerminalStreams } from "../services/TerminalStreams.js"
import { type ControlEvent, TmuxControl } from "../services/TmuxControl.js"
import { ComputerUnreachable, RemoteTimeout } from "../src/domain/Errors.js"
import { ComputerName } from "../src/domain/Session.js"
import type { TerminalItem } from "../src/fleet/Rpcs.js"
import { eventsOnlyControl, makeSession, textSnapshot } from "./support/fixtures.js"
import { testSettings } from "./support/settings.js"

const OWNER = ComputerName.make("owner")
const session = makeSession({ computer: OWNER }, 7)

const bytes = (text: string) => new TextEncoder().encode(text)

/**
 * The owner as the fleet shows it: each watch plays the next script of items, then stays open. The
 * first waits for `listening` (items come over the network, well after the viewer joined).
 */
const scriptedOwner = (scripts: ReadonlyArray<ReadonlyArray<TerminalItem>>) => {
  let watches = 0
  const listening = Effect.runSync(Deferred.make<void>())
  const fleet = Fleet.of({
    link: Effect.succeed(Option.none()),
    call: () => Effect.die("unused"),
    watchOutput: () => Effect.void,
    watchTerminal: (_computer, _sessionId, onItem) =>
      Effect.suspend(() => {
        const script = scripts[watches++] ?? []
        return Deferred.await(listening).pipe(
          Effect.zipRight(Effect.forEach(script, onItem, { discard: true })),
          Effect.zipRight(Effect.never)
        )
      }),
    requireOnline: () => Effect.void,
    whereabouts: () => Effect.succeedNone,
    departures: Queue.unbounded<ComputerName>()
  })
  return { fleet, listening, watches: () => watches }
}

const control = eventsOnlyControl(Effect.runSync(PubSub.unbounded<ControlEvent>()))

const streamsWith = (fleet: Fleet["Type"]) =>
  TerminalStreamsLive.layer.pipe(Layer.provide(Layer.mergeAll(
    Layer.succeed(Fleet, fleet),
    Layer.succeed(TmuxControl, control),
    Layer.succeed(TelemuxConfig, testSettings()),
    Layer.succeed(Sessions, { get: () => Effect.succeed(session) } as unknown as Sessions["Type"])
  )))

/** What a listener of the feed was told: `T<seq>:<screen>` for a redraw, `C<seq>:<bytes>` for a chunk. */
const follow = (owner: ReturnType<typeof scriptedOwner>) =>
  Effect.gen(function*() {
    const terminals = yield* TerminalStreams
    const told: Array<string> = []
    yield* terminals.watch(session.sessionId, (event: TerminalEvent) => {
      if (event._tag === "Redraw") told.push(`T${event.seq}:${event.snapshot.screen[0]}`)
      else if (event._tag === "Chunk") told.push(`C${event.chunk.seq}:${new TextDecoder().decode(event.chunk.bytes)}`)
      else told.push(event._tag)
    })
    yield* Deferred.succeed(owner.listening, undefined)
    // the follower runs on its own fiber: let it play what the owner sent
    yield* Effect.repeatN(Effect.yieldNow(), 50)
    return told
  }).pipe(
    Effect.provide(streamsWith(owner.fleet))
  )

describe("a remote terminal's feed", () => {
  it.scoped("takes the owner's snapshot, then the chunks that follow it, and skips what it had", () =>
    Effect.gen(function*() {
      const owner = scriptedOwner([[
        { _tag: "TerminalSnapshot", seq: 10, snapshot: textSnapshot("$ ") },
        { _tag: "TerminalChunks", seq: 9, chunks: [bytes("old"), bytes("e")] },
        { _tag: "TerminalChunks", seq: 11, chunks: [bytes("c"), bytes("h")] },
        { _tag: "WatchAlive" }
      ]])
      const told = yield* follow(owner)
      assert.deepStrictEqual(told, ["T10:$ ", "C11:c", "C12:h"])
      assert.strictEqual(owner.watches(), 1)
    }))

  it.scoped("a chunk lost on its way does not freeze the terminal: the owner is followed again from a snapshot", () =>
    Effect.gen(function*() {
      const owner = scriptedOwner([
        [
          { _tag: "TerminalSnapshot", seq: 10, snapshot: textSnapshot("$ ") },
          { _tag: "TerminalChunks", seq: 11, chunks: [bytes("e"), bytes("c")] },
          // 13 never came: the owner could not write it to Redis
          { _tag: "TerminalChunks", seq: 14, chunks: [bytes("o")] },
          { _tag: "TerminalChunks", seq: 15, chunks: [bytes(" ")] },
          { _tag: "WatchAlive" }
        ],
        [
          { _tag: "TerminalSnapshot", seq: 15, snapshot: textSnapshot("$ echo ") },
          { _tag: "TerminalChunks", seq: 16, chunks: [bytes("r")] }
        ]
      ])
      const told = yield* follow(owner)
      assert.deepStrictEqual(told, ["T10:$ ", "C11:e", "C12:c", "T15:$ echo ", "C16:r"])
      assert.strictEqual(owner.watches(), 2)
    }))

  it.effect("keystrokes the owner did not answer for are an unknown outcome, not a failure to type again", () =>
    Effect.gen(function*() {
      const answering = (error: RemoteTimeout | ComputerUnreachable) => {
        const owner = scriptedOwner([])
        return Fleet.of({ ...owner.fleet, call: () => Effect.fail(error) as never })
      }
      const typed = (fleet: Fleet["Type"]) =>
        Effect.flip(Effect.flatMap(TerminalStreams, (t) => t.sendBytes(session.sessionId, bytes("rm -rf build\r"))))
          .pipe(
            Effect.provide(streamsWith(fleet))
          )
      const timedOut = yield* typed(answering(
        new RemoteTimeout({ computer: OWNER, message: "computer owner did not answer within 10s" })
      ))
      assert.strictEqual(timedOut._tag, "OutcomeUnknown")
      assert.include(timedOut.message, "computer owner did not answer within 10s")
      assert.include(timedOut.message, "look at its screen before typing them again")
      // not sent at all: stays what it was, and the person may type again
      const unreachable = yield* typed(answering(
        new ComputerUnreachable({ computer: OWNER, message: "computer owner is not reachable" })
      ))
      assert.strictEqual(unreachable._tag, "ComputerUnreachable")
    }))
})
