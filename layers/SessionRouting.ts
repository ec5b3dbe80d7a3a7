import { Effect, Option } from "effect"
import { Agents } from "../services/Agents.js"
import { Cache } from "../services/Cache.js"
import { Fleet, unknownWhenTimedOut } from "../services/Fleet.js"
import type { IdempotencyKey } from "../services/Idempotency.js"
import { Projects } from "../services/Projects.js"
import { type CreateSessionRequest, type ListSessionsRequest, Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import type { ComputerUnreachable, SessionNotFound } from "../src/domain/Errors.js"
import type { KeyPress } from "../src/domain/Keys.js"
import type { Agent, AgentMode, ComputerName, Session, SessionId } from "../src/domain/Session.js"
import type { CleanupPayload, FinishPayload } from "../src/domain/Worktree.js"
import { CREATE_TIMEOUT, FORK_TIMEOUT, LISTING_TIMEOUT, WORKTREE_FINISH_TIMEOUT } from "../src/fleet/Protocol.js"
import * as LocalOperations from "./LocalOperations.js"
import * as WorktreeOperations from "./WorktreeOperations.js"

export interface RoutedCreate extends Omit<CreateSessionRequest, "agent" | "agentMode"> {
  readonly computer?: ComputerName | undefined
  readonly agent?: Agent | undefined
  readonly mode?: AgentMode | undefined
  readonly prompt?: string | undefined
}

/**
 * Every operation on a session id goes to the computer that owns it: this daemon's Sessions for
 * its own, a fleet request for another's. Clients never need to know where a session lives.
 */
export const make = Effect.gen(function*() {
  const sessions = yield* Sessions
  const fleet = yield* Fleet
  const cache = yield* Cache
  const agents = yield* Agents
  const operations = yield* LocalOperations.make
  const worktreeOps = yield* WorktreeOperations.make
  const projects = yield* Projects
  const { computer: me } = yield* TelemuxConfig

  const isLocal = (session: Session) => session.computer === me

  /** The key travels with the request, so a retry with it (through any computer) learns what happened instead of running again. */
  const remoteChange = unknownWhenTimedOut(
    "it may have run there: look at the session, or retry with the same Idempotency-Key"
  )

  const withKey = (key: IdempotencyKey | undefined) => (key === undefined ? {} : { idempotencyKey: key })

  const create = (request: RoutedCreate, key?: IdempotencyKey) => {
    const { agent, computer, mode, prompt, ...local } = request
    if (computer === undefined || computer === me) return operations.create({ ...local, agent, mode, prompt }, key)
    return remoteChange(fleet.call(computer, (c) =>
      c.CreateSession({
        projectDir: local.projectDir,
        ...(local.title === undefined ? {} : { title: local.title }),
        ...(agent === undefined ? {} : { agent }),
        ...(mode === undefined ? {} : { mode }),
        ...(prompt === undefined ? {} : { prompt }),
        ...(local.initiatorSessionId === undefined ? {} : { initiatorSessionId: local.initiatorSessionId }),
        ...(local.worktree === undefined ? {} : { worktree: local.worktree }),
        ...withKey(key)
      }), { timeout: CREATE_TIMEOUT })).pipe(
        // listed here at once, not only when the owner's event arrives
        Effect.tap((session) => cache.upsertSession(session))
      )
  }

  const sendText = (id: SessionId, text: string, enter: boolean, key?: IdempotencyKey) =>
    Effect.flatMap(locate(id), (session) =>
      isLocal(session)
        ? operations.sendText(id, text, enter, key)
        : remoteChange(
          fleet.call(session.computer, (c) => c.SendText({ sessionId: id, text, enter, ...withKey(key) }))
        ))

  const sendKeys = (id: SessionId, keys: ReadonlyArray<KeyPress>, key?: IdempotencyKey) =>
    Effect.flatMap(locate(id), (session) => {
      if (isLocal(session)) return operations.sendKeys(id, keys, key)
      const [first, ...rest] = keys
      if (first === undefined) return Effect.void
      return remoteChange(
        fleet.call(session.computer, (c) => c.SendKeys({ sessionId: id, keys: [first, ...rest], ...withKey(key) }))
      )
    })

  const capture = (id: SessionId, lines: number) =>
    Effect.flatMap(locate(id), (session) =>
      isLocal(session)
        ? sessions.capture(id, lines)
        : fleet.call(session.computer, (c) => c.Capture({ sessionId: id, lines })))

  const close = (id: SessionId) =>
    Effect.flatMap(locate(id), (session) =>
      isLocal(session) || session.status === "closed"
        ? sessions.close(id, "user")
        : remoteChange(fleet.call(session.computer, (c) => c.CloseSession({ sessionId: id }))).pipe(
          Effect.tap(() => cache.removeSession(id))
        ))

  const resume = (id: SessionId, restart: boolean) =>
    Effect.flatMap(locate(id), (session) =>
      isLocal(session)
        ? restart ? agents.restart(id) : agents.resume(id)
        : remoteChange(fleet.call(session.computer, (c) => c.ResumeAgent({ sessionId: id, restart }))))

  // -- worktrees and projects ---------------------------------------------------------------------

  const diff = (id: SessionId, statOnly: boolean) =>
    Effect.flatMap(locate(id), (session) =>
      isLocal(session)
        ? worktreeOps.diff(id, statOnly)
        : fleet.call(session.computer, (c) => c.WorktreeDiff({ sessionId: id, statOnly })))

  const finish = (id: SessionId, payload: FinishPayload, key?: IdempotencyKey) =>
    Effect.flatMap(locate(id), (session) =>
      isLocal(session)
        ? worktreeOps.finish(id, payload, key)
        : remoteChange(
          fleet.call(
            session.computer,
            (c) => c.FinishWorktree({ sessionId: id, finish: payload, ...withKey(key) }),
            { timeout: WORKTREE_FINISH_TIMEOUT }
          )
        ).pipe(
          // a discard closes the session there: listed closed here at once
          Effect.tap(() => payload.action === "discard" ? cache.removeSession(id) : Effect.void)
        ))

  /** The other computers online now (a listing of "every computer" asks these). */
  const othersOnline = Effect.map(
    cache.getComputers,
    (computers) => computers.filter((c) => c.online && c.name !== me).map((c) => c.name)
  )

  /**
   * This computer's items and every other online computer's, asked at once; one that cannot answer
   * is left out of the listing and logged (a listing is a view, not a decision).
   */
  const fromEveryComputer = <A, E, E2>(
    here: Effect.Effect<ReadonlyArray<A>, E>,
    there: (computer: ComputerName) => Effect.Effect<ReadonlyArray<A>, E2>
  ) =>
    Effect.gen(function*() {
      const others = yield* othersOnline
      const [mine, theirs] = yield* Effect.all([
        here,
        Effect.forEach(others, (computer) =>
          there(computer).pipe(
            Effect.catchAll((error) =>
              Effect.as(
                Effect.logWarning("a computer did not answer a listing", error).pipe(
                  Effect.annotateLogs({ computer })
                ),
                [] as ReadonlyArray<A>
              )
            )
          ), { concurrency: "unbounded" })
      ], { concurrency: "unbounded" })
      return [...mine, ...theirs.flat()]
    })

  const listWorktrees = (computer: ComputerName | undefined) =>
    computer === me
      ? worktreeOps.list
      : computer !== undefined
      ? fleet.call(computer, (c) => c.ListWorktrees())
      : fromEveryComputer(
        worktreeOps.list,
        (other) => fleet.call(other, (c) => c.ListWorktrees(), { timeout: LISTING_TIMEOUT })
      )

  const cleanupWorktrees = (payload: CleanupPayload, computer: ComputerName | undefined) =>
    computer === undefined || computer === me
      ? worktreeOps.cleanup(payload)
      : remoteChange(fleet.call(computer, (c) => c.CleanupWorktrees(payload), { timeout: WORKTREE_FINISH_TIMEOUT }))

  /** The trusted dirs of every computer online, each naming its computer. */
  const listProjects = fromEveryComputer(
    projects.list,
    (other) => fleet.call(other, (c) => c.ListProjects(), { timeout: LISTING_TIMEOUT })
  )
  /**
   * Forks a session's conversation: by the computer that has the session (and its conversation
   * file), which starts the fork there or sends it, with the conversation, to the target.
   */
  const fork = (id: SessionId, request: LocalOperations.LocalFork, key?: IdempotencyKey) =>
    Effect.flatMap(locate(id), (session) =>
      isLocal(session)
        ? operations.fork(id, request, key)
        : remoteChange(fleet.call(session.computer, (c) =>
          c.ForkSession({
            sessionId: id,
            ...(request.computer === undefined ? {} : { computer: request.computer }),
            ...(request.title === undefined ? {} : { title: request.title }),
            ...(request.mode === undefined ? {} : { mode: request.mode }),
            ...(request.worktree === undefined ? {} : { worktree: request.worktree }),
            ...withKey(key)
          }), { timeout: FORK_TIMEOUT })).pipe(Effect.tap((forked) => cache.upsertSession(forked))))

  // -- reads that never turn "unreachable" into "not found" or an empty list ---------------------

  /** A session's "not found" stands only when its computer is not one that left the fleet (then: 503). */
  const notFoundUnlessDeparted = (id: SessionId, notFound: SessionNotFound) =>
    Effect.flatMap(
      fleet.whereabouts(id),
      (departed): Effect.Effect<never, SessionNotFound | ComputerUnreachable> =>
        Effect.fail(Option.getOrElse(departed, (): SessionNotFound | ComputerUnreachable => notFound))
    )

  /** The session, wherever it lives; `ComputerUnreachable` (503) when its computer is offline, never 404. */
  const locate = (id: SessionId) =>
    sessions.get(id).pipe(Effect.catchTag("SessionNotFound", (notFound) => notFoundUnlessDeparted(id, notFound)))

  const getJson = (id: SessionId) =>
    sessions.getJson(id).pipe(Effect.catchTag("SessionNotFound", (notFound) => notFoundUnlessDeparted(id, notFound)))

  /** A list of one computer's sessions needs that computer: another that is not online is 503, never `[]`. */
  const requireListable = (computer: ComputerName | undefined) =>
    computer === undefined || computer === me ? Effect.void : fleet.requireOnline(computer)

  const list = (request: ListSessionsRequest) =>
    Effect.zipRight(requireListable(request.computer), sessions.list(request))

  const listJson = (request: ListSessionsRequest) =>
    Effect.zipRight(requireListable(request.computer), sessions.listJson(request))

  return {
    create,
    sendText,
    sendKeys,
    capture,
    close,
    resume,
    diff,
    finish,
    listWorktrees,
    cleanupWorktrees,
    listProjects,
    fork,
    isLocal,
    locate,
    get: locate,
    getJson,
    list,
    listJson
  } as const
})
