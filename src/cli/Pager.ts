/**
 * Long output (`telemux diff`) through the person's pager, as git does: `$PAGER` (default
 * `less -R`, with LESS=FRX when unset, so a short text prints and exits and colour passes), only
 * when stdout is a terminal. A pager that cannot start is no failure: the text is printed as is.
 */
import { Effect } from "effect"
import { spawnSync } from "node:child_process"

export const DEFAULT_PAGER = "less -R"

/** `$PAGER` split into words (no shell: a pager named by a path with spaces is not supported); empty: the default. */
export const pagerArgv = (env: NodeJS.ProcessEnv): ReadonlyArray<string> => {
  const words = (env.PAGER ?? "").trim().split(/\s+/).filter((w) => w !== "")
  return words.length > 0 ? words : DEFAULT_PAGER.split(" ")
}

export type Shown = "pager" | "plain"

/**
 * `text` through the pager when `isTTY`, else (or when the pager is missing or fails to start)
 * written with `write`. Says which happened, for tests and for nothing else.
 */
export const page = (
  text: string,
  options: {
    readonly env: NodeJS.ProcessEnv
    readonly isTTY: boolean
    readonly write: (text: string) => Effect.Effect<void>
  }
): Effect.Effect<Shown> =>
  Effect.suspend(() => {
    const argv = pagerArgv(options.env)
    // `cat` as a pager is the plain output (git treats it so too)
    if (!options.isTTY || argv[0] === "cat") return Effect.as(options.write(text), "plain" as const)
    const result = spawnSync(argv[0]!, argv.slice(1), {
      input: text.endsWith("\n") ? text : `${text}\n`,
      stdio: ["pipe", "inherit", "inherit"],
      env: { LESS: "FRX", ...options.env }
    })
    // only a pager that did not start means plain output; one quit before the end (EPIPE) was read
    const code = (result.error as NodeJS.ErrnoException | undefined)?.code
    return code === "ENOENT" || code === "EACCES"
      ? Effect.as(options.write(text), "plain" as const)
      : Effect.succeed("pager" as const)
  })
