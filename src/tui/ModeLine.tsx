/** The bottom line: the field being typed, the question asked, a notice, or the keys of the view. */
import { Text } from "ink"
import { truncate } from "../cli/Table.js"
import { KEYS_HINT } from "./KeyNames.js"
import type { TuiState } from "./Model.js"

const SESSIONS_KEYS = "↑↓ move  ←→ fold  n new  s send  x key  d close  a attach  / filter  Tab view  q quit"
const PROJECTS_KEYS = "↑↓ move  n new session here  r reload  Tab view  q quit"

/** The visible end of a field that may be wider than the line. */
const field = (prompt: string, draft: string, width: number) => {
  const room = Math.max(1, width - prompt.length - 1)
  return prompt + (draft.length > room ? "…" + draft.slice(draft.length - room + 1) : draft) + "▏"
}

export const ModeLine = ({ state, width }: { readonly state: TuiState; readonly width: number }) => {
  const titleOf = (id: string) => state.sessions.get(id as never)?.title || id.slice(0, 8)
  const mode = state.mode
  switch (mode._tag) {
    case "filter":
      return <Text color="cyan">{field("filter: ", mode.draft, width)}</Text>
    case "create":
      return <Text color="cyan">{field("new session in: ", mode.draft, width)}</Text>
    case "send":
      return <Text color="cyan">{field(`send to ${titleOf(mode.sessionId)}: `, mode.draft, width)}</Text>
    case "keys":
      return <Text color="cyan">{truncate(`key for ${titleOf(mode.sessionId)}: ${KEYS_HINT}`, width)}</Text>
    case "confirmClose":
      return (
        <Text color="yellow">
          {truncate(`close ${titleOf(mode.sessionId)} (${mode.sessionId.slice(0, 8)})? y/n`, width)}
        </Text>
      )
    case "browse":
      if (state.notice !== undefined) {
        return <Text color={state.notice.kind === "error" ? "red" : "green"}>{truncate(state.notice.text, width)}</Text>
      }
      return <Text dimColor>{truncate(state.view === "sessions" ? SESSIONS_KEYS : PROJECTS_KEYS, width)}</Text>
  }
}
