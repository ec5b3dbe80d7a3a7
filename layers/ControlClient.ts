import { Clock, Data, Deferred, Duration, Effect, Exit, Option, Queue, Ref, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import {
  KILL_GRACE,
  TMUX_COMMAND_TIMEOUT,
  TmuxCommandFailed,
  type TmuxError,
  TmuxTimeout
} from "../services/TerminalBridge.js"
import {
  CONTROL_PENDING_MAX,
  CONTROL_RECONNECT_BASE,
  CONTROL_RECONNECT_MAX,
  ControlChannelDown,
  type ListReply
} from "../services/TmuxControl.js"
import { reconnectBackoff } from "../src/concurrency/Backoff.js"
import { takeWithin } from "../src/concurrency/Workers.js"
import { commandFailure, subcommandOf, targetOf, tmuxArgv } from "../src/tmux/Commands.js"
import { commandListLine, type ControlMessage, makeControlParser, replyBlocks } from "../src/tmux/ControlProtocol.js"
import { hubSessionArgs, isDuplicateSession } from "../src/tmux/HubCommands.js"
import { signalGroup } from "./Subprocess.js"
import * as TmuxMetrics from "./TmuxMetrics.js"
import { makeTmuxProcess } from "./TmuxProcess.js"

/** Time the control client gets to exit on end of input before it is sent SIGTERM. */
const EOF_GRACE = Duration.millis(50)
/** Idle command of the hub's own window: never exits, never writes. */
export const HUB_IDLE_COMMAND = "tail -f /dev/null"

/**
 * Writes the commands as one list. `at`, when given, is called synchronously once the whole list
 * has been answered, at that point of what the client reads: the output of every pane that tmux
 * reported before the answer has been passed to `onOutput`, none that it reported after.
 * `previous`, when given, holds per command the body its reply is likely to repeat (a pane's last
 * capture): the lines it repeats come back as those strings (see ControlParserOptions.previousBody).
 */
export type RunList = (
  commands: ReadonlyArray<ReadonlyArray<string>>,
  at?: () => void,
  previous?: ReadonlyArray<ReadonlyArray<string> | undefined>
) => Effect.Effect<ListReply, TmuxError>
export type Run = (args: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string>, TmuxError>

export interface ControlClientOptions {
  /** Which of the daemon's clients this is, for logs. */
  readonly role: string
  readonly socket: string
  readonly tmuxBinary: string
  readonly commandTimeout: Duration.Duration
  /** The oldest command unanswered this long means the client hangs: it is killed and restarted. */
  readonly hangTimeout: Duration.Duration
  /** The client's argv after the socket (`-C attach-session …` to the hub). */
  readonly attachArgs: ReadonlyArray<string>
  /** Runs on each new connection once attached, before it serves; `run` writes on that connection. */
  readonly setup: (run: Run) => Effect.Effect<void, TmuxError>
  /**
   * Each pane's output as it is read, synchronously and in order with the replies (see RunList's
   * `at`); it must return at once. Outputs go here only, not to onNotifications.
   */
  readonly onOutput?: (message: Extract<ControlMessage, { readonly _tag: "Output" }>) => void
  /** A pane's mode changed, as read: synchronously and in order with onOutput's outputs. Also among onNotifications'. */
  readonly onPaneModeChanged?: (paneId: string) => void
  /**
   * What the client wrote besides replies and outputs, per chunk read; never called with none. A
   * busy server's chunks hold outputs alone, most of them: they wake no fiber.
   */
  readonly onNotifications: (messages: ReadonlyArray<ControlMessage>) => Effect.Effect<void>
  readonly onUp: Effect.Effect<void>
  readonly onDown: (reason: string) => Effect.Effect<void>
  /** Count and time commands and reconnects in the tmux metrics (TmuxMetrics.ts); on unless false. */
  readonly metrics?: boolean
}

/**
 * `setpriv` where the system has it (util-linux): the kernel sends the client SIGTERM when the daemon
 * dies, however it dies. A client normally exits on the end of its input, but one killed daemon in
 * a few left a client attached to the hub for good (seen in the fleet's process test). Without
 * setpriv the client is started as it is.
 */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((candidate) => fs.existsSync(candidate))
const diesWithDaemon = (argv: ReadonlyArray<string>): [string, ...Array<string>] =>
  SETPRIV === undefined
    ? [argv[0]!, ...argv.slice(1)]
    : [SETPRIV, "--pdeathsig", "TERM", "--", ...argv]

/** Batches of notifications handed on and not yet handled before reading the client pauses. */
export const NOTIFICATION_BATCHES_MAX = 16

/** A running `tmux -C` client process, driven through node:child_process directly. */
interface ClientProcess {
  readonly pid: number
  /**
   * Writes at once (libuv tries the write before returning); lines written in one run of the
   * event loop's jobs go out in one write, flushed in a microtask.
   */
  readonly write: (bytes: Uint8Array) => void
  /** Attaches the readers; until then output waits in the pipe. */
  readonly start: () => void
  readonly pause: () => void
  readonly resume: () => void
  /** The last 2000 characters the client wrote to stderr. */
  readonly stderrTail: () => string
  readonly exited: () => boolean
  readonly awaitExit: Effect.Effect<void>
  readonly endInput: () => void
}

/**
 * Spawns the client in a process group of its own (so it can be signalled with what it started).
 * Not through the platform's CommandExecutor: its stdin sink and stdout stream hand every chunk
 * through fibers and the scheduler, which cost a keystroke milliseconds on its way to the pane and
 * its echo as much on the way back (measured with the terminal bench).
 */
const spawnClient = (
  file: string,
  args: ReadonlyArray<string>,
  handlers: { readonly onData: (chunk: Buffer) => void; readonly onEnd: () => void }
): Effect.Effect<ClientProcess, ControlConnectFailed> =>
  Effect.async<ClientProcess, ControlConnectFailed>((resume) => {
    let child: ChildProcess
    try {
      child = spawn(file, args, { detached: true, stdio: ["pipe", "pipe", "pipe"] })
    } catch (cause) {
      return resume(Effect.fail(new ControlConnectFailed({ reason: String(cause) })))
    }
    let stderr = ""
    let exited = false
    const exit = new Promise<void>((resolve) =>
      child.once("exit", () => {
        exited = true
        resolve()
      })
    )
    child.stderr!.on("data", (bytes: Buffer) => {
      stderr = (stderr + bytes.toString("utf8")).slice(-2000)
    })
    child.stdin!.on("error", () => {})
    child.stdout!.on("error", () => {})
    child.once("error", (cause) => {
      if (child.pid === undefined) resume(Effect.fail(new ControlConnectFailed({ reason: cause.message })))
    })
    child.once("spawn", () => {
      const stdin = child.stdin!
      const stdout = child.stdout!
      let corked = false
      /** Reading waits: for the notifications handed on to be handled (`pause`), or for the next turn. */
      let held = false
      let yielding = false
      const resumeIfFree = () => {
        if (!held && !yielding && stdout.isPaused()) stdout.resume()
      }
      resume(Effect.succeed({
        pid: child.pid!,
        write: (bytes) => {
          if (!stdin.writable) return
          if (!corked) {
            corked = true
            stdin.cork()
            queueMicrotask(() => {
              corked = false
              stdin.uncork()
            })
          }
          stdin.write(bytes)
        },
        start: () => {
          stdout.on("data", (chunk: Buffer) => {
            handlers.onData(chunk)
            // One read per turn of the event loop: the next waits until timers, sockets and fiber
            // work have had theirs (a pane writing flat out was otherwise read in a burst that left
            // the stream's writers and the collector behind). A lone read is handled at once.
            if (yielding) return
            yielding = true
            stdout.pause()
            setImmediate(() => {
              yielding = false
              resumeIfFree()
            })
          })
          stdout.once("close", handlers.onEnd)
        },
        pause: () => {
          held = true
          stdout.pause()
        },
        resume: () => {
          held = false
          resumeIfFree()
        },
        stderrTail: () => stderr,
        exited: () => exited,
        awaitExit: Effect.promise(() => exit),
        endInput: () => stdin.end()
      }))
    })
  })

/** One `tmux -C` client of the daemon, reconnected whenever it goes away. */
export interface ControlClient {
  readonly runList: RunList
  /** One command; a refusal is its typed failure. */
  readonly run: Run
  readonly isConnected: Effect.Effect<boolean>
  /** Connected, and the oldest command still waiting was sent less than `within` ago. */
  readonly isResponsive: (within: Duration.Duration) => Effect.Effect<boolean>
  /** Connected, and a command has waited longer than `within`: what is written now waits behind it. */
  readonly isStalled: (within: Duration.Duration) => Effect.Effect<boolean>
  readonly pid: Effect.Effect<Option.Option<number>>
}

class ControlConnectFailed extends Data.TaggedError("ControlConnectFailed")<{ readonly reason: string }> {
  override get message() {
    return `tmux control client could not connect: ${this.reason}`
  }
}

interface Pending {
  readonly commands: ReadonlyArray<ReadonlyArray<string>>
  /** The commands' names, for errors and logs. */
  readonly label: string
  /** Reply blocks the list answers when every command succeeds. */
  readonly expected: number
  readonly blocks: Array<ReadonlyArray<string>>
  readonly sentAt: number
  /** `performance.now()` when written, for the latency metric; undefined when metrics are off. */
  readonly measuredFrom: number | undefined
  readonly reply: Deferred.Deferred<ListReply, TmuxError>
  /** Called when the list is answered in full, in the order of what the client reads (RunList). */
  readonly at: (() => void) | undefined
  /** Per command, the body its reply is likely to repeat (RunList). */
  readonly previous: ReadonlyArray<ReadonlyArray<string> | undefined> | undefined
  /** Answered or timed out; a timed-out entry stays queued until its late blocks are read. */
  settled: boolean
}

interface Connection {
  readonly pid: number
  /** Lists written and not yet answered, oldest first; tmux answers a client in order. */
  readonly pending: Array<Pending>
  /** Writes a command line to the client's input at once (see `spawnClient`). */
  readonly write: (bytes: Uint8Array) => void
  readonly closed: Deferred.Deferred<string>
  readonly attached: Deferred.Deferred<void, ControlConnectFailed>
  /** Pokes the deadline keeper when a command is due before the time it sleeps until. */
  readonly wake: Queue.Queue<void>
  wakeAt: number
  /** Reply blocks to its commands the parser has begun and `handle` has not had yet (see previousBodyOf). */
  begun: number
  open: boolean
  ready: boolean
}

const notConnected = (command: string) =>
  new ControlChannelDown({ command, reason: "the control client is not connected", sent: false })

const labelOf = (commands: ReadonlyArray<ReadonlyArray<string>>) => commands.map(subcommandOf).join(" ; ")

/** The refusal that ended a list at reply block `block`, attributed to the command that answered it. */
const refusal = (entry: Pending, block: number, body: ReadonlyArray<string>) => {
  let seen = 0
  let args = entry.commands[entry.commands.length - 1] ?? []
  for (const command of entry.commands) {
    seen += replyBlocks(command)
    if (block < seen) {
      args = command
      break
    }
  }
  return commandFailure({
    command: subcommandOf(args),
    target: targetOf(args),
    exitCode: null,
    stderr: body.join("\n")
  })
}

/**
 * The previous body given for the `n`th reply block not yet handled (0: the next), in the order
 * tmux answers. A list cut short by a refusal shifts the blocks read in the same chunk after it:
 * they are given another command's body, which only costs their decoding (lines are reused only
 * when their bytes are the same).
 */
const previousBodyOf = (conn: Connection, n: number): ReadonlyArray<string> | undefined => {
  for (const entry of conn.pending) {
    const remaining = entry.expected - entry.blocks.length
    if (n < remaining) {
      // a block per command (no if-shell): the block's index is its command's
      return entry.previous !== undefined && entry.expected === entry.commands.length
        ? entry.previous[entry.blocks.length + n]
        : undefined
    }
    n -= remaining
  }
  return undefined
}

const settle = (entry: Pending, exit: Exit.Exit<ListReply, TmuxError>) => {
  if (entry.settled) return
  entry.settled = true
  const from = entry.measuredFrom
  const result = from === undefined ? undefined : TmuxMetrics.resultOf(exit, (reply) => Option.isNone(reply.refused))
  if (from !== undefined && result !== undefined) {
    TmuxMetrics.recordCommand(
      subcommandOf(entry.commands[0] ?? []),
      "control",
      result,
      (performance.now() - from) / 1000
    )
  }
  Deferred.unsafeDone(entry.reply, exit)
}

const encoder = new TextEncoder()

/**
 * A control client: spawns `tmux -C`, writes command lists, pairs each with its reply blocks,
 * times them out, detects a hung client, and reconnects with a backoff that resets after success.
 */
export const makeControlClient = (
  options: ControlClientOptions
): Effect.Effect<ControlClient, never, Scope.Scope> =>
  Effect.gen(function*() {
    const timeoutMillis = Duration.toMillis(options.commandTimeout)
    const hangMillis = Duration.toMillis(options.hangTimeout)
    const current = yield* Ref.make(Option.none<Connection>())
    const firstAttempt = yield* Deferred.make<void>()
    const tmuxProcess = makeTmuxProcess({
      socket: options.socket,
      tmuxBinary: options.tmuxBinary,
      metrics: options.metrics ?? true
    })
    const logged = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.annotateLogs(effect, { client: options.role })
    const measure = options.metrics ?? true
    let connectedBefore = false

    // Every client of the daemon attaches to the hub: it must exist first.
    const ensureHub = Effect.gen(function*() {
      const result = yield* tmuxProcess.exec(hubSessionArgs(HUB_IDLE_COMMAND)).pipe(
        Effect.mapError((e) => new ControlConnectFailed({ reason: e.message }))
      )
      if (result.exitCode !== 0 && !isDuplicateSession(result.stderr)) {
        return yield* new ControlConnectFailed({ reason: `creating the hub session: ${result.stderr.trim()}` })
      }
    })

    const send = (
      conn: Connection,
      commands: ReadonlyArray<ReadonlyArray<string>>,
      at?: () => void,
      previous?: ReadonlyArray<ReadonlyArray<string> | undefined>
    ): Effect.Effect<ListReply, TmuxError> =>
      Effect.gen(function*() {
        const label = labelOf(commands)
        if (!conn.open) {
          return yield* new ControlChannelDown({
            command: label,
            reason: "the control client is reconnecting",
            sent: false
          })
        }
        if (conn.pending.length >= CONTROL_PENDING_MAX) {
          return yield* new TmuxCommandFailed({
            command: label,
            exitCode: null,
            stderr: `${CONTROL_PENDING_MAX} commands already wait for tmux on the control channel`
          })
        }
        const reply = yield* Deferred.make<ListReply, TmuxError>()
        const sentAt = yield* Clock.currentTimeMillis
        const expected = commands.reduce((n, args) => n + replyBlocks(args), 0)
        // No yield between these two: the pending order must be the order the lines are written in.
        const measuredFrom = measure ? performance.now() : undefined
        conn.pending.push({
          commands,
          label,
          expected,
          blocks: [],
          sentAt,
          measuredFrom,
          reply,
          at,
          previous,
          settled: false
        })
        conn.write(encoder.encode(commandListLine(commands) + "\n"))
        if (sentAt + timeoutMillis < conn.wakeAt) {
          conn.wakeAt = sentAt + timeoutMillis
          Queue.unsafeOffer(conn.wake, undefined)
        }
        return yield* Deferred.await(reply)
      })

    const single = (list: RunList): Run => (args) =>
      Effect.flatMap(list([args]), (reply) =>
        Option.match(reply.refused, {
          onSome: Effect.fail,
          onNone: () => Effect.succeed(reply.blocks[0] ?? [])
        }))

    const runList: RunList = (commands, at, previous) =>
      Effect.flatMap(Ref.get(current), (conn) =>
        Option.isSome(conn)
          ? send(conn.value, commands, at, previous)
          : Effect.fail(notConnected(labelOf(commands))))

    /** Pairs replies with what waits for them; returns the messages that are not replies. */
    const handle = (conn: Connection, messages: ReadonlyArray<ControlMessage>): Array<ControlMessage> => {
      const others: Array<ControlMessage> = []
      for (const message of messages) {
        switch (message._tag) {
          case "Reply": {
            if (message.flags === "1" && conn.begun > 0) conn.begun--
            if (message.flags !== "1") {
              // The block of attach-session itself, from the client's command line.
              Deferred.unsafeDone(
                conn.attached,
                message.ok ? Exit.void : Exit.fail(new ControlConnectFailed({ reason: message.body.join("\n") }))
              )
              break
            }
            const entry = conn.pending[0]
            if (entry === undefined) {
              break
            }
            if (message.ok) {
              entry.blocks.push(message.body)
              if (entry.blocks.length < entry.expected) {
                break
              }
              conn.pending.shift()
              if (!entry.settled && entry.at !== undefined) {
                entry.at()
              }
              settle(entry, Exit.succeed({ blocks: entry.blocks, refused: Option.none() }))
            } else {
              // The first failure ends the list: tmux skips the commands after it.
              conn.pending.shift()
              settle(
                entry,
                Exit.succeed({
                  blocks: entry.blocks,
                  refused: Option.some(refusal(entry, entry.blocks.length, message.body))
                })
              )
            }
            break
          }
          case "Exit":
            Deferred.unsafeDone(
              conn.closed,
              Exit.succeed(`tmux control client exited${message.reason ? `: ${message.reason}` : ""}`)
            )
            break
          case "Output":
            options.onOutput?.(message)
            break
          case "PaneModeChanged":
            options.onPaneModeChanged?.(message.paneId)
            others.push(message)
            break
          default:
            others.push(message)
        }
      }
      return others
    }

    /** End of input first (the client exits on EOF), then SIGTERM, then SIGKILL; always reaped. */
    const stop = (client: ClientProcess) =>
      Effect.gen(function*() {
        if (client.exited()) {
          return
        }
        client.endInput()
        // A client exits on EOF within a few ms; one that does not (a frozen tmux server) must not
        // hold the daemon's exit: SIGTERM soon, and KILL_GRACE only before SIGKILL.
        // Finalizers are uninterruptible: without `interruptible` the bound could not cut the wait short.
        for (const [sig, wait] of [["SIGTERM", EOF_GRACE], ["SIGKILL", KILL_GRACE]] as const) {
          const exited = yield* Effect.interruptible(client.awaitExit).pipe(Effect.timeoutOption(wait))
          if (Option.isSome(exited)) {
            return
          }
          yield* signalGroup(client.pid, sig)
        }
        yield* client.awaitExit
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
            return yield* Deferred.succeed(
              conn.closed,
              `tmux did not answer for ${Duration.format(options.hangTimeout)}`
            )
          }
          let due: Pending | undefined
          for (const entry of conn.pending) {
            if (entry.settled) {
              continue
            }
            if (now - entry.sentAt < timeoutMillis) {
              due = entry
              break
            }
            settle(entry, Exit.fail(new TmuxTimeout({ command: entry.label, timeout: options.commandTimeout })))
          }
          conn.wakeAt = Math.min(
            oldest === undefined ? Infinity : oldest.sentAt + hangMillis,
            due === undefined ? Infinity : due.sentAt + timeoutMillis
          )
          if (conn.wakeAt === Infinity) {
            yield* Queue.take(conn.wake)
          } else yield* takeWithin(conn.wake, conn.wakeAt - now)
        }
      })

    /** Marks the connection gone: fails what waits on it and tells the owner if it had been up. */
    const close = (conn: Connection, reason: string, shutdown: boolean) =>
      Effect.gen(function*() {
        conn.open = false
        for (const entry of conn.pending.splice(0)) {
          settle(entry, Exit.fail(new ControlChannelDown({ command: entry.label, reason, sent: true })))
        }
        yield* Ref.update(current, (c) => (Option.isSome(c) && c.value === conn ? Option.none() : c))
        if (conn.ready) {
          conn.ready = false
          yield* options.onDown(reason)
          yield* logged(
            (shutdown ? Effect.logDebug : Effect.logWarning)("tmux control channel down").pipe(
              Effect.annotateLogs({ reason })
            )
          )
        }
      })

    /** One connection, from spawning the client to its end; fails only while connecting. */
    const connection = Effect.gen(function*() {
      yield* ensureHub
      const [file, ...args] = diesWithDaemon([options.tmuxBinary, ...tmuxArgv(options.socket, options.attachArgs)])
      // Read in the stream's own callback, not through a fiber: replies settle and pane output
      // reaches `onOutput` in the same event-loop turn as the bytes arrive. What else the client
      // wrote goes to `onNotifications` in order (then its end, as `null`); reading pauses while
      // that falls behind.
      const parser = makeControlParser({
        previousBody: () => {
          const conn = opened.conn
          return conn === undefined ? undefined : previousBodyOf(conn, conn.begun++)
        }
      })
      const notifications = yield* Queue.unbounded<ReadonlyArray<ControlMessage> | null>()
      let waiting = 0
      // The connection is made once the client runs; its output is read only after (`start`).
      const opened: { conn?: Connection } = {}
      // acquired uninterruptibly: a client spawned is always stopped and reaped with the connection
      const client = yield* Effect.acquireRelease(
        spawnClient(file, args, {
          onData: (chunk) => {
            const others = handle(opened.conn!, parser.push(chunk))
            if (others.length === 0) {
              return
            }
            waiting++
            Queue.unsafeOffer(notifications, others)
            if (waiting >= NOTIFICATION_BATCHES_MAX) {
              client.pause()
            }
          },
          onEnd: () => Queue.unsafeOffer(notifications, null)
        }),
        stop
      )
      const conn: Connection = {
        pid: client.pid,
        pending: [],
        write: client.write,
        closed: yield* Deferred.make<string>(),
        attached: yield* Deferred.make<void, ControlConnectFailed>(),
        wake: yield* Queue.sliding<void>(1),
        wakeAt: Infinity,
        begun: 0,
        open: true,
        ready: false
      }
      opened.conn = conn
      client.start()
      const ended = Effect.suspend(() => {
        const stderr = client.stderrTail().trim()
        return Deferred.succeed(conn.closed, `tmux control client exited${stderr ? `: ${stderr}` : ""}`).pipe(
          Effect.zipRight(
            Deferred.fail(
              conn.attached,
              new ControlConnectFailed({ reason: stderr || "client exited before attaching" })
            )
          )
        )
      })
      yield* Effect.forkScoped(
        Queue.take(notifications).pipe(
          Effect.flatMap((messages) =>
            messages === null
              ? Effect.zipRight(ended, Effect.never)
              : Effect.ensuring(
                options.onNotifications(messages),
                Effect.sync(() => {
                  if (--waiting < NOTIFICATION_BATCHES_MAX) {
                    client.resume()
                  }
                })
              )
          ),
          Effect.forever
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
          duration: options.commandTimeout,
          onTimeout: () => new ControlConnectFailed({ reason: "attach-session did not answer" })
        })
      )
      yield* Effect.forkScoped(keepDeadlines(conn))

      yield* Ref.set(current, Option.some(conn))
      yield* options.setup(single((commands) => send(conn, commands))).pipe(
        Effect.mapError((e) => new ControlConnectFailed({ reason: e.message }))
      )
      conn.ready = true
      if (connectedBefore && measure) TmuxMetrics.recordReconnect(options.role)
      connectedBefore = true
      yield* options.onUp
      yield* Deferred.succeed(firstAttempt, undefined)
      yield* logged(Effect.logInfo("tmux control channel up").pipe(Effect.annotateLogs({ pid: conn.pid })))
      return yield* Deferred.await(conn.closed)
    })

    // Only connecting is retried: a connection that served and then ended starts a fresh schedule.
    const serve = Effect.scoped(connection).pipe(
      Effect.tapError((e) =>
        Effect.zipRight(Deferred.succeed(firstAttempt, undefined), logged(Effect.logWarning(e.message, e)))
      ),
      Effect.retry(reconnectBackoff(CONTROL_RECONNECT_BASE, CONTROL_RECONNECT_MAX)),
      Effect.zipRight(Effect.sleep(CONTROL_RECONNECT_BASE)),
      Effect.forever
    )
    /** Whether the oldest command still waiting (or a timed-out one not yet answered) was sent longer than `within` ago. */
    const waitedLonger = (conn: Connection, within: Duration.Duration) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const oldest = conn.pending.find((entry) => !entry.settled) ?? conn.pending[0]
        return oldest !== undefined && now - oldest.sentAt >= Duration.toMillis(within)
      })

    yield* Effect.forkScoped(serve)
    // Start-up waits for the first attempt so the daemon begins on a live channel when tmux is fine.
    yield* Deferred.await(firstAttempt).pipe(
      Effect.timeoutOption(Duration.sum(TMUX_COMMAND_TIMEOUT, options.commandTimeout))
    )

    return {
      runList,
      run: single(runList),
      isConnected: Effect.map(Ref.get(current), (conn) => Option.isSome(conn) && conn.value.ready),
      isResponsive: (within) =>
        Effect.gen(function*() {
          const conn = yield* Ref.get(current)
          if (Option.isNone(conn) || !conn.value.ready) return false
          return !(yield* waitedLonger(conn.value, within))
        }),
      isStalled: (within) =>
        Effect.flatMap(
          Ref.get(current),
          (conn) => Option.isSome(conn) && conn.value.ready ? waitedLonger(conn.value, within) : Effect.succeed(false)
        ),
      pid: Effect.map(Ref.get(current), Option.map((conn) => conn.pid))
    } satisfies ControlClient
  })
