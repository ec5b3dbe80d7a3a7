/**
 * What people type in the chat and what buttons carry, parsed: `/command@bot args`, the key
 * commands of a session's topic, `/new`'s words, and callback data (≤ 64 bytes, Telegram's limit).
 */
import { Either } from "effect"
import { KEY_REPEAT_MAX, type KeyName, type KeyPress } from "../domain/Keys.js"
import type { Agent } from "../domain/Session.js"

export interface Command {
  readonly name: string
  readonly args: string
}

/** `/name@bot rest` → { name, args }; anything else is text (undefined). */
export const parseCommand = (text: string): Command | undefined => {
  const match = /^\/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]+)?(?:\s+([\s\S]*))?$/.exec(text.trim())
  return match === null ? undefined : { name: match[1]!.toLowerCase(), args: (match[2] ?? "").trim() }
}

/** The key commands of a session's topic; each takes an optional count (`/up 3`). */
export const KEY_COMMANDS: Readonly<Record<string, KeyName>> = {
  enter: "Enter",
  esc: "Escape",
  tab: "Tab",
  btab: "BTab",
  ctrlc: "C-c",
  ctrld: "C-d",
  ctrlz: "C-z",
  ctrlr: "C-r",
  up: "Up",
  down: "Down",
  left: "Left",
  right: "Right",
  backspace: "BSpace",
  space: "Space",
  home: "Home",
  end: "End",
  pgup: "PPage",
  pgdn: "NPage"
}

/** The presses of a key command, or a refusal that says what works; undefined when `name` is no key command. */
export const keyCommand = (command: Command): Either.Either<KeyPress, string> | undefined => {
  const key = KEY_COMMANDS[command.name]
  if (key === undefined) return undefined
  if (command.args === "") return Either.right({ key, repeat: 1 })
  const repeat = Number(command.args)
  return Number.isInteger(repeat) && repeat >= 1 && repeat <= KEY_REPEAT_MAX
    ? Either.right({ key, repeat })
    : Either.left(`/${command.name} takes a count from 1 to ${KEY_REPEAT_MAX}, e.g. /${command.name} 3`)
}

export const AGENT_CHOICES = ["shell", "claude", "codex", "gemini"] as const
export type AgentChoice = typeof AGENT_CHOICES[number]

export const agentOf = (choice: AgentChoice): Agent | undefined => (choice === "shell" ? undefined : choice)

export interface NewRequest {
  readonly project?: string
  readonly agent?: AgentChoice
  readonly prompt?: string
}

/** `/new [project] [agent] [prompt…]`: a second word that names an agent is the agent. */
export const parseNew = (args: string): NewRequest => {
  const [project, second, ...rest] = args.split(/\s+/).filter((word) => word !== "")
  if (project === undefined) return {}
  if (second !== undefined && (AGENT_CHOICES as ReadonlyArray<string>).includes(second.toLowerCase())) {
    const prompt = args.trim().slice(args.trim().indexOf(second) + second.length).trim()
    return { project, agent: second.toLowerCase() as AgentChoice, ...(prompt === "" ? {} : { prompt }) }
  }
  const prompt = second === undefined ? "" : [second, ...rest].join(" ")
  return { project, ...(prompt === "" ? {} : { prompt }) }
}

/** What a button press asks for. */
export type Callback =
  /** Type choice `index` of the question shown for `sessionId`. */
  | { readonly _tag: "Answer"; readonly sessionId: string; readonly index: number }
  /** Send the full screen of `sessionId` as a file. */
  | { readonly _tag: "FullScreen"; readonly sessionId: string }
  /** Pick option `index` at the current step of picker `picker` (/new). */
  | { readonly _tag: "Pick"; readonly picker: number; readonly index: number }

export const encodeCallback = (callback: Callback): string => {
  switch (callback._tag) {
    case "Answer":
      return `a:${callback.sessionId}:${callback.index}`
    case "FullScreen":
      return `f:${callback.sessionId}`
    case "Pick":
      return `p:${callback.picker}:${callback.index}`
  }
}

export const decodeCallback = (data: string): Callback | undefined => {
  const [tag, a, b] = data.split(":")
  const int = (s: string | undefined) => (s !== undefined && /^\d{1,6}$/.test(s) ? Number(s) : undefined)
  switch (tag) {
    case "a": {
      const index = int(b)
      return a !== undefined && a !== "" && index !== undefined ? { _tag: "Answer", sessionId: a, index } : undefined
    }
    case "f":
      return a !== undefined && a !== "" && b === undefined ? { _tag: "FullScreen", sessionId: a } : undefined
    case "p": {
      const picker = int(a)
      const index = int(b)
      return picker !== undefined && index !== undefined ? { _tag: "Pick", picker, index } : undefined
    }
    default:
      return undefined
  }
}
