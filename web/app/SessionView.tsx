/**
 * One session: what it is (title, status, computer, directory, agent), its live terminal with the
 * key bar, the agent's controls where it has one (resume, restart, send a prompt) and Close, which
 * asks first. A session in a git worktree has a Changes view beside its terminal (the diff, and
 * commit, push, merge, discard); an agent's session can be forked. A session this page does not
 * have live (closed, or not listed yet) is read once.
 */
import { lazy, Suspense, useEffect, useState } from "react"
import { ChangesView } from "./ChangesView.js"
import { ConfirmDialog } from "./ConfirmDialog.js"
import { ForkDialog } from "./ForkDialog.js"
import { call, get } from "./Http.js"
import { sessionName } from "./SessionsView.js"
import { StatusBadge } from "./StatusBadge.js"
import type { LinkState, StreamLink } from "./Stream.js"

/** xterm.js is most of the dashboard's code: loaded when a terminal is first shown, not with the list. */
const TerminalView = lazy(() => import("./TerminalView.js").then((module) => ({ default: module.TerminalView })))
import type { ComputerJson, SessionJson } from "./Wire.js"

type Said = { readonly text: string; readonly error: boolean } | undefined

export const SessionView = (props: {
  readonly link: StreamLink
  readonly linkState: LinkState
  readonly sessionId: string
  readonly live: SessionJson | undefined
  readonly computers: ReadonlyArray<ComputerJson>
  readonly back: () => void
  /** A session started from this one (a fork): shown next. */
  readonly started: (session: SessionJson) => void
}) => {
  const [fetched, setFetched] = useState<SessionJson | undefined>(undefined)
  const [missing, setMissing] = useState<string | undefined>(undefined)
  const [confirming, setConfirming] = useState(false)
  const [said, setSaid] = useState<Said>(undefined)
  const [busy, setBusy] = useState(false)
  const [prompt, setPrompt] = useState("")
  const [tab, setTab] = useState<"terminal" | "changes">("terminal")
  const [forking, setForking] = useState(false)
  const session = props.live ?? fetched

  useEffect(() => {
    if (props.live !== undefined) return
    let current = true
    void get<SessionJson>(`/v1/sessions/${props.sessionId}`).then((outcome) => {
      if (!current) return
      if (outcome.ok) setFetched(outcome.value)
      else setMissing(outcome.message)
    })
    return () => {
      current = false
    }
  }, [props.sessionId, props.live])

  const act = async (what: string, method: string, path: string, body?: unknown) => {
    setBusy(true)
    setSaid({ text: `${what}…`, error: false })
    const outcome = await call<SessionJson | undefined>(method, path, body)
    setBusy(false)
    setSaid(
      outcome.ok
        ? { text: `${what}: done.`, error: false }
        : { text: `${what} failed: ${outcome.message}`, error: true }
    )
    if (outcome.ok && outcome.value !== undefined) setFetched(outcome.value)
    return outcome.ok
  }

  const backLink = (
    <a
      className="back"
      href="/"
      onClick={(event) => {
        event.preventDefault()
        props.back()
      }}
    >
      ← Sessions
    </a>
  )

  if (session === undefined) {
    return (
      <main className="session">
        {backLink}
        {missing === undefined
          ? <p role="status">Loading the session…</p>
          : <p role="alert" className="error">{missing}</p>}
      </main>
    )
  }
  const closed = session.status === "closed"
  const base = `/v1/sessions/${session.sessionId}`

  return (
    <main className="session">
      <header className="session-head">
        {backLink}
        <h1>{sessionName(session)}</h1>
        <StatusBadge status={session.status} />
        {/* on a phone the page's header is folded away: the connection's state shows here */}
        {props.linkState !== "open" && <span className="link link-connecting phone-only">reconnecting…</span>}
        <span className="meta">
          {session.computer} · <span title={session.workingDirectory}>{session.workingDirectory}</span> ·{" "}
          {session.agent === null ? "shell" : `${session.agent} (${session.agentMode ?? "med"})`}
        </span>
        <span className="spacer" />
        {session.agent !== null && !closed && (
          <>
            <button type="button" disabled={busy} onClick={() => void act("Resume", "POST", `${base}/resume`)}>
              Resume agent
            </button>
            <button type="button" disabled={busy} onClick={() => void act("Restart", "POST", `${base}/restart`)}>
              Restart agent
            </button>
            <button type="button" disabled={busy} onClick={() => setForking(true)}>Fork…</button>
          </>
        )}
        {!closed && (
          <button type="button" className="danger" disabled={busy} onClick={() => setConfirming(true)}>
            Close…
          </button>
        )}
      </header>
      {said !== undefined && (
        <p className={said.error ? "error" : "said"} role={said.error ? "alert" : "status"}>{said.text}</p>
      )}
      {session.promptDelivery?.state === "pending" && !closed && (
        <p className="said" role="status">Delivering the first prompt to {session.agent}…</p>
      )}
      {session.promptDelivery?.state === "failed" && (
        <p className="error" role="alert">The first prompt was not delivered: {session.promptDelivery.detail}</p>
      )}
      {session.agent !== null && !closed && (
        <form
          className="prompt"
          onSubmit={(event) => {
            event.preventDefault()
            if (prompt.trim() === "") return
            void act("Send the prompt", "POST", `${base}/input`, { text: prompt }).then((ok) => ok && setPrompt(""))
          }}
        >
          <label htmlFor="prompt">Prompt for the agent</label>
          <textarea id="prompt" rows={2} value={prompt} onChange={(event) => setPrompt(event.target.value)} />
          <button type="submit" disabled={busy || prompt.trim() === ""}>Send</button>
        </form>
      )}
      {session.worktree !== undefined && (
        <div className="tabs" role="group" aria-label="Show">
          <button type="button" aria-pressed={tab === "terminal"} onClick={() => setTab("terminal")}>Terminal</button>
          <button type="button" aria-pressed={tab === "changes"} onClick={() => setTab("changes")}>
            Changes <span className="meta">({session.worktree.branch})</span>
          </button>
        </div>
      )}
      {tab === "changes" && session.worktree !== undefined
        ? (
          <ChangesView
            session={session}
            onDiscarded={(text) => {
              setSaid({ text, error: false })
              setTab("terminal")
            }}
          />
        )
        : closed
        ? (
          <p role="status" className="closed-note">
            This session is closed{session.closeReason === null ? "" : ` (${session.closeReason})`}. Its last output:
            {" "}
            <q>{session.lastOutput ?? "none"}</q>
          </p>
        )
        : (
          <Suspense fallback={<p role="status">Loading the terminal…</p>}>
            <TerminalView link={props.link} linkState={props.linkState} sessionId={session.sessionId} />
          </Suspense>
        )}
      {forking && (
        <ForkDialog
          session={session}
          computers={props.computers}
          close={() => setForking(false)}
          forked={(forked) => {
            setForking(false)
            props.started(forked)
          }}
        />
      )}
      {confirming && (
        <ConfirmDialog
          title="Close this session?"
          body={`Its tmux session is killed with whatever runs in it (${
            sessionName(session)
          } on ${session.computer}). It stays in the history.`}
          confirm="Close session"
          cancel={() => setConfirming(false)}
          accept={async () => {
            setConfirming(false)
            if (await act("Close", "DELETE", base)) props.back()
          }}
        />
      )}
    </main>
  )
}
