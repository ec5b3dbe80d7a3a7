/**
 * The terminal UI's state, messages and commands: plain data. Update.ts computes the next state;
 * Store.ts holds it; the Ink components only read it and send key presses; TuiClient.ts turns
 * commands into requests and stream messages into messages.
 */
import type { Project } from "../domain/Project.js"
import type { Session, SessionId, SessionStatus } from "../domain/Session.js"

/** Sessions whose UI state (previous status, draft text, details shown) is kept; the least recently touched go first. */
export const SESSION_UI_MAX = 256
/** Tree nodes (computers, projects) whose collapsed/expanded state is kept. */
export const NODE_UI_MAX = 256
/** Longest text kept in an input field. */
export const FIELD_MAX_CHARS = 64 * 1024

export type View = "sessions" | "projects"

export type Mode =
  | { readonly _tag: "browse" }
  | { readonly _tag: "filter"; readonly draft: string }
  | { readonly _tag: "create"; readonly draft: string }
  | { readonly _tag: "send"; readonly sessionId: SessionId; readonly draft: string }
  | { readonly _tag: "keys"; readonly sessionId: SessionId }
  | { readonly _tag: "confirmClose"; readonly sessionId: SessionId }

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
}

export const initialState = (options: { readonly defaultDir: string; readonly localComputer?: string }): TuiState => ({
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
  notice: undefined
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
  | { readonly _tag: "LocalComputer"; readonly name: string }
  | { readonly _tag: "RequestStarted" }
  | { readonly _tag: "RequestSucceeded"; readonly text?: string }
  | { readonly _tag: "RequestFailed"; readonly text: string }
  | { readonly _tag: "Created"; readonly session: Session }
  | { readonly _tag: "Notice"; readonly notice: Notice }
  // from the person and the clock
  | { readonly _tag: "Key"; readonly input: string; readonly key: KeyInfo }
  | { readonly _tag: "Tick" }

export type Cmd =
  | { readonly _tag: "Create"; readonly dir: string }
  | { readonly _tag: "SendText"; readonly sessionId: SessionId; readonly text: string }
  | { readonly _tag: "SendKey"; readonly sessionId: SessionId; readonly key: string }
  | { readonly _tag: "Close"; readonly sessionId: SessionId }
  | { readonly _tag: "Attach"; readonly sessionId: SessionId }
  /** Follow this session's screen (and no other); undefined: none. */
  | { readonly _tag: "WatchOutput"; readonly sessionId: SessionId | undefined }
  | { readonly _tag: "LoadProjects" }
  | { readonly _tag: "Quit" }
