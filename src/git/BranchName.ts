import { createHash } from "node:crypto"
import * as path from "node:path"
import { BRANCH_NAME_MAX } from "../domain/Worktree.js"

/**
 * Branch names and where their worktrees live. The rules are git's own (`git check-ref-format
 * --branch`, see git-check-ref-format(1)) written out, so a name is judged without a process and
 * the reason can be told; test/GitText.test.ts holds them against git itself.
 */

// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARACTER = /[\u0000-\u0020\u007f~^:?*[\\]/

/** Why `name` is not a valid new branch name, or null when it is. */
export const branchNameProblem = (name: string): string | null => {
  if (name.length === 0) return "the name is empty"
  if (name.length > BRANCH_NAME_MAX) return `the name is longer than ${BRANCH_NAME_MAX} characters`
  if (name.startsWith("-")) return "the name starts with '-'"
  if (name === "HEAD" || name === "@") return `'${name}' is reserved`
  const bad = FORBIDDEN_CHARACTER.exec(name)
  if (bad !== null) return `the name contains ${JSON.stringify(bad[0])} (no spaces, control characters or ~^:?*[\\)`
  if (name.includes("..")) return "the name contains '..'"
  if (name.includes("@{")) return "the name contains '@{'"
  if (name.startsWith("/") || name.endsWith("/") || name.includes("//")) {
    return "the name has an empty part between slashes"
  }
  if (name.endsWith(".")) return "the name ends with '.'"
  for (const part of name.split("/")) {
    if (part.startsWith(".")) return `the part '${part}' starts with '.'`
    if (part.endsWith(".lock")) return `the part '${part}' ends with '.lock'`
  }
  return null
}

const SLUG_MAX = 40

/** A title as a branch-name part: lower-case letters, digits and single dashes, at most 40 characters. */
export const slugOfTitle = (title: string): string => {
  const slug = title
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, SLUG_MAX)
    .replace(/^-+|-+$/g, "")
  return slug.length === 0 ? "session" : slug
}

/** The branch a session gets when it names none: `telemux/<slug of its title>-<first 8 of its id>`. */
export const derivedBranchName = (title: string, sessionId: string): string => {
  const suffix = sessionId.replace(/[^A-Za-z0-9]/g, "").slice(0, 8).toLowerCase()
  return `telemux/${slugOfTitle(title)}${suffix.length > 0 ? `-${suffix}` : ""}`
}

/**
 * `<root>/<repository's basename>-<8 hex of sha1 of its path>`: one directory per repository, named
 * for a person and unique for two repositories of the same name.
 */
export const repositoryWorktreesDir = (root: string, repository: string): string =>
  path.join(root, `${path.basename(repository)}-${createHash("sha1").update(repository).digest("hex").slice(0, 8)}`)

/** A worktree's directory in its repository's: the branch with `/` turned into `-`. */
export const worktreeDirOf = (root: string, repository: string, branch: string): string =>
  path.join(repositoryWorktreesDir(root, repository), branch.replaceAll("/", "-"))
