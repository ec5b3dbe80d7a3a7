/**
 * The tmux commands of the control channel's hub: the hidden session the one `tmux -C` client
 * attaches to, the windows linked into it (so their panes report output), and the pane fields the
 * client subscribes to, with what of its output becomes an event. Pure, as Commands.ts.
 */
import { Schema } from "effect"
import { type ControlEvent, HUB_SESSION } from "../../services/TmuxControl.js"
import { PaneId } from "../domain/Session.js"
import { FIELD_SEPARATOR, isWindowId, sessionTarget } from "./Commands.js"
import type { ControlMessage } from "./ControlProtocol.js"

/** Creates the hub (a no-op failing with isDuplicateSession when it exists) and keeps it alive detached. */
export const hubSessionArgs = (idleCommand: string): ReadonlyArray<string> => [
  "new-session",
  "-d",
  "-s",
  HUB_SESSION,
  "-x",
  "80",
  "-y",
  "24",
  idleCommand,
  // set-option without -t: the session new-session just made (an `=name` target is not found yet).
  ";",
  "set-option",
  "destroy-unattached",
  "off"
]

export const isDuplicateSession = (stderr: string): boolean => /duplicate session/.test(stderr)

/** The control client: attached to the hub, never resizing the windows linked into it. */
export const controlClientArgs: ReadonlyArray<string> = [
  "-C",
  "attach-session",
  "-f",
  "ignore-size",
  "-t",
  sessionTarget(HUB_SESSION)
]

/** The input client: as the control client, but sent no pane output at all (`no-output`, tmux ≥ 3.2). */
export const inputClientArgs: ReadonlyArray<string> = [
  "-C",
  "attach-session",
  "-f",
  "ignore-size,no-output",
  "-t",
  sessionTarget(HUB_SESSION)
]

/** The hub's own panes, which belong to no other session. */
export const hubPanesArgs: ReadonlyArray<string> = [
  "list-panes",
  "-s",
  "-t",
  sessionTarget(HUB_SESSION),
  "-F",
  `#{pane_id}${FIELD_SEPARATOR}#{window_linked_sessions}`
]

export const parseHubPanes = (lines: ReadonlyArray<string>): ReadonlySet<string> =>
  new Set(lines.flatMap((line) => {
    const [pane, sessions] = line.split(FIELD_SEPARATOR)
    return sessions === "1" && pane !== undefined ? [pane] : []
  }))

const WINDOW_FORMAT = `#{window_id}${FIELD_SEPARATOR}#{window_linked_sessions_list}`

/** A session's windows with the sessions each is linked into. */
export const sessionWindowsArgs = (sessionName: string): ReadonlyArray<string> => [
  "list-windows",
  "-t",
  sessionTarget(sessionName),
  "-F",
  WINDOW_FORMAT
]

/** Every window of every session, prefixed with its session's name. */
export const allWindowsArgs: ReadonlyArray<string> = [
  "list-windows",
  "-a",
  "-F",
  `#{session_name}${FIELD_SEPARATOR}${WINDOW_FORMAT}`
]

/** The windows of `sessionWindowsArgs` lines not yet linked into the hub. */
export const unlinkedWindows = (lines: ReadonlyArray<string>): ReadonlyArray<string> =>
  lines.flatMap((line) => {
    const [windowId, linkedTo = ""] = line.split(FIELD_SEPARATOR)
    return windowId === undefined || !isWindowId(windowId) || linkedTo.split(",").includes(HUB_SESSION)
      ? []
      : [windowId]
  })

/** The windows of `allWindowsArgs` lines that belong to telemux sessions and are not linked into the hub. */
export const unlinkedTelemuxWindows = (lines: ReadonlyArray<string>): ReadonlyArray<string> =>
  unlinkedWindows(lines.flatMap((line) => {
    const sep = line.indexOf(FIELD_SEPARATOR)
    return sep > 0 && line.slice(0, sep).startsWith("tmx_") ? [line.slice(sep + 1)] : []
  }))

export const linkWindowArgs = (windowId: string): ReadonlyArray<string> => [
  "link-window",
  "-d",
  "-s",
  windowId,
  "-t",
  `${sessionTarget(HUB_SESSION)}:`
]

/** Pane fields the control client subscribes to (`refresh-client -B`); their changes are events. */
export const SUBSCRIPTIONS = [
  { name: "command", format: "#{pane_current_command}" },
  { name: "path", format: "#{pane_current_path}" },
  { name: "dead", format: "#{pane_dead}" }
] as const

export type SubscribedField = (typeof SUBSCRIPTIONS)[number]["name"]

export const isSubscribedField = (name: string): name is SubscribedField => SUBSCRIPTIONS.some((s) => s.name === name)

/** Subscribes the control client to one field of every pane. */
export const subscribeArgs = (subscription: (typeof SUBSCRIPTIONS)[number]): ReadonlyArray<string> => [
  "refresh-client",
  "-B",
  `${subscription.name}:%*:${subscription.format}`
]

const isPaneId = Schema.is(PaneId)

/** Whether an output message is a session pane's (not the hub's own); its text is not decoded to tell. */
export const isSessionOutput = (
  message: Extract<ControlMessage, { _tag: "Output" }>,
  hubPanes: ReadonlySet<string>
): message is typeof message & { readonly paneId: PaneId } => isPaneId(message.paneId) && !hubPanes.has(message.paneId)

/** The event a message of the client is for subscribers, if any: field changes of panes not the hub's own. */
export const paneEventOf = (message: ControlMessage, hubPanes: ReadonlySet<string>): ControlEvent | undefined => {
  switch (message._tag) {
    case "SubscriptionChanged":
      return isSubscribedField(message.name) && isPaneId(message.paneId) && !hubPanes.has(message.paneId)
        ? { _tag: "PaneChanged", paneId: message.paneId, field: message.name, value: message.value }
        : undefined
    case "LayoutChange":
      return { _tag: "LayoutChanged", windowId: message.windowId }
    default:
      return undefined
  }
}
