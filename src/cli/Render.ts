/**
 * How `ls`, `computers` and `projects` print: tables for people, `--json` for scripts (the API's
 * own encoding, so `telemux ls --json` reads like `GET /v1/sessions`).
 */
import { DateTime, Schema } from "effect"
import { Computer } from "../domain/Computer.js"
import { Project, type TodoState } from "../domain/Project.js"
import { Session } from "../domain/Session.js"
import { type Column, formatAge, formatTable } from "./Table.js"

/** Characters of a session id shown in tables; any unique prefix works as an id. */
export const SHORT_ID_LENGTH = 8

const millis = (dt: DateTime.Utc) => DateTime.toEpochMillis(dt)

export const sessionColumns = (nowMillis: number): ReadonlyArray<Column<Session>> => [
  { header: "ID", cell: (s) => s.sessionId.slice(0, SHORT_ID_LENGTH) },
  { header: "COMPUTER", cell: (s) => s.computer, max: 16 },
  { header: "STATUS", cell: (s) => s.status },
  { header: "AGE", cell: (s) => formatAge(millis(s.createdAt), nowMillis), align: "right" },
  { header: "TITLE", cell: (s) => s.title, max: 24 },
  { header: "DIRECTORY", cell: (s) => s.workingDirectory, max: 40 },
  { header: "LAST INPUT", cell: (s) => s.lastInput ?? "", max: 40 }
]

/** `width`: the terminal's columns (none when printing to a pipe: nothing is cut beyond each column's max). */
export const sessionsTable = (sessions: ReadonlyArray<Session>, nowMillis: number, width?: number): string =>
  sessions.length === 0 ? "no sessions" : formatTable(sessionColumns(nowMillis), sessions, width)

const percent = (value: number | undefined) => (value === undefined ? "-" : `${Math.round(value)}%`)

export const computersTable = (computers: ReadonlyArray<Computer>, width?: number): string =>
  formatTable<Computer>(
    [
      { header: "NAME", cell: (c) => c.name },
      { header: "HOST", cell: (c) => c.host, max: 30 },
      { header: "USER", cell: (c) => c.user },
      { header: "ROLE", cell: (c) => c.role },
      { header: "ONLINE", cell: (c) => (c.online ? "yes" : "no") },
      { header: "CPU", cell: (c) => percent(c.stats?.cpuPercent), align: "right" },
      { header: "MEM", cell: (c) => percent(c.stats?.memory.percentUsed), align: "right" },
      { header: "DISK", cell: (c) => percent(c.stats?.disk?.percentUsed), align: "right" },
      { header: "VERSION", cell: (c) => c.version }
    ],
    computers,
    width
  )

export const TODO_MARK: Readonly<Record<TodoState, string>> = { pending: "[ ]", ready: "[.]", in_progress: "[>]" }

export const projectsText = (projects: ReadonlyArray<Project>): string => {
  if (projects.length === 0) return "no projects (set TELEMUX_TRUSTED_DIRS on the daemon)"
  return projects.map((project) => {
    const head = `${project.name}  ${project.path}${project.description === "" ? "" : `\n  ${project.description}`}`
    const todos = project.todos.map((todo) => {
      const flags = [todo.hasRequirements ? "requirements" : "", todo.hasImplementationPlan ? "plan" : ""]
        .filter((f) => f !== "").join(", ")
      return `  ${TODO_MARK[todo.state]} ${todo.slug}${flags === "" ? "" : `  (${flags})`}` +
        (todo.description === "" ? "" : `\n      ${todo.description.split("\n").join("\n      ")}`)
    })
    return [head, ...(todos.length === 0 ? ["  no todos"] : todos)].join("\n")
  }).join("\n\n")
}

const json = (value: unknown) => JSON.stringify(value, null, 2)

export const sessionsJson = (sessions: ReadonlyArray<Session>): string =>
  json(Schema.encodeSync(Schema.Array(Session))(sessions))
export const sessionJson = (session: Session): string => json(Schema.encodeSync(Session)(session))
export const computersJson = (computers: ReadonlyArray<Computer>): string =>
  json(Schema.encodeSync(Schema.Array(Computer))(computers))
export const projectsJson = (projects: ReadonlyArray<Project>): string =>
  json(Schema.encodeSync(Schema.Array(Project))(projects))
