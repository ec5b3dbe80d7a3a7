/**
 * New session: a computer (the online ones of the fleet), a project (the trusted directories of
 * every computer, grouped by computer, this one first: choosing another computer's project starts
 * it there; or any directory typed — on another computer it must lie in one of its trusted dirs),
 * a shell or an agent with its mode and first prompt, a title, and optionally a git worktree (a new
 * branch, named or after the title, from a base; or an existing branch). The daemon's refusal
 * (agent not installed, directory not trusted, computer unreachable, branch taken…) is shown in
 * the dialog, above its buttons, where the user is looking.
 */
import { type FormEvent, useEffect, useId, useRef, useState } from "react"
import { projectGroups, projectValue, worktreeRequest } from "./Changes.js"
import { call } from "./Http.js"
import { AGENT_MODES, AGENTS, type ComputerJson, type ProjectJson, type SessionJson } from "./Wire.js"

const OTHER = "\u0000other"

export const CreateDialog = (props: {
  readonly initialProject?: string | undefined
  /** The computer whose project `initialProject` is (default: this one). */
  readonly initialComputer?: string | undefined
  readonly projects: ReadonlyArray<ProjectJson>
  readonly computers: ReadonlyArray<ComputerJson>
  readonly localComputer: string | undefined
  readonly close: () => void
  readonly created: (session: SessionJson) => void
}) => {
  const ref = useRef<HTMLDialogElement>(null)
  const id = useId()
  const [computer, setComputer] = useState(props.initialComputer ?? props.localComputer ?? "")
  const local = computer === "" || computer === props.localComputer
  const groups = projectGroups(props.projects, props.localComputer)
  const choices = groups.flatMap((group) => group.choices)
  // none chosen yet: the first project of the computer, also when the projects arrive after the dialog opened
  const [chosen, setProject] = useState<string | undefined>(
    props.initialProject === undefined
      ? undefined
      : projectValue(props.initialComputer ?? props.localComputer ?? "", props.initialProject, props.localComputer)
  )
  const here = computer === "" ? props.localComputer ?? "" : computer
  const project = chosen !== undefined && (chosen === OTHER || choices.some((c) => c.value === chosen))
    ? chosen
    : choices.find((c) => c.computer === here)?.value ?? OTHER
  const chosenProject = choices.find((c) => c.value === project)
  const [directory, setDirectory] = useState("")
  const [inWorktree, setInWorktree] = useState(false)
  const [existing, setExisting] = useState(false)
  const [branch, setBranch] = useState("")
  const [baseRef, setBaseRef] = useState("")
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
  const pickProject = choices.length > 0
  const projectDir = pickProject && chosenProject !== undefined ? chosenProject.project.path : directory.trim()

  /** A project of another computer starts the session there. */
  const chooseProject = (value: string) => {
    setProject(value)
    const choice = choices.find((c) => c.value === value)
    if (choice !== undefined) setComputer(choice.computer)
  }
  /** Another computer: a directory to type there (its projects stay offered), never a project of the computer left. */
  const chooseComputer = (name: string) => {
    setComputer(name)
    if (chosenProject !== undefined && chosenProject.computer !== name) setProject(OTHER)
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    if (projectDir === "") {
      setError("Choose a project, or type the directory to start in.")
      return
    }
    const worktree = worktreeRequest({ enabled: inWorktree, existing, branch, base: baseRef })
    if (typeof worktree === "string") {
      setError(worktree)
      return
    }
    setBusy(true)
    setError(undefined)
    const outcome = await call<SessionJson>("POST", "/v1/sessions", {
      projectDir,
      ...(local || computer === "" ? {} : { computer }),
      ...(kind === "shell" ? {} : { agent: kind, mode, ...(prompt.trim() === "" ? {} : { prompt }) }),
      ...(title.trim() === "" ? {} : { title: title.trim() }),
      ...(worktree === undefined ? {} : { worktree })
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
            <select value={computer} onChange={(event) => chooseComputer(event.target.value)}>
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
            <select value={project} onChange={(event) => chooseProject(event.target.value)}>
              {groups.map((group) => (
                <optgroup
                  key={group.computer}
                  label={group.computer === props.localComputer ? `${group.computer} (this one)` : group.computer}
                >
                  {group.choices.map((choice) => (
                    <option key={choice.value} value={choice.value}>
                      {choice.project.name} — {choice.project.path}
                    </option>
                  ))}
                </optgroup>
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
        <fieldset className="worktree">
          <legend>Git worktree</legend>
          <label className="choice">
            <input type="checkbox" checked={inWorktree} onChange={(event) => setInWorktree(event.target.checked)} />
            Run in a new git worktree
          </label>
          {inWorktree && (
            <>
              <label className="choice">
                <input type="checkbox" checked={existing} onChange={(event) => setExisting(event.target.checked)} />
                On an existing branch
              </label>
              <label>
                <span>{existing ? "Branch" : "Branch (optional: named after the title)"}</span>
                <input
                  type="text"
                  value={branch}
                  spellCheck={false}
                  autoComplete="off"
                  onChange={(event) => setBranch(event.target.value)}
                />
              </label>
              {!existing && (
                <label>
                  <span>Base (optional: the current HEAD)</span>
                  <input
                    type="text"
                    value={baseRef}
                    spellCheck={false}
                    autoComplete="off"
                    onChange={(event) => setBaseRef(event.target.value)}
                  />
                </label>
              )}
            </>
          )}
        </fieldset>
        {error !== undefined && <p className="error" role="alert">{error}</p>}
        <div className="actions">
          <button type="button" onClick={props.close}>Cancel</button>
          <button type="submit" className="primary" disabled={busy}>{busy ? "Starting…" : "Start"}</button>
        </div>
      </form>
    </dialog>
  )
}
