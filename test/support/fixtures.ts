import { DateTime, Effect, Option, PubSub } from "effect"
import * as crypto from "node:crypto"
import { type ControlEvent, TmuxControl } from "../../services/TmuxControl.js"
import { ComputerName, newSession, Session, SessionId, type SessionStatus } from "../../src/domain/Session.js"
import { FRESH_MODES, type TerminalSnapshot } from "../../src/domain/TerminalSnapshot.js"

/** A session row with sensible defaults; `n` makes ids and times deterministic when given. */
export const makeSession = (overrides: Partial<ConstructorParameters<typeof Session>[0]> = {}, n?: number): Session => {
  const sessionId = overrides.sessionId ??
    SessionId.make(
      n === undefined ? crypto.randomUUID() : `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`
    )
  return new Session({
    ...newSession({
      sessionId,
      computer: ComputerName.make("local"),
      title: "t",
      workingDirectory: "/tmp",
      createdAt: DateTime.unsafeMake(1_700_000_000_000 + (n ?? 0) * 1000)
    }),
    status: "running" as SessionStatus,
    ...overrides
  })
}

/** An 80×24 terminal snapshot with `text` on its first row (the cursor after it), the rest blank. */
export const textSnapshot = (text: string): TerminalSnapshot => ({
  width: 80,
  height: 24,
  cursor: { x: text.length, y: 0 },
  modes: FRESH_MODES,
  scrollRegion: { top: 0, bottom: 23 },
  history: [],
  screen: [text, ...Array.from({ length: 23 }, () => "")]
})

/** A control channel that is up and reports what `events` carries: no output, no commands run. */
export const eventsOnlyControl = (events: PubSub.PubSub<ControlEvent>) =>
  TmuxControl.of({
    run: () => Effect.die("unused"),
    runList: () => Effect.die("unused"),
    subscribe: PubSub.subscribe(events),
    onOutput: () => Effect.void,
    isConnected: Effect.succeed(true),
    isResponsive: () => Effect.succeed(true),
    watchWindowOf: () => Effect.void,
    clientPid: Effect.succeed(Option.none())
  })
