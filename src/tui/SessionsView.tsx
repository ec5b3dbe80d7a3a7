/** Sessions: the tree (computer → project → session) beside the selected session's live screen. */
import { Box, Text } from "ink"
import { flatten, formatAge, truncate } from "../cli/Table.js"
import type { Session, SessionStatus } from "../domain/Session.js"
import { emptySessionUi, type TuiState } from "./Model.js"
import { screenTail } from "./Text.js"
import { buildRows, type Row } from "./Tree.js"

export const STATUS_COLOR: Readonly<Record<SessionStatus, string>> = {
  creating: "cyan",
  running: "green",
  idle: "gray",
  waiting_input: "yellow",
  closed: "red"
}

const sessionLine = (session: Session, now: number) => {
  const title = session.title === "" ? "(untitled)" : session.title
  const input = session.lastInput === null ? "" : `  › ${flatten(session.lastInput)}`
  return `${session.status.padEnd(13)} ${title}  ${session.sessionId.slice(0, 8)}  ${
    formatAge(session.createdAt.epochMillis, now)
  }${input}`
}

const TreeRow = (
  { row, selected, width, state, now }: {
    readonly row: Row
    readonly selected: boolean
    readonly width: number
    readonly state: TuiState
    readonly now: number
  }
) => {
  switch (row.kind) {
    case "computer":
      return (
        <Text inverse={selected} bold>
          {truncate(`${row.collapsed ? "▸" : "▾"} ${row.name} (${row.count})`, width)}
        </Text>
      )
    case "project":
      return (
        <Text inverse={selected} color="blue">
          {truncate(`  ${row.collapsed ? "▸" : "▾"} ${row.label} (${row.count})`, width)}
        </Text>
      )
    case "session": {
      const ui = state.sessionUi.get(row.session.sessionId) ?? emptySessionUi
      const line = truncate(sessionLine(row.session, now), Math.max(0, width - 6))
      return (
        <Box flexDirection="column">
          <Text inverse={selected}>
            {"    "}
            <Text color={STATUS_COLOR[row.session.status]}>●</Text> {line}
          </Text>
          {ui.expanded
            ? (
              <>
                <Text dimColor>{truncate(`      in:  ${flatten(row.session.lastInput ?? "")}`, width)}</Text>
                <Text dimColor>{truncate(`      out: ${flatten(row.session.lastOutput ?? "")}`, width)}</Text>
              </>
            )
            : null}
        </Box>
      )
    }
  }
}

const Preview = (
  { state, width, height }: { readonly state: TuiState; readonly width: number; readonly height: number }
) => {
  const inner = Math.max(1, width - 2)
  const preview = state.preview
  const session = preview === undefined ? undefined : state.sessions.get(preview.sessionId)
  if (preview === undefined || session === undefined) {
    return (
      <Box borderStyle="single" width={width} height={height} flexDirection="column">
        <Text dimColor>{state.sessionsLoaded ? "select a session (n creates one)" : "loading sessions…"}</Text>
      </Box>
    )
  }
  const ui = state.sessionUi.get(session.sessionId) ?? emptySessionUi
  const was = ui.previousStatus === undefined ? "" : ` (was ${ui.previousStatus})`
  const header = [
    `${session.title || "(untitled)"} · ${
      session.sessionId.slice(0, 8)
    } · ${session.status}${was} · ${session.workingDirectory}`,
    `› ${flatten(session.lastInput ?? "")}`,
    `‹ ${flatten(session.lastOutput ?? "")}`
  ].map((line) => truncate(line, inner))
  const screenHeight = Math.max(0, height - 2 - header.length - 1)
  const lines = preview.screen === undefined ? [] : screenTail(preview.screen, screenHeight, inner)
  return (
    <Box borderStyle="single" width={width} height={height} flexDirection="column">
      <Text bold>{header[0]}</Text>
      <Text dimColor>{header[1]}</Text>
      <Text dimColor>{header[2]}</Text>
      <Text dimColor>{"─".repeat(inner)}</Text>
      {preview.screen === undefined ? <Text dimColor>waiting for the screen…</Text> : null}
      {lines.map((line, i) => <Text key={i}>{line === "" ? " " : line}</Text>)}
    </Box>
  )
}

export const SessionsView = (
  { state, width, height }: { readonly state: TuiState; readonly width: number; readonly height: number }
) => {
  const rows = buildRows(state)
  const treeWidth = Math.max(24, Math.floor(width * 0.45))
  const previewWidth = Math.max(10, width - treeWidth - 1)
  const cursor = Math.max(0, rows.findIndex((row) => row.key === state.cursor))
  const start = Math.max(0, Math.min(cursor - Math.floor(height / 2), rows.length - height))
  const visible = rows.slice(start, start + height)
  const now = Date.now()
  return (
    <Box flexDirection="row" height={height}>
      <Box flexDirection="column" width={treeWidth} height={height} overflow="hidden">
        {rows.length === 0
          ? (
            <Text dimColor>
              {state.sessionsLoaded
                ? state.filter === "" ? "no sessions — press n to start one" : "no session matches the filter"
                : "loading…"}
            </Text>
          )
          : visible.map((row) => (
            <TreeRow
              key={row.key}
              row={row}
              selected={row.key === state.cursor}
              width={treeWidth}
              state={state}
              now={now}
            />
          ))}
      </Box>
      <Box width={1} />
      <Preview state={state} width={previewWidth} height={height} />
    </Box>
  )
}
