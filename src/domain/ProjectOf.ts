/**
 * Which project a session belongs to, for the views that group sessions by project (the TUI and
 * the web dashboard): no effect import, so the browser bundle can take it as it is.
 */

const within = (dir: string, root: string) => dir === root || dir.startsWith(root.endsWith("/") ? root : root + "/")

/**
 * The project holding `session`'s directory (the deepest), when its computer's projects are known
 * (this computer's); otherwise the directory itself.
 */
export const projectOf = (
  session: { readonly workingDirectory: string; readonly computer: string },
  projects: ReadonlyArray<{ readonly name: string; readonly path: string }>,
  localComputer: string | undefined
): { readonly label: string; readonly path: string } => {
  if (session.computer === localComputer) {
    let best: { readonly name: string; readonly path: string } | undefined
    for (const project of projects) {
      if (
        within(session.workingDirectory, project.path) && (best === undefined || project.path.length > best.path.length)
      ) {
        best = project
      }
    }
    if (best !== undefined) return { label: best.name, path: best.path }
  }
  return { label: session.workingDirectory, path: session.workingDirectory }
}
