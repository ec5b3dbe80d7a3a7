/**
 * `telemux web`: a sign-in link for the web dashboard. The daemon makes a single-use code (good for
 * SIGN_IN_CODE_TTL) for this authenticated call; the link carries it in its fragment
 * (`/sign-in#code=…`), which a browser never sends to a server, so it reaches no log and no Referer.
 * The link is printed (stdout: the link alone, for scripts) and opened in a browser where one can
 * be: on macOS (`open`), or with a display (`xdg-open`), never under CI; failing to open one is
 * not an error, the link is there to copy.
 */
import { Command, Options } from "@effect/cli"
import { Console, Duration, Effect } from "effect"
import { spawn } from "node:child_process"
import { SIGN_IN_CODE_TTL } from "../../services/WebAuth.js"
import { CliEnvironment } from "./CliEnvironment.js"
import { DaemonClient } from "./DaemonClient.js"
import { withDaemon } from "./Root.js"

/** The program that opens a URL in the person's browser here, if there is one to open. */
export const browserOpener = (
  platform: NodeJS.Platform,
  env: Readonly<Record<string, string | undefined>>
): string | undefined => {
  const set = (name: string) => env[name] !== undefined && env[name] !== ""
  if (set("CI")) return undefined
  if (platform === "darwin") return "open"
  if (platform === "win32") return undefined
  return set("DISPLAY") || set("WAYLAND_DISPLAY") ? "xdg-open" : undefined
}

/** Starts `opener url` detached; whatever happens to it (not installed, no browser) is ignored. */
const openInBrowser = (opener: string, url: string) =>
  Effect.sync(() => {
    try {
      const child = spawn(opener, [url], { detached: true, stdio: "ignore" })
      child.on("error", () => undefined)
      child.unref()
    } catch {
      // no opener: the printed link is the way
    }
  })

export const web = Command.make(
  "web",
  {
    noOpen: Options.boolean("no-open").pipe(Options.withDescription("print the link only; open no browser"))
  },
  (options) =>
    withDaemon(Effect.gen(function*() {
      const client = yield* DaemonClient
      const { env } = yield* CliEnvironment
      const signIn = yield* client.signInCode
      const link = `${client.address.baseUrl}${signIn.path}`
      const opener = options.noOpen ? undefined : browserOpener(process.platform, env)
      yield* Console.error(
        `Open this link within ${Duration.format(SIGN_IN_CODE_TTL)} to sign in to the dashboard (it works once):`
      )
      yield* Console.log(link)
      if (opener !== undefined) yield* openInBrowser(opener, link)
    }))
).pipe(Command.withDescription("print (and open in a browser) a single-use sign-in link for the web dashboard"))
