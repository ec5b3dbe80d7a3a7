/**
 * The terminal UI's root component: header, the current view, the mode line. It reads the store
 * and turns key presses into `Key` messages; everything else happens in the reducer and the client.
 */
import { Box, type Key, Text, useInput } from "ink"
import { useSyncExternalStore } from "react"
import { DialogView } from "./DialogView.js"
import { DiffView } from "./DiffView.js"
import { ForkView } from "./ForkView.js"
import { HelpView } from "./HelpView.js"
import { HistoryView } from "./HistoryView.js"
import type { KeyInfo, TuiState } from "./Model.js"
import { ModeLine } from "./ModeLine.js"
import { ProjectsView } from "./ProjectsView.js"
import { SessionsView } from "./SessionsView.js"
import type { Store } from "./Store.js"
import { useTerminalSize } from "./useTerminalSize.js"

const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

export const toKeyInfo = (key: Key): KeyInfo => ({
  upArrow: key.upArrow,
  downArrow: key.downArrow,
  leftArrow: key.leftArrow,
  rightArrow: key.rightArrow,
  pageUp: key.pageUp,
  pageDown: key.pageDown,
  home: key.home,
  end: key.end,
  return: key.return,
  escape: key.escape,
  ctrl: key.ctrl,
  shift: key.shift,
  tab: key.tab,
  backspace: key.backspace,
  delete: key.delete,
  meta: key.meta
})

const Header = ({ state }: { readonly state: TuiState }) => {
  const link = state.link === "live"
    ? <Text color="green">● live</Text>
    : <Text color="yellow">○ {state.link}</Text>
  return (
    <Box>
      <Text>
        <Text bold>telemux</Text>{"  "}<Text inverse={state.view === "sessions"}>1 Sessions</Text>{" "}
        <Text inverse={state.view === "projects"}>2 Projects</Text>{" "}
        <Text inverse={state.view === "history"}>3 History</Text>
        {state.filter === "" ? "" : "  "}
        {state.filter === "" ? "" : <Text color="cyan">filter: {state.filter}</Text>}
      </Text>
      <Box flexGrow={1} />
      {state.pending > 0 ? <Text color="cyan">{SPINNER[state.spinner % SPINNER.length]}</Text> : null}
      {link}
    </Box>
  )
}

const Body = (
  { state, width, height }: { readonly state: TuiState; readonly width: number; readonly height: number }
) => {
  if (state.mode._tag === "help") return <HelpView scroll={state.mode.scroll} width={width} height={height} />
  if (state.mode._tag === "create") {
    return <DialogView state={state} dialog={state.mode.dialog} width={width} height={height} />
  }
  if (state.mode._tag === "diff") return <DiffView state={state} pane={state.mode.pane} width={width} height={height} />
  if (state.mode._tag === "fork") {
    return <ForkView state={state} dialog={state.mode.dialog} width={width} height={height} />
  }
  switch (state.view) {
    case "sessions":
      return <SessionsView state={state} width={width} height={height} />
    case "projects":
      return <ProjectsView state={state} width={width} height={height} />
    case "history":
      return <HistoryView state={state} width={width} height={height} />
  }
}

export const App = ({ store }: { readonly store: Store }) => {
  const state = useSyncExternalStore(store.subscribe, store.getState)
  const { columns, rows } = useTerminalSize()
  useInput((input, key) => store.dispatch({ _tag: "Key", input, key: toKeyInfo(key) }))
  // One row short of the terminal: a frame as tall as the screen makes Ink clear it on every render.
  const height = Math.max(6, rows - 1)
  const body = height - 2
  return (
    <Box flexDirection="column" width={columns} height={height}>
      <Header state={state} />
      <Body state={state} width={columns} height={body} />
      <ModeLine state={state} width={columns} />
    </Box>
  )
}
