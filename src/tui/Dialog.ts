/**
 * The new-session dialog: directory (Tab completes from the projects), computer, shell or agent,
 * the agent's mode and first prompt, title, and where it runs: the directory itself or a new git
 * worktree (a new branch, named or derived from the title, from a base; or an existing branch). Enter sends it; the dialog stays open, with what was
 * typed, until the daemon answers: closed on success, the daemon's refusal shown in it otherwise.
 */
import { AgentMode } from "../domain/Session.js"
import { editField } from "./Field.js"
import {
  type CreateDialog,
  DIALOG_FIELDS,
  type DialogField,
  type KeyInfo,
  type StartKind,
  type TuiState,
  type WorktreeChoice
} from "./Model.js"
import { type Binding, browse, selectedRow, type Step, step } from "./Steps.js"
import { projectOf } from "./Tree.js"

export const START_KINDS: ReadonlyArray<StartKind> = ["shell", "claude", "codex", "gemini"]
export const AGENT_MODES: ReadonlyArray<AgentMode> = AgentMode.literals
export const WORKTREE_CHOICES: ReadonlyArray<WorktreeChoice> = ["off", "new", "existing"]
export const WORKTREE_LABEL: Readonly<Record<WorktreeChoice, string>> = {
  off: "off",
  new: "new branch",
  existing: "existing branch"
}

/** Fields that only mean something for an agent. */
const AGENT_ONLY: ReadonlySet<DialogField> = new Set(["mode", "prompt"])

export const fieldApplies = (dialog: CreateDialog, field: DialogField): boolean =>
  field === "branch"
    ? dialog.worktree !== "off"
    : field === "base"
    ? dialog.worktree === "new"
    : dialog.start !== "shell" || !AGENT_ONLY.has(field)

/** Why a field does not apply, shown in its place. */
export const notApplying = (field: DialogField): string =>
  field === "branch" ? "– (worktree only)" : field === "base" ? "– (new branch only)" : "– (agents only)"

const TEXT_FIELDS: ReadonlySet<DialogField> = new Set(["directory", "prompt", "title", "branch", "base"])

/** Opens the dialog in the directory at hand: the selected project or session's, else the default. */
export const openCreate = (state: TuiState): Step => {
  const row = state.view === "sessions" ? selectedRow(state) : undefined
  const fromProject = state.view === "projects" ? state.projects[state.projectCursor]?.path : undefined
  const fromRow = row?.kind === "project"
    ? row.path
    : row?.kind === "session"
    ? projectOf(row.session, state.projects, state.localComputer).path
    : undefined
  const computer = row?.kind === "session" && row.session.computer !== state.localComputer
    ? row.session.computer
    : undefined
  const dialog: CreateDialog = {
    field: "directory",
    directory: fromProject ?? fromRow ?? state.defaultDir,
    computer,
    start: "shell",
    agentMode: "med",
    prompt: "",
    title: "",
    worktree: "off",
    branch: "",
    base: "",
    completion: undefined,
    submitting: false,
    error: undefined
  }
  return step(
    { ...state, mode: { _tag: "create", dialog } },
    [{ _tag: "LoadComputers" }, ...(state.projectsLoaded ? [] : [{ _tag: "LoadProjects" } as const])]
  )
}

/** Project paths offered for `typed`: those whose path or name starts with it (any case). */
export const completionsFor = (state: TuiState, typed: string): ReadonlyArray<string> => {
  const needle = typed.trim().toLowerCase()
  return state.projects
    .filter((p) => p.path.toLowerCase().startsWith(needle) || p.name.toLowerCase().startsWith(needle))
    .map((p) => p.path)
}

/** The computers the dialog offers: this one first, then the others by name. */
export const computerChoices = (state: TuiState): ReadonlyArray<string> => {
  const names = new Set<string>()
  if (state.localComputer !== undefined) names.add(state.localComputer)
  for (const c of [...state.computers].sort((a, b) => a.name.localeCompare(b.name))) names.add(c.name)
  return [...names]
}

const cycle = <A>(choices: ReadonlyArray<A>, current: A, delta: number): A => {
  if (choices.length === 0) return current
  const index = Math.max(0, choices.indexOf(current))
  return choices[(index + delta + choices.length) % choices.length]!
}

const moveField = (dialog: CreateDialog, delta: number): CreateDialog => {
  const applicable = DIALOG_FIELDS.filter((f) => fieldApplies(dialog, f))
  return { ...dialog, field: cycle(applicable, dialog.field, delta), completion: undefined }
}

const choose = (state: TuiState, dialog: CreateDialog, delta: number): CreateDialog => {
  switch (dialog.field) {
    case "computer": {
      const choices = computerChoices(state)
      const next = cycle(choices, dialog.computer ?? state.localComputer ?? "", delta)
      return { ...dialog, computer: next === state.localComputer ? undefined : next }
    }
    case "start":
      return { ...dialog, start: cycle(START_KINDS, dialog.start, delta) }
    case "mode":
      return { ...dialog, agentMode: cycle(AGENT_MODES, dialog.agentMode, delta) }
    case "worktree":
      return { ...dialog, worktree: cycle(WORKTREE_CHOICES, dialog.worktree, delta) }
    default:
      return dialog
  }
}

/** Tab in the directory: the next project matching what was typed before the first Tab. */
const complete = (state: TuiState, dialog: CreateDialog): CreateDialog => {
  const typed = dialog.completion?.typed ?? dialog.directory
  const matches = completionsFor(state, typed)
  if (matches.length === 0) return dialog
  const index = dialog.completion === undefined ? 0 : (dialog.completion.index + 1) % matches.length
  return { ...dialog, directory: matches[index]!, completion: { typed, index } }
}

const submit = (state: TuiState, dialog: CreateDialog): Step => {
  const dir = dialog.directory.trim()
  if (dir === "") return withDialog(state, { ...dialog, error: "type a directory (Tab completes a project)" })
  if (dialog.submitting) return step(state)
  const agent = dialog.start === "shell" ? undefined : dialog.start
  const title = dialog.title.trim()
  const prompt = dialog.prompt.trim()
  const branch = dialog.branch.trim()
  const base = dialog.base.trim()
  if (dialog.worktree === "existing" && branch === "") {
    return withDialog(state, { ...dialog, field: "branch", error: "name the existing branch to check out (Branch)" })
  }
  const worktree = dialog.worktree === "off"
    ? undefined
    : dialog.worktree === "existing"
    ? { branch, existing: true }
    : { ...(branch === "" ? {} : { branch }), ...(base === "" ? {} : { base }) }
  return step(
    withDialog(state, { ...dialog, submitting: true, error: undefined }).state,
    [{
      _tag: "Create",
      dir,
      ...(title === "" ? {} : { title }),
      ...(dialog.computer === undefined ? {} : { computer: dialog.computer }),
      ...(agent === undefined ? {} : { agent, mode: dialog.agentMode, ...(prompt === "" ? {} : { prompt }) }),
      ...(worktree === undefined ? {} : { worktree })
    }]
  )
}

const withDialog = (state: TuiState, dialog: CreateDialog): Step => step({ ...state, mode: { _tag: "create", dialog } })

const isTextField = (dialog: CreateDialog) => TEXT_FIELDS.has(dialog.field)

/** The dialog's keys, in the order they are tried (the help overlay lists them). */
export const DIALOG_KEYS: ReadonlyArray<Binding<CreateDialog>> = [
  { keys: "Esc", does: "cancel", on: (_, k) => k.escape, run: (s) => step(browse(s)) },
  { keys: "Enter", does: "create the session", on: (_, k) => k.return, run: (s, d) => submit(s, d) },
  {
    keys: "↑ ↓",
    does: "previous / next field",
    on: (_, k) => k.upArrow || k.downArrow,
    run: (s, d, _, k) => withDialog(s, moveField(d, k.upArrow ? -1 : 1))
  },
  {
    keys: "Tab",
    does: "in Directory: the next matching project; elsewhere: next field",
    on: (_, k) => k.tab,
    run: (s, dialog, _, k) => {
      if (dialog.field === "directory" && !k.shift) return withDialog(s, complete(s, dialog))
      return withDialog(s, moveField(dialog, k.shift ? -1 : 1))
    }
  },
  {
    keys: "← →",
    does: "choose the computer, shell or agent, mode, worktree (off, new branch, existing branch)",
    on: (_, k) => k.leftArrow || k.rightArrow,
    run: (s, d, _, k) => withDialog(s, choose(s, d, k.leftArrow ? -1 : 1))
  },
  {
    keys: "Space",
    does: "on a choice: the next one",
    on: (input, k) => input === " " && !k.ctrl && !k.meta,
    run: (s, dialog, input, k) => {
      return isTextField(dialog) ? typeInto(s, dialog, input, k) : withDialog(s, choose(s, dialog, 1))
    }
  },
  {
    keys: "text",
    does: "type into Directory, Prompt, Title, Branch, Base (Ctrl+U clears, Ctrl+W deletes a word)",
    on: () => true,
    run: (s, d, input, k) => typeInto(s, d, input, k)
  }
]

const typeInto = (state: TuiState, dialog: CreateDialog, input: string, key: KeyInfo): Step => {
  switch (dialog.field) {
    case "directory":
      return withDialog(state, { ...dialog, directory: editField(dialog.directory, input, key), completion: undefined })
    case "prompt":
      return withDialog(state, { ...dialog, prompt: editField(dialog.prompt, input, key) })
    case "title":
      return withDialog(state, { ...dialog, title: editField(dialog.title, input, key) })
    case "branch":
      return withDialog(state, { ...dialog, branch: editField(dialog.branch, input, key) })
    case "base":
      return withDialog(state, { ...dialog, base: editField(dialog.base, input, key) })
    default:
      return step(state)
  }
}

/** The daemon answered the dialog's request. */
export const createAnswered = (state: TuiState, error: string | undefined): TuiState => {
  if (state.mode._tag !== "create") return state
  return { ...state, mode: { _tag: "create", dialog: { ...state.mode.dialog, submitting: false, error } } }
}
