/**
 * The program a configured agent command runs, read without a shell: the first word after any
 * `NAME=value` assignments. Configured commands are shell text (`FOO=1 claude --flag`), so a word
 * only a shell can read — quoted, with `$` or a glob, or a builtin that runs another word — is not
 * guessed at: it is left unchecked.
 */

/** Words a shell gives meaning to before it looks up a program. */
const BUILTINS: ReadonlySet<string> = new Set([
  "exec",
  "command",
  "builtin",
  "time",
  "eval",
  "source",
  ".",
  "!",
  "{",
  "(",
  "noglob",
  "nocorrect"
])

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/
/** Characters a shell would expand or treat specially inside a word. */
const SHELL_SPECIAL = /['"\\$`*?[\]{}()<>|&;!]/

export type ProgramWord =
  | { readonly _tag: "Program"; readonly word: string }
  | { readonly _tag: "ShellOnly" }

export const programOf = (commandLine: string, home: string | undefined): ProgramWord => {
  const words = commandLine.trim().split(/\s+/).filter((word) => word !== "")
  let i = 0
  while (i < words.length && ASSIGNMENT.test(words[i]!)) {
    // an assignment with quotes may span words: the rest is a shell's to read
    if (SHELL_SPECIAL.test(words[i]!.slice(words[i]!.indexOf("=") + 1))) return { _tag: "ShellOnly" }
    i++
  }
  let word = words[i]
  if (word === undefined || BUILTINS.has(word)) return { _tag: "ShellOnly" }
  if (word === "~" || word.startsWith("~/")) {
    if (home === undefined) return { _tag: "ShellOnly" }
    word = home + word.slice(1)
  }
  if (word.startsWith("~") || SHELL_SPECIAL.test(word)) return { _tag: "ShellOnly" }
  return { _tag: "Program", word }
}
