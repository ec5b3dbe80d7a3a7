/**
 * Plain-text tables for the terminal: left-aligned columns two spaces apart, cells flattened to
 * one line and cut to a column's width. Widths count UTF-16 code units, close enough for ids,
 * paths and summaries.
 */

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

export const truncate = (text: string, max: number): string =>
  text.length <= max ? text : max <= 1 ? text.slice(0, max) : text.slice(0, max - 1) + "…"

export const formatTable = <Row>(columns: ReadonlyArray<Column<Row>>, rows: ReadonlyArray<Row>): string => {
  const cells = rows.map((row) =>
    columns.map((column) => {
      const text = flatten(column.cell(row))
      return column.max === undefined ? text : truncate(text, column.max)
    })
  )
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => line[i]!.length)))
  const render = (line: ReadonlyArray<string>) =>
    line
      .map((text, i) => (columns[i]!.align === "right" ? text.padStart(widths[i]!) : text.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()
  return [render(columns.map((column) => column.header)), ...cells.map(render)].join("\n")
}

/** "12s", "5m", "3h", "2d" — how long ago `thenMillis` was. */
export const formatAge = (thenMillis: number, nowMillis: number): string => {
  const seconds = Math.max(0, Math.floor((nowMillis - thenMillis) / 1000))
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`
  return `${Math.floor(seconds / 86_400)}d`
}
