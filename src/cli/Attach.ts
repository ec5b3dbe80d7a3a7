/**
 * `telemux attach`: three ways to a session's terminal (chooseAttachWay). `stream` is
 * src/cli/StreamAttach.ts; `tmux` and `ssh` hand the terminal to tmux. A session on this computer is attached with
 * `tmux -L <socket> attach -t =<tmuxName>`; one on another computer through
 * `ssh -t [<user>@]<host> tmux -L <socket> attach -t =<tmuxName>`: as the user its daemon runs
 * as (tmux servers are per user), with the socket name of this computer's configuration (the
 * fleet's computers share it; `/v1/computers` does not say). The child inherits stdin, stdout and stderr and runs synchronously: while it runs this
 * process does nothing else, which is what the TUI needs to hand over the terminal cleanly.
 *
 * Attaching is interactive and has no deadline; it ends when the person detaches.
 */
import { Effect, Either, Option } from "effect"
import { spawnSync } from "node:child_process"
import type { Computer } from "../domain/Computer.js"
import type { Session } from "../domain/Session.js"
import { ChildExit, LocalFailure, RequestRefused, UsageError } from "./CliError.js"

/**
 * `tmux`: `tmux attach` on this computer. `ssh`: `ssh -t host tmux attach` to the computer that
 * runs the session (ssh access to it: keys, its host key known). `stream`: the daemon's terminal
 * stream in this terminal, no ssh needed.
 */
export const ATTACH_WAYS = ["tmux", "ssh", "stream"] as const
export type AttachWay = typeof ATTACH_WAYS[number]

const isAttachWay = (text: string): text is AttachWay => (ATTACH_WAYS as ReadonlyArray<string>).includes(text)

export interface AttachWayChoice {
  /** `--via`: must apply to the session, else refused. */
  readonly via: Option.Option<AttachWay>
  /** TELEMUX_ATTACH_VIA: the preferred way where it applies (ssh to a remote session, tmux to a local one, stream to any). */
  readonly preferred: string | undefined
  /** The session runs on this computer. */
  readonly local: boolean
}

/**
 * How to attach: `--via`, else TELEMUX_ATTACH_VIA where it applies, else tmux for a session of this
 * computer and the stream for one of another (ssh needs keys and a known host; the stream does not).
 */
export const chooseAttachWay = (choice: AttachWayChoice): Either.Either<AttachWay, UsageError> => {
  const applies = (way: AttachWay) => way === "stream" || (way === "tmux") === choice.local
  if (Option.isSome(choice.via)) {
    const way = choice.via.value
    if (applies(way)) return Either.right(way)
    return Either.left(
      new UsageError({
        detail: way === "tmux"
          ? "--via tmux attaches sessions of this computer only; this one runs on another: leave --via out " +
            "(the stream) or give --via ssh"
          : "--via ssh attaches sessions of other computers; this one runs here: leave --via out (tmux) or " +
            "give --via stream"
      })
    )
  }
  const preferred = (choice.preferred ?? "").trim()
  if (preferred !== "") {
    if (!isAttachWay(preferred)) {
      return Either.left(
        new UsageError({
          detail: `TELEMUX_ATTACH_VIA is "${preferred}": set it to ${ATTACH_WAYS.join(", ")}, or unset it`
        })
      )
    }
    if (applies(preferred)) return Either.right(preferred)
  }
  return Either.right(choice.local ? "tmux" : "stream")
}

export interface AttachTarget {
  readonly session: Pick<Session, "sessionId" | "computer" | "tmuxName" | "status">
  /** This computer's name (the daemon's `/health`). */
  readonly localComputer: string
  /** The fleet's computers (`GET /v1/computers`), for a remote session's host. */
  readonly computers: ReadonlyArray<Pick<Computer, "name" | "host" | "user">>
  readonly tmuxSocket: string
}

/** The command that attaches, as argv; fails for a closed session or an unknown computer. */
export const attachCommand = (target: AttachTarget): Effect.Effect<ReadonlyArray<string>, RequestRefused> => {
  const { session } = target
  if (session.status === "closed") {
    return Effect.fail(new RequestRefused({ detail: `session ${session.sessionId} is closed; nothing to attach to` }))
  }
  const tmux = ["tmux", "-L", target.tmuxSocket, "attach-session", "-t", `=${session.tmuxName}`]
  if (session.computer === target.localComputer) return Effect.succeed(tmux)
  const computer = target.computers.find((c) => c.name === session.computer)
  if (computer === undefined || computer.host.trim() === "") {
    return Effect.fail(
      new RequestRefused({ detail: `session ${session.sessionId} is on ${session.computer}, whose host is not known` })
    )
  }
  const user = computer.user.trim()
  const destination = user === "" || user === "unknown" ? computer.host : `${user}@${computer.host}`
  return Effect.succeed(["ssh", "-t", destination, ...tmux])
}

/**
 * Runs `argv` with this terminal, waiting for it; a non-zero status becomes ChildExit with it.
 * `TMUX` is dropped from its environment: attaching to telemux's own tmux server from inside
 * another tmux is intended, and tmux would otherwise refuse to nest.
 */
export const runAttached = (
  argv: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv
): Effect.Effect<void, ChildExit | LocalFailure> =>
  Effect.suspend((): Effect.Effect<void, ChildExit | LocalFailure> => {
    const { TMUX: _ignored, ...rest } = env
    const result = spawnSync(argv[0]!, argv.slice(1), { stdio: "inherit", env: rest })
    if (result.error !== undefined) {
      return Effect.fail(new LocalFailure({ detail: `could not start ${argv[0]}: ${result.error.message}` }))
    }
    if (result.status === 0) return Effect.void
    return Effect.fail(new ChildExit({ code: result.status ?? 128 + 1 }))
  })

/** How long tmux shows the detach hint in its status line after attaching. */
export const DETACH_HINT_MILLIS = 4000

/** `C-b` as a person reads it: `Ctrl+b`. */
const readableKey = (tmuxKey: string): string => tmuxKey.replace(/^C-/, "Ctrl+").replace(/^M-/, "Alt+")

/**
 * The prefix key of the tmux server on `socket` (`C-b` unless configured), asked with a short
 * deadline; `C-b`, tmux's default, when it cannot say.
 */
export const tmuxPrefix = (socket: string, env: NodeJS.ProcessEnv): string => {
  const { TMUX: _ignored, ...rest } = env
  const result = spawnSync("tmux", ["-L", socket, "show-options", "-gv", "prefix"], {
    env: rest,
    timeout: 2000,
    encoding: "utf8"
  })
  const prefix = result.status === 0 ? result.stdout.trim() : ""
  return /^\S+$/.test(prefix) && prefix !== "None" ? prefix : "C-b"
}

/** The one line that tells a person how to come back: the prefix, then d. */
export const detachHint = (prefix: string): string => `telemux: detach with ${readableKey(prefix)} then d`

/**
 * `argv` (from attachCommand) followed by a tmux `display-message` of `hint` on the client that
 * attaches: the line shows in tmux's status line for a few seconds. Through ssh the remote shell
 * reads the command, so the separator and the message are quoted for it.
 */
export const withDetachHint = (argv: ReadonlyArray<string>, hint: string): ReadonlyArray<string> => {
  const display = ["display-message", "-d", String(DETACH_HINT_MILLIS)]
  if (argv[0] === "ssh") return [...argv, "\\;", ...display, `'${hint.replace(/'/g, "")}'`]
  return [...argv, ";", ...display, hint]
}

/**
 * What tmux (and ssh) leave on the terminal's normal screen once the attach ends: tmux's
 * `[detached (from session …)]` or `[exited]` line, and ssh's `Connection to … closed.` Erased
 * after the attach (the cursor goes up that many lines, and everything below goes), so that
 * quitting the UI later does not reveal them.
 */
export const attachLeftovers = (argv: ReadonlyArray<string>, succeeded: boolean): string => {
  const lines = argv[0] === "ssh" && succeeded ? 2 : 1
  return `\x1b[${lines}F\x1b[J`
}
