import { FileSystem } from "@effect/platform"
import { Data, Effect, Either } from "effect"
import * as path from "node:path"
import type { Agent } from "../domain/Session.js"
import { installCodexNotify, uninstallCodexNotify } from "./CodexNotifyToml.js"
import { shellJoin } from "./ShellQuote.js"

/**
 * Puts telemux's hook command into each agent's user settings, and takes it out again.
 *
 * - Claude Code `~/.claude/settings.json`: `hooks.<Event>: [{ hooks: [{ type: "command", command }] }]`
 *   for SessionStart, UserPromptSubmit, Stop, Notification (timeout in seconds).
 * - Gemini CLI `~/.gemini/settings.json`: the same shape, with `name` and a timeout in
 *   milliseconds, for SessionStart, BeforeAgent, AfterAgent, Notification.
 * - Codex `~/.codex/config.toml`: top-level `notify = [hook argv…, "codex", "notify"]`
 *   (src/agents/CodexNotifyToml.ts).
 *
 * telemux's entries are recognised by their command (`<hook command> <agent> <event>`), so the
 * user's other settings and hooks are never touched. Installing twice writes nothing the second
 * time; each file is backed up (`<file>.telemux-backup`) before telemux first changes it.
 * The edits are pure functions over the file's text; `install`/`uninstall` are the thin file layer.
 */

export const CLAUDE_HOOK_EVENTS = ["SessionStart", "UserPromptSubmit", "Stop", "Notification"] as const
export const GEMINI_HOOK_EVENTS = ["SessionStart", "BeforeAgent", "AfterAgent", "Notification"] as const
/** Our hook returns in well under a second; the bound only protects the agent from a wedged disk. */
export const CLAUDE_HOOK_TIMEOUT_SECONDS = 10
export const GEMINI_HOOK_TIMEOUT_MS = 10_000
export const BACKUP_SUFFIX = ".telemux-backup"

export class HookConfigUnreadable extends Data.TaggedError("HookConfigUnreadable")<{
  readonly file: string
  readonly message: string
}> {}

export class HookInstallFailed extends Data.TaggedError("HookInstallFailed")<{
  readonly file: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** The hook's command for one agent event, as a shell command line. */
export const hookCommandLine = (hookCommand: ReadonlyArray<string>, agent: Agent, event: string): string =>
  shellJoin([...hookCommand, agent, event])

// ---------------------------------------------------------------------------
// JSON settings (Claude Code, Gemini CLI)

type Json = Record<string, unknown>
const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

interface JsonHooksFlavour {
  readonly agent: Agent
  readonly events: ReadonlyArray<string>
  readonly entry: (command: string, event: string) => Json
}

export const CLAUDE_FLAVOUR: JsonHooksFlavour = {
  agent: "claude",
  events: CLAUDE_HOOK_EVENTS,
  entry: (command) => ({ type: "command", command, timeout: CLAUDE_HOOK_TIMEOUT_SECONDS })
}

export const GEMINI_FLAVOUR: JsonHooksFlavour = {
  agent: "gemini",
  events: GEMINI_HOOK_EVENTS,
  entry: (command, event) => ({ name: `telemux-${event}`, type: "command", command, timeout: GEMINI_HOOK_TIMEOUT_MS })
}

/** The indentation the file already uses (two spaces for a new one), so a rewrite keeps its look. */
const indentOf = (text: string): string | number => {
  const match = /\n([ \t]+)\S/.exec(text)
  return match === null ? 2 : match[1]!
}

const render = (original: string | undefined, settings: Json): string =>
  JSON.stringify(settings, null, original === undefined ? 2 : indentOf(original)) + "\n"

const parseSettings = (file: string, text: string | undefined): Either.Either<Json, HookConfigUnreadable> => {
  if (text === undefined || text.trim() === "") return Either.right({})
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    return Either.left(
      new HookConfigUnreadable({ file, message: `${file} is not valid JSON (${String(cause)}); left as is` })
    )
  }
  return isRecord(parsed)
    ? Either.right(parsed)
    : Either.left(new HookConfigUnreadable({ file, message: `${file} does not hold a JSON object; left as is` }))
}

const hooksOf = (file: string, settings: Json): Either.Either<Json, HookConfigUnreadable> => {
  const hooks = settings.hooks
  if (hooks === undefined) return Either.right({})
  return isRecord(hooks)
    ? Either.right(hooks)
    : Either.left(new HookConfigUnreadable({ file, message: `${file}: "hooks" is not an object; left as is` }))
}

const commandsOf = (group: unknown): ReadonlyArray<unknown> =>
  isRecord(group) && Array.isArray(group.hooks)
    ? group.hooks.map((hook) => (isRecord(hook) ? hook.command : undefined))
    : []

/** Settings text with telemux's hook on every event of `flavour`; the same text when nothing was missing. */
export const installJsonHooks = (
  flavour: JsonHooksFlavour,
  file: string,
  text: string | undefined,
  hookCommand: ReadonlyArray<string>
): Either.Either<string, HookConfigUnreadable> =>
  Either.gen(function*() {
    const settings = yield* parseSettings(file, text)
    const hooks = { ...(yield* hooksOf(file, settings)) }
    let changed = false
    for (const event of flavour.events) {
      const command = hookCommandLine(hookCommand, flavour.agent, event)
      const groups = hooks[event] ?? []
      if (!Array.isArray(groups)) {
        return yield* Either.left(
          new HookConfigUnreadable({ file, message: `${file}: hooks.${event} is not an array; left as is` })
        )
      }
      if (groups.some((group) => commandsOf(group).includes(command))) continue
      hooks[event] = [...groups, { hooks: [flavour.entry(command, event)] }]
      changed = true
    }
    return changed || text === undefined ? render(text, { ...settings, hooks }) : text
  })

/** Settings text without telemux's hooks (recognised by command); the same text when there were none. */
export const uninstallJsonHooks = (
  flavour: JsonHooksFlavour,
  file: string,
  text: string | undefined,
  hookCommand: ReadonlyArray<string>
): Either.Either<string | undefined, HookConfigUnreadable> =>
  Either.gen(function*() {
    if (text === undefined) return undefined
    const settings = yield* parseSettings(file, text)
    const hooks = { ...(yield* hooksOf(file, settings)) }
    const ours = new Set(flavour.events.map((event) => hookCommandLine(hookCommand, flavour.agent, event)))
    let changed = false
    for (const [event, groups] of Object.entries(hooks)) {
      if (!Array.isArray(groups)) continue
      const kept = groups.flatMap((group): Array<unknown> => {
        if (!isRecord(group) || !Array.isArray(group.hooks)) return [group]
        const others = group.hooks.filter((hook) => !(isRecord(hook) && ours.has(hook.command as string)))
        if (others.length === group.hooks.length) return [group]
        changed = true
        return others.length === 0 ? [] : [{ ...group, hooks: others }]
      })
      if (kept.length === 0) delete hooks[event]
      else hooks[event] = kept
    }
    if (!changed) return text
    const { hooks: _dropped, ...rest } = settings
    return render(text, Object.keys(hooks).length === 0 ? rest : { ...rest, hooks })
  })

// ---------------------------------------------------------------------------
// Files

export interface HookInstallOptions {
  /** The user's home directory (where `.claude`, `.codex`, `.gemini` live). */
  readonly home: string
  /** The hook command as argv, e.g. `[process.execPath, "/opt/telemux/dist/hook.js"]`. */
  readonly hookCommand: ReadonlyArray<string>
  /** Agents to configure; all three by default. */
  readonly agents?: ReadonlyArray<Agent>
}

/** `absent`: nothing to uninstall; `failed`: the file was left as it was, see `error`. */
export type HookFileOutcome = "changed" | "unchanged" | "absent" | "failed"

export interface HookFileReport {
  readonly agent: Agent
  readonly file: string
  readonly outcome: HookFileOutcome
  readonly error?: HookConfigUnreadable | HookInstallFailed
}

export const settingsFileOf = (home: string, agent: Agent): string => {
  switch (agent) {
    case "claude":
      return path.join(home, ".claude", "settings.json")
    case "codex":
      return path.join(home, ".codex", "config.toml")
    case "gemini":
      return path.join(home, ".gemini", "settings.json")
  }
}

const ALL_AGENTS: ReadonlyArray<Agent> = ["claude", "codex", "gemini"]

/** The argv Codex runs (it appends the JSON payload as the last argument). */
export const codexNotifyArgv = (hookCommand: ReadonlyArray<string>): ReadonlyArray<string> => [
  ...hookCommand,
  "codex",
  "notify"
]

type Edit = (file: string, text: string | undefined) => Either.Either<string | undefined, HookConfigUnreadable>

const installEdit = (agent: Agent, hookCommand: ReadonlyArray<string>): Edit => (file, text) => {
  switch (agent) {
    case "claude":
      return installJsonHooks(CLAUDE_FLAVOUR, file, text, hookCommand)
    case "gemini":
      return installJsonHooks(GEMINI_FLAVOUR, file, text, hookCommand)
    case "codex":
      return Either.right(installCodexNotify(text, codexNotifyArgv(hookCommand)))
  }
}

const uninstallEdit = (agent: Agent, hookCommand: ReadonlyArray<string>): Edit => (file, text) => {
  switch (agent) {
    case "claude":
      return uninstallJsonHooks(CLAUDE_FLAVOUR, file, text, hookCommand)
    case "gemini":
      return uninstallJsonHooks(GEMINI_FLAVOUR, file, text, hookCommand)
    case "codex":
      return Either.right(text === undefined ? undefined : uninstallCodexNotify(text, codexNotifyArgv(hookCommand)))
  }
}

const applyEdit = (agent: Agent, file: string, edit: Edit) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const failed = (message: string) => (cause: unknown) => new HookInstallFailed({ file, message, cause })
    const exists = yield* fs.exists(file).pipe(Effect.mapError(failed("cannot look for the file")))
    const before = exists ? yield* fs.readFileString(file).pipe(Effect.mapError(failed("cannot read"))) : undefined
    const after = yield* edit(file, before)
    if (after === undefined) return { agent, file, outcome: "absent" } satisfies HookFileReport
    if (after === before) return { agent, file, outcome: "unchanged" } satisfies HookFileReport
    yield* fs.makeDirectory(path.dirname(file), { recursive: true }).pipe(
      Effect.mapError(failed("cannot create its directory"))
    )
    const backup = file + BACKUP_SUFFIX
    if (before !== undefined && !(yield* fs.exists(backup).pipe(Effect.orElseSucceed(() => false)))) {
      // settings files may hold credentials: the copy is the user's alone, whatever the original's mode
      yield* fs.writeFileString(backup, before, { mode: 0o600 }).pipe(
        Effect.mapError(failed("cannot write the backup"))
      )
    }
    // replace in one rename, keeping the file's mode (a new file: 0600): a half-written settings file would break the agent
    const temporary = `${file}.telemux-${process.pid}.tmp`
    yield* fs.writeFileString(temporary, after, { mode: 0o600 }).pipe(Effect.mapError(failed("cannot write")))
    if (exists) {
      const mode = yield* fs.stat(file).pipe(Effect.map((info) => info.mode & 0o777), Effect.orElseSucceed(() => 0o600))
      yield* fs.chmod(temporary, mode).pipe(Effect.ignore)
    }
    yield* fs.rename(temporary, file).pipe(
      Effect.tapError(() => fs.remove(temporary).pipe(Effect.ignore)),
      Effect.mapError(failed("cannot replace"))
    )
    return { agent, file, outcome: "changed" } satisfies HookFileReport
  })

/** Each agent's file on its own: one unreadable settings file does not keep the others unconfigured. */
const forAgents = (options: HookInstallOptions, editFor: (agent: Agent) => Edit) =>
  Effect.forEach(options.agents ?? ALL_AGENTS, (agent) => {
    const file = settingsFileOf(options.home, agent)
    return applyEdit(agent, file, editFor(agent)).pipe(
      Effect.catchAll((error) => Effect.succeed<HookFileReport>({ agent, file, outcome: "failed", error }))
    )
  })

/** Adds telemux's hooks to each agent's settings (creating files and directories when missing). */
export const install = (
  options: HookInstallOptions
): Effect.Effect<ReadonlyArray<HookFileReport>, never, FileSystem.FileSystem> =>
  forAgents(options, (agent) => installEdit(agent, options.hookCommand))

/** Removes exactly telemux's hooks, putting back a Codex `notify` that telemux replaced. */
export const uninstall = (
  options: HookInstallOptions
): Effect.Effect<ReadonlyArray<HookFileReport>, never, FileSystem.FileSystem> =>
  forAgents(options, (agent) => uninstallEdit(agent, options.hookCommand))
