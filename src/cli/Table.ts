/**
 * Plain-text tables for the terminal: left-aligned columns two spaces apart, cells flattened to
 * one line and cut to a column's width. Widths are display widths (src/cli/DisplayWidth.ts): a CJK
 * title or an emoji takes two columns. Given the terminal's width, the columns that may be cut
 * (those with a `max`) give up columns, widest first, down to a floor; when that is not enough,
 * cut columns are left out from the right (the table's last columns matter least) until it fits.
 */
import { displayWidth, padToWidth, sliceToWidth } from "./DisplayWidth.js"

export interface Column<Row> {
  readonly header: string
  readonly cell: (row: Row) => string
  /** Longest cell kept; longer ones end in "…". */
  readonly max?: number
  readonly align?: "left" | "right"
}

/** Newlines, tabs and control characters become spaces; runs of spaces collapse. */
export const flatten = (text: string): string =>
  // eslint-disable-next-line no-control-regex
  text.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/ {2,}/g, " ").trim()

/** `text` cut to `max` columns, ending in "…" when cut. */
export const truncate = (text: string, max: number): string =>
  displayWidth(text) <= max ? text : max <= 1 ? sliceToWidth(text, max) : sliceToWidth(text, max - 1) + "…"

const GAP = 2
/** Narrowest a cut column gets (beside its header's width). */
const MIN_CUT_WIDTH = 6

/**
 * The rows as a table; with `width` (the terminal's columns) the cut columns shrink until every
 * line fits, as far as the columns that may not be cut allow.
 */
export const formatTable = <Row>(
  columns: ReadonlyArray<Column<Row>>,
  rows: ReadonlyArray<Row>,
  width?: number
): string => {
  const texts = rows.map((row) => columns.map((column) => flatten(column.cell(row))))
  const widths = columns.map((column, i) =>
    Math.max(
      displayWidth(column.header),
      ...texts.map((line) => Math.min(displayWidth(line[i]!), column.max ?? Number.POSITIVE_INFINITY))
    )
  )
  const shown = columns.map(() => true)
  if (width !== undefined) {
    const floor = columns.map((column) => Math.max(displayWidth(column.header), MIN_CUT_WIDTH))
    const total = () => widths.reduce((sum, w, i) => sum + (shown[i] ? w + GAP : 0), 0) - GAP
    while (total() > width) {
      let widest = -1
      columns.forEach((column, i) => {
        if (
          shown[i] && column.max !== undefined && widths[i]! > floor[i]! &&
          (widest < 0 || widths[i]! > widths[widest]!)
        ) widest = i
      })
      if (widest >= 0) {
        widths[widest] = widths[widest]! - 1
        continue
      }
      let last = -1
      for (let i = columns.length - 1; i > 0 && last < 0; i--) {
        if (shown[i] && columns[i]!.max !== undefined) last = i
      }
      if (last < 0) break
      shown[last] = false
    }
  }
  const render = (line: ReadonlyArray<string>) =>
    line
      .flatMap((text, i) => (shown[i] ? [padToWidth(truncate(text, widths[i]!), widths[i]!, columns[i]!.align)] : []))
      .join(" ".repeat(GAP))
      .trimEnd()
  return [render(columns.map((column) => column.header)), ...texts.map(render)].join("\n")
}

/** "12s", "5m", "3h", "2d" — how long ago `thenMillis` was. */
export const formatAge = (thenMillis: number, nowMillis: number): string => {
  const seconds = Math.max(0, Math.floor((nowMillis - thenMillis) / 1000))
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`
  return `${Math.floor(seconds / 86_400)}d`
}
