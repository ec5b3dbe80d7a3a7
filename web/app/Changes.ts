/**
 * The dashboard's worktree model, pure: a patch split into typed lines (for colour), bounded; the
 * create dialog's worktree request; and the projects of the whole fleet grouped by computer (this
 * one first), for the project picker.
 */
import type { ProjectJson } from "./Wire.js"

/** Patch lines drawn in the Changes view; the rest is for `telemux diff` (a DOM node per line costs). */
export const PATCH_LINES_SHOWN = 5000

export interface PatchLine {
  readonly kind: "header" | "hunk" | "add" | "del" | "context"
  readonly text: string
}

/** `patch` as lines typed like git colours them: headers between `diff --git` and the first `@@`. */
export const patchLines = (
  patch: string,
  max = PATCH_LINES_SHOWN
): { readonly lines: ReadonlyArray<PatchLine>; readonly cut: boolean } => {
  const texts = patch.replace(/\n$/, "").split("\n")
  const lines: Array<PatchLine> = []
  let inHeader = false
  for (const text of texts.slice(0, max)) {
    if (text.startsWith("diff --git ")) inHeader = true
    else if (text.startsWith("@@")) inHeader = false
    lines.push({
      kind: inHeader
        ? "header"
        : text.startsWith("@@")
        ? "hunk"
        : text.startsWith("+")
        ? "add"
        : text.startsWith("-")
        ? "del"
        : "context",
      text
    })
  }
  return { lines, cut: texts.length > max }
}

export interface WorktreeFields {
  readonly enabled: boolean
  readonly existing: boolean
  readonly branch: string
  readonly base: string
}

/** The API's WorktreeRequest for the dialog's fields; a string says what is missing. */
export const worktreeRequest = (
  fields: WorktreeFields
): { readonly branch?: string; readonly base?: string; readonly existing?: boolean } | undefined | string => {
  if (!fields.enabled) return undefined
  const branch = fields.branch.trim()
  const base = fields.base.trim()
  if (fields.existing) {
    return branch === "" ? "Name the existing branch to check out in the worktree." : { branch, existing: true }
  }
  return { ...(branch === "" ? {} : { branch }), ...(base === "" ? {} : { base }) }
}

export interface ProjectChoice {
  /** Unique across the fleet: the same path may be a project of two computers. */
  readonly value: string
  readonly computer: string
  readonly project: ProjectJson
}

/** This computer's projects by their path; another's as `computer:path` (a path starts with /: no clash). */
export const projectValue = (computer: string, path: string, localComputer: string | undefined): string =>
  computer === (localComputer ?? "") ? path : `${computer}:${path}`

/**
 * The fleet's projects by computer: this computer's first, then the others by name. A project
 * without a computer (a daemon from before the fleet listed projects) is this computer's.
 */
export const projectGroups = (
  projects: ReadonlyArray<ProjectJson>,
  localComputer: string | undefined
): ReadonlyArray<{ readonly computer: string; readonly choices: ReadonlyArray<ProjectChoice> }> => {
  const local = localComputer ?? ""
  const byComputer = new Map<string, Array<ProjectChoice>>()
  for (const project of projects) {
    const computer = project.computer ?? local
    const list = byComputer.get(computer) ?? []
    list.push({ value: projectValue(computer, project.path, localComputer), computer, project })
    byComputer.set(computer, list)
  }
  return [...byComputer.entries()]
    .sort(([a], [b]) => (a === local ? -1 : b === local ? 1 : a.localeCompare(b)))
    .map(([computer, choices]) => ({ computer, choices }))
}
