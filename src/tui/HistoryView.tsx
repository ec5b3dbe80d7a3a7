/** History: the closed sessions, newest first, with why and when each closed. */
import { Box, Text } from "ink"
import { flatten, formatAge, truncate } from "../cli/Table.js"
import type { Session } from "../domain/Session.js"
import type { TuiState } from "./Model.js"
import { STATUS_STYLE } from "./Status.js"

/** Lines under the list for the selected session. */
const DETAIL_LINES = 4

const historyLine = (session: Session, now: number) => {
  const closed = formatAge((session.closedAt ?? session.createdAt).epochMillis, now).padStart(3)
  const title = session.title === "" ? "(untitled)" : session.title
  const agent = session.agent === null ? "" : ` ${session.agent}`
  return `${closed} ${title} ${session.sessionId.slice(0, 8)} ${
    session.closeReason ?? "?"
  }${agent} ${session.computer}:${session.workingDirectory}`
}

export const HistoryView = (
  { state, width, height }: { readonly state: TuiState; readonly width: number; readonly height: number }
) => {
  if (!state.historyLoaded) {
    return (
      <Box height={height}>
        <Text dimColor>loading closed sessions…</Text>
      </Box>
    )
  }
  if (state.history.length === 0) {
    return (
      <Box height={height}>
        <Text dimColor>no closed sessions yet (d closes one in Sessions; r reloads)</Text>
      </Box>
    )
  }
  const listHeight = Math.max(1, height - DETAIL_LINES - 1)
  const cursor = Math.min(state.historyCursor, state.history.length - 1)
  const start = Math.max(0, Math.min(cursor - Math.floor(listHeight / 2), state.history.length - listHeight))
  const selected = state.history[cursor]!
  const style = STATUS_STYLE.closed
  const room = Math.max(0, width - 2)
  return (
    <Box flexDirection="column" height={height}>
      <Box flexDirection="column" height={listHeight} overflow="hidden">
        {state.history.slice(start, start + listHeight).map((session, i) => (
          <Text key={session.sessionId} inverse={start + i === cursor}>
            <Text color={style.color}>{style.symbol}</Text> {truncate(historyLine(session, state.now), room)}
          </Text>
        ))}
      </Box>
      <Text dimColor>{"─".repeat(Math.max(0, width))}</Text>
      <Text>
        {truncate(
          `${selected.title || "(untitled)"} · ${selected.sessionId} · closed ${
            formatAge((selected.closedAt ?? selected.createdAt).epochMillis, state.now)
          } ago (${selected.closeReason ?? "?"})`,
          width
        )}
      </Text>
      <Text dimColor>{truncate(`dir: ${selected.computer}:${selected.workingDirectory}`, width)}</Text>
      <Text dimColor>{truncate(`› ${flatten(selected.lastInput ?? "")}`, width)}</Text>
      <Text dimColor>{truncate(`‹ ${flatten(selected.lastOutput ?? "")}`, width)}</Text>
    </Box>
  )
}
