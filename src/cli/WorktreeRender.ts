/**
 * How `telemux diff`, `worktree` and `fork` print: the diff's stats first (the part a person reads
 * before deciding to read the patch), then the unified patch, coloured the way `git diff` colours
 * it when the output is a terminal that wants colour; what a truncated diff left out and how to see
 * all of it; what finishing or cleaning did, with the salvage refs that keep forced removals.
 */
import {
  type CleanupReport,
  DIFF_PATCH_MAX_BYTES,
  type DiffFile,
  type FinishResult,
  type WorktreeDiff,
  type WorktreeEntry
} from "../domain/Worktree.js"
import { displayWidth, padToWidth } from "./DisplayWidth.js"
import { formatTable } from "./Table.js"

const ESC = "\u001b["
export const SGR = {
  bold: `${ESC}1m`,
  red: `${ESC}31m`,
  green: `${ESC}32m`,
  cyan: `${ESC}36m`,
  reset: `${ESC}0m`
} as const

/** The lines of a file's header in a unified patch (before its first hunk). */
const HEADER =
  /^(diff --git |index |--- |\+\+\+ |new file mode|deleted file mode|old mode|new mode|similarity index|dissimilarity index|rename from|rename to|copy from|copy to|Binary files )/

/**
 * `patch` with git's colours: headers bold, hunk lines cyan, added lines green, removed red. A
 * line `--- x` inside a hunk is a removed line, not a header: headers are only those between a
 * `diff --git` and its first `@@`.
 */
export const colorPatch = (patch: string): string => {
  let inHeader = false
  return patch.split("\n").map((line) => {
    if (line.startsWith("diff --git ")) inHeader = true
    else if (line.startsWith("@@")) inHeader = false
    if (line === "") return line
    if (inHeader && HEADER.test(line)) return `${SGR.bold}${line}${SGR.reset}`
    if (line.startsWith("@@")) {
      // the hunk's range in cyan, the function context after it plain (as git does)
      const end = line.indexOf("@@", 2)
      return end < 0
        ? `${SGR.cyan}${line}${SGR.reset}`
        : `${SGR.cyan}${line.slice(0, end + 2)}${SGR.reset}${line.slice(end + 2)}`
    }
    if (line.startsWith("+")) return `${SGR.green}${line}${SGR.reset}`
    if (line.startsWith("-")) return `${SGR.red}${line}${SGR.reset}`
    return line
  }).join("\n")
}

const fileName = (file: DiffFile) => file.oldPath === null ? file.path : `${file.oldPath} → ${file.path}`
const counts = (file: DiffFile) =>
  file.additions === null || file.deletions === null ? "binary" : `+${file.additions} -${file.deletions}`

/** One line per file, `path  +a -d  change`, aligned, then the totals and what it is against. */
export const diffStats = (diff: WorktreeDiff, color: boolean): string => {
  if (diff.files.length === 0) {
    return `no changes on ${diff.branch} against ${diff.base} (merge-base ${diff.mergeBase.slice(0, 12)})`
  }
  const names = diff.files.map(fileName)
  const nameWidth = Math.max(...names.map(displayWidth))
  const countWidth = Math.max(...diff.files.map((f) => counts(f).length))
  const paint = (text: string, code: string) => color ? `${code}${text}${SGR.reset}` : text
  const lines = diff.files.map((file, i) => {
    const cell = counts(file)
    const painted = file.additions === null || file.deletions === null
      ? cell
      : `${paint(`+${file.additions}`, SGR.green)} ${paint(`-${file.deletions}`, SGR.red)}`
    return `${padToWidth(names[i]!, nameWidth)}  ${painted}${" ".repeat(countWidth - cell.length)}  ${file.change}`
  })
  const plural = diff.files.length === 1 ? "file" : "files"
  return [
    ...lines,
    `${diff.files.length} ${plural} changed, +${diff.additions} -${diff.deletions} on ${diff.branch} against ${diff.base} ` +
    `(merge-base ${diff.mergeBase.slice(0, 12)})`
  ].join("\n")
}

/** What a cut diff left out, and the git command that shows all of it in the worktree. */
export const truncatedNote = (diff: WorktreeDiff, worktreePath: string | undefined): string => {
  const where = worktreePath === undefined ? "<the worktree's directory>" : shellWord(worktreePath)
  return `the diff was cut at its bound (${DIFF_PATCH_MAX_BYTES / (1024 * 1024)} MB of patch or ` +
    `${diff.files.length} files): see the whole with \`git -C ${where} diff ${diff.mergeBase}\` ` +
    `(untracked files: \`git -C ${where} status\`)`
}

/** A word a shell reads back as `text`. */
const shellWord = (text: string) => /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`

/** The whole `telemux diff` text: stats, the truncated note, then the patch. */
export const diffText = (
  diff: WorktreeDiff,
  options: { readonly color: boolean; readonly worktreePath: string | undefined }
): string => {
  const parts = [diffStats(diff, options.color)]
  if (diff.truncated) parts.push(truncatedNote(diff, options.worktreePath))
  if (diff.patch !== null && diff.patch !== "") {
    const patch = diff.patch.replace(/\n$/, "")
    parts.push("", options.color ? colorPatch(patch) : patch)
  }
  return parts.join("\n")
}

export const finishText = (result: FinishResult): string =>
  [
    result.detail,
    ...(result.commit === null ? [] : [`commit ${result.commit}`]),
    ...(result.salvageRef === null ? [] : [salvageLine(result.salvageRef)])
  ].join("\n")

const salvageLine = (ref: string) =>
  `the removed work is kept in ${ref} (\`git log ${ref}\`; \`git branch <name> ${ref}\` brings it back)`

export const worktreesTable = (entries: ReadonlyArray<WorktreeEntry>, width?: number): string =>
  entries.length === 0 ? "no worktrees" : formatTable<WorktreeEntry>(
    [
      { header: "COMPUTER", cell: (e) => e.computer, max: 16 },
      { header: "STATE", cell: (e) => e.state },
      { header: "SESSION", cell: (e) => e.sessionId?.slice(0, 8) ?? "-" },
      { header: "BRANCH", cell: (e) => e.branch ?? "(detached)", max: 32 },
      { header: "DIRTY", cell: (e) => e.dirty ? "yes" : "no" },
      { header: "UNPUSHED", cell: (e) => e.unpushed === null ? "?" : String(e.unpushed), align: "right" },
      { header: "PATH", cell: (e) => e.path, max: 60 }
    ],
    entries,
    width
  )

/** What `worktree clean` removed (with salvage refs) and what it refused, each with its reason. */
export const cleanupText = (report: CleanupReport, forced: boolean): string => {
  if (report.removed.length === 0 && report.refused.length === 0) return "nothing to clean"
  const removed = report.removed.map((r) =>
    `removed  ${r.path}${r.salvageRef === null ? "" : `\n         ${salvageLine(r.salvageRef)}`}`
  )
  const refused = report.refused.map((r) => `refused  ${r.path}: ${r.reason}`)
  const hint = report.refused.length > 0 && !forced
    ? ["to remove the refused ones anyway, `telemux worktree clean --force` (a salvage ref keeps their work)"]
    : []
  return [...removed, ...refused, ...hint].join("\n")
}
