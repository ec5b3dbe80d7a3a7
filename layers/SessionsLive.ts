import { FileSystem } from "@effect/platform"
import { DateTime, Effect, Layer, Option, Schema } from "effect"
import * as crypto from "node:crypto"
import * as path from "node:path"
import { Cache } from "../services/Cache.js"
import {
  type CreateSessionRequest,
  type ListSessionsRequest,
  type Observation,
  RECONCILE_CONFIRM_DELAY,
  type ReconcileReport,
  Sessions
} from "../services/Sessions.js"
import { type OutputMark, type SessionPatch, SessionStore, type StoreError } from "../services/SessionStore.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { mayHaveRun, type PaneInfo, TerminalBridge, type TmuxError } from "../services/TerminalBridge.js"
import { Worktrees } from "../services/Worktrees.js"
import {
  InvalidRequest,
  SessionClosed,
  SessionNotFound,
  StorageFailure,
  TerminalUnavailable
} from "../src/domain/Errors.js"
import {
  type CloseReason,
  newSession,
  type PaneId,
  Session,
  SessionId,
  TmuxName,
  tmuxNameFor
} from "../src/domain/Session.js"
import type { SessionWorktree } from "../src/domain/Worktree.js"
import { isTrusted, realpath } from "../src/fs/TrustedDirs.js"
import { makeSessionInput } from "./SessionInput.js"

const encodeSession = Schema.encodeSync(Session)

const storageFailure = (error: StoreError) => new StorageFailure({ message: error.message })
const terminalUnavailable = (error: TmuxError | { readonly message: string }) =>
  new TerminalUnavailable({ message: error.message })

const isTmuxName = Schema.is(TmuxName)

const validateProjectDir = (fs: FileSystem.FileSystem, dir: string) =>
  Effect.gen(function*() {
    if (dir.trim() === "" || !path.isAbsolute(dir)) {
      return yield* new InvalidRequest({ message: `projectDir must be an absolute path, got "${dir}"` })
    }
    const resolved = path.resolve(dir)
    const stat = yield* fs.stat(resolved).pipe(
      Effect.mapError(() => new InvalidRequest({ message: `projectDir ${resolved} does not exist` }))
    )
    if (stat.type !== "Directory") {
      return yield* new InvalidRequest({ message: `projectDir ${resolved} is not a directory` })
    }
    return resolved
  })

export const make = Effect.gen(function*() {
  const config = yield* TelemuxConfig
  const fs = yield* FileSystem.FileSystem
  const store = yield* SessionStore
  const cache = yield* Cache
  const bridge = yield* TerminalBridge
  const worktrees = yield* Worktrees
  const trustedRoots = yield* Effect.forEach(config.trustedDirs, realpath(fs))
  /** Sessions whose tmux side is being created right now; reconciliation leaves them alone. */
  const creating = new Set<SessionId>()
  const reconcileLock = yield* Effect.makeSemaphore(1)

  /** A stored row lacks what the cache alone keeps (the first prompt's delivery): carried over. */
  const withMemory = (row: Session) =>
    Effect.map(
      cache.getSession(row.sessionId),
      (current) =>
        Option.isSome(current) && current.value.promptDelivery !== undefined && row.promptDelivery === undefined
          ? new Session({ ...row, promptDelivery: current.value.promptDelivery }, true)
          : row
    )

  const save = (id: SessionId, patch: SessionPatch) =>
    store.update(id, patch).pipe(
      Effect.mapError(storageFailure),
      Effect.tap(Option.match({
        onNone: () => Effect.void,
        onSome: (row) => Effect.flatMap(withMemory(row), cache.upsertSession)
      }))
    )

  const find = (id: SessionId) =>
    cache.getSession(id).pipe(
      Effect.flatMap(Option.match({
        onSome: (session) => Effect.succeed(Option.some(session)),
        onNone: () => store.getSession(id).pipe(Effect.mapError(storageFailure))
      }))
    )

  const get = (id: SessionId) =>
    find(id).pipe(Effect.flatMap(Option.match({
      onNone: () => Effect.fail(SessionNotFound.of(id)),
      onSome: Effect.succeed
    })))

  /** An open session with a pane, ready for input or capture. */
  const openPane = (id: SessionId) =>
    get(id).pipe(Effect.flatMap((session): Effect.Effect<
      { readonly session: Session; readonly pane: PaneId },
      SessionClosed | TerminalUnavailable
    > => {
      if (session.status === "closed") {
        return Effect.fail(new SessionClosed({ sessionId: id, message: `session ${id} is closed` }))
      }
      if (session.paneId === null) {
        return Effect.fail(new TerminalUnavailable({ message: `session ${id} has no pane yet` }))
      }
      return Effect.succeed({ session, pane: session.paneId })
    }))

  const closeRow = (session: Session, reason: CloseReason) =>
    Effect.gen(function*() {
      const now = yield* DateTime.now
      const closed = yield* store.markClosed(session.sessionId, { reason, at: now }).pipe(
        Effect.mapError(storageFailure)
      )
      yield* cache.removeSession(session.sessionId)
      yield* Effect.logInfo("session closed").pipe(
        Effect.annotateLogs({ sessionId: session.sessionId, reason })
      )
      return Option.getOrElse(closed, () => session)
    })

  const close = Effect.fn("Sessions.close")(function*(id: SessionId, reason: CloseReason) {
    const session = yield* get(id)
    if (session.status === "closed") return session
    if (reason !== "tmux_gone") {
      yield* bridge.killSession(session.tmuxName).pipe(
        Effect.catchTag("TmuxSessionNotFound", () => Effect.void),
        Effect.mapError(terminalUnavailable)
      )
    }
    return yield* closeRow(session, reason)
  })

  /**
   * tmux said a pane is missing during an operation. That is one look; close only if a
   * listing confirms it, and fail the operation either way.
   */
  const confirmGone = (session: Session): Effect.Effect<never, TerminalUnavailable | SessionClosed | StorageFailure> =>
    bridge.listPanes.pipe(
      Effect.mapError(terminalUnavailable),
      Effect.flatMap((panes): Effect.Effect<never, TerminalUnavailable | SessionClosed | StorageFailure> =>
        panes.some((p) => p.sessionName === session.tmuxName)
          ? Effect.fail(
            new TerminalUnavailable({ message: `tmux lost track of a pane of ${session.sessionId}; try again` })
          )
          : closeRow(session, "tmux_gone").pipe(
            Effect.zipRight(Effect.fail(
              new SessionClosed({ sessionId: session.sessionId, message: `session ${session.sessionId} ended in tmux` })
            ))
          )
      )
    )

  const onTmux = (session: Session) => <A>(effect: Effect.Effect<A, TmuxError>) =>
    effect.pipe(
      Effect.catchAll((error) =>
        error._tag === "TmuxSessionNotFound" ? confirmGone(session) : Effect.fail(terminalUnavailable(error))
      )
    )

  /**
   * A session asked to run in a worktree gets a new one (services/Worktrees.ts), made before the row:
   * a refusal (not a repository, a branch taken…) leaves nothing behind.
   */
  const makeWorktree = (request: CreateSessionRequest, projectDir: string, sessionId: SessionId, title: string) =>
    request.worktree === undefined
      ? Effect.succeed(undefined)
      : Effect.flatMap(realpath(fs)(projectDir), (resolved) =>
        worktrees.create({
          projectDir,
          title,
          sessionId,
          request: request.worktree!,
          trusted: isTrusted(resolved, trustedRoots)
        }))

  /** A session that could not start leaves no worktree: it was just made, and nothing was done in it. */
  const dropWorktree = (worktree: SessionWorktree | undefined) =>
    worktree === undefined ? Effect.void : worktrees.remove(worktree, { force: false, deleteBranch: true }).pipe(
      Effect.catchAll((error) =>
        Effect.logWarning("could not remove the worktree of a session that did not start", error).pipe(
          Effect.annotateLogs({ worktree: worktree.path })
        )
      )
    )

  const create = Effect.fn("Sessions.create")(function*(request: CreateSessionRequest) {
    const projectDir = yield* validateProjectDir(fs, request.projectDir)
    const sessionId = SessionId.make(crypto.randomUUID())
    const title = request.title?.trim() || path.basename(projectDir) || projectDir
    const worktree = yield* makeWorktree(request, projectDir, sessionId, title)
    const dir = worktree?.path ?? projectDir
    const now = yield* DateTime.now
    const session = new Session({
      ...newSession({
        sessionId,
        computer: config.computer,
        title,
        workingDirectory: dir,
        createdAt: now
      }),
      ...(worktree === undefined ? {} : { worktree }),
      agent: request.agent ?? null,
      agentMode: request.agent === undefined ? null : request.agentMode ?? null,
      initiatorSessionId: request.initiatorSessionId ?? null,
      initiatorComputer: request.initiatorSessionId === undefined ? null : request.initiatorComputer ?? config.computer
    })
    creating.add(sessionId)
    return yield* Effect.gen(function*() {
      yield* store.insert(session).pipe(Effect.mapError(storageFailure))
      yield* cache.upsertSession(session)
      const paneId = yield* bridge.createSession({
        name: session.tmuxName,
        cwd: dir,
        // the agents' hook command finds its session, state dir and tmux server through these
        env: { TELEMUX_SESSION_ID: sessionId, TELEMUX_HOME: config.home, TELEMUX_TMUX_SOCKET: config.tmuxSocket }
      }).pipe(
        Effect.tapError((error) =>
          closeRow(session, "error").pipe(
            Effect.zipRight(
              Effect.logWarning("tmux could not start the session", error).pipe(Effect.annotateLogs({ sessionId }))
            ),
            Effect.ignore
          )
        ),
        // The row is closed either way: a tmux session that appears late is an orphan, and
        // reconciliation removes it. So the answer is "not done", even after a timeout.
        Effect.mapError((error) =>
          new TerminalUnavailable({
            message: mayHaveRun(error)
              ? `tmux did not answer in time (${error.message}); the session was not created ` +
                "(if tmux makes it late, telemux removes it): try again"
              : `tmux could not start the session: ${error.message}`
          })
        )
      )
      const running = new Session({ ...session, paneId, status: "running" })
      // The session exists now: a failure to record that is logged, not answered as "not done".
      const started = yield* save(sessionId, { paneId, status: "running" }).pipe(
        Effect.catchAll((error) =>
          Effect.logError("the session started but could not be recorded as running; it is served from memory", error)
            .pipe(
              Effect.annotateLogs({ sessionId }),
              Effect.zipRight(cache.upsertSession(running)),
              Effect.as(Option.some(running))
            )
        )
      )
      yield* Effect.logInfo("session created").pipe(Effect.annotateLogs({ sessionId, dir }))
      return Option.getOrElse(started, () => running)
    }).pipe(
      // not created (the row not stored, or tmux refused): the worktree made for it goes too
      Effect.tapError(() => dropWorktree(worktree)),
      Effect.ensuring(Effect.sync(() => creating.delete(sessionId)))
    )
  })

  const { sendBytes, sendKeys, sendText } = makeSessionInput({ bridge, openPane, confirmGone, save })

  const capture = Effect.fn("Sessions.capture")(function*(id: SessionId, historyLines: number) {
    const { pane, session } = yield* openPane(id)
    return yield* onTmux(session)(bridge.capture(pane, historyLines))
  })

  const terminalSnapshot = <A>(id: SessionId, historyLines: number, at: () => A) =>
    Effect.flatMap(openPane(id), ({ pane, session }) => onTmux(session)(bridge.snapshot(pane, historyLines, at))).pipe(
      Effect.withSpan("Sessions.terminalSnapshot")
    )

  const fitTerminal = Effect.fn("Sessions.fitTerminal")(function*(id: SessionId, width: number, height: number) {
    const { pane, session } = yield* openPane(id)
    return yield* onTmux(session)(bridge.fitToViewer(pane, width, height))
  })

  const fromStore = (request: ListSessionsRequest) =>
    store.getSessions({
      ...(request.status !== undefined ? { status: request.status } : {}),
      ...(request.computer !== undefined ? { computer: request.computer } : {}),
      ...(request.limit !== undefined ? { limit: request.limit } : {})
    }).pipe(Effect.mapError(storageFailure))

  /** Open sessions live in the cache; closed ones only in the store. */
  const includesClosed = (request: ListSessionsRequest) => request.status === "closed" || request.status === "all"

  const cacheFilter = (request: ListSessionsRequest) => ({
    ...(request.computer !== undefined ? { computer: request.computer } : {}),
    ...(request.status !== undefined && request.status !== "all" ? { status: request.status } : {}),
    ...(request.limit !== undefined ? { limit: request.limit } : {})
  })

  const openLocal = cache.getSessionsForComputer(config.computer).pipe(
    Effect.map((sessions) => sessions.filter((s) => !creating.has(s.sessionId)))
  )

  const lookAtPanes = bridge.listPanes.pipe(
    Effect.map((panes) => new Map(panes.map((p) => [p.sessionName, p] as const))),
    Effect.mapError(terminalUnavailable)
  )

  const isGone = (panes: ReadonlyMap<string, PaneInfo>, session: Session) => {
    const pane = panes.get(session.tmuxName)
    return pane === undefined || pane.dead
  }

  /** tmux names of this computer's open sessions, those being created included. */
  const ownedNames = cache.getSessionsForComputer(config.computer).pipe(
    Effect.map((sessions) => new Set<string>([...sessions.map((s) => s.tmuxName), ...[...creating].map(tmuxNameFor)]))
  )

  /** telemux-named tmux sessions that no open session owns (say, made late by a tmux that was frozen). */
  const orphansIn = (panes: ReadonlyMap<string, PaneInfo>, owned: ReadonlySet<string>) =>
    [...panes.keys()].filter((name) => isTmuxName(name) && !owned.has(name))

  /**
   * Rows against tmux, both ways: an open row whose tmux session is gone is closed, and a
   * telemux-named tmux session with no open row is killed (it was never adopted: its row was closed
   * when its creation failed, or never existed) — each only after a confirming second look.
   */
  const reconcile = reconcileLock.withPermits(1)(Effect.gen(function*() {
    const sessions = yield* openLocal
    const first = yield* lookAtPanes
    let adopted = 0
    const suspects: Array<Session> = []
    for (const session of sessions) {
      if (isGone(first, session)) {
        suspects.push(session)
        continue
      }
      const pane = first.get(session.tmuxName)!
      if (session.paneId !== pane.paneId || session.status === "creating") {
        yield* save(session.sessionId, {
          paneId: pane.paneId,
          ...(session.status === "creating" ? { status: "running" as const } : {})
        })
        adopted++
      }
    }
    const orphans = orphansIn(first, yield* ownedNames)
    if (suspects.length === 0 && orphans.length === 0) {
      return { adopted, closed: [], spared: 0, orphansRemoved: 0 } satisfies ReconcileReport
    }
    yield* Effect.sleep(RECONCILE_CONFIRM_DELAY)
    const second = yield* lookAtPanes.pipe(Effect.option)
    if (Option.isNone(second)) {
      yield* Effect.logWarning("tmux did not answer the confirming look; closing nothing")
      return { adopted, closed: [], spared: suspects.length, orphansRemoved: 0 } satisfies ReconcileReport
    }
    const closed: Array<SessionId> = []
    for (const session of suspects) {
      if (!isGone(second.value, session)) continue
      const current = yield* cache.getSession(session.sessionId)
      if (Option.isNone(current)) continue
      const dead = second.value.get(session.tmuxName)?.dead === true
      if (dead) yield* bridge.killSession(session.tmuxName).pipe(Effect.ignore)
      yield* closeRow(current.value, dead ? "pane_dead" : "tmux_gone")
      closed.push(session.sessionId)
    }
    const stillOrphans = new Set(orphansIn(second.value, yield* ownedNames))
    let orphansRemoved = 0
    for (const name of orphans) {
      if (!stillOrphans.has(name)) continue
      const killed = yield* bridge.killSession(TmuxName.make(name)).pipe(Effect.either)
      if (killed._tag === "Right" || killed.left._tag === "TmuxSessionNotFound") {
        orphansRemoved++
        yield* Effect.logWarning("removed a tmux session that no open session owns").pipe(
          Effect.annotateLogs({ tmuxName: name })
        )
      } else {
        yield* Effect.logWarning("could not remove a tmux session that no open session owns", killed.left).pipe(
          Effect.annotateLogs({ tmuxName: name })
        )
      }
    }
    return { adopted, closed, spared: suspects.length - closed.length, orphansRemoved } satisfies ReconcileReport
  })).pipe(Effect.withSpan("Sessions.reconcile"))

  const reapInactive = Effect.gen(function*() {
    const now = yield* DateTime.now
    const cutoff = DateTime.subtractDuration(now, config.inactivityTimeout)
    const sessions = yield* openLocal
    const stale = sessions.filter((s) => DateTime.lessThan(s.lastActivityAt ?? s.createdAt, cutoff))
    const reaped: Array<SessionId> = []
    for (const session of stale) {
      const result = yield* close(session.sessionId, "inactive").pipe(Effect.either)
      if (result._tag === "Right") reaped.push(session.sessionId)
      else if (result.left._tag === "StorageFailure") return yield* result.left
      else {
        yield* Effect.logWarning("could not reap inactive session", result.left).pipe(
          Effect.annotateLogs({ sessionId: session.sessionId })
        )
      }
    }
    return reaped
  }).pipe(Effect.withSpan("Sessions.reapInactive"))

  const observe = (id: SessionId, observation: Observation) =>
    cache.getSession(id).pipe(Effect.flatMap(Option.match({
      onNone: () => Effect.void,
      onSome: (session) => {
        const patch: { -readonly [K in keyof SessionPatch]: SessionPatch[K] } = {}
        if (
          observation.status !== undefined && observation.status !== session.status && session.status !== "creating"
        ) {
          patch.status = observation.status
        }
        if (observation.lastOutput !== undefined && observation.lastOutput !== session.lastOutput) {
          patch.lastOutput = observation.lastOutput
        }
        if (observation.lastOutputAt !== undefined) patch.lastOutputAt = observation.lastOutputAt
        if (observation.nativeSessionId !== undefined && observation.nativeSessionId !== session.nativeSessionId) {
          patch.nativeSessionId = observation.nativeSessionId
        }
        if (observation.nativeLogFile !== undefined && observation.nativeLogFile !== session.nativeLogFile) {
          patch.nativeLogFile = observation.nativeLogFile
        }
        const stored = Object.keys(patch).length === 0 ? Effect.void : save(id, patch).pipe(Effect.asVoid)
        const delivery = observation.promptDelivery
        return delivery === undefined ? stored : Effect.zipRight(
          stored,
          Effect.flatMap(
            openInCache(id),
            Option.match({
              onNone: () => Effect.void,
              onSome: (current) => cache.upsertSession(new Session({ ...current, promptDelivery: delivery }, true))
            })
          )
        )
      }
    })))

  /** An open session as the cache holds it now (it may have changed since an earlier look). */
  const openInCache = (id: SessionId) =>
    Effect.map(cache.getSession(id), Option.filter((session) => session.status !== "closed"))

  const recordOutput = (marks: ReadonlyArray<OutputMark>) =>
    Effect.gen(function*() {
      const open: Array<OutputMark> = []
      for (const mark of marks) if (Option.isSome(yield* openInCache(mark.id))) open.push(mark)
      yield* store.recordOutput(open).pipe(Effect.mapError(storageFailure))
      // The rows as written, without reading them back (fields already valid: no validation). Each
      // is patched onto the cache's current row: a close or a status change made while the store
      // was written is kept, not overwritten with the row as it was before.
      for (const mark of open) {
        const current = yield* openInCache(mark.id)
        if (Option.isNone(current)) continue
        yield* cache.upsertSession(
          new Session({ ...current.value, lastOutput: mark.lastOutput, lastOutputAt: mark.lastOutputAt }, true)
        )
      }
    })

  /**
   * The store holds this computer's rows, closed ones too; the open sessions of the fleet's other
   * computers are only in the cache: `all` is both (a session in both as the cache has it now).
   */
  const listWithClosed = (request: ListSessionsRequest) =>
    Effect.gen(function*() {
      const rows = yield* fromStore(request)
      if (request.status !== "all") return rows
      const open = yield* cache.getSessions(cacheFilter(request))
      const byId = new Map(rows.map((row) => [row.sessionId, row] as const))
      for (const session of open) byId.set(session.sessionId, session)
      return [...byId.values()].slice(0, request.limit ?? byId.size)
    })

  return Sessions.of({
    create,
    observe,
    recordOutput,
    list: (request) => includesClosed(request) ? listWithClosed(request) : cache.getSessions(cacheFilter(request)),
    listJson: (request) =>
      includesClosed(request)
        ? listWithClosed(request).pipe(Effect.map((rows) => JSON.stringify(rows.map((row) => encodeSession(row)))))
        : cache.getSessionsJson(cacheFilter(request)),
    get,
    getJson: (id) =>
      cache.getSessionJson(id).pipe(Effect.flatMap(Option.match({
        onSome: Effect.succeed,
        onNone: () => get(id).pipe(Effect.map((session) => JSON.stringify(encodeSession(session))))
      }))),
    sendText,
    sendKeys,
    sendBytes,
    terminalSnapshot,
    fitTerminal,
    capture,
    terminalResponsive: bridge.responsive,
    close,
    reconcile,
    reapInactive
  })
})

/** Loads this computer's open rows into the cache, so reads never touch SQLite. */
export const loadCache = Effect.gen(function*() {
  const config = yield* TelemuxConfig
  const store = yield* SessionStore
  const cache = yield* Cache
  const rows = yield* store.getSessions({ computer: config.computer })
  yield* Effect.forEach(rows, cache.upsertSession, { discard: true })
  yield* Effect.logInfo("sessions loaded").pipe(Effect.annotateLogs({ count: rows.length }))
})

export const layer = Layer.effect(Sessions, Effect.zipRight(loadCache, make))
