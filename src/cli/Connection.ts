/**
 * Where the daemon is and what token it wants, found through the daemon's own configuration
 * names (TELEMUX_HOME, TELEMUX_HOST, TELEMUX_PORT, TELEMUX_TMUX_SOCKET, --config / TELEMUX_CONFIG),
 * so the CLI and the daemon it talks to always agree. HTTPS when the daemon's TELEMUX_TLS_CERT is
 * set; TELEMUX_URL names the daemon outright (`https://box.example.ts.net:4780`, a name its
 * certificate holds). For HTTPS the system's CAs are trusted (and NODE_EXTRA_CA_CERTS), plus
 * TELEMUX_TLS_CA (a PEM file) when set, else the daemon's own certificate (TELEMUX_TLS_CERT, when
 * readable: a self-signed one is then trusted on the machine that has it).
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Either, Option, Redacted } from "effect"
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
  /** PEM certificates trusted besides the system's for an `https` daemon (see above). */
  readonly ca?: string | undefined
}

/** A wildcard bind is reached on loopback; an IPv6 literal needs brackets in a URL. */
export const connectHost = (bindHost: string): string => {
  const host = bindHost.trim()
  if (host === "0.0.0.0" || host === "") return "127.0.0.1"
  if (host === "::" || host === "[::]") return "[::1]"
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host
}

export const addressOf = (
  settings: Pick<TelemuxSettings, "host" | "port" | "tokenPath"> & { readonly tls?: TelemuxSettings["tls"] },
  options: { readonly url?: URL | undefined; readonly ca?: string | undefined } = {}
): DaemonAddress => {
  const secure = options.url === undefined
    ? settings.tls !== undefined && Option.isSome(settings.tls)
    : options.url.protocol === "https:"
  const display = options.url === undefined ? `${connectHost(settings.host)}:${settings.port}` : options.url.host
  return {
    baseUrl: `${secure ? "https" : "http"}://${display}`,
    streamUrl: `${secure ? "wss" : "ws"}://${display}${STREAM_PATH}`,
    display,
    tokenPath: settings.tokenPath,
    ...(secure && options.ca !== undefined ? { ca: options.ca } : {})
  }
}

/** TELEMUX_URL: `http(s)://host[:port]`, nothing after the port (the API's paths are the CLI's). */
export const parseDaemonUrl = (text: string): Either.Either<URL, UsageError> => {
  const refused = new UsageError({
    detail: `TELEMUX_URL ${JSON.stringify(text)} is not a daemon's address: give http(s)://host:port, ` +
      "e.g. https://box.example.ts.net:4780"
  })
  if (!URL.canParse(text)) return Either.left(refused)
  const url = new URL(text)
  const bare = (url.pathname === "/" || url.pathname === "") && url.search === "" && url.hash === "" &&
    url.username === "" && url.password === ""
  return (url.protocol === "http:" || url.protocol === "https:") && bare ? Either.right(url) : Either.left(refused)
}

/**
 * The address from the settings and the CLI's environment (TELEMUX_URL, TELEMUX_TLS_CA): the CA
 * file named by TELEMUX_TLS_CA must be readable; the daemon's own certificate is used when it is.
 */
export const resolveAddress = (
  settings: TelemuxSettings,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<DaemonAddress, UsageError> =>
  Effect.gen(function*() {
    const urlText = env.TELEMUX_URL?.trim()
    const url = urlText === undefined || urlText === "" ? undefined : yield* parseDaemonUrl(urlText)
    const caPath = env.TELEMUX_TLS_CA?.trim()
    const ca = caPath !== undefined && caPath !== ""
      ? yield* Effect.tryPromise({
        try: () => fs.readFile(caPath, "utf8"),
        catch: (cause) =>
          new UsageError({
            detail: `cannot read TELEMUX_TLS_CA ${caPath}: ${String(cause)}; it names the PEM file of the CA ` +
              "(or the self-signed certificate) the daemon's certificate is signed with"
          })
      })
      : yield* Option.match(settings.tls, {
        onNone: () => Effect.succeed(undefined),
        onSome: (tls) =>
          Effect.orElseSucceed(Effect.tryPromise(() => fs.readFile(tls.certPath, "utf8")), () => undefined)
      })
    // node reads NODE_EXTRA_CA_CERTS into its default trust, which a CA list of our own replaces: keep it
    const extra = env.NODE_EXTRA_CA_CERTS?.trim()
    const extraCa = ca === undefined || extra === undefined || extra === ""
      ? undefined
      : yield* Effect.orElseSucceed(Effect.tryPromise(() => fs.readFile(extra, "utf8")), () => undefined)
    return addressOf(settings, { url, ca: extraCa === undefined ? ca : `${ca}\n${extraCa}` })
  })

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
