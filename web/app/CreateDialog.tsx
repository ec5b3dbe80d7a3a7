/**
 * New session: a computer (the online ones of the fleet), a project (this computer's trusted
 * directories, or any directory typed — on another computer it must lie in one of its trusted
 * dirs), a shell or an agent with its mode and first prompt, a title. The daemon's refusal (agent
 * not installed, directory not trusted, computer unreachable…) is shown in the dialog, above its
 * buttons, where the user is looking.
 */
import { type FormEvent, useEffect, useId, useRef, useState } from "react"
import { call } from "./Http.js"
import { AGENT_MODES, AGENTS, type ComputerJson, type ProjectJson, type SessionJson } from "./Wire.js"

const OTHER = "\u0000other"

export const CreateDialog = (props: {
  readonly initialProject?: string | undefined
  readonly projects: ReadonlyArray<ProjectJson>
  readonly computers: ReadonlyArray<ComputerJson>
  readonly localComputer: string | undefined
  readonly close: () => void
  readonly created: (session: SessionJson) => void
}) => {
  const ref = useRef<HTMLDialogElement>(null)
  const id = useId()
  const [computer, setComputer] = useState(props.localComputer ?? "")
  const local = computer === "" || computer === props.localComputer
  // none chosen yet: the first project, also when the projects arrive after the dialog opened
  const [chosen, setProject] = useState<string | undefined>(props.initialProject)
  const project = chosen ?? props.projects[0]?.path ?? OTHER
  const [directory, setDirectory] = useState("")
  const [kind, setKind] = useState<"shell" | (typeof AGENTS)[number]>("shell")
  const [mode, setMode] = useState<(typeof AGENT_MODES)[number]>("med")
  const [prompt, setPrompt] = useState("")
  const [title, setTitle] = useState("")
  const [error, setError] = useState<string | undefined>(undefined)
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    const dialog = ref.current
    if (dialog !== null && !dialog.open) dialog.showModal()
  }, [])
  const online = props.computers.filter((c) => c.online || c.name === props.localComputer)
  const pickProject = local && props.projects.length > 0
  const projectDir = pickProject && project !== OTHER ? project : directory.trim()

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    if (projectDir === "") {
      setError("Choose a project, or type the directory to start in.")
      return
    }
    setBusy(true)
    setError(undefined)
    const outcome = await call<SessionJson>("POST", "/v1/sessions", {
      projectDir,
      ...(local || computer === "" ? {} : { computer }),
      ...(kind === "shell" ? {} : { agent: kind, mode, ...(prompt.trim() === "" ? {} : { prompt }) }),
      ...(title.trim() === "" ? {} : { title: title.trim() })
    })
    setBusy(false)
    if (outcome.ok) props.created(outcome.value)
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
        <h2 id={`${id}-title`}>New session</h2>
        {online.length > 1 && (
          <label>
            <span>Computer</span>
            <select value={computer} onChange={(event) => setComputer(event.target.value)}>
              {online.map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name}
                  {c.name === props.localComputer ? " (this one)" : ""}
                </option>
              ))}
            </select>
          </label>
        )}
        {pickProject && (
          <label>
            <span>Project</span>
            <select value={project} onChange={(event) => setProject(event.target.value)}>
              {props.projects.map((p) => (
                <option key={p.path} value={p.path}>
                  {p.name} — {p.path}
                </option>
              ))}
              <option value={OTHER}>Another directory…</option>
            </select>
          </label>
        )}
        {(!pickProject || project === OTHER) && (
          <label>
            <span>Directory {local ? "" : `(inside a trusted directory of ${computer})`}</span>
            <input
              type="text"
              value={directory}
              placeholder="/home/me/project"
              spellCheck={false}
              autoComplete="off"
              onChange={(event) => setDirectory(event.target.value)}
            />
          </label>
        )}
        <fieldset className="kind">
          <legend>Run</legend>
          {(["shell", ...AGENTS] as const).map((option) => (
            <label key={option} className="choice">
              <input
                type="radio"
                name="kind"
                value={option}
                checked={kind === option}
                onChange={() => setKind(option)}
              />
              {option === "shell" ? "a shell" : option}
            </label>
          ))}
        </fieldset>
        {kind !== "shell" && (
          <>
            <label>
              <span>Mode</span>
              <select value={mode} onChange={(event) => setMode(event.target.value as typeof mode)}>
                {AGENT_MODES.map((m) => <option key={m} value={m}>{m}</option>)}
              </select>
            </label>
            <label>
              <span>First prompt (optional)</span>
              <textarea rows={3} value={prompt} onChange={(event) => setPrompt(event.target.value)} />
            </label>
          </>
        )}
        <label>
          <span>Title (optional)</span>
          <input type="text" value={title} onChange={(event) => setTitle(event.target.value)} />
        </label>
        {error !== undefined && <p className="error" role="alert">{error}</p>}
        <div className="actions">
          <button type="button" onClick={props.close}>Cancel</button>
          <button type="submit" className="primary" disabled={busy}>{busy ? "Starting…" : "Start"}</button>
        </div>
      </form>
    </dialog>
  )
}
