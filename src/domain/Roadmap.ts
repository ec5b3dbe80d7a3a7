import type { TodoState } from "./Project.js"

export interface RoadmapItem {
  readonly slug: string
  readonly state: TodoState
  readonly description: string
}

const MARKS: Readonly<Record<string, TodoState>> = { " ": "pending", ".": "ready", ">": "in_progress" }
const ITEM = /^- \[([ .>])\] (\S.*?)\s*$/

/**
 * Parses `todos/roadmap.md`: each `- [ ] slug` / `- [.] slug` / `- [>] slug` line is a todo;
 * the indented lines under it are its description. Anything else ends the description.
 */
export const parseRoadmap = (text: string): ReadonlyArray<RoadmapItem> => {
  const items: Array<{ slug: string; state: TodoState; lines: Array<string> }> = []
  let current: (typeof items)[number] | undefined
  for (const line of text.split(/\r?\n/)) {
    const match = ITEM.exec(line)
    if (match !== null) {
      current = { slug: match[2]!, state: MARKS[match[1]!]!, lines: [] }
      items.push(current)
    } else if (current !== undefined && /^\s+\S/.test(line)) {
      current.lines.push(line.trim())
    } else if (line.trim() !== "") {
      current = undefined
    }
  }
  return items.map((item) => ({ slug: item.slug, state: item.state, description: item.lines.join(" ") }))
}
