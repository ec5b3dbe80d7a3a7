import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import {
  Chunk,
  Clock,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  PubSub,
  Queue,
  Ref,
  Stream
} from "effect"
import { reconnectBackoff } from "../src/concurrency/Backoff.js"
import { commandFailure, subcommandOf, targetOf, tmuxArgv } from "../src/tmux/Commands.js"
import { commandLine, type ControlMessage, makeControlParser } from "../src/tmux/ControlProtocol.js"
import {
  allWindowsArgs,
  controlClientArgs,
  hubPanesArgs,
  hubSessionArgs,
  isDuplicateSession,
  linkWindowArgs,
  paneEventOf,
  parseHubPanes,
  sessionWindowsArgs,
  subscribeArgs,
  SUBSCRIPTIONS,
  unlinkedTelemuxWindows,
  unlinkedWindows
} from "../src/tmux/HubCommands.js"
import { KILL_GRACE, TMUX_COMMAND_TIMEOUT, TmuxCommandFailed, type TmuxError, TmuxTimeout } from "../services/TerminalBridge.js"
import {
  CONTROL_COMMAND_TIMEOUT,
  CONTROL_PENDING_MAX,
  CONTROL_RECONNECT_BASE,
  CONTROL_RECONNECT_MAX,
  ControlChannelDown,
  type ControlEvent,
  TmuxControl
} from "../services/TmuxControl.js"
import { signalGroup } from "./Subprocess.js"
import { makeTmuxProcess } from "./TmuxProcess.js"

export interface TmuxControlOptions {
  /** Name of the private server socket (`tmux -L <socket>`). */
  readonly socket: string
  readonly tmuxBinary?: string
  readonly commandTimeout?: Duration.DurationInput
  /** The oldest command unanswered this long means the client hangs: it is killed and restarted. */
  readonly hangTimeout?: Duration.DurationInput
}

/** Time the control client gets to exit on end of input before it is sent SIGTERM. */
const EOF_GRACE = Duration.millis(50)

/** Events a subscriber may fall behind by before it loses the oldest. */
export const CONTROL_EVENT_BUFFER = 4096
/** Idle command of the hub's own window: never exits, never writes. */
export const HUB_IDLE_COMMAND = "tail -f /dev/null"

class ControlConnectFailed extends Data.TaggedError("ControlConnectFailed")<{ readonly reason: string }> {
  override get message() {
    return `tmux control client could not connect: ${this.reason}`
  }
}

interface Pending {
  readonly command: string
  readonly target: string
  readonly sentAt: number
  readonly reply: Deferred.Deferred<ReadonlyArray<string>, TmuxError>
  /** Answered or timed out; a timed-out entry stays queued until its late reply is read. */
  settled: boolean
}

interface Connection {
  readonly pid: number
  /** Commands written and not yet answered, oldest first; tmux answers a client in order. */
  readonly pending: Array<Pending>
  readonly lines: Queue.Queue<Uint8Array>
  readonly closed: Deferred.Deferred<string>
  readonly attached: Deferred.Deferred<void, ControlConnectFailed>
  /** Pokes the deadline keeper when a command is due before the time it sleeps until. */
  readonly wake: Queue.Queue<void>
  wakeAt: number
  hubPanes: ReadonlySet<string>
  open: boolean
  ready: boolean
}

const notConnected = (command: string) =>
  new ControlChannelDown({ command, reason: "the control client is not connected", sent: false })

const replyExit = (entry: Pending, ok: boolean, body: ReadonlyArray<string>): Exit.Exit<ReadonlyArray<string>, TmuxError> =>
  ok
    ? Exit.succeed(body)
    : Exit.fail(commandFailure({ command: entry.command, target: entry.target, exitCode: null, stderr: body.join("\n") }))

const encoder = new TextEncoder()

export const makeTmuxControl = (options: TmuxControlOptions) =>
  Effect.gen(function*() {
    const executor = yield* CommandExecutor.CommandExecutor
    const binary = options.tmuxBinary ?? "tmux"
    const commandTimeout = Duration.decode(options.commandTimeout ?? CONTROL_COMMAND_TIMEOUT)
    const hangTimeout = Duration.decode(options.hangTimeout ?? Duration.times(CONTROL_COMMAND_TIMEOUT, 3))
    const timeoutMillis = Duration.toMillis(commandTimeout)
    const hangMillis = Duration.toMillis(hangTimeout)
    const events = yield* PubSub.sliding<ControlEvent>(CONTROL_EVENT_BUFFER)
    const current = yield* Ref.make(Option.none<Connection>())
    const linking = yield* Effect.makeSemaphore(1)
    const firstAttempt = yield* Deferred.make<void>()

    const tmuxProcess = makeTmuxProcess({ socket: options.socket, tmuxBinary: binary })

    const ensureHub = Effect.gen(function*() {
      const result = yield* tmuxProcess.exec(hubSessionArgs(HUB_IDLE_COMMAND)).pipe(
        Effect.mapError((e) => new ControlConnectFailed({ reason: e.message }))
      )
      if (result.exitCode !== 0 && !isDuplicateSession(result.stderr)) {
        return yield* new ControlConnectFailed({ reason: `creating the hub session: ${result.stderr.trim()}` })
      }
    })

    const send = (conn: Connection, args: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string>, TmuxError> =>
      Effect.gen(function*() {
        const command = subcommandOf(args)
        if (!conn.open) return yield* new ControlChannelDown({ command, reason: "the control client is reconnecting", sent: false })
        if (conn.pending.length >= CONTROL_PENDING_MAX) {
          return yield* new TmuxCommandFailed({
            command,
            exitCode: null,
            stderr: `${CONTROL_PENDING_MAX} commands already wait for tmux on the control channel`
          })
        }
        const reply = yield* Deferred.make<ReadonlyArray<string>, TmuxError>()
        const sentAt = yield* Clock.currentTimeMillis
        // No yield between these two: the pending order must be the order the lines are written in.
        conn.pending.push({ command, target: targetOf(args), sentAt, reply, settled: false })
        Queue.unsafeOffer(conn.lines, encoder.encode(commandLine(args) + "\n"))
        if (sentAt + timeoutMillis < conn.wakeAt) {
          conn.wakeAt = sentAt + timeoutMillis
          Queue.unsafeOffer(conn.wake, undefined)
        }
        return yield* Deferred.await(reply)
      })

    const run = (args: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string>, TmuxError> =>
      Effect.flatMap(Ref.get(current), (conn) =>
        Option.isSome(conn)
          ? send(conn.value, args)
          : Effect.fail(notConnected(subcommandOf(args))))

    /** Links the windows listed by `listing` that `unlinked` picks into the hub. */
    const linkWindows = (
      conn: Connection,
      listing: ReadonlyArray<string>,
      unlinked: (lines: ReadonlyArray<string>) => ReadonlyArray<string>
    ) =>
      linking.withPermits(1)(
        Effect.flatMap(send(conn, listing), (lines) =>
          Effect.forEach(unlinked(lines), (windowId) => send(conn, linkWindowArgs(windowId)), { discard: true }))
      )

    const watchWindowOf = (sessionName: string) =>
      Effect.flatMap(Ref.get(current), (conn) =>
        Option.isSome(conn)
          ? linkWindows(conn.value, sessionWindowsArgs(sessionName), unlinkedWindows)
          : Effect.fail(notConnected("link-window")))

    /** Turns what the client wrote into replies delivered and events to publish. */
    const handle = (conn: Connection, messages: ReadonlyArray<ControlMessage>): Array<ControlEvent> => {
      const out: Array<ControlEvent> = []
      for (const message of messages) {
        switch (message._tag) {
          case "Reply": {
            if (message.flags !== "1") {
              // The block of attach-session itself, from the client's command line.
              Deferred.unsafeDone(
                conn.attached,
                message.ok ? Exit.void : Exit.fail(new ControlConnectFailed({ reason: message.body.join("\n") }))
              )
              break
            }
            const entry = conn.pending.shift()
            if (entry !== undefined && !entry.settled) {
              entry.settled = true
              Deferred.unsafeDone(entry.reply, replyExit(entry, message.ok, message.body))
            }
            break
          }
          case "Exit":
            Deferred.unsafeDone(conn.closed, Exit.succeed(`tmux control client exited${message.reason ? `: ${message.reason}` : ""}`))
            break
          default: {
            const event = paneEventOf(message, conn.hubPanes)
            if (event !== undefined) out.push(event)
          }
        }
      }
      return out
    }

    const awaitExit = (proc: CommandExecutor.Process) =>
      proc.exitCode.pipe(Effect.asVoid, Effect.orElse(() => Effect.void))

    /** End of input first (the client exits on EOF), then SIGTERM, then SIGKILL; always reaped. */
    const stop = (proc: CommandExecutor.Process, conn: Connection, writer: Fiber.RuntimeFiber<unknown, unknown>) =>
      Effect.gen(function*() {
        if (!(yield* proc.isRunning.pipe(Effect.orElseSucceed(() => false)))) return
        yield* Queue.shutdown(conn.lines)
        // Finalizers are uninterruptible: without this the bound could not cut the wait short.
        yield* Effect.interruptible(Fiber.await(writer)).pipe(Effect.timeoutOption(KILL_GRACE))
        // A client exits on EOF within a few ms; one that does not (a frozen tmux server) must not
        // hold the daemon's exit: SIGTERM soon, and KILL_GRACE only before SIGKILL.
        for (const [sig, wait] of [["SIGTERM", EOF_GRACE], ["SIGKILL", KILL_GRACE]] as const) {
          const exited = yield* Effect.interruptible(awaitExit(proc)).pipe(Effect.timeoutOption(wait))
          if (Option.isSome(exited)) return
          yield* signalGroup(proc.pid, sig)
        }
        yield* awaitExit(proc)
      })

    /**
     * Times out commands and detects a hung client with one fiber per connection instead of a timer
     * per command: deadlines follow the FIFO order, so the first unsettled entry is always the next due.
     */
    const keepDeadlines = (conn: Connection) =>
      Effect.gen(function*() {
        while (true) {
          const now = yield* Clock.currentTimeMillis
          const oldest = conn.pending[0]
          if (oldest !== undefined && now - oldest.sentAt >= hangMillis) {
            return yield* Deferred.succeed(conn.closed, `tmux did not answer for ${Duration.format(hangTimeout)}`)
          }
          let due: Pending | undefined
          for (const entry of conn.pending) {
            if (entry.settled) continue
            if (now - entry.sentAt < timeoutMillis) {
              due = entry
              break
            }
            entry.settled = true
            Deferred.unsafeDone(entry.reply, Exit.fail(new TmuxTimeout({ command: entry.command, timeout: commandTimeout })))
          }
          conn.wakeAt = Math.min(
            oldest === undefined ? Infinity : oldest.sentAt + hangMillis,
            due === undefined ? Infinity : due.sentAt + timeoutMillis
          )
          if (conn.wakeAt === Infinity) yield* Queue.take(conn.wake)
          else yield* Effect.timeoutOption(Queue.take(conn.wake), Duration.millis(conn.wakeAt - now))
        }
      })

    /** Marks the connection gone: fails what waits on it and tells subscribers if it had been up. */
    const close = (conn: Connection, reason: string, shutdown: boolean) =>
      Effect.gen(function*() {
        conn.open = false
        const orphans = conn.pending.splice(0)
        for (const entry of orphans) {
          Deferred.unsafeDone(entry.reply, Exit.fail(new ControlChannelDown({ command: entry.command, reason, sent: true })))
        }
        yield* Ref.update(current, (c) => (Option.isSome(c) && c.value === conn ? Option.none() : c))
        if (conn.ready) {
          conn.ready = false
          yield* PubSub.publish(events, { _tag: "Disconnected", reason })
          yield* (shutdown ? Effect.logDebug : Effect.logWarning)("tmux control channel down").pipe(
            Effect.annotateLogs({ reason })
          )
        }
      })

    /** One connection, from spawning the client to its end; fails only while connecting. */
    const connection = Effect.gen(function*() {
      yield* ensureHub
      const proc = yield* executor.start(
        Command.make(binary, ...tmuxArgv(options.socket, controlClientArgs)).pipe(Command.stdin("pipe"))
      ).pipe(Effect.mapError((e) => new ControlConnectFailed({ reason: e.message })))
      const conn: Connection = {
        pid: proc.pid,
        pending: [],
        lines: yield* Queue.unbounded<Uint8Array>(),
        closed: yield* Deferred.make<string>(),
        attached: yield* Deferred.make<void, ControlConnectFailed>(),
        wake: yield* Queue.sliding<void>(1),
        wakeAt: Infinity,
        hubPanes: new Set(),
        open: true,
        ready: false
      }
      const writer = yield* Effect.forkScoped(
        // Lines queued together go out in one write: one syscall per burst, not per command.
        Stream.fromQueue(conn.lines).pipe(
          Stream.mapChunks((lines) => Chunk.of(Buffer.concat(Chunk.toReadonlyArray(lines)))),
          Stream.run(proc.stdin),
          Effect.ignore
        )
      )
      yield* Effect.addFinalizer(() => stop(proc, conn, writer))
      let stderr = ""
      yield* Effect.forkScoped(
        Stream.runForEach(proc.stderr, (bytes) =>
          Effect.sync(() => {
            stderr = (stderr + Buffer.from(bytes).toString("utf8")).slice(-2000)
          })).pipe(Effect.ignore)
      )
      const parser = makeControlParser()
      yield* Effect.forkScoped(
        Stream.runForEach(proc.stdout, (chunk) => {
          const out = handle(conn, parser.push(chunk))
          return out.length === 0 ? Effect.void : PubSub.publishAll(events, out)
        }).pipe(
          Effect.ignore,
          Effect.zipRight(Effect.suspend(() =>
            Deferred.succeed(conn.closed, `tmux control client exited${stderr.trim() ? `: ${stderr.trim()}` : ""}`)
          )),
          Effect.zipRight(Effect.suspend(() =>
            Deferred.fail(conn.attached, new ControlConnectFailed({ reason: stderr.trim() || "client exited before attaching" }))
          ))
        )
      )
      yield* Effect.addFinalizer(() =>
        Effect.flatMap(Deferred.isDone(conn.closed), (done) =>
          done
            ? Effect.flatMap(Deferred.await(conn.closed), (reason) => close(conn, reason, false))
            : close(conn, "the control channel was shut down", true))
      )
      yield* Deferred.await(conn.attached).pipe(
        Effect.timeoutFail({
          duration: commandTimeout,
          onTimeout: () => new ControlConnectFailed({ reason: "attach-session did not answer" })
        })
      )
      yield* Effect.forkScoped(keepDeadlines(conn))

      yield* Ref.set(current, Option.some(conn))
      const setup = Effect.gen(function*() {
        conn.hubPanes = parseHubPanes(yield* send(conn, hubPanesArgs))
        for (const subscription of SUBSCRIPTIONS) yield* send(conn, subscribeArgs(subscription))
        yield* linkWindows(conn, allWindowsArgs, unlinkedTelemuxWindows)
      })
      yield* setup.pipe(Effect.mapError((e) => new ControlConnectFailed({ reason: e.message })))
      conn.ready = true
      yield* PubSub.publish(events, { _tag: "Connected" })
      yield* Deferred.succeed(firstAttempt, undefined)
      yield* Effect.logInfo("tmux control channel up").pipe(Effect.annotateLogs({ pid: conn.pid }))
      return yield* Deferred.await(conn.closed)
    })

    // Only connecting is retried: a connection that served and then ended starts a fresh schedule.
    const serve = Effect.scoped(connection).pipe(
      Effect.tapError((e) =>
        Effect.zipRight(Deferred.succeed(firstAttempt, undefined), Effect.logWarning(e.message))
      ),
      Effect.retry(reconnectBackoff(CONTROL_RECONNECT_BASE, CONTROL_RECONNECT_MAX)),
      Effect.zipRight(Effect.sleep(CONTROL_RECONNECT_BASE)),
      Effect.forever
    )
    yield* Effect.forkScoped(serve)
    // Start-up waits for the first attempt so the daemon begins on a live channel when tmux is fine.
    yield* Deferred.await(firstAttempt).pipe(Effect.timeoutOption(Duration.sum(TMUX_COMMAND_TIMEOUT, commandTimeout)))

    return TmuxControl.of({
      run,
      subscribe: PubSub.subscribe(events),
      isConnected: Effect.map(Ref.get(current), (conn) => Option.isSome(conn) && conn.value.ready),
      isResponsive: (within) =>
        Effect.gen(function*() {
          const conn = yield* Ref.get(current)
          if (Option.isNone(conn) || !conn.value.ready) return false
          const oldest = conn.value.pending.find((entry) => !entry.settled) ?? conn.value.pending[0]
          return oldest === undefined || (yield* Clock.currentTimeMillis) - oldest.sentAt < Duration.toMillis(within)
        }),
      watchWindowOf,
      clientPid: Effect.map(Ref.get(current), Option.map((conn) => conn.pid))
    })
  })

export const layer = (options: TmuxControlOptions): Layer.Layer<TmuxControl, never, CommandExecutor.CommandExecutor> =>
  Layer.scoped(TmuxControl, makeTmuxControl(options))
