import { HttpApiSchema } from "@effect/platform"
import { Effect, Schema } from "effect"
import { InvalidRequest } from "../domain/Errors.js"
import { inputTextProblem } from "../domain/InputText.js"
import { Agent, AgentMode } from "../domain/Session.js"
import { hasControlCharacter, shellQuote } from "./ShellQuote.js"

/**
 * The command lines that start, resume and continue an agent, typed into a pane's shell.
 *
 * A launch is the agent's configured base command (shell text, used verbatim: it may carry the
 * user's own flags or env assignments, e.g. `claude --dangerously-skip-permissions`) followed
 * by telemux's words, each shell-quoted:
 *
 * | agent  | mode flags (defaults)                                  | resume by id        | continue latest      |
 * | claude | `--model haiku|sonnet|opus`, deep adds `--effort max`  | `--resume <id>`     | `--continue`         |
 * | codex  | `-m <model> -c model_reasoning_effort=low|medium|high|xhigh` | `resume … <id>` | `resume --last …`    |
 * | gemini | `-m gemini-2.5-flash-lite|flash|pro`, no deep          | `--resume <id>`     | `--resume latest`    |
 *
 * A fork continues a conversation under a new id, the old one left as it was: claude
 * `--resume <id> --fork-session`, codex `fork … <id>` (shaped as `codex resume`). Gemini has no fork
 * of its own: the daemon copies the conversation under a new id first (Conversations.ts), and the
 * Fork launch of gemini resumes that copy (`--resume <new id>`).
 *
 * A first prompt never goes on the command line: the plan carries it for the daemon to paste
 * once the agent's UI has settled (PRODUCT.md §3.2).
 */

// ---------------------------------------------------------------------------
// Errors

export class AgentModeUnsupported extends Schema.TaggedError<AgentModeUnsupported>()(
  "AgentModeUnsupported",
  { agent: Agent, mode: AgentMode, message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {
  static of(agent: Agent, mode: AgentMode) {
    return new AgentModeUnsupported({ agent, mode, message: `${agent} has no "${mode}" mode` })
  }
}

/** A native session id that cannot be handed to a resume flag (empty, flag-like, odd characters). */
export class NativeSessionIdInvalid extends Schema.TaggedError<NativeSessionIdInvalid>()(
  "NativeSessionIdInvalid",
  { agent: Agent, nativeSessionId: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

// ---------------------------------------------------------------------------
// Mode flags

/** One agent's words per mode; a mode left out (or `null` in an override) is unsupported. */
export type ModeFlags = Readonly<Partial<Record<AgentMode, ReadonlyArray<string>>>>
export type AgentModeFlags = Readonly<Record<Agent, ModeFlags>>

const codexMode = (model: string, effort: string): ReadonlyArray<string> => [
  "-m",
  model,
  "-c",
  `model_reasoning_effort=${effort}`
]

export const AGENT_MODE_FLAGS_DEFAULTS: AgentModeFlags = {
  claude: {
    fast: ["--model", "haiku"],
    med: ["--model", "sonnet"],
    slow: ["--model", "opus"],
    deep: ["--model", "opus", "--effort", "max"]
  },
  codex: {
    fast: codexMode("gpt-5-codex", "low"),
    med: codexMode("gpt-5-codex", "medium"),
    slow: codexMode("gpt-5-codex", "high"),
    // xhigh reasoning needs a model that offers it
    deep: codexMode("gpt-5.1-codex-max", "xhigh")
  },
  gemini: {
    fast: ["-m", "gemini-2.5-flash-lite"],
    med: ["-m", "gemini-2.5-flash"],
    slow: ["-m", "gemini-2.5-pro"]
  }
}

/** A flag word: any text without control characters (it is typed into a shell). */
const FlagWord = Schema.String.pipe(
  Schema.filter((word) => !hasControlCharacter(word) || "a flag may not hold control characters")
)

/**
 * Overrides from configuration: per agent, per mode, the words to use instead of the default,
 * or `null` to switch a mode off. JSON, e.g.
 * `{"codex":{"deep":null},"claude":{"fast":["--model","claude-haiku-4-5"]}}`.
 */
const strict = { parseOptions: { onExcessProperty: "error" } } as const
export const AgentModeFlagsOverride = Schema.partial(Schema.Record({
  key: Agent,
  value: Schema.partial(Schema.Record({ key: AgentMode, value: Schema.NullOr(Schema.Array(FlagWord)) }))
    .annotations(strict)
})).annotations(strict)
export type AgentModeFlagsOverride = typeof AgentModeFlagsOverride.Type
export const AgentModeFlagsOverrideFromJson = Schema.parseJson(AgentModeFlagsOverride)

export const mergeModeFlags = (
  defaults: AgentModeFlags,
  override: AgentModeFlagsOverride | undefined
): AgentModeFlags => {
  if (override === undefined) return defaults
  const merge = (agent: Agent): ModeFlags => {
    const changes = override[agent]
    if (changes === undefined) return defaults[agent]
    const result: Partial<Record<AgentMode, ReadonlyArray<string>>> = { ...defaults[agent] }
    for (const mode of AgentMode.literals) {
      if (!(mode in changes)) continue
      const flags = changes[mode]
      if (flags === null || flags === undefined) delete result[mode]
      else result[mode] = flags
    }
    return result
  }
  return { claude: merge("claude"), codex: merge("codex"), gemini: merge("gemini") }
}

export const supportsMode = (flags: AgentModeFlags, agent: Agent, mode: AgentMode): boolean =>
  flags[agent][mode] !== undefined

// ---------------------------------------------------------------------------
// Launch plans

export type AgentLaunch =
  | { readonly _tag: "Start" }
  /** Start, then paste `prompt` once the agent is ready (never on the command line). */
  | { readonly _tag: "StartWithPrompt"; readonly prompt: string }
  | { readonly _tag: "Resume"; readonly nativeSessionId: string }
  /** Resume the agent's latest conversation in the working directory. */
  | { readonly _tag: "Continue" }
  /** A new conversation continuing `nativeSessionId`'s (for gemini: the id of the daemon's copy). */
  | { readonly _tag: "Fork"; readonly nativeSessionId: string }

export const AgentLaunch = {
  start: { _tag: "Start" } as AgentLaunch,
  startWithPrompt: (prompt: string): AgentLaunch => ({ _tag: "StartWithPrompt", prompt }),
  resume: (nativeSessionId: string): AgentLaunch => ({ _tag: "Resume", nativeSessionId }),
  continueLatest: { _tag: "Continue" } as AgentLaunch,
  fork: (nativeSessionId: string): AgentLaunch => ({ _tag: "Fork", nativeSessionId }),
  /** Resume by id when one is known, else continue the latest. */
  resumeOrContinue: (nativeSessionId: string | null | undefined): AgentLaunch =>
    nativeSessionId === null || nativeSessionId === undefined || nativeSessionId === ""
      ? { _tag: "Continue" }
      : { _tag: "Resume", nativeSessionId }
}

export interface AgentLaunchPlan {
  readonly agent: Agent
  readonly mode: AgentMode
  /** The configured base command, verbatim. */
  readonly base: string
  /** telemux's words after it, unquoted. */
  readonly args: ReadonlyArray<string>
  /** What to type into the pane: `base` and the quoted `args`. */
  readonly commandLine: string
  /** To paste once the agent's UI is ready; undefined when there is none. */
  readonly firstPrompt: string | undefined
}

export interface LaunchOptions {
  readonly agent: Agent
  readonly mode: AgentMode
  readonly launch: AgentLaunch
  /** Base commands (config `agentCommands`); the agent's name when missing or blank. */
  readonly commands?: Readonly<Partial<Record<Agent, string>>>
  readonly modeFlags?: AgentModeFlags
}

/** Ids the agents hand out are UUIDs or similar; anything flag-like or shell-odd is refused. */
const NATIVE_SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

/** Whether `id` may be handed to a resume or fork flag (and name a conversation file). */
export const isNativeSessionId = (id: string): boolean => NATIVE_SESSION_ID.test(id)

const resumeWords = (agent: Agent, flags: ReadonlyArray<string>, launch: AgentLaunch): ReadonlyArray<string> => {
  switch (launch._tag) {
    case "Start":
    case "StartWithPrompt":
      return flags
    case "Resume":
      switch (agent) {
        case "claude":
          return [...flags, "--resume", launch.nativeSessionId]
        case "codex":
          // `codex resume [OPTIONS] [SESSION_ID]`: the subcommand takes the same model options
          return ["resume", ...flags, launch.nativeSessionId]
        case "gemini":
          return [...flags, "--resume", launch.nativeSessionId]
      }
      break
    case "Fork":
      switch (agent) {
        case "claude":
          return [...flags, "--resume", launch.nativeSessionId, "--fork-session"]
        case "codex":
          // `codex fork [OPTIONS] [SESSION_ID]`, as `codex resume`
          return ["fork", ...flags, launch.nativeSessionId]
        case "gemini":
          // no fork of its own: the id is the daemon's copy of the conversation
          return [...flags, "--resume", launch.nativeSessionId]
      }
      break
    case "Continue":
      switch (agent) {
        case "claude":
          return [...flags, "--continue"]
        case "codex":
          return ["resume", "--last", ...flags]
        case "gemini":
          return [...flags, "--resume", "latest"]
      }
  }
}

export const buildLaunch = (
  options: LaunchOptions
): Effect.Effect<AgentLaunchPlan, AgentModeUnsupported | NativeSessionIdInvalid | InvalidRequest> => {
  const { agent, launch, mode } = options
  const flags = (options.modeFlags ?? AGENT_MODE_FLAGS_DEFAULTS)[agent][mode]
  if (flags === undefined) return Effect.fail(AgentModeUnsupported.of(agent, mode))
  // the prompt is pasted into the agent later: refused now, before the session exists, by the input rule
  const promptProblem = launch._tag === "StartWithPrompt" ? inputTextProblem(launch.prompt, "prompt") : undefined
  if (promptProblem !== undefined) return Effect.fail(new InvalidRequest({ message: promptProblem }))
  if ((launch._tag === "Resume" || launch._tag === "Fork") && !isNativeSessionId(launch.nativeSessionId)) {
    return Effect.fail(
      new NativeSessionIdInvalid({
        agent,
        nativeSessionId: launch.nativeSessionId,
        message: `${JSON.stringify(launch.nativeSessionId)} is not a session id ${agent} can ${
          launch._tag === "Fork" ? "fork" : "resume"
        }`
      })
    )
  }
  const configured = options.commands?.[agent]?.trim()
  const base = configured === undefined || configured === "" ? agent : configured
  const args = resumeWords(agent, flags, launch)
  return Effect.succeed({
    agent,
    mode,
    base,
    args,
    commandLine: [base, ...args.map(shellQuote)].join(" "),
    firstPrompt: launch._tag === "StartWithPrompt" && launch.prompt !== "" ? launch.prompt : undefined
  })
}
