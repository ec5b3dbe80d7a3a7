/** The new-session dialog, drawn over the view: one line per field, the daemon's refusal under them. */
import { Box, Text } from "ink"
import { truncate } from "../cli/Table.js"
import {
  AGENT_MODES,
  completionsFor,
  computerChoices,
  fieldApplies,
  notApplying,
  START_KINDS,
  WORKTREE_CHOICES,
  WORKTREE_LABEL
} from "./Dialog.js"
import { type CreateDialog, DIALOG_FIELDS, type DialogField, type TuiState } from "./Model.js"

const LABEL: Readonly<Record<DialogField, string>> = {
  directory: "Directory",
  computer: "Computer",
  start: "Start",
  mode: "Mode",
  prompt: "Prompt",
  title: "Title",
  worktree: "Worktree",
  branch: "Branch",
  base: "Base"
}
const LABEL_WIDTH = 10
/** Project paths shown under the directory. */
const COMPLETIONS_SHOWN = 3

/** The visible end of a text that may be wider than its room, with the cursor when focused. */
const textValue = (text: string, room: number, focused: boolean) => {
  const shown = text.length > room - 1 ? "…" + text.slice(text.length - room + 2) : text
  return focused ? shown + "▏" : shown
}

/** A choice: the current one between ‹ › when focused, the others dim. */
const choices = (all: ReadonlyArray<string>, current: string, focused: boolean) =>
  all.map((choice) => choice === current ? (focused ? `‹${choice}›` : `[${choice}]`) : ` ${choice} `).join("")

const valueOf = (state: TuiState, dialog: CreateDialog, field: DialogField, room: number): string => {
  const focused = dialog.field === field
  if (!fieldApplies(dialog, field)) return notApplying(field)
  switch (field) {
    case "directory":
      return textValue(dialog.directory, room, focused)
    case "computer": {
      const names = computerChoices(state)
      const current = dialog.computer ?? state.localComputer ?? ""
      const offline = state.computers.find((c) => c.name === current)?.online === false ? "  (offline)" : ""
      return choices(names.length === 0 ? [current] : names, current, focused) + offline
    }
    case "start":
      return choices(START_KINDS, dialog.start, focused)
    case "mode":
      return choices(AGENT_MODES, dialog.agentMode, focused)
    case "prompt":
      return textValue(dialog.prompt, room, focused)
    case "title":
      return textValue(dialog.title, room, focused)
    case "worktree":
      return choices(WORKTREE_CHOICES.map((c) => WORKTREE_LABEL[c]), WORKTREE_LABEL[dialog.worktree], focused)
    case "branch":
      return dialog.branch === "" && !focused && dialog.worktree === "new"
        ? "(from the title)"
        : textValue(dialog.branch, room, focused)
    case "base":
      return dialog.base === "" && !focused ? "(HEAD)" : textValue(dialog.base, room, focused)
  }
}

export const DialogView = (
  { state, dialog, width, height }: {
    readonly state: TuiState
    readonly dialog: CreateDialog
    readonly width: number
    readonly height: number
  }
) => {
  const inner = Math.max(10, width - 4)
  const room = Math.max(4, inner - LABEL_WIDTH - 2)
  const matches = dialog.field === "directory"
    ? completionsFor(state, dialog.completion?.typed ?? dialog.directory).slice(0, COMPLETIONS_SHOWN)
    : []
  return (
    <Box flexDirection="column" borderStyle="round" width={width} height={height} paddingX={1} overflow="hidden">
      <Text bold>New session{dialog.submitting ? " — starting…" : ""}</Text>
      {DIALOG_FIELDS.map((field) => {
        const focused = dialog.field === field
        return (
          <Box key={field} flexDirection="column">
            <Text dimColor={!fieldApplies(dialog, field)}>
              <Text {...(focused ? { color: "cyan" } : {})} bold={focused}>
                {(focused ? "›" : " ") + LABEL[field].padEnd(LABEL_WIDTH)}
              </Text>
              {truncate(valueOf(state, dialog, field, room), room + 1)}
            </Text>
            {field === "directory" && matches.length > 0
              ? <Text dimColor>{truncate(`${" ".repeat(LABEL_WIDTH + 1)}Tab: ${matches.join("  ")}`, inner)}</Text>
              : null}
          </Box>
        )
      })}
      <Text></Text>
      {dialog.error === undefined
        ? null
        : <Text color="red">{truncate(`✕ ${dialog.error}`, inner * 2)}</Text>}
      <Text dimColor>
        {truncate("Enter create · Esc cancel · ↑↓ field · ←→ choose · Tab complete", inner)}
      </Text>
    </Box>
  )
}
