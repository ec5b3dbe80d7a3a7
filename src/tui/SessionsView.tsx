/** Sessions: the tree (computer → project → session) beside the selected session's live screen. */
import { Box, Text } from "ink"
import { flatten, formatAge, truncate } from "../cli/Table.js"
import type { Session } from "../domain/Session.js"
import { emptySessionUi, type TuiState } from "./Model.js"
import { STATUS_LABEL_WIDTH, STATUS_STYLE } from "./Status.js"
import { screenTail } from "./Text.js"
import { buildRows, type Row } from "./Tree.js"

/** Narrower than this, a row leaves out the session's short id (the preview shows it). */
const ROW_ID_MIN_WIDTH = 40

/** After the symbol: the status word, the age, the title, the short id when there is room, the last input. */
const sessionLine = (session: Session, now: number, width: number) => {
  const title = session.title === "" ? "(untitled)" : session.title
  const age = formatAge(session.createdAt.epochMillis, now).padStart(3)
  const id = width >= ROW_ID_MIN_WIDTH ? ` ${session.sessionId.slice(0, 8)}` : ""
  const input = session.lastInput === null ? "" : ` › ${flatten(session.lastInput)}`
  return `${STATUS_STYLE[session.status].label.padEnd(STATUS_LABEL_WIDTH)} ${age} ${title}${id}${input}`
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
      const style = STATUS_STYLE[row.session.status]
      const room = Math.max(0, width - 7)
      const line = truncate(sessionLine(row.session, now, room), room)
      return (
        <Box flexDirection="column">
          <Text inverse={selected}>
            {"    "}
            <Text color={style.color} bold={row.session.status === "waiting_input"}>{style.symbol}</Text>
            {row.session.promptDelivery?.state === "failed" ? <Text color="red">!</Text> : null} {line}
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

/** The first prompt's fate while it is not simply delivered: a failure in red with what to do, a wait dimmed. */
const promptDeliveryLine = (session: Session): { readonly text: string; readonly color: string } | undefined => {
  switch (session.promptDelivery?.state) {
    case "failed":
      return { text: `! prompt not delivered: ${session.promptDelivery.detail}`, color: "red" }
    case "pending":
      return { text: "prompt: waiting for the agent to be ready…", color: "gray" }
    default:
      return undefined
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
  const style = STATUS_STYLE[session.status]
  const was = ui.previousStatus === undefined ? "" : ` (was ${STATUS_STYLE[ui.previousStatus].label})`
  const age = (at: { readonly epochMillis: number }) => formatAge(at.epochMillis, state.now)
  const ago = (at: { readonly epochMillis: number } | null) =>
    at === null ? "–" : `${formatAge(at.epochMillis, state.now)} ago`
  const header = [
    `${session.title || "(untitled)"} · ${session.sessionId.slice(0, 8)} · ${session.workingDirectory}`,
    `${style.label}${was} · up ${age(session.createdAt)} · output ${ago(session.lastOutputAt)}`,
    `› ${flatten(session.lastInput ?? "")}`,
    `‹ ${flatten(session.lastOutput ?? "")}`
  ].map((line) => truncate(line, inner))
  const delivery = promptDeliveryLine(session)
  const screenHeight = Math.max(0, height - 2 - header.length - (delivery === undefined ? 0 : 1) - 1)
  const lines = preview.screen === undefined ? [] : screenTail(preview.screen, screenHeight, inner)
  return (
    <Box borderStyle="single" width={width} height={height} flexDirection="column">
      <Text bold>{header[0]}</Text>
      <Text>
        <Text color={style.color}>{style.symbol}</Text> {truncate(header[1]!, Math.max(0, inner - 2))}
      </Text>
      <Text dimColor>{header[2]}</Text>
      <Text dimColor>{header[3]}</Text>
      {delivery === undefined ? null : <Text color={delivery.color}>{truncate(delivery.text, inner)}</Text>}
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
  // The tree needs little room (status, age, title): the screen gets the rest.
  const treeWidth = Math.max(24, Math.floor(width * 0.4))
  const previewWidth = Math.max(10, width - treeWidth - 1)
  const cursor = Math.max(0, rows.findIndex((row) => row.key === state.cursor))
  const start = Math.max(0, Math.min(cursor - Math.floor(height / 2), rows.length - height))
  const visible = rows.slice(start, start + height)
  const now = state.now
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
