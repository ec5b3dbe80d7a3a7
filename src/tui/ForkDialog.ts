/**
 * The fork dialog (`f` on an agent's session): a new session continuing the agent's conversation
 * under a new id, on a computer of the fleet (default: the session's own), optionally in a new
 * worktree on a new branch, with a title. Like the new-session dialog, it stays open until the
 * daemon answers: closed when the fork starts, the refusal shown in it otherwise.
 */
import type { Session } from "../domain/Session.js"
import { computerChoices } from "./Dialog.js"
import { editField } from "./Field.js"
import { FORK_FIELDS, type ForkDialog, type ForkField, type KeyInfo, type TuiState } from "./Model.js"
import { type Binding, browse, notice, type Step, step } from "./Steps.js"

export const forkFieldApplies = (dialog: ForkDialog, field: ForkField): boolean => field !== "branch" || dialog.worktree

/** Opens the dialog on `session`, or says why a session without an agent has nothing to fork. */
export const openFork = (state: TuiState, session: Session): Step => {
  if (session.agent === null) {
    return step(notice(state, "error", "fork is for an agent's session: this one runs a shell (n starts an agent)"))
  }
  if (session.status === "closed") return step(notice(state, "error", "this session is closed: nothing to fork"))
  const dialog: ForkDialog = {
    sessionId: session.sessionId,
    field: "computer",
    computer: undefined,
    worktree: false,
    branch: "",
    title: session.title === "" ? "" : `${session.title} (fork)`,
    submitting: false,
    error: undefined
  }
  return step({ ...state, mode: { _tag: "fork", dialog } }, [{ _tag: "LoadComputers" }])
}

const withFork = (state: TuiState, dialog: ForkDialog): Step => step({ ...state, mode: { _tag: "fork", dialog } })

const moveField = (dialog: ForkDialog, delta: number): ForkDialog => {
  const applicable = FORK_FIELDS.filter((f) => forkFieldApplies(dialog, f))
  const index = Math.max(0, applicable.indexOf(dialog.field))
  return { ...dialog, field: applicable[(index + delta + applicable.length) % applicable.length]! }
}

/** The session's own computer, then the others. */
export const forkComputer = (state: TuiState, dialog: ForkDialog): string =>
  dialog.computer ?? state.sessions.get(dialog.sessionId)?.computer ?? state.localComputer ?? ""

const choose = (state: TuiState, dialog: ForkDialog, delta: number): ForkDialog => {
  switch (dialog.field) {
    case "computer": {
      const own = state.sessions.get(dialog.sessionId)?.computer
      const choices = [...new Set([...(own === undefined ? [] : [own]), ...computerChoices(state)])]
      if (choices.length === 0) return dialog
      const index = Math.max(0, choices.indexOf(forkComputer(state, dialog)))
      const next = choices[(index + delta + choices.length) % choices.length]!
      return { ...dialog, computer: next === own ? undefined : next }
    }
    case "worktree":
      return { ...dialog, worktree: !dialog.worktree }
    default:
      return dialog
  }
}

const submit = (state: TuiState, dialog: ForkDialog): Step => {
  if (dialog.submitting) return step(state)
  const title = dialog.title.trim()
  const branch = dialog.branch.trim()
  return step(
    withFork(state, { ...dialog, submitting: true, error: undefined }).state,
    [{
      _tag: "Fork",
      sessionId: dialog.sessionId,
      ...(dialog.computer === undefined ? {} : { computer: dialog.computer }),
      ...(dialog.worktree ? { worktree: branch === "" ? {} : { branch } } : {}),
      ...(title === "" ? {} : { title })
    }]
  )
}

const typeInto = (state: TuiState, dialog: ForkDialog, input: string, key: KeyInfo): Step => {
  switch (dialog.field) {
    case "branch":
      return withFork(state, { ...dialog, branch: editField(dialog.branch, input, key) })
    case "title":
      return withFork(state, { ...dialog, title: editField(dialog.title, input, key) })
    default:
      return step(state)
  }
}

export const FORK_KEYS: ReadonlyArray<Binding<ForkDialog>> = [
  { keys: "Esc", does: "cancel", on: (_, k) => k.escape, run: (s) => step(browse(s)) },
  { keys: "Enter", does: "fork the conversation", on: (_, k) => k.return, run: (s, d) => submit(s, d) },
  {
    keys: "↑ ↓ Tab",
    does: "previous / next field",
    on: (_, k) => k.upArrow || k.downArrow || k.tab,
    run: (s, d, _, k) => withFork(s, moveField(d, k.upArrow || (k.tab && k.shift) ? -1 : 1))
  },
  {
    keys: "← → Space",
    does: "choose the computer; worktree on or off",
    on: (i, k) => k.leftArrow || k.rightArrow || (i === " " && !k.ctrl && !k.meta),
    run: (s, d, i, k) =>
      d.field === "branch" || d.field === "title"
        ? (i === " " ? typeInto(s, d, i, k) : step(s))
        : withFork(s, choose(s, d, k.leftArrow ? -1 : 1))
  },
  { keys: "text", does: "type into Branch, Title", on: () => true, run: (s, d, i, k) => typeInto(s, d, i, k) }
]

/** The daemon refused the fork: shown in the dialog, which stays open. */
export const forkAnswered = (state: TuiState, error: string): TuiState =>
  state.mode._tag === "fork"
    ? { ...state, mode: { _tag: "fork", dialog: { ...state.mode.dialog, submitting: false, error } } }
    : notice(state, "error", error)
