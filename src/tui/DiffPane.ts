/**
 * The diff pane (`c` on a session): what the session's worktree changed, as the stats and then
 * the patch, one line each, scrolled with the arrows and pages; `r` asks again, Esc goes back. A
 * session that runs in no worktree gets the pane too, saying so plainly (nothing is asked of the
 * daemon). The patch is split into lines once, when it arrives, and at most DIFF_LINES_MAX are kept.
 */
import type { Session, SessionId } from "../domain/Session.js"
import type { WorktreeDiff } from "../domain/Worktree.js"
import type { DiffLine, DiffPane, TuiState } from "./Model.js"
import { type Binding, browse, type Step, step } from "./Steps.js"

/** Lines of patch kept for the pane (a diff's patch is bounded by the daemon, this by the screen's use). */
export const DIFF_LINES_MAX = 20_000
const PAGE = 10

const patchLines = (patch: string): ReadonlyArray<DiffLine> => {
  const out: Array<DiffLine> = []
  let inHeader = false
  for (const text of patch.split("\n")) {
    if (out.length >= DIFF_LINES_MAX) {
      out.push({ kind: "note", text: `… ${DIFF_LINES_MAX} lines shown; the rest with \`telemux diff\`` })
      break
    }
    if (text.startsWith("diff --git ")) inHeader = true
    else if (text.startsWith("@@")) inHeader = false
    const kind: DiffLine["kind"] = inHeader
      ? "header"
      : text.startsWith("@@")
      ? "hunk"
      : text.startsWith("+")
      ? "add"
      : text.startsWith("-")
      ? "del"
      : "context"
    out.push({ kind, text })
  }
  while (out.length > 0 && out[out.length - 1]!.text === "") out.pop()
  return out
}

/** The pane's lines: a line per file, the totals, the truncated note, then the patch. */
export const diffLines = (diff: WorktreeDiff, worktreePath: string | undefined): ReadonlyArray<DiffLine> => {
  const files = diff.files.map((f): DiffLine => ({
    kind: "stat",
    text: `${f.oldPath === null ? f.path : `${f.oldPath} → ${f.path}`}  ${
      f.additions === null || f.deletions === null ? "binary" : `+${f.additions} -${f.deletions}`
    }  ${f.change}`
  }))
  const total: DiffLine = {
    kind: "note",
    text: diff.files.length === 0
      ? `no changes on ${diff.branch} against ${diff.base}`
      : `${diff.files.length} file${
        diff.files.length === 1 ? "" : "s"
      } changed, +${diff.additions} -${diff.deletions}` +
        ` on ${diff.branch} against ${diff.base}`
  }
  const truncated: ReadonlyArray<DiffLine> = diff.truncated
    ? [
      { kind: "note", text: "the diff was cut at its bound; the whole of it, in a shell:" },
      { kind: "note", text: `  git -C ${worktreePath ?? "<worktree>"} diff ${diff.mergeBase}` }
    ]
    : []
  const patch = diff.patch === null || diff.patch === ""
    ? []
    : [{ kind: "note", text: "" } as const, ...patchLines(diff.patch)]
  return [...files, total, ...truncated, ...patch]
}

/** Opens the pane on `session`: asks for its diff, or says it has no worktree. */
export const openDiff = (state: TuiState, session: Session): Step => {
  const none = session.worktree === undefined
  const pane: DiffPane = {
    sessionId: session.sessionId,
    state: none ? "none" : "loading",
    diff: undefined,
    lines: [],
    error: undefined,
    scroll: 0
  }
  return step(
    { ...state, mode: { _tag: "diff", pane } },
    none ? [] : [{ _tag: "LoadDiff", sessionId: session.sessionId }]
  )
}

/** The daemon's answer, for the pane still open on that session (a late answer for another is dropped). */
export const diffAnswered = (
  state: TuiState,
  sessionId: SessionId,
  answer: { readonly diff: WorktreeDiff } | { readonly error: string }
): TuiState => {
  if (state.mode._tag !== "diff" || state.mode.pane.sessionId !== sessionId) return state
  const pane = state.mode.pane
  const path = state.sessions.get(sessionId)?.worktree?.path
  const next: DiffPane = "diff" in answer
    ? { ...pane, state: "loaded", diff: answer.diff, lines: diffLines(answer.diff, path), error: undefined }
    : { ...pane, state: "failed", error: answer.error }
  return { ...state, mode: { _tag: "diff", pane: { ...next, scroll: Math.min(next.scroll, maxScroll(next)) } } }
}

const maxScroll = (pane: DiffPane) => Math.max(0, pane.lines.length - 1)

const scrolled = (state: TuiState, pane: DiffPane, to: number): Step =>
  step({ ...state, mode: { _tag: "diff", pane: { ...pane, scroll: Math.min(maxScroll(pane), Math.max(0, to)) } } })

export const DIFF_KEYS: ReadonlyArray<Binding<DiffPane>> = [
  { keys: "Esc q", does: "back to the sessions", on: (i, k) => k.escape || i === "q", run: (s) => step(browse(s)) },
  {
    keys: "↑ ↓  k j",
    does: "scroll a line",
    on: (i, k) => k.upArrow || k.downArrow || i === "k" || i === "j",
    run: (s, pane, i, k) => scrolled(s, pane, pane.scroll + (k.upArrow || i === "k" ? -1 : 1))
  },
  {
    keys: "PgUp PgDn Space",
    does: "scroll a page",
    on: (i, k) => k.pageUp || k.pageDown || i === " ",
    run: (s, pane, _, k) => scrolled(s, pane, pane.scroll + (k.pageUp ? -PAGE : PAGE))
  },
  {
    keys: "Home End  g G",
    does: "top, end",
    on: (i, k) => k.home || k.end || i === "g" || i === "G",
    run: (s, pane, i, k) => scrolled(s, pane, k.home || i === "g" ? 0 : maxScroll(pane))
  },
  {
    keys: "r",
    does: "ask for the diff again",
    on: (i) => i === "r",
    run: (s, pane) =>
      pane.state === "none"
        ? step(s)
        : step({ ...s, mode: { _tag: "diff", pane: { ...pane, state: "loading" } } }, [
          { _tag: "LoadDiff", sessionId: pane.sessionId }
        ])
  }
]
