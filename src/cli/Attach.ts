/**
 * `telemux attach`: hand the terminal to tmux. A session on this computer is attached with
 * `tmux -L <socket> attach -t =<tmuxName>`; one on another computer through
 * `ssh -t [<user>@]<host> tmux -L <socket> attach -t =<tmuxName>`: as the user its daemon runs
 * as (tmux servers are per user), with the socket name of this computer's configuration (the
 * fleet's computers share it; `/v1/computers` does not say). The child inherits stdin, stdout and stderr and runs synchronously: while it runs this
 * process does nothing else, which is what the TUI needs to hand over the terminal cleanly.
 *
 * Attaching is interactive and has no deadline; it ends when the person detaches.
 */
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import type { Computer } from "../domain/Computer.js"
import type { Session } from "../domain/Session.js"
import { ChildExit, LocalFailure, RequestRefused } from "./CliError.js"

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
