/**
 * The choices an agent waiting for input offers, read from its screen: a numbered menu
 * (`❯ 1. Yes` / `2. No, and tell Claude…`) or a yes/no prompt (`(y/n)`, `[Y/n]`). What each
 * button types is what a person at the terminal would: the digit of a menu entry (menus take it
 * as a key, no Enter), or `y`/`n` and Enter.
 */

export interface Choice {
  readonly label: string
  readonly text: string
  readonly enter: boolean
}

export interface Question {
  /** The lines that ask (above the options), possibly empty. */
  readonly question: string
  readonly choices: ReadonlyArray<Choice>
}

/** Lines of the screen's end looked at. */
export const QUESTION_LINES = 24
/** Buttons offered at most. */
export const CHOICES_MAX = 9
/** Longest button label. */
export const LABEL_MAX = 40

const MENU_ENTRY = /^[\s│|]*(?:[❯>›▶→*]\s*)?(\d)[.)]\s+(.+?)[\s│|]*$/u
const YES_NO = /[([]\s*(y(?:es)?)\s*\/\s*(n(?:o)?)\s*[)\]]/i

const label = (text: string) => (text.length <= LABEL_MAX ? text : `${text.slice(0, LABEL_MAX - 1)}…`)

const questionAbove = (lines: ReadonlyArray<string>, end: number): string => {
  const above: Array<string> = []
  for (let i = end - 1; i >= 0 && above.length < 4; i--) {
    const line = lines[i]!.replace(/[│|╭╮╰╯─]+/gu, " ").trim()
    if (line === "") {
      if (above.length > 0) break
      continue
    }
    above.unshift(line)
  }
  return above.join("\n")
}

export const parseQuestion = (screen: string): Question => {
  const lines = screen.replace(/\s+$/, "").split("\n").slice(-QUESTION_LINES)
  // the last numbered menu on the screen: entries 1, 2, 3… in order
  let menuEnd = -1
  for (let i = lines.length - 1; i >= 0; i--) {
    if (MENU_ENTRY.test(lines[i]!)) {
      menuEnd = i
      break
    }
  }
  if (menuEnd >= 0) {
    let start = menuEnd
    while (start > 0 && MENU_ENTRY.test(lines[start - 1]!)) start--
    const entries = lines.slice(start, menuEnd + 1).map((line) => MENU_ENTRY.exec(line)!)
    const numbered = entries.every((m, i) => Number(m[1]) === i + 1)
    if (numbered && entries.length >= 2) {
      return {
        question: questionAbove(lines, start),
        choices: entries.slice(0, CHOICES_MAX).map((m) => ({
          label: label(`${m[1]}. ${m[2]!.trim()}`),
          text: m[1]!,
          enter: false
        }))
      }
    }
  }
  for (let i = lines.length - 1; i >= 0; i--) {
    if (YES_NO.test(lines[i]!)) {
      return {
        question: questionAbove(lines, i + 1),
        choices: [{ label: "Yes", text: "y", enter: true }, { label: "No", text: "n", enter: true }]
      }
    }
    if (lines[i]!.trim() !== "") break
  }
  return { question: questionAbove(lines, lines.length), choices: [] }
}
