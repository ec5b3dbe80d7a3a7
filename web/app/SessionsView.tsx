/**
 * The whole fleet's sessions, grouped computer → project, live from the stream; a status filter
 * (open ones by default, or one status; "closed" lists the history from the API) and a search.
 */
import { useEffect, useMemo, useState } from "react"
import { age, type ComputerGroup, groupSessions, matches, STATUS_LABEL, type StatusFilter } from "./Fleet.js"
import { get } from "./Http.js"
import { StatusBadge } from "./StatusBadge.js"
import { useNow } from "./useNow.js"
import type { ProjectJson, SessionJson } from "./Wire.js"

const HISTORY_LIMIT = 500
const FILTERS: ReadonlyArray<StatusFilter> = ["open", "running", "idle", "waiting_input", "creating", "closed"]

export const SessionsView = (props: {
  readonly sessions: ReadonlyMap<string, SessionJson>
  readonly listed: boolean
  readonly projects: ReadonlyArray<ProjectJson>
  readonly localComputer: string | undefined
  readonly open: (sessionId: string) => void
}) => {
  const [text, setText] = useState("")
  const [status, setStatus] = useState<StatusFilter>("open")
  const [history, setHistory] = useState<ReadonlyArray<SessionJson> | undefined>(undefined)
  const [historyError, setHistoryError] = useState<string | undefined>(undefined)
  const now = useNow(1000)

  useEffect(() => {
    if (status !== "closed") return
    let current = true
    setHistory(undefined)
    setHistoryError(undefined)
    void get<ReadonlyArray<SessionJson>>(`/v1/sessions?status=closed&limit=${HISTORY_LIMIT}`).then((outcome) => {
      if (!current) return
      if (outcome.ok) setHistory(outcome.value)
      else setHistoryError(outcome.message)
    })
    return () => {
      current = false
    }
  }, [status])

  const source = status === "closed" ? history ?? [] : [...props.sessions.values()]
  const groups = useMemo(
    () =>
      groupSessions(source.filter((session) => matches(session, status, text)), props.projects, props.localComputer),
    [source, status, text, props.projects, props.localComputer]
  )
  const loading = status === "closed" ? history === undefined && historyError === undefined : !props.listed

  return (
    <main className="sessions">
      <h1>Sessions</h1>
      <form className="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <label>
          <span>Search</span>
          <input
            type="search"
            value={text}
            placeholder="title, directory, output…"
            onChange={(event) => setText(event.target.value)}
          />
        </label>
        <label>
          <span>Status</span>
          <select value={status} onChange={(event) => setStatus(event.target.value as StatusFilter)}>
            {FILTERS.map((filter) => (
              <option key={filter} value={filter}>
                {filter === "open" ? "all open" : filter === "closed" ? "closed (history)" : STATUS_LABEL[filter]}
              </option>
            ))}
          </select>
        </label>
      </form>
      {historyError !== undefined && <p role="alert" className="error">{historyError}</p>}
      {loading
        ? <p role="status">Loading sessions…</p>
        : groups.length === 0
        ? (
          <p role="status" className="empty">
            {text !== "" || status !== "open"
              ? "No session matches."
              : "No open session. Start one with New session."}
          </p>
        )
        : groups.map((group) => <ComputerSection key={group.computer} group={group} now={now} open={props.open} />)}
    </main>
  )
}

const ComputerSection = (
  { group, now, open }: { readonly group: ComputerGroup; readonly now: number; readonly open: (id: string) => void }
) => (
  <section className="computer" aria-label={`Computer ${group.computer}`}>
    <h2>
      {group.computer} <span className="count">{group.count} session{group.count === 1 ? "" : "s"}</span>
    </h2>
    {group.projects.map((project) => (
      <section key={project.key} className="project" aria-label={`Project ${project.label}`}>
        <h3 title={project.path}>{project.label}</h3>
        <ul className="session-list">
          {project.sessions.map((session) => (
            <SessionRow key={session.sessionId} session={session} now={now} open={open} />
          ))}
        </ul>
      </section>
    ))}
  </section>
)

/** The end of a summary is what happened last: that is the part shown. */
const TAIL_CHARS = 120
const tail = (text: string | null) =>
  text === null ? "—" : text.length <= TAIL_CHARS ? text : `…${text.slice(-TAIL_CHARS)}`

export const sessionName = (session: SessionJson) =>
  session.title !== "" ? session.title : session.workingDirectory.split("/").filter(Boolean).pop() ?? "/"

const SessionRow = (
  { now, open, session }: { readonly session: SessionJson; readonly now: number; readonly open: (id: string) => void }
) => (
  <li className={`session-row row-${session.status}`}>
    <a
      href={`/session/${session.sessionId}`}
      onClick={(event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return
        event.preventDefault()
        open(session.sessionId)
      }}
    >
      <span className="row-head">
        <StatusBadge status={session.status} />
        <span className="title">{sessionName(session)}</span>
        <span className="agent">
          {session.agent === null ? "shell" : `${session.agent} · ${session.agentMode ?? "med"}`}
        </span>
        <span className="ages">
          {session.status === "closed" && session.closedAt !== null
            ? `closed ${age(session.closedAt, now)} ago${
              session.closeReason === null ? "" : ` (${session.closeReason})`
            }`
            : `started ${age(session.createdAt, now)} ago · output ${
              session.lastOutputAt === null ? "none yet" : `${age(session.lastOutputAt, now)} ago`
            }`}
        </span>
      </span>
      <span className="last">
        <span className="label">in</span> <span className="text">{session.lastInput ?? "—"}</span>
      </span>
      <span className="last">
        <span className="label">out</span> <span className="text">{tail(session.lastOutput)}</span>
      </span>
    </a>
  </li>
)
