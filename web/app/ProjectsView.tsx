/**
 * The fleet's trusted project directories (each naming its computer, when the daemon says) with the
 * todos of their roadmaps; a session can be started in one, on its computer.
 */
import { useEffect, useState } from "react"
import { get } from "./Http.js"
import type { ProjectJson } from "./Wire.js"

const TODO_STATE: Readonly<Record<string, string>> = {
  pending: "pending",
  ready: "ready",
  in_progress: "in progress"
}

export const ProjectsView = (
  { start }: { readonly start: (projectPath: string, computer: string | undefined) => void }
) => {
  const [projects, setProjects] = useState<ReadonlyArray<ProjectJson> | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)

  useEffect(() => {
    void get<ReadonlyArray<ProjectJson>>("/v1/projects").then((outcome) => {
      if (outcome.ok) setProjects(outcome.value)
      else setError(outcome.message)
    })
  }, [])

  return (
    <main className="listing">
      <h1>Projects</h1>
      {error !== undefined && <p role="alert" className="error">{error}</p>}
      {projects === undefined && error === undefined && <p role="status">Loading projects…</p>}
      {projects !== undefined && projects.length === 0 && (
        <p role="status" className="empty">
          No trusted directory: set <code>TELEMUX_TRUSTED_DIRS</code> (directories separated by{" "}
          <code>:</code>) and restart the daemon.
        </p>
      )}
      {projects?.map((project) => (
        <section
          key={`${project.computer ?? ""}:${project.path}`}
          className="card"
          aria-label={`Project ${project.name}`}
        >
          <div className="card-head">
            <h2>{project.name}</h2>
            <span className="meta">
              {project.computer === undefined ? "" : `${project.computer} · `}
              {project.path}
            </span>
            <span className="spacer" />
            <button type="button" onClick={() => start(project.path, project.computer)}>New session here</button>
          </div>
          {project.description !== "" && <p>{project.description}</p>}
          {project.todos.length === 0
            ? (
              <p className="hint">
                No todos (a <code>todos/roadmap.md</code> lists them).
              </p>
            )
            : (
              <ul className="todos">
                {project.todos.map((todo) => (
                  <li key={todo.slug}>
                    <span className={`todo todo-${todo.state}`}>{TODO_STATE[todo.state] ?? todo.state}</span>{" "}
                    <span className="mono">{todo.slug}</span>
                    {todo.description !== "" && <span className="todo-text">{todo.description}</span>}
                    {(todo.hasRequirements || todo.hasImplementationPlan) && (
                      <span className="hint">
                        {[todo.hasRequirements ? "requirements" : "", todo.hasImplementationPlan ? "plan" : ""]
                          .filter(Boolean)
                          .join(" · ")}
                      </span>
                    )}
                  </li>
                ))}
              </ul>
            )}
        </section>
      ))}
    </main>
  )
}
