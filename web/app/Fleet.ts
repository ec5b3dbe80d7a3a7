/**
 * The Sessions view's model, pure: sessions grouped computer → project (the deepest project
 * directory holding the session's working directory, else the directory itself, as in the TUI),
 * the filter (a status, and text matched against title, directory, computer, agent, id, last input
 * and output, any case), and how a status and an age read.
 */
import { projectOf } from "../../src/domain/ProjectOf.js"
import type { ProjectJson, SessionJson, SessionStatus } from "./Wire.js"

export interface ProjectGroup {
  readonly key: string
  readonly label: string
  readonly path: string
  readonly sessions: ReadonlyArray<SessionJson>
}

export interface ComputerGroup {
  readonly computer: string
  readonly projects: ReadonlyArray<ProjectGroup>
  readonly count: number
}

export type StatusFilter = "open" | SessionStatus

export const STATUS_LABEL: Readonly<Record<SessionStatus, string>> = {
  creating: "starting",
  running: "running",
  idle: "idle",
  waiting_input: "waiting for input",
  closed: "closed"
}

export { projectOf }

export const matches = (session: SessionJson, status: StatusFilter, text: string): boolean => {
  if (status === "open" ? session.status === "closed" : session.status !== status) return false
  const needle = text.trim().toLowerCase()
  if (needle === "") return true
  return [
    session.sessionId,
    session.title,
    session.workingDirectory,
    session.computer,
    session.agent ?? "shell",
    STATUS_LABEL[session.status],
    session.lastInput ?? "",
    session.lastOutput ?? ""
  ].some((field) => field.toLowerCase().includes(needle))
}

/** Newest activity first within a project; computers and projects by name. */
const recency = (session: SessionJson) =>
  Date.parse(session.lastOutputAt ?? session.lastActivityAt ?? session.createdAt)

export const groupSessions = (
  sessions: Iterable<SessionJson>,
  projects: ReadonlyArray<ProjectJson>,
  localComputer: string | undefined
): ReadonlyArray<ComputerGroup> => {
  const byComputer = new Map<string, Map<string, { label: string; path: string; sessions: Array<SessionJson> }>>()
  // the fleet lists every computer's projects: a session of this computer belongs to one of this computer's
  const local = projects.filter((project) => (project.computer ?? localComputer) === localComputer)
  for (const session of sessions) {
    const project = projectOf(session, local, localComputer)
    let groups = byComputer.get(session.computer)
    if (groups === undefined) byComputer.set(session.computer, groups = new Map())
    let group = groups.get(project.path)
    if (group === undefined) groups.set(project.path, group = { ...project, sessions: [] })
    group.sessions.push(session)
  }
  return [...byComputer.entries()]
    .sort(([a], [b]) => (a === localComputer ? -1 : b === localComputer ? 1 : a.localeCompare(b)))
    .map(([computer, groups]) => {
      const list = [...groups.values()]
        .sort((a, b) => a.label.localeCompare(b.label))
        .map((group) => ({
          key: `${computer}:${group.path}`,
          label: group.label,
          path: group.path,
          sessions: group.sessions.sort((a, b) => recency(b) - recency(a))
        }))
      return { computer, projects: list, count: list.reduce((n, group) => n + group.sessions.length, 0) }
    })
}

/** "12 s", "5 min", "3 h", "2 d": how long ago `iso` was, at `now`. */
export const age = (iso: string | null | undefined, now: number): string => {
  if (iso === null || iso === undefined) return "never"
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000))
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h`
  return `${Math.floor(seconds / 86_400)} d`
}
