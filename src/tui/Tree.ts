/**
 * The Sessions view's tree: computer → project → session. A session belongs to the project whose
 * directory holds its working directory (projects are known for this computer), else to its
 * working directory itself. The filter keeps sessions whose id, title, directory, computer,
 * status, last input or last output contain it (any case); empty nodes are hidden.
 */
import { projectOf } from "../domain/ProjectOf.js"
import type { Session } from "../domain/Session.js"
import type { NodeUi, TuiState } from "./Model.js"

export type Row =
  | {
    readonly kind: "computer"
    readonly key: string
    readonly depth: 0
    readonly name: string
    readonly count: number
    readonly collapsed: boolean
  }
  | {
    readonly kind: "project"
    readonly key: string
    readonly depth: 1
    readonly label: string
    readonly path: string
    readonly count: number
    readonly collapsed: boolean
  }
  | { readonly kind: "session"; readonly key: string; readonly depth: 2; readonly session: Session }

export const computerKey = (computer: string) => `computer:${computer}`
export const projectKey = (computer: string, dir: string) => `project:${computer}:${dir}`

export { projectOf }

export const matchesFilter = (session: Session, filter: string): boolean => {
  const needle = filter.trim().toLowerCase()
  if (needle === "") return true
  return [
    session.sessionId,
    session.title,
    session.workingDirectory,
    session.computer,
    session.status,
    session.lastInput ?? "",
    session.lastOutput ?? ""
  ].some((field) => field.toLowerCase().includes(needle))
}

const isCollapsed = (nodeUi: ReadonlyMap<string, NodeUi>, key: string) => nodeUi.get(key)?.collapsed === true

export const buildRows = (
  state: Pick<TuiState, "sessions" | "projects" | "localComputer" | "filter" | "nodeUi">
): ReadonlyArray<Row> => {
  const byComputer = new Map<string, Map<string, { label: string; path: string; sessions: Array<Session> }>>()
  for (const session of state.sessions.values()) {
    if (!matchesFilter(session, state.filter)) continue
    const project = projectOf(session, state.projects, state.localComputer)
    let projects = byComputer.get(session.computer)
    if (projects === undefined) byComputer.set(session.computer, projects = new Map())
    let group = projects.get(project.path)
    if (group === undefined) projects.set(project.path, group = { ...project, sessions: [] })
    group.sessions.push(session)
  }
  const computers = [...byComputer.keys()].sort((a, b) =>
    a === state.localComputer ? -1 : b === state.localComputer ? 1 : a.localeCompare(b)
  )
  const rows: Array<Row> = []
  for (const computer of computers) {
    const projects = [...byComputer.get(computer)!.values()].sort((a, b) => a.label.localeCompare(b.label))
    const cKey = computerKey(computer)
    const cCollapsed = isCollapsed(state.nodeUi, cKey)
    const count = projects.reduce((n, p) => n + p.sessions.length, 0)
    rows.push({ kind: "computer", key: cKey, depth: 0, name: computer, count, collapsed: cCollapsed })
    if (cCollapsed) continue
    for (const project of projects) {
      const pKey = projectKey(computer, project.path)
      const pCollapsed = isCollapsed(state.nodeUi, pKey)
      rows.push({
        kind: "project",
        key: pKey,
        depth: 1,
        label: project.label,
        path: project.path,
        count: project.sessions.length,
        collapsed: pCollapsed
      })
      if (pCollapsed) continue
      const sessions = [...project.sessions].sort((a, b) =>
        a.createdAt.epochMillis - b.createdAt.epochMillis || a.sessionId.localeCompare(b.sessionId)
      )
      for (const session of sessions) rows.push({ kind: "session", key: session.sessionId, depth: 2, session })
    }
  }
  return rows
}

/** Keys of every node that exists for the current sessions, whatever the filter or collapsing. */
export const nodeKeys = (
  state: Pick<TuiState, "sessions" | "projects" | "localComputer">
): ReadonlySet<string> => {
  const keys = new Set<string>()
  for (const session of state.sessions.values()) {
    keys.add(computerKey(session.computer))
    keys.add(projectKey(session.computer, projectOf(session, state.projects, state.localComputer).path))
  }
  return keys
}
