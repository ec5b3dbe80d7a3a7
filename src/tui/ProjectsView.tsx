/** Projects: each trusted directory of this computer with the todos of its roadmap. */
import { Box, Text } from "ink"
import { TODO_MARK } from "../cli/Render.js"
import { truncate } from "../cli/Table.js"
import type { TuiState } from "./Model.js"

export const ProjectsView = (
  { state, width, height }: { readonly state: TuiState; readonly width: number; readonly height: number }
) => {
  if (!state.projectsLoaded) {
    return (
      <Box height={height}>
        <Text dimColor>loading projects…</Text>
      </Box>
    )
  }
  if (state.projects.length === 0) {
    return (
      <Box height={height}>
        <Text dimColor>no projects (the daemon's TELEMUX_TRUSTED_DIRS is empty)</Text>
      </Box>
    )
  }
  const lines: Array<{ key: string; text: string; selected: boolean; kind: "project" | "detail" | "todo" }> = []
  let selectedLine = 0
  state.projects.forEach((project, i) => {
    const selected = i === state.projectCursor
    if (selected) selectedLine = lines.length
    lines.push({ key: `p${i}`, text: `${project.name}  ${project.path}`, selected, kind: "project" })
    if (project.description !== "") {
      lines.push({ key: `d${i}`, text: `  ${project.description}`, selected: false, kind: "detail" })
    }
    project.todos.forEach((todo, j) => {
      const flags = [todo.hasRequirements ? "req" : "", todo.hasImplementationPlan ? "plan" : ""].filter((f) =>
        f !== ""
      )
      lines.push({
        key: `t${i}.${j}`,
        text: `  ${TODO_MARK[todo.state]} ${todo.slug}${flags.length === 0 ? "" : `  (${flags.join(", ")})`}` +
          (todo.description === "" ? "" : ` — ${todo.description.replace(/\s+/g, " ")}`),
        selected: false,
        kind: "todo"
      })
    })
    if (project.todos.length === 0) lines.push({ key: `n${i}`, text: "  no todos", selected: false, kind: "detail" })
  })
  const start = Math.max(0, Math.min(selectedLine - Math.floor(height / 3), lines.length - height))
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      {lines.slice(start, start + height).map((line) => (
        <Text
          key={line.key}
          inverse={line.selected}
          bold={line.kind === "project"}
          dimColor={line.kind === "detail"}
        >
          {truncate(line.text, width)}
        </Text>
      ))}
    </Box>
  )
}
