/**
 * How many terminal columns text takes: per grapheme (Intl.Segmenter), 2 for East Asian wide and
 * fullwidth characters and emoji, 0 for combining marks and other zero-width characters, 1
 * otherwise. UTF-16 code units would count an emoji as 2 and "é" written as e + U+0301 as 2, and a
 * CJK title as half its width.
 */

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" })

/** Code points that take no column: combining marks, joiners, variation selectors, other format characters. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]$/u
const EMOJI = /\p{Extended_Pictographic}/u

/** East Asian Wide (W) and Fullwidth (F) ranges (Unicode 15, the blocks that matter in practice). */
const isWide = (cp: number): boolean =>
  (cp >= 0x1100 && cp <= 0x115f) ||
  (cp >= 0x2e80 && cp <= 0x303e) ||
  (cp >= 0x3041 && cp <= 0x33ff) ||
  (cp >= 0x3400 && cp <= 0x4dbf) ||
  (cp >= 0x4e00 && cp <= 0x9fff) ||
  (cp >= 0xa000 && cp <= 0xa4cf) ||
  (cp >= 0xa960 && cp <= 0xa97f) ||
  (cp >= 0xac00 && cp <= 0xd7a3) ||
  (cp >= 0xf900 && cp <= 0xfaff) ||
  (cp >= 0xfe10 && cp <= 0xfe19) ||
  (cp >= 0xfe30 && cp <= 0xfe6f) ||
  (cp >= 0xff00 && cp <= 0xff60) ||
  (cp >= 0xffe0 && cp <= 0xffe6) ||
  (cp >= 0x1f300 && cp <= 0x1f64f) ||
  (cp >= 0x1f900 && cp <= 0x1f9ff) ||
  (cp >= 0x20000 && cp <= 0x3fffd)

const graphemeWidth = (grapheme: string): number => {
  const first = grapheme.codePointAt(0) ?? 0
  if (first < 0x20 || (first >= 0x7f && first < 0xa0)) return 0
  if (first < 0x300) return 1
  if (grapheme.includes("\uFE0F") || EMOJI.test(grapheme)) return 2
  if (isWide(first)) return 2
  // a lone combining mark or joiner (a grapheme of its own only at the start of a string)
  return [...grapheme].every((c) => ZERO_WIDTH.test(c)) ? 0 : 1
}

export const displayWidth = (text: string): number => {
  let width = 0
  for (const { segment } of segmenter.segment(text)) width += graphemeWidth(segment)
  return width
}

/** The longest start of `text` that fits in `columns`, never splitting a grapheme. */
export const sliceToWidth = (text: string, columns: number): string => {
  let width = 0
  let end = 0
  for (const { index, segment } of segmenter.segment(text)) {
    const next = width + graphemeWidth(segment)
    if (next > columns) break
    width = next
    end = index + segment.length
  }
  return text.slice(0, end)
}

/** `text` padded with spaces to `columns` (on the right, or on the left with "right"). */
export const padToWidth = (text: string, columns: number, align: "left" | "right" = "left"): string => {
  const pad = " ".repeat(Math.max(0, columns - displayWidth(text)))
  return align === "right" ? pad + text : text + pad
}

/** Words of `text` in lines of at most `columns` (a word longer than that stands alone). */
export const wrapWords = (text: string, columns: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line === "") line = word
    else if (displayWidth(line) + 1 + displayWidth(word) <= columns) line += ` ${word}`
    else {
      lines.push(line)
      line = word
    }
  }
  if (line !== "") lines.push(line)
  return lines
}
