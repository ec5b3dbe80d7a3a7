/**
 * POSIX shell quoting for words typed into a pane's shell (sh, bash, zsh, dash, fish-compatible
 * for the characters it leaves bare). Effect-free: the hook command imports it.
 */

/** Characters no common shell expands inside a word (zsh's `=cmd` expansion is why `=` may not lead). */
const BARE_WORD = /^[A-Za-z0-9_/.,:@%+-][A-Za-z0-9_/.,:=@%+-]*$/

/** One shell word that stands for exactly `word`: left bare when safe, else single-quoted. */
export const shellQuote = (word: string): string => BARE_WORD.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`

/** A command line whose words are exactly `argv`. */
export const shellJoin = (argv: ReadonlyArray<string>): string => argv.map(shellQuote).join(" ")

/** True when `text` holds a control character (a newline typed into a pane would run the line early). */
export const hasControlCharacter = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}
