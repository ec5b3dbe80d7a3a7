import type { FileChange } from "../domain/Worktree.js"

/**
 * Readers of git's machine output (`-z`: NUL-terminated, paths verbatim, never quoted). Each one
 * tolerates a cut record at the end (output read up to a bound) by dropping it.
 */

const fields = (output: string): Array<string> => {
  const parts = output.split("\0")
  // The text after the last NUL is a record cut short (or the empty tail of a complete output).
  parts.pop()
  return parts
}

export interface ListedWorktree {
  readonly path: string
  readonly head: string | null
  /** The short branch name, or null: detached (or bare). */
  readonly branch: string | null
  readonly bare: boolean
  readonly locked: boolean
  readonly prunable: boolean
}

/** `git worktree list --porcelain -z`: attribute lines, a record ended by an empty one; the main worktree first. */
export const parseWorktreeList = (output: string): Array<ListedWorktree> => {
  const result: Array<ListedWorktree> = []
  let current: { -readonly [K in keyof ListedWorktree]: ListedWorktree[K] } | null = null
  for (const line of fields(output)) {
    if (line === "") {
      if (current !== null) result.push(current)
      current = null
      continue
    }
    const space = line.indexOf(" ")
    const key = space < 0 ? line : line.slice(0, space)
    const value = space < 0 ? "" : line.slice(space + 1)
    if (key === "worktree") {
      if (current !== null) result.push(current)
      current = { path: value, head: null, branch: null, bare: false, locked: false, prunable: false }
    } else if (current !== null) {
      if (key === "HEAD") current.head = value
      else if (key === "branch") current.branch = value.startsWith("refs/heads/") ? value.slice(11) : value
      else if (key === "bare") current.bare = true
      else if (key === "locked") current.locked = true
      else if (key === "prunable") current.prunable = true
    }
  }
  if (current !== null) result.push(current)
  return result
}

export interface NumstatEntry {
  readonly path: string
  readonly oldPath: string | null
  /** null: a binary file. */
  readonly additions: number | null
  readonly deletions: number | null
}

/** `git diff --numstat -z`: `A\tD\tpath\0`, or for a rename or copy `A\tD\t\0old\0new\0`; `-` counts for binary. */
export const parseNumstat = (output: string): Array<NumstatEntry> => {
  const parts = fields(output)
  const result: Array<NumstatEntry> = []
  for (let i = 0; i < parts.length; i++) {
    const match = /^(-|\d+)\t(-|\d+)\t(.*)$/s.exec(parts[i]!)
    if (match === null) continue
    const additions = match[1] === "-" ? null : Number(match[1])
    const deletions = match[2] === "-" ? null : Number(match[2])
    if (match[3] !== "") {
      result.push({ path: match[3]!, oldPath: null, additions, deletions })
    } else {
      if (i + 2 >= parts.length) break
      result.push({ path: parts[i + 2]!, oldPath: parts[i + 1]!, additions, deletions })
      i += 2
    }
  }
  return result
}

export interface NameStatusEntry {
  readonly path: string
  readonly oldPath: string | null
  readonly change: FileChange
}

const CHANGE_OF_LETTER: Readonly<Record<string, FileChange>> = {
  A: "added",
  M: "modified",
  D: "deleted",
  R: "renamed",
  C: "copied",
  T: "typechange"
}

/** `git diff --name-status -z`: `X\0path\0`, or `R<score>\0old\0new\0` (and `C…`). Unknown letters read as modified. */
export const parseNameStatus = (output: string): Array<NameStatusEntry> => {
  const parts = fields(output)
  const result: Array<NameStatusEntry> = []
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const letter = parts[i]!.charAt(0)
    const change = CHANGE_OF_LETTER[letter] ?? "modified"
    if (letter === "R" || letter === "C") {
      if (i + 2 >= parts.length) break
      result.push({ path: parts[i + 2]!, oldPath: parts[i + 1]!, change })
      i += 1
    } else {
      result.push({ path: parts[i + 1]!, oldPath: null, change })
    }
  }
  return result
}

export interface MergeTreeResult {
  readonly tree: string
  /** Files with conflicts (each once), empty for a clean merge. */
  readonly conflicts: Array<string>
}

/** `git merge-tree --write-tree --name-only --no-messages -z`: the tree, then the conflicted paths. */
export const parseMergeTree = (output: string): MergeTreeResult => {
  const parts = fields(output)
  const conflicts: Array<string> = []
  for (const name of parts.slice(1)) {
    if (name === "") break
    if (!conflicts.includes(name)) conflicts.push(name)
  }
  return { tree: parts[0] ?? "", conflicts }
}

/** The last `max` characters of `text`, marked when cut (error messages carry a tail, never a whole log). */
export const tailOf = (text: string, max = 4000): string =>
  text.length <= max ? text : `…${text.slice(text.length - max)}`

/** A patch cut at `max` bytes ends at its last whole line. */
export const cutAtLine = (patch: string): string => {
  const newline = patch.lastIndexOf("\n")
  return newline < 0 ? "" : patch.slice(0, newline + 1)
}
