import { SUMMARY_MAX_CHARS } from "./Session.js"

/** Foreground commands that mean "at a prompt": the session is idle. */
export const SHELLS: ReadonlySet<string> = new Set([
  "bash",
  "zsh",
  "sh",
  "dash",
  "fish",
  "ksh",
  "mksh",
  "tcsh",
  "csh",
  "nu",
  "elvish",
  "xonsh"
])

export const isShell = (command: string): boolean => SHELLS.has(command.replace(/^-/, "").split("/").pop() ?? command)

/** The last non-blank lines of a screen, joined, at most SUMMARY_MAX_CHARS (the end kept). */
export const screenTail = (screen: string): string => screenTailOfLines(screen.split("\n"))

/** `screenTail` of a screen's lines: only the lines the tail takes are looked at. */
export const screenTailOfLines = (lines: ReadonlyArray<string>): string => {
  let tail = ""
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim()
    if (line === "") continue
    const next = tail === "" ? line : `${line} ⏎ ${tail}`
    if (next.length > SUMMARY_MAX_CHARS) {
      if (tail === "") tail = "…" + next.slice(next.length - SUMMARY_MAX_CHARS + 1)
      break
    }
    tail = next
  }
  return tail
}
