/**
 * Where the daemon is and what token it wants, found through the daemon's own configuration
 * names (TELEMUX_HOME, TELEMUX_HOST, TELEMUX_PORT, TELEMUX_TMUX_SOCKET, --config / TELEMUX_CONFIG),
 * so the CLI and the daemon it talks to always agree.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Option, Redacted } from "effect"
import * as fs from "node:fs/promises"
import * as ConfigLive from "../../layers/TelemuxConfigLive.js"
import { TelemuxConfig, type TelemuxSettings } from "../../services/TelemuxConfig.js"
import { STREAM_PATH } from "../api/StreamProtocol.js"
import { LocalFailure, UsageError } from "./CliError.js"

export interface DaemonAddress {
  /** `http://127.0.0.1:4780` */
  readonly baseUrl: string
  /** `ws://127.0.0.1:4780/v1/stream` */
  readonly streamUrl: string
  /** `127.0.0.1:4780`, for messages. */
  readonly display: string
  readonly tokenPath: string
}

/** A wildcard bind is reached on loopback; an IPv6 literal needs brackets in a URL. */
export const connectHost = (bindHost: string): string => {
  const host = bindHost.trim()
  if (host === "0.0.0.0" || host === "") return "127.0.0.1"
  if (host === "::" || host === "[::]") return "[::1]"
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host
}

export const addressOf = (settings: Pick<TelemuxSettings, "host" | "port" | "tokenPath">): DaemonAddress => {
  const display = `${connectHost(settings.host)}:${settings.port}`
  return {
    baseUrl: `http://${display}`,
    streamUrl: `ws://${display}${STREAM_PATH}`,
    display,
    tokenPath: settings.tokenPath
  }
}

const errnoCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

/** The token the daemon wrote; none when the file does not exist (the daemon never started here). */
export const readToken = (tokenPath: string): Effect.Effect<Option.Option<Redacted.Redacted<string>>, LocalFailure> =>
  Effect.tryPromise({
    try: () => fs.readFile(tokenPath, "utf8"),
    catch: (cause) => cause
  }).pipe(
    Effect.map((text) => text.trim() === "" ? Option.none() : Option.some(Redacted.make(text.trim()))),
    Effect.catchAll((cause) =>
      errnoCode(cause) === "ENOENT"
        ? Effect.succeed(Option.none())
        : Effect.fail(new LocalFailure({ detail: `cannot read the token file ${tokenPath}: ${String(cause)}` }))
    )
  )

/** The settings the daemon would use, from the environment and the optional config file. */
export const loadSettings = (
  configFile: Option.Option<string>
): Effect.Effect<TelemuxSettings, UsageError, FileSystem.FileSystem> =>
  TelemuxConfig.pipe(
    Effect.provide(ConfigLive.layer({ configFile: Option.getOrUndefined(configFile) })),
    Effect.mapError((error) => new UsageError({ detail: error.message }))
  )
