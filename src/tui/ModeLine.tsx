/** The bottom line: the field being typed, the question asked, a notice, or the keys of the view. */
import { Text } from "ink"
import { truncate } from "../cli/Table.js"
import { footerKeys } from "./Keys.js"
import type { TuiState, View } from "./Model.js"

const HELP = "? help"

/** The view's keys that fit in `width`, `? help` always last (the others dropped from the end first). */
export const footerLine = (view: View, width: number): string => {
  const keys = footerKeys(view).filter((k) => k !== HELP)
  for (let n = keys.length; n >= 0; n--) {
    const line = [...keys.slice(0, n), HELP].join("  ")
    if (line.length <= width) return line
  }
  return truncate(HELP, width)
}

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
      return <Text dimColor>{truncate("new session: Enter create · Esc cancel", width)}</Text>
    case "help":
      return <Text dimColor>{truncate("↑↓ scroll · Esc closes the help", width)}</Text>
    case "diff":
      return <Text dimColor>{truncate(`changes of ${titleOf(mode.pane.sessionId)}: Esc back`, width)}</Text>
    case "fork":
      return <Text dimColor>{truncate("fork: Enter start · Esc cancel", width)}</Text>
    case "send":
      return <Text color="cyan">{field(`send to ${titleOf(mode.sessionId)}: `, mode.draft, width)}</Text>
    case "keys":
      if (mode.error !== undefined) return <Text color="red">{truncate(`${mode.error} · Esc cancels`, width)}</Text>
      return mode.draft === ""
        ? (
          <Text color="cyan">
            {truncate(
              `key for ${titleOf(mode.sessionId)}: press it, or type a name (Escape, C-c, Up*3) + Enter · Esc cancels`,
              width
            )}
          </Text>
        )
        : <Text color="cyan">{field(`key for ${titleOf(mode.sessionId)}: `, mode.draft, width)}</Text>
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
      return <Text dimColor>{footerLine(state.view, width)}</Text>
  }
}
