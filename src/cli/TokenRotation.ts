/**
 * `telemux token --rotate`: a fresh random token, written the way the daemon writes its own
 * (hex of TOKEN_BYTES random bytes, mode 0600, the directory 0700) and installed atomically by
 * rename, so a reader sees the old file or the new one, never a partial one.
 *
 * The daemon re-reads the file when a request carries a token it does not know, and at least
 * once a second (layers/TokenFile.ts): it accepts the new token from its next request and refuses
 * the old one within a second.
 */
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { TOKEN_BYTES } from "../../services/AuthToken.js"
import { LocalFailure } from "./CliError.js"

const io = <A>(what: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => new LocalFailure({ detail: `${what}: ${String(cause)}` }) })

export const rotateToken = (tokenPath: string): Effect.Effect<string, LocalFailure> =>
  Effect.gen(function*() {
    yield* io("cannot create the state dir", () => fs.mkdir(path.dirname(tokenPath), { recursive: true, mode: 0o700 }))
    const token = crypto.randomBytes(TOKEN_BYTES).toString("hex")
    const temp = `${tokenPath}.${crypto.randomBytes(6).toString("hex")}.tmp`
    yield* Effect.ensuring(
      Effect.zipRight(
        io(`cannot write ${temp}`, () => fs.writeFile(temp, token + "\n", { mode: 0o600, flag: "wx" })),
        io(`cannot replace ${tokenPath}`, () => fs.rename(temp, tokenPath))
      ),
      Effect.promise(() => fs.rm(temp, { force: true }))
    )
    return token
  })
