import { Effect, Layer, Redacted } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { AuthToken, TOKEN_BYTES, TokenError } from "../services/AuthToken.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"

/** Characters a bearer token may hold (RFC 6750 token68); short tokens are refused as guessable. */
const TOKEN_PATTERN = /^[A-Za-z0-9._~+/=-]{32,1024}$/

const errnoCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

const io = <A>(tokenPath: string, what: string, run: () => Promise<A>) =>
  Effect.tryPromise({
    try: run,
    catch: (cause) => new TokenError({ path: tokenPath, message: `${what}: ${String(cause)}`, cause })
  })

/** Creates the token file only if it does not exist yet, so a concurrent start never overwrites it. */
const createTokenFile = (tokenPath: string) =>
  Effect.gen(function*() {
    yield* io(tokenPath, "cannot create the token directory", () =>
      fs.mkdir(path.dirname(tokenPath), { recursive: true, mode: 0o700 }))
    const temp = `${tokenPath}.${crypto.randomBytes(6).toString("hex")}.tmp`
    const token = crypto.randomBytes(TOKEN_BYTES).toString("hex")
    const created = yield* Effect.ensuring(
      Effect.gen(function*() {
        yield* io(tokenPath, "cannot write the token file", () => fs.writeFile(temp, token + "\n", { mode: 0o600, flag: "wx" }))
        // link, unlike rename, fails when the target exists: the first writer wins.
        return yield* io(tokenPath, "cannot install the token file", () => fs.link(temp, tokenPath)).pipe(
          Effect.as(true),
          Effect.catchIf((error) => errnoCode(error.cause) === "EEXIST", () => Effect.succeed(false))
        )
      }),
      Effect.promise(() => fs.rm(temp, { force: true }))
    )
    if (created) yield* Effect.logInfo("generated a new API token").pipe(Effect.annotateLogs({ path: tokenPath }))
  })

const readTokenFile = (tokenPath: string) =>
  Effect.gen(function*() {
    const stat = yield* io(tokenPath, "cannot inspect the token file", () => fs.stat(tokenPath))
    if (!stat.isFile()) {
      return yield* new TokenError({ path: tokenPath, message: `${tokenPath} is not a regular file` })
    }
    if ((stat.mode & 0o077) !== 0) {
      yield* io(tokenPath, "cannot restrict the token file to its owner", () => fs.chmod(tokenPath, 0o600))
      yield* Effect.logWarning("the token file was readable by others; its mode is now 0600").pipe(
        Effect.annotateLogs({ path: tokenPath, previousMode: (stat.mode & 0o777).toString(8) })
      )
    }
    const token = (yield* io(tokenPath, "cannot read the token file", () => fs.readFile(tokenPath, "utf8"))).trim()
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

export const make = (tokenPath: string): Effect.Effect<AuthToken["Type"], TokenError> =>
  Effect.gen(function*() {
    const exists = yield* io(tokenPath, "cannot inspect the token file", () => fs.lstat(tokenPath)).pipe(
      Effect.as(true),
      Effect.catchIf((error) => errnoCode(error.cause) === "ENOENT", () => Effect.succeed(false))
    )
    if (!exists) yield* createTokenFile(tokenPath)
    /** The token as last read, and which file version it came from (a rotation replaces the file). */
    const loaded = async () => {
      const stat = await fs.stat(tokenPath)
      return { version: `${stat.ino}:${stat.mtimeMs}:${stat.size}` }
    }
    let state = {
      ...(yield* io(tokenPath, "cannot inspect the token file", loaded)),
      token: yield* readTokenFile(tokenPath)
    }
    let expected = digest(state.token)
    /** Re-reads the file when it changed (`telemux token --rotate`); a file that became unreadable keeps the last good token. */
    const fresh = Effect.gen(function*() {
      const now = yield* io(tokenPath, "cannot inspect the token file", loaded).pipe(Effect.option)
      if (now._tag === "None" || now.value.version === state.version) return
      const token = yield* readTokenFile(tokenPath).pipe(
        Effect.tapError((error) => Effect.logWarning("the token file changed but cannot be used; keeping the previous token", error)),
        Effect.option
      )
      if (token._tag === "None") return
      if (token.value !== state.token) yield* Effect.logInfo("the API token was rotated").pipe(Effect.annotateLogs({ path: tokenPath }))
      state = { version: now.value.version, token: token.value }
      expected = digest(token.value)
    })
    return AuthToken.of({
      current: Effect.zipRight(fresh, Effect.sync(() => Redacted.make(state.token))),
      // Comparing fixed-size digests keeps the comparison constant-time whatever the candidate's length.
      verify: (candidate) => Effect.zipRight(fresh, Effect.sync(() => crypto.timingSafeEqual(digest(candidate), expected)))
    })
  }).pipe(Effect.withSpan("TokenFile.make", { attributes: { path: tokenPath } }))

export const layer: Layer.Layer<AuthToken, TokenError, TelemuxConfig> = Layer.effect(
  AuthToken,
  Effect.flatMap(TelemuxConfig, (config) => make(config.tokenPath))
)
