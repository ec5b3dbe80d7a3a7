/**
 * The terminal UI's state, messages and commands: plain data. Update.ts computes the next state;
 * Store.ts holds it; the Ink components only read it and send key presses; TuiClient.ts turns
 * commands into requests and stream messages into messages.
 */
import type { KeyInput } from "../domain/Keys.js"
import type { Project } from "../domain/Project.js"
import type { Agent, AgentMode, Session, SessionId, SessionStatus } from "../domain/Session.js"
import type { WorktreeDiff, WorktreeRequest } from "../domain/Worktree.js"

/** Sessions whose UI state (previous status, draft text, details shown) is kept; the least recently touched go first. */
export const SESSION_UI_MAX = 256
/** Tree nodes (computers, projects) whose collapsed/expanded state is kept. */
export const NODE_UI_MAX = 256
/** Longest text kept in an input field. */
export const FIELD_MAX_CHARS = 64 * 1024

/** Closed sessions kept for the History view (the newest). */
export const HISTORY_MAX = 200

export type View = "sessions" | "projects" | "history"

/** The new-session dialog's fields, top to bottom. */
export const DIALOG_FIELDS = [
  "directory",
  "computer",
  "start",
  "mode",
  "prompt",
  "title",
  "worktree",
  "branch",
  "base"
] as const
export type DialogField = typeof DIALOG_FIELDS[number]

/** Where a new session runs: the directory itself, a new git worktree on a new branch, or one on an existing branch. */
export type WorktreeChoice = "off" | "new" | "existing"

/** What a new session starts: a shell, or one of the agents. */
export type StartKind = "shell" | Agent

export interface CreateDialog {
  readonly field: DialogField
  readonly directory: string
  /** The computer it starts on; undefined: this computer. */
  readonly computer: string | undefined
  readonly start: StartKind
  readonly agentMode: AgentMode
  readonly prompt: string
  readonly title: string
  readonly worktree: WorktreeChoice
  /** The branch: the new one's name (empty: derived from the title), or the existing one to check out. */
  readonly branch: string
  /** A new branch's base (empty: the repository's HEAD). */
  readonly base: string
  /** Tab cycles the projects matching what was typed before the first Tab. */
  readonly completion: { readonly typed: string; readonly index: number } | undefined
  /** The request is in flight: Enter does not send it twice. */
  readonly submitting: boolean
  /** The daemon's refusal of the last attempt, shown in the dialog. */
  readonly error: string | undefined
}

export type Mode =
  | { readonly _tag: "browse" }
  | { readonly _tag: "help"; readonly scroll: number }
  | { readonly _tag: "filter"; readonly draft: string }
  | { readonly _tag: "create"; readonly dialog: CreateDialog }
  | { readonly _tag: "send"; readonly sessionId: SessionId; readonly draft: string }
  | {
    readonly _tag: "keys"
    readonly sessionId: SessionId
    /** A key name being typed (`Escape`, `C-c`, `Up*3`); empty: the next key pressed is sent. */
    readonly draft: string
    readonly error: string | undefined
  }
  | { readonly _tag: "confirmClose"; readonly sessionId: SessionId }
  | { readonly _tag: "diff"; readonly pane: DiffPane }
  | { readonly _tag: "fork"; readonly dialog: ForkDialog }

/** A line of the diff pane: the stats, a note, or a line of the patch (coloured by its kind). */
export interface DiffLine {
  readonly kind: "stat" | "note" | "header" | "hunk" | "add" | "del" | "context"
  readonly text: string
}

/** The diff pane (`c`): a session's worktree changes, scrolled. */
export interface DiffPane {
  readonly sessionId: SessionId
  /** `none`: the session runs in no worktree (nothing was asked of the daemon). */
  readonly state: "loading" | "loaded" | "failed" | "none"
  readonly diff: WorktreeDiff | undefined
  readonly lines: ReadonlyArray<DiffLine>
  readonly error: string | undefined
  /** The first line shown. */
  readonly scroll: number
}

/** The fork dialog's fields, top to bottom. */
export const FORK_FIELDS = ["computer", "worktree", "branch", "title"] as const
export type ForkField = typeof FORK_FIELDS[number]

/** The fork dialog (`f` on an agent's session): where the new session continuing its conversation runs. */
export interface ForkDialog {
  readonly sessionId: SessionId
  readonly field: ForkField
  /** Undefined: the session's own computer. */
  readonly computer: string | undefined
  /** In a new worktree, on a new branch. */
  readonly worktree: boolean
  readonly branch: string
  readonly title: string
  readonly submitting: boolean
  readonly error: string | undefined
}

export interface SessionUi {
  /** The status before the latest change, shown beside the current one. */
  readonly previousStatus: SessionStatus | undefined
  /** Text typed into the send field and not sent yet. */
  readonly draft: string
  /** Last input and output shown in full under the row. */
  readonly expanded: boolean
}

export const emptySessionUi: SessionUi = { previousStatus: undefined, draft: "", expanded: false }

export interface NodeUi {
  readonly collapsed: boolean
}

export interface Preview {
  readonly sessionId: SessionId
  readonly seq: number | undefined
  /** Undefined until the first snapshot arrives (or when the session has no output yet). */
  readonly screen: string | undefined
}

export type LinkState = "connecting" | "live" | "reconnecting"

export interface Notice {
  readonly kind: "info" | "error"
  readonly text: string
}

export interface TuiState {
  readonly view: View
  readonly mode: Mode
  /** Open sessions by id, as the stream reports them. */
  readonly sessions: ReadonlyMap<SessionId, Session>
  readonly sessionsLoaded: boolean
  readonly projects: ReadonlyArray<Project>
  readonly projectsLoaded: boolean
  /** This computer's name: its projects are the ones `GET /v1/projects` lists. */
  readonly localComputer: string | undefined
  /** Directory offered when creating a session. */
  readonly defaultDir: string
  readonly filter: string
  /** Key of the selected tree row (a session id, or a computer/project node key). */
  readonly cursor: string | undefined
  /** Its index, to land nearby when the row disappears. */
  readonly cursorIndex: number
  readonly projectCursor: number
  readonly preview: Preview | undefined
  readonly sessionUi: ReadonlyMap<SessionId, SessionUi>
  readonly nodeUi: ReadonlyMap<string, NodeUi>
  /** Requests in flight: a spinner turns while above zero. */
  readonly pending: number
  readonly spinner: number
  readonly link: LinkState
  readonly notice: Notice | undefined
  /** The clock as of the last Clock message: ages are counted from it. */
  readonly now: number
  /** The fleet's computers (name, online), for the new-session dialog; this computer alone until loaded. */
  readonly computers: ReadonlyArray<{ readonly name: string; readonly online: boolean }>
  /** Closed sessions, newest first, at most HISTORY_MAX. */
  readonly history: ReadonlyArray<Session>
  readonly historyLoaded: boolean
  readonly historyCursor: number
}

export const initialState = (
  options: { readonly defaultDir: string; readonly localComputer?: string; readonly now?: number }
): TuiState => ({
  view: "sessions",
  mode: { _tag: "browse" },
  sessions: new Map(),
  sessionsLoaded: false,
  projects: [],
  projectsLoaded: false,
  localComputer: options.localComputer,
  defaultDir: options.defaultDir,
  filter: "",
  cursor: undefined,
  cursorIndex: 0,
  projectCursor: 0,
  preview: undefined,
  sessionUi: new Map(),
  nodeUi: new Map(),
  pending: 0,
  spinner: 0,
  link: "connecting",
  notice: undefined,
  now: options.now ?? 0,
  computers: [],
  history: [],
  historyLoaded: false,
  historyCursor: 0
})

/** The subset of Ink's `Key` the UI reads (Ink's own type fits it). */
export interface KeyInfo {
  readonly upArrow: boolean
  readonly downArrow: boolean
  readonly leftArrow: boolean
  readonly rightArrow: boolean
  readonly pageUp: boolean
  readonly pageDown: boolean
  readonly home: boolean
  readonly end: boolean
  readonly return: boolean
  readonly escape: boolean
  readonly ctrl: boolean
  readonly shift: boolean
  readonly tab: boolean
  readonly backspace: boolean
  readonly delete: boolean
  readonly meta: boolean
}

export const noKey: KeyInfo = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageUp: false,
  pageDown: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false
}

export type Msg =
  // from the stream
  | { readonly _tag: "SessionsListed"; readonly sessions: ReadonlyArray<Session> }
  | { readonly _tag: "SessionUpserted"; readonly session: Session }
  | { readonly _tag: "SessionRemoved"; readonly sessionId: SessionId }
  | {
    readonly _tag: "Screen"
    readonly sessionId: SessionId
    readonly seq: number | undefined
    readonly screen: string | undefined
  }
  | { readonly _tag: "Link"; readonly link: LinkState }
  // from requests
  | { readonly _tag: "ProjectsLoaded"; readonly projects: ReadonlyArray<Project> }
  | {
    readonly _tag: "ComputersLoaded"
    readonly computers: ReadonlyArray<{ readonly name: string; readonly online: boolean }>
  }
  | { readonly _tag: "HistoryLoaded"; readonly sessions: ReadonlyArray<Session> }
  | { readonly _tag: "LocalComputer"; readonly name: string }
  | { readonly _tag: "RequestStarted" }
  | { readonly _tag: "RequestSucceeded"; readonly text?: string }
  | { readonly _tag: "RequestFailed"; readonly text: string }
  | { readonly _tag: "Created"; readonly session: Session }
  /** The daemon refused to create a session: the dialog shows why and stays open. */
  | { readonly _tag: "CreateFailed"; readonly text: string }
  | { readonly _tag: "Notice"; readonly notice: Notice }
  | { readonly _tag: "DiffLoaded"; readonly sessionId: SessionId; readonly diff: WorktreeDiff }
  | { readonly _tag: "DiffFailed"; readonly sessionId: SessionId; readonly text: string }
  /** The daemon refused the fork: the fork dialog shows why and stays open. */
  | { readonly _tag: "ForkFailed"; readonly text: string }
  // from the person and the clock
  | { readonly _tag: "Key"; readonly input: string; readonly key: KeyInfo }
  | { readonly _tag: "Tick" }
  /** Once a second: ages are counted from `now`. */
  | { readonly _tag: "Clock"; readonly now: number }

export type Cmd =
  | {
    readonly _tag: "Create"
    readonly dir: string
    readonly title?: string
    readonly computer?: string
    readonly agent?: Agent
    readonly mode?: AgentMode
    readonly prompt?: string
    readonly worktree?: WorktreeRequest
  }
  | { readonly _tag: "LoadDiff"; readonly sessionId: SessionId }
  | {
    readonly _tag: "Fork"
    readonly sessionId: SessionId
    readonly computer?: string
    readonly worktree?: WorktreeRequest
    readonly title?: string
  }
  | { readonly _tag: "SendText"; readonly sessionId: SessionId; readonly text: string }
  | { readonly _tag: "SendKeys"; readonly sessionId: SessionId; readonly keys: readonly [KeyInput, ...Array<KeyInput>] }
  | { readonly _tag: "Close"; readonly sessionId: SessionId }
  | { readonly _tag: "Attach"; readonly sessionId: SessionId }
  /** Follow this session's screen (and no other); undefined: none. */
  | { readonly _tag: "WatchOutput"; readonly sessionId: SessionId | undefined }
  | { readonly _tag: "LoadProjects" }
  | { readonly _tag: "LoadComputers" }
  | { readonly _tag: "LoadHistory" }
  | { readonly _tag: "Quit" }
