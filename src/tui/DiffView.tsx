/** The diff pane (`c`): the session's worktree changes, the stats then the patch, coloured like git's. */
import { Box, Text } from "ink"
import { truncate } from "../cli/Table.js"
import type { DiffLine, DiffPane, TuiState } from "./Model.js"

const STYLE: Readonly<
  Record<DiffLine["kind"], { readonly color?: string; readonly bold?: boolean; readonly dim?: boolean }>
> = {
  stat: {},
  note: { dim: true },
  header: { bold: true },
  hunk: { color: "cyan" },
  add: { color: "green" },
  del: { color: "red" },
  context: {}
}

const bodyText = (pane: DiffPane): string | undefined => {
  switch (pane.state) {
    case "none":
      return "This session runs in no git worktree, so there are no changes to show. Start a session in a worktree " +
        "from the new-session dialog (n, Worktree: new branch), or fork an agent's session into one (f)."
    case "failed":
      return `✕ ${pane.error ?? "the diff could not be read"} · r asks again`
    case "loading":
      return pane.lines.length === 0 ? "reading the diff…" : undefined
    case "loaded":
      return undefined
  }
}

export const DiffView = (
  { state, pane, width, height }: {
    readonly state: TuiState
    readonly pane: DiffPane
    readonly width: number
    readonly height: number
  }
) => {
  const session = state.sessions.get(pane.sessionId)
  const name = session === undefined || session.title === "" ? pane.sessionId.slice(0, 8) : session.title
  const worktree = session?.worktree
  const title = `Changes of ${name}` +
    (worktree === undefined ? "" : ` — ${worktree.branch} against ${worktree.base}`) +
    (pane.state === "loading" && pane.lines.length > 0 ? " (reloading…)" : "")
  const message = bodyText(pane)
  const room = Math.max(1, height - 2)
  const shown = pane.lines.slice(pane.scroll, pane.scroll + room)
  const end = pane.scroll + room >= pane.lines.length
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text bold>{truncate(title, width)}</Text>
      {message === undefined
        ? shown.map((line, i) => {
          const style = STYLE[line.kind]
          return (
            <Text
              key={pane.scroll + i}
              {...(style.color === undefined ? {} : { color: style.color })}
              bold={style.bold === true}
              dimColor={style.dim === true}
            >
              {truncate(line.text.replace(/\t/g, "    "), width) || " "}
            </Text>
          )
        })
        : <Text {...(pane.state === "failed" ? { color: "red" } : {})} wrap="wrap">{message}</Text>}
      <Box flexGrow={1} />
      <Text dimColor>
        {truncate(
          `${
            pane.lines.length === 0
              ? ""
              : `${pane.scroll + 1}-${Math.min(pane.lines.length, pane.scroll + room)}/${pane.lines.length} · `
          }` +
            `${end ? "" : "↓ more · "}↑↓ PgUp PgDn scroll · r reload · Esc back`,
          width
        )}
      </Text>
    </Box>
  )
}
