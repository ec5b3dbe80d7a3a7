/**
 * What a person who started the daemon in a terminal reads first: its version and where it keeps
 * its state as it starts, then, once it serves, its URL, the token file and what to do next. Written
 * to stderr, and only when stderr is a terminal: the logs (stdout) stay as they are for machines,
 * and a daemon under systemd or with its output in a file prints none of it. The same facts are in
 * the `telemux ready` log line.
 */
import { Effect, Option } from "effect"
import type { TelemuxSettings } from "../services/TelemuxConfig.js"
import { VERSION } from "../src/Version.js"

const urlHost = (host: string) => (host.includes(":") ? `[${host}]` : host)

export const daemonUrl = (settings: TelemuxSettings, port: number) =>
  `${Option.isSome(settings.tls) ? "https" : "http"}://${urlHost(settings.host)}:${port}`

export const startingLines = (settings: TelemuxSettings): ReadonlyArray<string> => [
  `telemux ${VERSION} starting — computer ${settings.computer}, state dir ${settings.home}`
]

export const readyLines = (settings: TelemuxSettings, port: number): ReadonlyArray<string> => [
  `telemux ${VERSION} is ready at ${daemonUrl(settings, port)}`,
  `  API token: ${settings.tokenPath} (the CLI and TUI read it from there)`,
  "  next: in another terminal run `telemux doctor`, then `telemux new .` and `telemux tui`",
  "  web dashboard: `telemux web` opens a sign-in link",
  "  stop: Ctrl+C (sessions keep running in tmux and are found again at the next start)"
]

const toPerson = (lines: ReadonlyArray<string>) =>
  Effect.sync(() => {
    if (process.stderr.isTTY === true) process.stderr.write(`${lines.join("\n")}\n`)
  })

export const announceStarting = (settings: TelemuxSettings) => toPerson(startingLines(settings))

export const announceReady = (settings: TelemuxSettings, port: number) =>
  Effect.zipRight(
    Effect.logInfo("telemux ready").pipe(
      Effect.annotateLogs({ url: daemonUrl(settings, port), tokenPath: settings.tokenPath, version: VERSION })
    ),
    toPerson(readyLines(settings, port))
  )
