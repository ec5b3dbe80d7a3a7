/** The fork dialog (`f`), drawn over the view: one line per field, the daemon's refusal under them. */
import { Box, Text } from "ink"
import { truncate } from "../cli/Table.js"
import { computerChoices } from "./Dialog.js"
import { forkComputer, forkFieldApplies } from "./ForkDialog.js"
import { FORK_FIELDS, type ForkDialog, type ForkField, type TuiState } from "./Model.js"

const LABEL: Readonly<Record<ForkField, string>> = {
  computer: "Computer",
  worktree: "Worktree",
  branch: "Branch",
  title: "Title"
}
const LABEL_WIDTH = 10

const valueOf = (state: TuiState, dialog: ForkDialog, field: ForkField): string => {
  const focused = dialog.field === field
  const mark = (text: string) => focused ? `‹${text}›` : `[${text}]`
  switch (field) {
    case "computer": {
      const current = forkComputer(state, dialog)
      const others = computerChoices(state).filter((c) => c !== current)
      return [mark(current), ...others].join(" ")
    }
    case "worktree":
      return dialog.worktree ? mark("new branch") : mark("off")
    case "branch":
      if (!forkFieldApplies(dialog, field)) return "– (worktree only)"
      return dialog.branch === "" && !focused ? "(from the title)" : dialog.branch + (focused ? "▏" : "")
    case "title":
      return dialog.title + (focused ? "▏" : "")
  }
}

export const ForkView = (
  { state, dialog, width, height }: {
    readonly state: TuiState
    readonly dialog: ForkDialog
    readonly width: number
    readonly height: number
  }
) => {
  const inner = Math.max(10, width - 4)
  const session = state.sessions.get(dialog.sessionId)
  const name = session === undefined || session.title === "" ? dialog.sessionId.slice(0, 8) : session.title
  return (
    <Box flexDirection="column" borderStyle="round" width={width} height={height} paddingX={1} overflow="hidden">
      <Text bold>
        {truncate(`Fork ${name}'s conversation${session?.agent == null ? "" : ` (${session.agent})`}`, inner)}
        {dialog.submitting ? " — starting…" : ""}
      </Text>
      {FORK_FIELDS.map((field) => {
        const focused = dialog.field === field
        return (
          <Text key={field} dimColor={!forkFieldApplies(dialog, field)}>
            <Text {...(focused ? { color: "cyan" } : {})} bold={focused}>
              {(focused ? "›" : " ") + LABEL[field].padEnd(LABEL_WIDTH)}
            </Text>
            {truncate(valueOf(state, dialog, field), Math.max(4, inner - LABEL_WIDTH - 1))}
          </Text>
        )
      })}
      <Text></Text>
      {dialog.error === undefined ? null : <Text color="red">{truncate(`✕ ${dialog.error}`, inner * 2)}</Text>}
      <Text dimColor>{truncate("Enter fork · Esc cancel · ↑↓ field · ←→ choose", inner)}</Text>
    </Box>
  )
}
