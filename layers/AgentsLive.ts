import { Context, DateTime, Duration, Effect, FiberMap, Layer, Option, PubSub, Queue } from "effect"
import { HookDeliveryFailed, HookEventHandler, type SessionRef } from "../services/AgentHooks.js"
import {
  Agents,
  type ExportedConversation,
  type ForkOptions,
  type ImportedFork,
  type LaunchRequest,
  PROMPT_ATTEMPTS,
  PROMPT_QUIET,
  PROMPT_READY_TIMEOUT,
  PROMPT_VERIFY_TIMEOUT,
  RESTART_SHELL_TIMEOUT,
  STOP_DEBOUNCE,
  STOP_DEBOUNCE_MAX
} from "../services/Agents.js"
import { Cache } from "../services/Cache.js"
import { Fleet } from "../services/Fleet.js"
import { Listeners, type ListenerStoreError } from "../services/Listeners.js"
import { type OutputEvent, OutputLog } from "../services/OutputLog.js"
import { PaneProcesses } from "../services/PaneProcesses.js"
import { Sessions } from "../services/Sessions.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { TerminalBridge } from "../services/TerminalBridge.js"
import { AgentLaunch, buildLaunch } from "../src/agents/AgentCommands.js"
import {
  agentHomes,
  type ConversationError,
  type ConversationExport,
  type ConversationSource,
  locateConversation,
  prepareFork,
  readConversation
} from "../src/agents/Conversations.js"
import type { HookEvent } from "../src/agents/HookEvent.js"
import { consumeBursts } from "../src/concurrency/Workers.js"
import {
  AgentBusy,
  AgentCommandNotFound,
  InvalidRequest,
  SessionClosed,
  StorageFailure,
  TerminalUnavailable
} from "../src/domain/Errors.js"
import { sanitiseNotice } from "../src/domain/InputText.js"
import { screenTail } from "../src/domain/Screen.js"
import { type Agent, PromptDelivery, type Session, type SessionId, summarise } from "../src/domain/Session.js"

const DEFAULT_MODE = "med" as const
/** How often restart looks whether the pane is back at its shell. */
const SHELL_POLL = Duration.millis(200)
/** After the prompt's paste, the wait for the agent to show it before Enter is pressed anyway. */
const PASTE_SHOWN_TIMEOUT = Duration.seconds(1)
const NOTICE_DETAIL_MAX = 120
/** A long title must not push the detail and the way to read it out of the notice. */
const NOTICE_TITLE_MAX = 60

const storeFailure = (error: ListenerStoreError) => new StorageFailure({ message: `listeners: ${String(error.cause)}` })

/**
 * The line typed into a listener's pane: what happened, where, and how to read it. Title and
 * detail come from other sessions and agents: the line is sanitised (one line of printable text,
 * no escape sequence, so it can neither leave bracketed paste nor press keys).
 */
export const noticeFor = (target: Session, what: string, detail: string) =>
  sanitiseNotice(
    `[telemux] ${sanitiseNotice(target.title, NOTICE_TITLE_MAX)} (${
      target.sessionId.slice(0, 8)
    }) on ${target.computer} ${what}` +
      (detail === "" ? "" : `: ${sanitiseNotice(detail, NOTICE_DETAIL_MAX)}`) +
      ` — read it: telemux tail ${target.sessionId}`
  )

export const make = Effect.gen(function*() {
  const sessions = yield* Sessions
  const cache = yield* Cache
  const outputLog = yield* OutputLog
  const listeners = yield* Listeners
  const fleet = yield* Fleet
  const bridge = yield* TerminalBridge
  const config = yield* TelemuxConfig
  const processes = yield* PaneProcesses
  const deliveries = yield* FiberMap.make<SessionId>()
  /** Session → clock time of its last reported turn stop; bounded, and pruned when the session goes. */
  const lastStop = new Map<SessionId, number>()

  const activity = (
    sessionId: SessionId,
    event: Extract<OutputEvent, { _tag: "AgentActivity" }>["event"],
    ok: boolean,
    detail: string,
    text?: string
  ) =>
    outputLog.publish({
      _tag: "AgentActivity",
      sessionId,
      event,
      ok,
      detail,
      ...(text === undefined ? {} : { text })
    }).pipe(
      Effect.zipRight(Effect.logInfo(`agent ${event}`).pipe(Effect.annotateLogs({ sessionId, ok, detail })))
    )

  /** The session's pane as tmux lists it now (none when it is gone). */
  const paneOf = (session: Session) =>
    Effect.map(bridge.listPanes, (panes) => Option.fromNullable(panes.find((p) => p.paneId === session.paneId))).pipe(
      Effect.mapError((error) => new TerminalUnavailable({ message: error.message }))
    )

  /** Whether the pane's own shell holds its terminal: a program it started (the agent, a wrapper script) does not. */
  const atShell = (session: Session) =>
    paneOf(session).pipe(
      Effect.flatMap(Option.match({ onNone: () => Effect.succeed(false), onSome: processes.atShell })),
      Effect.orElseSucceed(() => false)
    )

  const agentVariable = (agent: Agent) => `TELEMUX_AGENT_${agent.toUpperCase()}`

  /** The agent's command must be one a new pane's shell can run; else nothing is started. */
  const checkCommand = (agent: Agent, base: string, cwd: string) =>
    Effect.flatMap(processes.findCommand(base, cwd), (lookup) =>
      lookup._tag !== "Missing" ? Effect.void : Effect.fail(
        new AgentCommandNotFound({
          agent,
          command: lookup.program,
          path: lookup.searched,
          message: `${agent} cannot be started: ${lookup.reason}` + (lookup.searched === ""
            ? ` — fix ${agentVariable(agent)} (or "agentCommands" in the config file), then restart the daemon`
            : `, which is ${lookup.searched} — install ${agent} there, or set ${agentVariable(agent)} ` +
              `(or "agentCommands" in the config file) to its full path, then restart the daemon`)
        })
      ))

  const delivery = (id: SessionId, state: PromptDelivery["state"], detail: string) =>
    Effect.flatMap(
      DateTime.now,
      (at) =>
        sessions.observe(id, { promptDelivery: new PromptDelivery({ state, detail, at }) }).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning("could not record the first prompt's outcome", error).pipe(
              Effect.annotateLogs({ sessionId: id })
            )
          )
        )
    )

  /** The prompt's outcome: on the session (`promptDelivery`), on the stream, and in the log. */
  const promptOutcome = (id: SessionId, ok: boolean, detail: string) =>
    Effect.zipRight(delivery(id, ok ? "delivered" : "failed", detail), activity(id, "prompt", ok, detail))

  /** True once `check` holds (looked at every SHELL_POLL), false when `timeout` ran out first. */
  const waitFor = (check: Effect.Effect<boolean>, timeout: Duration.Duration) =>
    check.pipe(
      Effect.tap((ok) => (ok ? Effect.void : Effect.sleep(SHELL_POLL))),
      Effect.repeat({ until: (ok) => ok }),
      Effect.timeoutOption(timeout),
      Effect.map(Option.isSome)
    )

  // -- first prompt -----------------------------------------------------------------------------

  /** The session's next screen update within `within`, or none. */
  const nextScreen = (events: Queue.Dequeue<OutputEvent>, id: SessionId, within: Duration.Duration) =>
    Queue.take(events).pipe(
      Effect.repeat({ until: (e) => e._tag === "OutputChanged" && e.sessionId === id }),
      Effect.timeoutOption(within)
    )

  /** Waits for the agent's UI: at least one screen after launch, then PROMPT_QUIET without change (bounded). */
  const awaitQuiet = (events: Queue.Dequeue<OutputEvent>, id: SessionId) =>
    Effect.gen(function*() {
      yield* nextScreen(events, id, PROMPT_READY_TIMEOUT)
      while (Option.isSome(yield* nextScreen(events, id, PROMPT_QUIET))) {
        // still drawing
      }
    }).pipe(Effect.timeoutOption(PROMPT_READY_TIMEOUT))

  /**
   * True once the agent holds the pane's foreground and its UI has settled (awaitQuiet) with the
   * agent still there; false when PROMPT_READY_TIMEOUT ran out first. A program that held the
   * foreground for a moment and exited (an agent that could not start) is waited past, not taken
   * for the agent: its shell would run the prompt as a command.
   */
  const agentSettled = (events: Queue.Dequeue<OutputEvent>, session: Session) =>
    Effect.gen(function*() {
      for (;;) {
        yield* waitFor(Effect.map(atShell(session), (shell) => !shell), PROMPT_READY_TIMEOUT)
        yield* awaitQuiet(events, session.sessionId)
        if (!(yield* atShell(session))) return
      }
    }).pipe(Effect.timeoutOption(PROMPT_READY_TIMEOUT), Effect.map(Option.isSome))

  /** The session's next screen unlike `before` within `within` (events taken from the queue), or none. */
  const screenUnlike = (
    events: Queue.Dequeue<OutputEvent>,
    id: SessionId,
    before: string | undefined,
    within: Duration.Duration
  ) =>
    Queue.take(events).pipe(
      Effect.repeat({ until: (e) => e._tag === "OutputChanged" && e.sessionId === id && e.screen !== before }),
      Effect.timeoutOption(within),
      Effect.map(Option.isSome)
    )

  const currentScreen = (id: SessionId) =>
    Effect.map(outputLog.latest(id), (latest) => Option.getOrUndefined(Option.map(latest, (u) => u.screen)))

  const tryAgain = (id: SessionId) =>
    `look at the session (telemux attach ${id}) and type the prompt yourself (telemux send ${id} …)`

  /**
   * The paste, then Enter as its own key once the agent has shown the paste (an agent's UI reads an
   * Enter that comes with a paste as part of it, and tmux cannot tell an agent run by a wrapper script
   * from a shell); delivered once the Enter changed the screen.
   */
  const deliver = (session: Session, prompt: string) =>
    Effect.gen(function*() {
      const id = session.sessionId
      const events = yield* PubSub.subscribe(outputLog.events)
      // the agent must be what runs in the pane: a prompt typed into the shell would run as a command
      if (!(yield* agentSettled(events, session))) {
        return yield* promptOutcome(
          id,
          false,
          `not delivered: the agent did not start within ${
            Duration.format(PROMPT_READY_TIMEOUT)
          } (the pane is at its shell); ${tryAgain(id)}`
        )
      }
      let pasted = false
      for (let attempt = 1; attempt <= PROMPT_ATTEMPTS; attempt++) {
        if (!pasted) {
          const before = yield* currentScreen(id)
          yield* Queue.takeAll(events)
          yield* sessions.sendText(id, prompt, false)
          pasted = yield* screenUnlike(events, id, before, PASTE_SHOWN_TIMEOUT)
        }
        // an agent that exited meanwhile leaves the paste at the shell's prompt: Enter would run it
        if (yield* atShell(session)) {
          return yield* promptOutcome(
            id,
            false,
            `not delivered: the agent exited before its prompt was entered (the text waits at the shell's prompt, not run); ${
              tryAgain(id)
            }`
          )
        }
        const before = yield* currentScreen(id)
        yield* Queue.takeAll(events)
        yield* sessions.sendKeys(id, [{ key: "Enter", repeat: 1 }])
        // the agent takes the prompt in (or answers it): nothing showing means the attempt was lost
        if (yield* screenUnlike(events, id, before, PROMPT_VERIFY_TIMEOUT)) {
          return yield* promptOutcome(id, true, `delivered on attempt ${attempt}`)
        }
      }
      yield* promptOutcome(
        id,
        false,
        `not delivered: the screen did not change after ${PROMPT_ATTEMPTS} attempts; ${tryAgain(id)}`
      )
    }).pipe(
      Effect.scoped,
      Effect.catchAll((error) =>
        promptOutcome(session.sessionId, false, `not delivered: ${error.message}; ${tryAgain(session.sessionId)}`)
      )
    )

  // -- launch, resume, restart --------------------------------------------------------------------

  const launch = (request: LaunchRequest) =>
    Effect.gen(function*() {
      const mode = request.mode ?? DEFAULT_MODE
      const plan = yield* buildLaunch({
        agent: request.agent,
        mode,
        launch: request.prompt === undefined ? AgentLaunch.start : AgentLaunch.startWithPrompt(request.prompt),
        commands: config.agentCommands,
        modeFlags: config.agentModeFlags
      })
      yield* checkCommand(request.agent, plan.base, request.projectDir)
      const { prompt: _prompt, mode: _mode, ...create } = request
      const session = yield* sessions.create({ ...create, agentMode: mode })
      yield* sessions.sendText(session.sessionId, plan.commandLine, true).pipe(
        Effect.catchTags({
          SessionNotFound: (e) => new TerminalUnavailable({ message: e.message }),
          SessionClosed: (e) => new TerminalUnavailable({ message: e.message })
        })
      )
      if (plan.firstPrompt === undefined) return session
      yield* delivery(session.sessionId, "pending", "waiting for the agent to start and settle")
      yield* FiberMap.run(deliveries, session.sessionId, deliver(session, plan.firstPrompt))
      return Option.getOrElse(yield* cache.getSession(session.sessionId), () => session)
    })

  const agentSession = (id: SessionId) =>
    Effect.flatMap(sessions.get(id), (session) =>
      session.agent === null
        ? Effect.fail(new InvalidRequest({ message: `session ${id} runs no agent` }))
        : Effect.succeed({ session, agent: session.agent }))

  const resume = (id: SessionId) =>
    Effect.gen(function*() {
      const { agent, session } = yield* agentSession(id)
      const plan = yield* buildLaunch({
        agent,
        mode: session.agentMode ?? DEFAULT_MODE,
        launch: AgentLaunch.resumeOrContinue(session.nativeSessionId),
        commands: config.agentCommands,
        modeFlags: config.agentModeFlags
      })
      if (session.status === "closed") {
        return yield* new SessionClosed({ sessionId: id, message: `session ${id} is closed` })
      }
      // typed into a running agent, the command line would be a prompt to it
      const pane = yield* paneOf(session)
      if (Option.isSome(pane) && !(yield* processes.atShell(pane.value))) {
        return yield* new AgentBusy({
          sessionId: id,
          message: `${agent} is still running in session ${id} (its pane runs ${pane.value.currentCommand}): ` +
            `type to it with telemux send ${id} …, or restart it (telemux restart ${id}) to interrupt it and resume`
        })
      }
      yield* checkCommand(agent, plan.base, session.workingDirectory)
      yield* sessions.sendText(id, plan.commandLine, true)
      return yield* sessions.get(id)
    })

  const restart = (id: SessionId) =>
    Effect.gen(function*() {
      const { session } = yield* agentSession(id)
      yield* sessions.sendKeys(id, [{ key: "C-c", repeat: 1 }])
      yield* Effect.sleep(Duration.millis(300))
      yield* sessions.sendKeys(id, [{ key: "C-c", repeat: 1 }])
      if (!(yield* waitFor(atShell(session), RESTART_SHELL_TIMEOUT))) {
        return yield* new TerminalUnavailable({
          message: `the agent in ${id} did not return to its shell within ${Duration.format(RESTART_SHELL_TIMEOUT)}`
        })
      }
      return yield* resume(id).pipe(
        Effect.catchTag("AgentBusy", (e) => new TerminalUnavailable({ message: e.message }))
      )
    })

  // -- fork ----------------------------------------------------------------------------------------

  /** The agents' directories here (the panes' HOME is the daemon's). */
  const homes = yield* agentHomes

  /** A conversation file missing or too big is the request's problem (400), said as it is. */
  const conversationRefused = (error: ConversationError) => new InvalidRequest({ message: error.message })

  /** The session to fork: one with an agent that has started a conversation (its current id). */
  const forkSource = (id: SessionId) =>
    Effect.gen(function*() {
      const session = yield* sessions.get(id)
      if (session.agent === null) {
        return yield* new InvalidRequest({
          message: `session ${id} runs no agent: only an agent's conversation can be forked`
        })
      }
      if (session.nativeSessionId === null || session.nativeSessionId === "") {
        return yield* new InvalidRequest({
          message: `session ${id}'s ${session.agent} has not reported a conversation yet: ` +
            `wait until the agent has started a conversation, then fork it`
        })
      }
      return { session, agent: session.agent, nativeSessionId: session.nativeSessionId }
    })

  /** The fork's request: the source's project (its repository when it runs in a worktree), title and mode. */
  const forkRequest = (source: Session, options: ForkOptions): ImportedFork => ({
    projectDir: source.worktree?.repository ?? source.workingDirectory,
    title: options.title ?? `fork of ${source.title}`,
    mode: options.mode ?? source.agentMode ?? DEFAULT_MODE,
    ...(options.worktree === undefined ? {} : { worktree: options.worktree })
  })

  /**
   * Creates the fork's session, puts the conversation where its agent will find it from the
   * session's working directory (known only now: a worktree is made by the create), then types the
   * Fork launch. A fork that cannot be prepared leaves no session behind.
   */
  const forkInto = (agent: Session["agent"] & {}, source: ConversationSource, request: ImportedFork) =>
    Effect.gen(function*() {
      const mode = request.mode ?? DEFAULT_MODE
      const oldId = source._tag === "Local" ? source.nativeSessionId : source.conversation.nativeSessionId
      const launchOf = (nativeSessionId: string) =>
        buildLaunch({
          agent,
          mode,
          launch: AgentLaunch.fork(nativeSessionId),
          commands: config.agentCommands,
          modeFlags: config.agentModeFlags
        })
      // refused before anything exists: an unsupported mode, an id no flag takes, no agent command
      const checked = yield* launchOf(oldId)
      yield* checkCommand(agent, checked.base, request.projectDir)
      const session = yield* sessions.create({
        projectDir: request.projectDir,
        ...(request.title === undefined ? {} : { title: request.title }),
        agent,
        agentMode: mode,
        ...(request.worktree === undefined ? {} : { worktree: request.worktree }),
        ...(request.initiatorSessionId === undefined ? {} : { initiatorSessionId: request.initiatorSessionId }),
        ...(request.initiatorComputer === undefined ? {} : { initiatorComputer: request.initiatorComputer })
      })
      const started = Effect.gen(function*() {
        const launchId = yield* prepareFork(homes, source, session.workingDirectory).pipe(
          Effect.mapError(conversationRefused)
        )
        const plan = yield* launchOf(launchId)
        yield* sessions.sendText(session.sessionId, plan.commandLine, true).pipe(
          Effect.catchTags({
            SessionNotFound: (e) => new TerminalUnavailable({ message: e.message }),
            SessionClosed: (e) => new TerminalUnavailable({ message: e.message })
          })
        )
        yield* Effect.logInfo("agent fork started").pipe(
          Effect.annotateLogs({ sessionId: session.sessionId, agent, forkOf: oldId, as: launchId })
        )
      })
      yield* started.pipe(
        Effect.tapErrorTag("InvalidRequest", () => sessions.close(session.sessionId, "error").pipe(Effect.ignore))
      )
      return session
    })

  const fork = (id: SessionId, options: ForkOptions) =>
    Effect.gen(function*() {
      const { agent, nativeSessionId, session } = yield* forkSource(id)
      const file = yield* locateConversation(
        homes,
        agent,
        nativeSessionId,
        session.nativeLogFile,
        session.workingDirectory
      ).pipe(Effect.mapError(conversationRefused))
      return yield* forkInto(agent, { _tag: "Local", agent, nativeSessionId, file }, forkRequest(session, options))
    })

  const exportConversation = (id: SessionId, options: ForkOptions) =>
    Effect.gen(function*() {
      const { agent, nativeSessionId, session } = yield* forkSource(id)
      const conversation: ConversationExport = yield* readConversation(
        homes,
        agent,
        nativeSessionId,
        session.nativeLogFile,
        session.workingDirectory
      ).pipe(Effect.mapError(conversationRefused))
      return { source: session, conversation, request: forkRequest(session, options) } satisfies ExportedConversation
    })

  const forkImported = (conversation: ConversationExport, request: ImportedFork) =>
    forkInto(conversation.agent, { _tag: "Exported", conversation }, request)

  // -- listeners -----------------------------------------------------------------------------------

  const listen: Agents["Type"]["listen"] = (target, listener) =>
    Effect.gen(function*() {
      if (target === listener.sessionId) {
        return yield* new InvalidRequest({ message: "a session cannot listen to itself" })
      }
      const session = yield* sessions.get(target)
      if (session.computer !== config.computer) {
        // the target's hooks fire where it runs: that computer keeps its listeners
        return yield* fleet.call(session.computer, (c) => c.Listen({ target, listener })).pipe(
          Effect.catchAll((e) =>
            e._tag === "SessionNotFound" || e._tag === "InvalidRequest" || e._tag === "StorageFailure"
              ? Effect.fail(e)
              : Effect.fail(new InvalidRequest({ message: e.message }))
          )
        )
      }
      if (session.status === "closed") return yield* new InvalidRequest({ message: `session ${target} is closed` })
      const added = yield* listeners.add({ target, listener: listener.sessionId, listenerComputer: listener.computer })
        .pipe(
          Effect.mapError(storeFailure)
        )
      if (!added) {
        return yield* new InvalidRequest({ message: `session ${target} already has the most listeners it may have` })
      }
    })

  // whoever built the notice (another computer, say), what is typed is sanitised here
  const notify = (listener: SessionId, notice: string) => {
    const line = sanitiseNotice(notice)
    return line === "" ? Effect.void : sessions.sendText(listener, line, true)
  }

  const notifyListeners = (target: Session, what: string, detail: string) =>
    Effect.gen(function*() {
      const all = yield* listeners.of(target.sessionId).pipe(Effect.orElseSucceed(() => []))
      if (all.length === 0) return
      const notice = noticeFor(target, what, detail)
      let told = 0
      for (const l of all) {
        const sent = l.listenerComputer === config.computer
          ? notify(l.listener, notice)
          : fleet.call(l.listenerComputer, (c) => c.Notify({ sessionId: l.listener, notice }))
        const result = yield* Effect.either(sent)
        if (result._tag === "Right") told++
        else {
          yield* Effect.logWarning("could not tell a listener", result.left).pipe(
            Effect.annotateLogs({ listener: l.listener })
          )
          if (result.left._tag === "SessionNotFound" || result.left._tag === "SessionClosed") {
            yield* listeners.forget(l.listener).pipe(Effect.ignore)
          }
        }
      }
      yield* activity(target.sessionId, "notified", told === all.length, `told ${told} of ${all.length} listeners`)
    })

  // -- hooks ---------------------------------------------------------------------------------------

  const resolve = (ref: SessionRef) =>
    Effect.gen(function*() {
      if (ref._tag === "Session") {
        const found = yield* cache.getSession(ref.sessionId)
        if (Option.isSome(found) && found.value.computer === config.computer) return found.value
      } else if (ref.tmuxSocket === null || ref.tmuxSocket === config.tmuxSocket) {
        const mine = yield* cache.getSessionsForComputer(config.computer)
        const found = mine.find((s) => s.paneId === ref.paneId)
        if (found !== undefined) return found
      }
      return yield* new HookDeliveryFailed({
        message: `no open session here for ${ref._tag === "Session" ? ref.sessionId : ref.paneId}`,
        permanent: true
      })
    })

  const observe = (id: SessionId, observation: Parameters<Sessions["Type"]["observe"]>[1]) =>
    sessions.observe(id, observation).pipe(Effect.mapError((e) => new HookDeliveryFailed({ message: e.message })))

  /**
   * True when this stop repeats one reported within STOP_DEBOUNCE with no prompt in between — by
   * when the hooks ran, not when they are delivered (events held in the outbox arrive together).
   */
  const debounced = (id: SessionId, at: DateTime.Utc) =>
    Effect.sync(() => {
      const when = DateTime.toEpochMillis(at)
      const last = lastStop.get(id)
      if (last !== undefined && Math.abs(when - last) < Duration.toMillis(STOP_DEBOUNCE)) return true
      lastStop.delete(id)
      lastStop.set(id, when)
      if (lastStop.size > STOP_DEBOUNCE_MAX) lastStop.delete(lastStop.keys().next().value as SessionId)
      return false
    })

  const handle = (ref: SessionRef, event: HookEvent): Effect.Effect<void, HookDeliveryFailed> =>
    Effect.gen(function*() {
      const session = yield* resolve(ref)
      const id = session.sessionId
      const native = "nativeSessionId" in event && event.nativeSessionId !== undefined
        ? { nativeSessionId: event.nativeSessionId }
        : {}
      switch (event._tag) {
        case "SessionStarted":
          yield* observe(id, {
            ...native,
            ...(event.nativeLogFile === undefined ? {} : { nativeLogFile: event.nativeLogFile })
          })
          return yield* activity(id, "started", true, event.source ?? "startup")
        case "PromptSubmitted":
          // a new turn: its stop is not a repeat of the last one, however soon it comes
          lastStop.delete(id)
          return yield* observe(id, { ...native, status: "running" })
        case "TurnStopped": {
          if (yield* debounced(id, event.at)) return
          const screen = Option.map(yield* outputLog.latest(id), (u) => screenTail(u.screen))
          const lastOutput = summarise(event.lastMessage ?? Option.getOrElse(screen, () => ""))
          yield* observe(id, { ...native, status: "idle", lastOutput, lastOutputAt: yield* DateTime.now })
          yield* activity(id, "turn", true, lastOutput, event.lastMessage)
          return yield* notifyListeners(session, "finished its turn", lastOutput)
        }
        case "InputRequested": {
          const message = summarise(event.message)
          yield* observe(id, { ...native, status: "waiting_input", lastOutput: message })
          yield* activity(id, "input", true, message)
          return yield* notifyListeners(session, "asks for input", message)
        }
        case "HookPayloadInvalid":
          yield* Effect.logWarning("an agent hook sent a payload telemux could not read").pipe(
            Effect.annotateLogs({ sessionId: id, agent: event.agent, event: event.event, reason: event.reason })
          )
          return yield* activity(id, "started", false, `unreadable ${event.event} hook: ${event.reason}`)
      }
    })

  // a closed session leaves no listener pair, no debounce entry, no prompt delivery behind
  const cacheEvents = yield* PubSub.subscribe(cache.events)
  yield* Effect.forkScoped(consumeBursts("agent-cleanup", cacheEvents, (event) =>
    event._tag === "SessionRemoved"
      ? Effect.zipRight(
        Effect.sync(() => lastStop.delete(event.sessionId)),
        Effect.zipRight(FiberMap.remove(deliveries, event.sessionId), listeners.forget(event.sessionId))
      )
      : Effect.void))

  return {
    agents: Agents.of({
      launch,
      resume,
      restart,
      fork,
      exportConversation,
      forkImported,
      listen,
      notify,
      debounceSize: Effect.sync(() => lastStop.size)
    }),
    hooks: HookEventHandler.of({ handle })
  } as const
})

export const layer: Layer.Layer<
  Agents | HookEventHandler,
  never,
  Sessions | Cache | OutputLog | Listeners | Fleet | TerminalBridge | TelemuxConfig | PaneProcesses
> = Layer.scopedContext(
  Effect.map(make, ({ agents, hooks }) => Context.make(Agents, agents).pipe(Context.add(HookEventHandler, hooks)))
)
