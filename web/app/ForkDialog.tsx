/**
 * Fork an agent's conversation: a new session continuing it under a new id, on a computer of the
 * fleet (default: the session's own), optionally in a new git worktree on a branch of its own,
 * with a title and a mode. The daemon's refusal is shown in the dialog, above its buttons.
 */
import { type FormEvent, useEffect, useId, useRef, useState } from "react"
import { worktreeRequest } from "./Changes.js"
import { call } from "./Http.js"
import { AGENT_MODES, type AgentMode, type ComputerJson, type SessionJson } from "./Wire.js"

export const ForkDialog = (props: {
  readonly session: SessionJson
  readonly computers: ReadonlyArray<ComputerJson>
  readonly close: () => void
  readonly forked: (session: SessionJson) => void
}) => {
  const ref = useRef<HTMLDialogElement>(null)
  const id = useId()
  const [computer, setComputer] = useState(props.session.computer)
  const [inWorktree, setInWorktree] = useState(false)
  const [branch, setBranch] = useState("")
  const [title, setTitle] = useState(props.session.title === "" ? "" : `${props.session.title} (fork)`)
  const [mode, setMode] = useState<AgentMode>(props.session.agentMode ?? "med")
  const [error, setError] = useState<string | undefined>(undefined)
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    const dialog = ref.current
    if (dialog !== null && !dialog.open) dialog.showModal()
  }, [])
  const choices = [
    props.session.computer,
    ...props.computers.filter((c) => c.online && c.name !== props.session.computer).map((c) => c.name)
  ]

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    const worktree = worktreeRequest({ enabled: inWorktree, existing: false, branch, base: "" })
    if (typeof worktree === "string") return setError(worktree)
    setBusy(true)
    setError(undefined)
    const outcome = await call<SessionJson>("POST", `/v1/sessions/${props.session.sessionId}/fork`, {
      ...(computer === props.session.computer ? {} : { computer }),
      ...(worktree === undefined ? {} : { worktree }),
      ...(title.trim() === "" ? {} : { title: title.trim() }),
      ...(mode === props.session.agentMode ? {} : { mode })
    })
    setBusy(false)
    if (outcome.ok) props.forked(outcome.value)
    else setError(`${outcome.message}${outcome.tag.startsWith("HTTP") ? "" : ` (${outcome.tag})`}`)
  }

  return (
    <dialog
      ref={ref}
      className="create"
      aria-labelledby={`${id}-title`}
      onCancel={(event) => {
        event.preventDefault()
        props.close()
      }}
    >
      <form onSubmit={(event) => void submit(event)}>
        <h2 id={`${id}-title`}>Fork the conversation</h2>
        <p className="hint">
          A new session continues {props.session.agent}'s conversation under a new id; this one goes on as it is.
        </p>
        <label>
          <span>Computer</span>
          <select value={computer} onChange={(event) => setComputer(event.target.value)}>
            {choices.map((name) => (
              <option key={name} value={name}>
                {name}
                {name === props.session.computer ? " (the session's)" : ""}
              </option>
            ))}
          </select>
        </label>
        <label className="choice">
          <input type="checkbox" checked={inWorktree} onChange={(event) => setInWorktree(event.target.checked)} />
          In a new git worktree
        </label>
        {inWorktree && (
          <label>
            <span>Branch (optional: named after the title)</span>
            <input type="text" value={branch} spellCheck={false} onChange={(event) => setBranch(event.target.value)} />
          </label>
        )}
        <label>
          <span>Mode</span>
          <select value={mode} onChange={(event) => setMode(event.target.value as AgentMode)}>
            {AGENT_MODES.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </label>
        <label>
          <span>Title (optional)</span>
          <input type="text" value={title} onChange={(event) => setTitle(event.target.value)} />
        </label>
        {error !== undefined && <p className="error" role="alert">{error}</p>}
        <div className="actions">
          <button type="button" onClick={props.close}>Cancel</button>
          <button type="submit" className="primary" disabled={busy}>{busy ? "Forking…" : "Fork"}</button>
        </div>
      </form>
    </dialog>
  )
}
