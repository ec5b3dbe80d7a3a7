import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Clock, Duration, Effect, Layer, Option, Redacted, Ref } from "effect"
import * as crypto from "node:crypto"
import * as path from "node:path"
import { AuthToken, TOKEN_BYTES, TOKEN_RECHECK_INTERVAL, TokenError } from "../services/AuthToken.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"

/** Characters a bearer token may hold (RFC 6750 token68); short tokens are refused as guessable. */
const TOKEN_PATTERN = /^[A-Za-z0-9._~+/=-]{32,1024}$/

const isReason = (reason: string) => (error: PlatformError): boolean =>
  error._tag === "SystemError" && error.reason === reason

const tokenError = (tokenPath: string, what: string) => (cause: PlatformError) =>
  new TokenError({ path: tokenPath, message: `${what}: ${cause.message}`, cause })

/** Creates the token file only if it does not exist yet, so a concurrent start never overwrites it. */
const createTokenFile = (fs: FileSystem.FileSystem, tokenPath: string) =>
  Effect.gen(function*() {
    yield* fs.makeDirectory(path.dirname(tokenPath), { recursive: true, mode: 0o700 }).pipe(
      Effect.mapError(tokenError(tokenPath, "cannot create the token directory"))
    )
    const temp = `${tokenPath}.${crypto.randomBytes(6).toString("hex")}.tmp`
    const token = crypto.randomBytes(TOKEN_BYTES).toString("hex")
    const created = yield* Effect.ensuring(
      Effect.gen(function*() {
        yield* fs.writeFileString(temp, token + "\n", { mode: 0o600, flag: "wx" }).pipe(
          Effect.mapError(tokenError(tokenPath, "cannot write the token file"))
        )
        // link, unlike rename, fails when the target exists: the first writer wins.
        return yield* fs.link(temp, tokenPath).pipe(
          Effect.as(true),
          Effect.catchIf(isReason("AlreadyExists"), () => Effect.succeed(false)),
          Effect.mapError(tokenError(tokenPath, "cannot install the token file"))
        )
      }),
      Effect.orDie(fs.remove(temp, { force: true }))
    )
    if (created) yield* Effect.logInfo("generated a new API token").pipe(Effect.annotateLogs({ path: tokenPath }))
  })

const readTokenFile = (fs: FileSystem.FileSystem, tokenPath: string) =>
  Effect.gen(function*() {
    const stat = yield* fs.stat(tokenPath).pipe(Effect.mapError(tokenError(tokenPath, "cannot inspect the token file")))
    if (stat.type !== "File") {
      return yield* new TokenError({ path: tokenPath, message: `${tokenPath} is not a regular file` })
    }
    if ((stat.mode & 0o077) !== 0) {
      yield* fs.chmod(tokenPath, 0o600).pipe(
        Effect.mapError(tokenError(tokenPath, "cannot restrict the token file to its owner"))
      )
      yield* Effect.logWarning("the token file was readable by others; its mode is now 0600").pipe(
        Effect.annotateLogs({ path: tokenPath, previousMode: (stat.mode & 0o777).toString(8) })
      )
    }
    const token = (yield* fs.readFileString(tokenPath, "utf8").pipe(
      Effect.mapError(tokenError(tokenPath, "cannot read the token file"))
    )).trim()
    if (token === "") {
      return yield* new TokenError({
        path: tokenPath,
        message: `the token file ${tokenPath} is empty; delete it to have a new token generated`
      })
    }
    if (!TOKEN_PATTERN.test(token)) {
      return yield* new TokenError({
        path: tokenPath,
        message:
          `the token file ${tokenPath} does not hold a token (32 to 1024 characters of A-Z a-z 0-9 . _ ~ + / = -); ` +
          "delete it to have a new token generated"
      })
    }
    return token
  })

const digest = (value: string) => crypto.createHash("sha256").update(value, "utf8").digest()

export const make = (tokenPath: string): Effect.Effect<AuthToken["Type"], TokenError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // a dangling link reads as missing here; creating over it fails to link and reading it says why
    const exists = yield* fs.access(tokenPath).pipe(
      Effect.as(true),
      Effect.catchIf(isReason("NotFound"), () => Effect.succeed(false)),
      Effect.mapError(tokenError(tokenPath, "cannot inspect the token file"))
    )
    if (!exists) yield* createTokenFile(fs, tokenPath)
    /** Which version of the file is there (a rotation replaces the file); the platform's mtime is in whole ms. */
    const versionOf = fs.stat(tokenPath).pipe(
      Effect.map((stat) =>
        `${Option.getOrElse(stat.ino, () => 0)}:${
          Option.match(stat.mtime, { onNone: () => 0, onSome: (d) => d.getTime() })
        }:${stat.size}`
      )
    )
    const version = yield* versionOf.pipe(Effect.mapError(tokenError(tokenPath, "cannot inspect the token file")))
    const token = yield* readTokenFile(fs, tokenPath)
    /** The token as last read, its digest, and which file version it came from. */
    const loaded = yield* Ref.make({ version, token, digest: digest(token) })
    /** When the file was last looked at (epoch ms); claimed before the look, so one request looks, not all. */
    const checkedAt = yield* Ref.make(yield* Clock.currentTimeMillis)
    const recheckMillis = Duration.toMillis(TOKEN_RECHECK_INTERVAL)

    /** Re-reads the file when it changed (`telemux token --rotate`); a file that became unreadable keeps the last good token. */
    const reload = Effect.gen(function*() {
      yield* Ref.set(checkedAt, yield* Clock.currentTimeMillis)
      const now = yield* Effect.option(versionOf)
      const state = yield* Ref.get(loaded)
      if (Option.isNone(now) || now.value === state.version) return
      const token = yield* readTokenFile(fs, tokenPath).pipe(
        Effect.tapError((error) =>
          Effect.logWarning("the token file changed but cannot be used; keeping the previous token", error)
        ),
        Effect.option
      )
      if (Option.isNone(token)) return
      if (token.value !== state.token) {
        yield* Effect.logInfo("the API token was rotated").pipe(Effect.annotateLogs({ path: tokenPath }))
      }
      yield* Ref.set(loaded, { version: now.value, token: token.value, digest: digest(token.value) })
    })
    /** Looks at the file when the last look is older than TOKEN_RECHECK_INTERVAL (only the first caller past it looks). */
    const fresh = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.flatMap(
        Ref.modify(checkedAt, (last) => (now - last >= recheckMillis ? [true, now] as const : [false, last] as const)),
        (due) => (due ? reload : Effect.void)
      ))
    // Comparing fixed-size digests keeps the comparison constant-time whatever the candidate's length.
    const matches = (candidate: Buffer) =>
      Effect.map(Ref.get(loaded), (state) => crypto.timingSafeEqual(candidate, state.digest))
    return AuthToken.of({
      current: Effect.zipRight(fresh, Effect.map(Ref.get(loaded), (state) => Redacted.make(state.token))),
      verify: (candidate) =>
        Effect.suspend(() => {
          const hashed = digest(candidate)
          return Effect.zipRight(fresh, matches(hashed)).pipe(
            // not the token held: perhaps the one the file got since, so look before refusing
            Effect.flatMap((ok) => (ok ? Effect.succeed(true) : Effect.zipRight(reload, matches(hashed))))
          )
        })
    })
  }).pipe(Effect.withSpan("TokenFile.make", { attributes: { path: tokenPath } }))

export const layer: Layer.Layer<AuthToken, TokenError, TelemuxConfig | FileSystem.FileSystem> = Layer.effect(
  AuthToken,
  Effect.flatMap(TelemuxConfig, (config) => make(config.tokenPath))
)
