/**
 * The command line before @effect/cli reads it. @effect/cli takes `--help`, `--version`,
 * `--wizard`, `--completions` and `--log-level` wherever they stand and knows no `--`, so
 * `telemux send ID -- --version` printed the version and sent nothing. Here:
 *
 * - after `--`, every word is an argument (the `--` itself is dropped);
 * - `send`'s options come before the id, and every word after the id is text (a `--` right after
 *   the id is dropped): `send ID --help` types `--help`;
 * - the value of `--title`, `--prompt` and `--message` is a value even when it starts with `-`;
 * - `-h`/`--help` where an option may stand asks for telemux's own help (src/cli/Help.ts), and
 *   `--completions bash|zsh` for its own scripts (src/cli/Completion.ts).
 *
 * A word that must reach a command as an argument, never an option, is handed to @effect/cli
 * behind LITERAL_MARK (a NUL, which no process argument can contain); the command's Args take it
 * off again (`unmark`).
 */
import { Data } from "effect"

export const LITERAL_MARK = "\u0000"

export const literal = (word: string): string => LITERAL_MARK + word
export const unmark = (word: string): string => word.startsWith(LITERAL_MARK) ? word.slice(1) : word

export type Invocation = Data.TaggedEnum<{
  /** telemux's help for a command (`path` empty: the root's). */
  Help: { readonly path: ReadonlyArray<string> }
  /** A completion script for `shell`. */
  Completions: { readonly shell: "bash" | "zsh" }
  /** What a completion script asks for: `kind` (`sessions`), the word typed so far. */
  Complete: { readonly kind: string; readonly prefix: string }
  /** Arguments (without node and the script) for @effect/cli; `path`: the command named, if any. */
  Run: { readonly args: ReadonlyArray<string>; readonly path: ReadonlyArray<string> }
}>
export const Invocation = Data.taggedEnum<Invocation>()

/** The word the completion scripts call telemux with; not a command people type. */
export const COMPLETE_COMMAND = "__complete"

const HELP = new Set(["-h", "--help"])
/** Options whose value is the next word. */
const VALUE_OPTIONS = new Set([
  "--config",
  "--log-level",
  "--computer",
  "--status",
  "--agent",
  "--mode",
  "--lines",
  "--listener",
  "--title",
  "--prompt",
  "--manager",
  "--branch",
  "--base",
  "--message",
  "--remote"
])
/** Options whose value is free text (it may start with `-`). */
const TEXT_OPTIONS = new Set(["--title", "--prompt", "--message"])
/** Commands with commands of their own. */
const NESTED: Readonly<Record<string, ReadonlyArray<string>>> = {
  hooks: ["install", "uninstall"],
  service: ["install", "uninstall", "status"],
  worktree: ["commit", "push", "merge", "discard", "list", "clean"]
}

/** `args` without node and the script: process.argv.slice(2). */
export const prepare = (args: ReadonlyArray<string>): Invocation => {
  const out: Array<string> = []
  let i = 0
  while (i < args.length) {
    const word = args[i]!
    if (HELP.has(word)) return Invocation.Help({ path: [] })
    if (word === "--completions" && (args[i + 1] === "bash" || args[i + 1] === "zsh")) {
      return Invocation.Completions({ shell: args[i + 1] as "bash" | "zsh" })
    }
    if (!word.startsWith("-") || word === "-") break
    out.push(word)
    if (VALUE_OPTIONS.has(word) && i + 1 < args.length) out.push(args[++i]!)
    i++
  }
  if (i >= args.length) return Invocation.Run({ args: out, path: [] })
  const command = args[i++]!
  if (command === COMPLETE_COMMAND) {
    return Invocation.Complete({ kind: args[i] ?? "", prefix: args[i + 1] ?? "" })
  }
  out.push(command)
  const path = [command]
  const nested = NESTED[command]
  if (nested !== undefined && nested.includes(args[i] ?? "")) {
    path.push(args[i]!)
    out.push(args[i++]!)
  }
  return command === "send" ? sendArgs(args, i, path, out) : commandArgs(args, i, path, out)
}

const commandArgs = (args: ReadonlyArray<string>, from: number, path: ReadonlyArray<string>, out: Array<string>) => {
  for (let i = from; i < args.length; i++) {
    const word = args[i]!
    if (word === "--") {
      out.push(...args.slice(i + 1).map(literal))
      break
    }
    if (HELP.has(word)) return Invocation.Help({ path })
    out.push(word)
    if (VALUE_OPTIONS.has(word) && i + 1 < args.length) {
      const value = args[++i]!
      out.push(TEXT_OPTIONS.has(word) ? literal(value) : value)
    }
  }
  return Invocation.Run({ args: out, path })
}

/** `send [--no-enter] ID TEXT…`: options before the id, text after it. */
const sendArgs = (args: ReadonlyArray<string>, from: number, path: ReadonlyArray<string>, out: Array<string>) => {
  let i = from
  let separated = false
  for (; i < args.length; i++) {
    const word = args[i]!
    if (word === "--") {
      separated = true
      i++
      break
    }
    if (HELP.has(word)) return Invocation.Help({ path })
    if (!word.startsWith("-") || word === "-") break
    out.push(word)
  }
  if (i < args.length) out.push(literal(args[i++]!))
  if (!separated && args[i] === "--") i++
  out.push(...args.slice(i).map(literal))
  return Invocation.Run({ args: out, path })
}
