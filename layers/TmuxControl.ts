import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import { Context, Deferred, Duration, Effect, FiberSet, Layer, PubSub } from "effect"
import {
  CONTROL_COMMAND_TIMEOUT,
  type ControlEvent,
  ControlInput,
  type PaneOutputListener,
  PaneSignals,
  PASTE_QUIET,
  TmuxControl
} from "../services/TmuxControl.js"
import type { PaneOutput } from "../src/tmux/ControlProtocol.js"
import {
  allWindowsArgs,
  controlClientArgs,
  hubPanesArgs,
  inputClientArgs,
  isSessionOutput,
  linkWindowArgs,
  paneEventOf,
  parseHubPanes,
  sessionWindowsArgs,
  subscribeArgs,
  SUBSCRIPTIONS,
  unlinkedTelemuxWindows,
  unlinkedWindows
} from "../src/tmux/HubCommands.js"
import { type EchoWatch, pasteTail, watchEcho } from "../src/tmux/PasteEcho.js"
import { attachResetsSizeArgs } from "../src/tmux/TerminalCommands.js"
import { makeControlClient, type Run } from "./ControlClient.js"

export interface TmuxControlOptions {
  /** Name of the private server socket (`tmux -L <socket>`). */
  readonly socket: string
  readonly tmuxBinary?: string
  readonly commandTimeout?: Duration.DurationInput
  /** The oldest command unanswered this long means the client hangs: it is killed and restarted. */
  readonly hangTimeout?: Duration.DurationInput
  /** Count and time commands in the tmux metrics; on unless false. */
  readonly metrics?: boolean
}

/** Events a subscriber may fall behind by before it loses the oldest. */
export const CONTROL_EVENT_BUFFER = 4096

const clientOptions = (options: TmuxControlOptions) => {
  const commandTimeout = Duration.decode(options.commandTimeout ?? CONTROL_COMMAND_TIMEOUT)
  return {
    socket: options.socket,
    tmuxBinary: options.tmuxBinary ?? "tmux",
    commandTimeout,
    hangTimeout: Duration.decode(options.hangTimeout ?? Duration.times(commandTimeout, 3)),
    metrics: options.metrics ?? true
  }
}

interface MarkWaiter {
  marked: boolean
  /** Undefined: any output after the mark will do. */
  readonly echo: EchoWatch | undefined
  /** When the latest output after the mark was read (performance.now()). */
  lastOutputAt: number
  readonly output: Deferred.Deferred<void>
  readonly landed: Deferred.Deferred<void>
}

/** PaneSignals' waits, fed by the events client's outputs and mode changes in the order it read them. */
const makeMarks = () => {
  const waiting = new Map<string, Set<MarkWaiter>>()
  const modeChanged = (paneId: string) => {
    const waiters = waiting.get(paneId)
    if (waiters !== undefined) { for (const waiter of waiters) waiter.marked = true }
  }
  const output = (paneId: string, written: PaneOutput) => {
    const waiters = waiting.get(paneId)
    if (waiters === undefined) return
    for (const waiter of waiters) {
      if (!waiter.marked) continue
      waiter.lastOutputAt = performance.now()
      Deferred.unsafeDone(waiter.output, Effect.void)
      if (waiter.echo === undefined || waiter.echo.add(written.data)) Deferred.unsafeDone(waiter.landed, Effect.void)
    }
  }
  const releaseAll = Effect.sync(() => {
    for (const waiters of waiting.values()) {
      for (const waiter of waiters) Deferred.unsafeDone(waiter.landed, Effect.void)
    }
  })
  /** Output came after the mark, then none for PASTE_QUIET. */
  const quietAfterOutput = (waiter: MarkWaiter) =>
    Effect.zipRight(
      Deferred.await(waiter.output),
      Effect.suspend(() => {
        const gap = performance.now() - waiter.lastOutputAt
        return gap >= Duration.toMillis(PASTE_QUIET) ? Effect.succeed(true) : Effect.as(
          Effect.sleep(Duration.millis(Duration.toMillis(PASTE_QUIET) - gap)),
          false
        )
      }).pipe(Effect.repeat({ until: (quiet) => quiet }))
    )
  const signals = PaneSignals.of({
    pasteShown: (pane, text) =>
      Effect.map(
        Effect.acquireRelease(
          Effect.map(Effect.all([Deferred.make<void>(), Deferred.make<void>()]), ([output, landed]) => {
            const tail = pasteTail(text)
            const waiter: MarkWaiter = {
              marked: false,
              echo: tail === undefined ? undefined : watchEcho(tail),
              lastOutputAt: 0,
              output,
              landed
            }
            const waiters = waiting.get(pane) ?? new Set()
            waiting.set(pane, waiters.add(waiter))
            return waiter
          }),
          (waiter) =>
            Effect.sync(() => {
              const waiters = waiting.get(pane)
              waiters?.delete(waiter)
              if (waiters?.size === 0) waiting.delete(pane)
            })
        ),
        (waiter) => Effect.raceFirst(Deferred.await(waiter.landed), Effect.asVoid(quietAfterOutput(waiter)))
      )
  })
  return { modeChanged, output, releaseAll, signals }
}

/**
 * The events client: attached to the hub, where every telemux window is linked, so it reports
 * every pane's output and subscribed fields; it also carries the commands that read (captures,
 * listings) and manage sessions. Input goes through ControlInput's client instead.
 */
export const makeTmuxControl = (options: TmuxControlOptions) =>
  Effect.gen(function*() {
    const events = yield* PubSub.sliding<ControlEvent>(CONTROL_EVENT_BUFFER)
    const linking = yield* Effect.makeSemaphore(1)
    /** The hub's own panes on the current connection: their output is not a session's. */
    let hubPanes: ReadonlySet<string> = new Set()
    const marks = makeMarks()
    const outputListeners = new Set<PaneOutputListener>()
    /**
     * A listener that threw is logged, and the reader goes on, the other listeners too; while one
     * failure waits for its log, the next are not logged again (a listener failing on every output
     * would flood the log).
     */
    const runFork = yield* FiberSet.makeRuntime<never>()
    let listenerFailing = false
    const listenerFailed = (error: unknown) => {
      if (listenerFailing) return
      listenerFailing = true
      runFork(Effect.ensuring(
        Effect.logError("an output listener failed", error),
        Effect.sync(() => void (listenerFailing = false))
      ))
    }

    /** Links the windows listed by `listing` that `unlinked` picks into the hub. */
    const linkWindows = (
      run: Run,
      listing: ReadonlyArray<string>,
      unlinked: (lines: ReadonlyArray<string>) => ReadonlyArray<string>
    ) =>
      linking.withPermits(1)(
        Effect.flatMap(
          run(listing),
          (lines) => Effect.forEach(unlinked(lines), (windowId) => run(linkWindowArgs(windowId)), { discard: true })
        )
      )

    const client = yield* makeControlClient({
      ...clientOptions(options),
      role: "events",
      attachArgs: controlClientArgs,
      setup: (run) =>
        Effect.gen(function*() {
          hubPanes = parseHubPanes(yield* run(hubPanesArgs))
          for (const subscription of SUBSCRIPTIONS) yield* run(subscribeArgs(subscription))
          for (const hook of attachResetsSizeArgs) yield* run(hook)
          yield* linkWindows(run, allWindowsArgs, unlinkedTelemuxWindows)
        }),
      // in order with the replies, so that a list's `at` falls between the right two outputs
      onOutput: (message) => {
        marks.output(message.paneId, message)
        if (outputListeners.size === 0 || !isSessionOutput(message, hubPanes)) return
        for (const listener of outputListeners) {
          try {
            listener(message.paneId, message)
          } catch (error) {
            listenerFailed(error)
          }
        }
      },
      onPaneModeChanged: marks.modeChanged,
      onNotifications: (messages) => {
        const out: Array<ControlEvent> = []
        for (const message of messages) {
          const event = paneEventOf(message, hubPanes)
          if (event !== undefined) out.push(event)
        }
        return out.length === 0 ? Effect.void : PubSub.publishAll(events, out)
      },
      onUp: PubSub.publish(events, { _tag: "Connected" }),
      // a channel that went down reads no more output: waits end now
      onDown: (reason) => Effect.zipRight(marks.releaseAll, PubSub.publish(events, { _tag: "Disconnected", reason }))
    })

    const control = TmuxControl.of({
      run: client.run,
      runList: client.runList,
      subscribe: PubSub.subscribe(events),
      onOutput: (listener) =>
        Effect.acquireRelease(
          Effect.sync(() => void outputListeners.add(listener)),
          () => Effect.sync(() => void outputListeners.delete(listener))
        ),
      isConnected: client.isConnected,
      isResponsive: client.isResponsive,
      watchWindowOf: (sessionName) => linkWindows(client.run, sessionWindowsArgs(sessionName), unlinkedWindows),
      clientPid: client.pid
    })
    return Context.make(TmuxControl, control).pipe(Context.add(PaneSignals, marks.signals))
  })

/** The input client: no output, no setup; only command lists. */
export const makeControlInput = (options: TmuxControlOptions) =>
  Effect.map(
    makeControlClient({
      ...clientOptions(options),
      role: "input",
      attachArgs: inputClientArgs,
      setup: () => Effect.void,
      onNotifications: () => Effect.void,
      onUp: Effect.void,
      onDown: () => Effect.void
    }),
    (client) =>
      ControlInput.of({
        runList: client.runList,
        isConnected: client.isConnected,
        isStalled: client.isStalled,
        clientPid: client.pid
      })
  )

export const layer = (
  options: TmuxControlOptions
): Layer.Layer<TmuxControl | PaneSignals, never, CommandExecutor.CommandExecutor> =>
  Layer.scopedContext(makeTmuxControl(options))

export const layerInput = (
  options: TmuxControlOptions
): Layer.Layer<ControlInput, never, CommandExecutor.CommandExecutor> =>
  Layer.scoped(ControlInput, makeControlInput(options))
