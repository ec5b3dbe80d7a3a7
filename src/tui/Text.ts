/** The preview's text: the screen's last lines that fit, each cut to the width. */
import { truncate } from "../cli/Table.js"

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g

/** The screen's lines without the blank ones at its bottom, the last `height` of them, each cut to `width`. */
export const screenTail = (screen: string, height: number, width: number): ReadonlyArray<string> => {
  const lines = screen.replace(/\r/g, "").split("\n").map((line) => line.replace(CONTROL, "").trimEnd())
  let end = lines.length
  while (end > 0 && lines[end - 1] === "") end--
  return lines.slice(Math.max(0, end - Math.max(0, height)), end).map((line) => truncate(line, Math.max(0, width)))
}
