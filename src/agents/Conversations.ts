import { HttpApiSchema } from "@effect/platform"
import { Config, Effect, Option, Schema } from "effect"
import { createHash, randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { Agent } from "../domain/Session.js"
import { isNativeSessionId } from "./AgentCommands.js"

/**
 * Where each agent keeps a conversation, and how one is moved or copied — what forking needs
 * beyond the agent's own command line (AgentCommands.ts):
 *
 * | agent  | file                                                                        | found by        |
 * | claude | `~/.claude/projects/<cwd, every non-alphanumeric char as '-'>/<id>.jsonl`   | cwd and id      |
 * | codex  | `~/.codex/sessions/YYYY/MM/DD/rollout-<YYYY-MM-DDThh-mm-ss>-<id>.jsonl`     | id (any date)   |
 * | gemini | `~/.gemini/tmp/<sha256 of cwd>/chats/session-<YYYY-MM-DDThh-mm>-<id[0..8]>.json`, JSON with `sessionId` | cwd and id (content) |
 *
 * (`CLAUDE_CONFIG_DIR` and `CODEX_HOME` move the first two, as they do for the agents.) A
 * conversation goes to another computer as an export of its file, written there where that
 * agent, started in the target's working directory, will look. Gemini has no fork of its own:
 * its fork is a copy of the file under a new id, which it then resumes.
 */

/** Largest conversation file exported (it travels in one fleet message); past it: ConversationTooLarge. */
export const CONVERSATION_MAX_BYTES = 64 * 1024 * 1024
/** Most directory entries looked at while searching a conversation by id. */
export const CONVERSATION_SEARCH_MAX_ENTRIES = 100_000

// ---------------------------------------------------------------------------
// Errors

/** The conversation's file is not where the agent keeps it (or cannot be read or written). */
export class ConversationUnavailable extends Schema.TaggedError<ConversationUnavailable>()(
  "ConversationUnavailable",
  { agent: Agent, nativeSessionId: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

export class ConversationTooLarge extends Schema.TaggedError<ConversationTooLarge>()(
  "ConversationTooLarge",
  { agent: Agent, nativeSessionId: Schema.String, bytes: Schema.Number, message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

export type ConversationError = ConversationUnavailable | ConversationTooLarge

// ---------------------------------------------------------------------------
// The export

/** A conversation file's name as the agent names it: no directory part, nothing odd. */
const FileName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$/, { message: () => "not a conversation file name" })
)

/** One conversation's file, to be written on another computer (fleet message ForkAgent). */
export const ConversationExport = Schema.Struct({
  agent: Agent,
  nativeSessionId: Schema.String.pipe(Schema.filter((id) => isNativeSessionId(id) || "not a native session id")),
  /** The file's own name (codex's carries the conversation's date and time). */
  fileName: FileName,
  content: Schema.String.pipe(Schema.maxLength(CONVERSATION_MAX_BYTES))
})
export type ConversationExport = typeof ConversationExport.Type

// ---------------------------------------------------------------------------
// Where the agents look

/** The agents' own directories on this computer (their HOME and config variables). */
export interface AgentHomes {
  readonly claude: string
  readonly codex: string
  readonly gemini: string
}

/** From the agents' own variables (HOME, CLAUDE_CONFIG_DIR, CODEX_HOME), as the daemon's panes inherit them. */
export const agentHomes: Effect.Effect<AgentHomes> = Effect.gen(function*() {
  const variable = (name: string) => Config.option(Config.nonEmptyString(name)).pipe(Effect.map(Option.getOrUndefined))
  const home = (yield* variable("HOME")) ?? os.homedir()
  return {
    claude: (yield* variable("CLAUDE_CONFIG_DIR")) ?? path.join(home, ".claude"),
    codex: (yield* variable("CODEX_HOME")) ?? path.join(home, ".codex"),
    gemini: path.join(home, ".gemini")
  }
}).pipe(Effect.orElseSucceed(() => {
  const home = os.homedir()
  return { claude: path.join(home, ".claude"), codex: path.join(home, ".codex"), gemini: path.join(home, ".gemini") }
}))

/** Claude Code's project dir for a working directory: every character but ASCII letters and digits as '-'. */
export const claudeProjectDir = (homes: AgentHomes, cwd: string) =>
  path.join(homes.claude, "projects", cwd.replace(/[^A-Za-z0-9]/g, "-"))

/** Gemini CLI's chats dir for a project root: `tmp/<sha256 of the path>/chats`. */
export const geminiChatsDir = (homes: AgentHomes, cwd: string) =>
  path.join(homes.gemini, "tmp", createHash("sha256").update(cwd).digest("hex"), "chats")

export const codexSessionsDir = (homes: AgentHomes) => path.join(homes.codex, "sessions")

const CODEX_ROLLOUT = /^rollout-(\d{4})-(\d{2})-(\d{2})T[\d-]+-(.+)\.jsonl$/

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

/** Gemini's file name for a conversation started at `at`. */
export const geminiFileName = (id: string, at: Date) =>
  `session-${at.getUTCFullYear()}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}T${pad(at.getUTCHours())}-${
    pad(at.getUTCMinutes())
  }-${id.slice(0, 8)}.json`

/** The name a conversation's file gets: claude's is its id; codex's and gemini's keep their own. */
const fileNameFor = (agent: Agent, id: string, fileName: string) => agent === "claude" ? `${id}.jsonl` : fileName

/** Where the file named `fileName` of `agent`'s conversation goes for an agent started in `cwd`. */
export const destinationOf = (homes: AgentHomes, agent: Agent, fileName: string, cwd: string): string => {
  switch (agent) {
    case "claude":
      return path.join(claudeProjectDir(homes, cwd), fileName)
    case "codex": {
      // the rollout's own date, where codex's listing by date would have put it
      const dated = CODEX_ROLLOUT.exec(fileName)
      const now = new Date()
      const [y, m, d] = dated === null
        ? [String(now.getUTCFullYear()), pad(now.getUTCMonth() + 1), pad(now.getUTCDate())]
        : [dated[1]!, dated[2]!, dated[3]!]
      return path.join(codexSessionsDir(homes), y, m, d, fileName)
    }
    case "gemini":
      return path.join(geminiChatsDir(homes, cwd), fileName)
  }
}

// ---------------------------------------------------------------------------
// File operations (bounded)

const unavailable = (agent: Agent, nativeSessionId: string, message: string) =>
  new ConversationUnavailable({ agent, nativeSessionId, message })

const describe = (cause: unknown) => cause instanceof Error ? cause.message : String(cause)

const isFile = (file: string) => Effect.promise(() => fs.stat(file).then((s) => s.isFile(), () => false))

const listDir = (dir: string) => Effect.promise(() => fs.readdir(dir).catch((): Array<string> => []))

/** The working directory as the agent sees it (its process.cwd(): symlinks resolved). */
export const realDir = (dir: string) => Effect.promise(() => fs.realpath(dir).catch(() => dir))

/** Reads a conversation file whole, refusing one past CONVERSATION_MAX_BYTES. */
const readBounded = (agent: Agent, nativeSessionId: string, file: string) =>
  Effect.gen(function*() {
    const size = yield* Effect.tryPromise({
      try: () => fs.stat(file).then((s) => s.size),
      catch: (e) => unavailable(agent, nativeSessionId, `cannot read ${file}: ${describe(e)}`)
    })
    if (size > CONVERSATION_MAX_BYTES) {
      return yield* new ConversationTooLarge({
        agent,
        nativeSessionId,
        bytes: size,
        message:
          `${agent}'s conversation ${nativeSessionId} is ${size} bytes, more than the ${CONVERSATION_MAX_BYTES} ` +
          `a fork carries to another computer: fork it on its own computer`
      })
    }
    return yield* Effect.tryPromise({
      try: () => fs.readFile(file, "utf8"),
      catch: (e) => unavailable(agent, nativeSessionId, `cannot read ${file}: ${describe(e)}`)
    })
  })

/** Writes through a temporary file beside it, so an agent never reads half a conversation. */
const writeAtomic = (agent: Agent, nativeSessionId: string, file: string, content: string) => {
  const temporary = `${file}.${randomUUID()}.tmp`
  return Effect.tryPromise({
    try: async () => {
      await fs.mkdir(path.dirname(file), { recursive: true })
      await fs.writeFile(temporary, content, { mode: 0o600 })
      await fs.rename(temporary, file)
    },
    catch: (e) => unavailable(agent, nativeSessionId, `cannot write ${file}: ${describe(e)}`)
  }).pipe(Effect.tapError(() => Effect.promise(() => fs.rm(temporary, { force: true }))))
}

/** The sessionId of a gemini conversation file's JSON, or undefined. */
const geminiSessionIdOf = (content: string): string | undefined => {
  try {
    const parsed: unknown = JSON.parse(content)
    if (
      typeof parsed === "object" && parsed !== null && "sessionId" in parsed && typeof parsed.sessionId === "string"
    ) {
      return parsed.sessionId
    }
  } catch {
    // not a conversation
  }
  return undefined
}

/** A gemini chats dir's file for `id`: its name carries the id's first 8 characters, its JSON the id. */
const geminiFileIn = (dir: string, id: string) =>
  Effect.gen(function*() {
    const names = (yield* listDir(dir)).filter((n) => n.startsWith("session-") && n.includes(id.slice(0, 8)))
    for (const name of names.slice(0, 64)) {
      const file = path.join(dir, name)
      const head = yield* Effect.promise(() => fs.readFile(file, "utf8").catch(() => ""))
      if (geminiSessionIdOf(head) === id) return file
    }
    return undefined
  })

/** Codex's rollout for `id`, searched newest date first, at most CONVERSATION_SEARCH_MAX_ENTRIES entries. */
const codexFileOf = (homes: AgentHomes, id: string) =>
  Effect.gen(function*() {
    const root = codexSessionsDir(homes)
    let looked = 0
    const newestFirst = (names: ReadonlyArray<string>) => [...names].sort().reverse()
    for (const year of newestFirst(yield* listDir(root))) {
      for (const month of newestFirst(yield* listDir(path.join(root, year)))) {
        for (const day of newestFirst(yield* listDir(path.join(root, year, month)))) {
          const names = yield* listDir(path.join(root, year, month, day))
          looked += names.length
          const found = names.find((n) => n.startsWith("rollout-") && n.endsWith(`-${id}.jsonl`))
          if (found !== undefined) return path.join(root, year, month, day, found)
          if (looked > CONVERSATION_SEARCH_MAX_ENTRIES) return undefined
        }
      }
    }
    return undefined
  })

/**
 * The file of `agent`'s conversation `id`: the transcript path its hooks gave when it is there,
 * else where the agent keeps it for `cwd`.
 */
export const locateConversation = (
  homes: AgentHomes,
  agent: Agent,
  id: string,
  logFile: string | null,
  cwd: string
): Effect.Effect<string, ConversationUnavailable> =>
  Effect.gen(function*() {
    if (!isNativeSessionId(id)) return yield* unavailable(agent, id, `${JSON.stringify(id)} is not a session id`)
    if (logFile !== null && path.isAbsolute(logFile) && (yield* isFile(logFile))) return logFile
    const dir = yield* realDir(cwd)
    const found = agent === "claude"
      ? (yield* isFile(path.join(claudeProjectDir(homes, dir), `${id}.jsonl`)))
        ? path.join(claudeProjectDir(homes, dir), `${id}.jsonl`)
        : undefined
      : agent === "codex"
      ? yield* codexFileOf(homes, id)
      : yield* geminiFileIn(geminiChatsDir(homes, dir), id)
    if (found === undefined) {
      return yield* unavailable(
        agent,
        id,
        `${agent}'s conversation ${id} is not where ${agent} keeps it on this computer` +
          (logFile === null ? "" : ` (nor at ${logFile})`)
      )
    }
    return found
  })

/** The conversation's file, read whole (bounded), to be written on another computer. */
export const readConversation = (
  homes: AgentHomes,
  agent: Agent,
  id: string,
  logFile: string | null,
  cwd: string
): Effect.Effect<ConversationExport, ConversationError> =>
  Effect.gen(function*() {
    const file = yield* locateConversation(homes, agent, id, logFile, cwd)
    const content = yield* readBounded(agent, id, file)
    return { agent, nativeSessionId: id, fileName: path.basename(file), content }
  })

/**
 * Writes `conversation` where its agent, started in `cwd`, looks for it; nothing is written when
 * that is `source` itself (the agent's own file, maybe still being appended to). The path written.
 */
export const importConversation = (
  homes: AgentHomes,
  conversation: ConversationExport,
  cwd: string,
  source?: string
): Effect.Effect<string, ConversationUnavailable> =>
  Effect.gen(function*() {
    const { agent, nativeSessionId: id } = conversation
    const named = fileNameFor(agent, id, conversation.fileName)
    if (agent === "codex" && !conversation.fileName.endsWith(`-${id}.jsonl`)) {
      return yield* unavailable(agent, id, `${conversation.fileName} is not codex's file of conversation ${id}`)
    }
    const file = destinationOf(homes, agent, named, yield* realDir(cwd))
    if (source !== undefined && path.resolve(source) === file) return file
    yield* writeAtomic(agent, id, file, conversation.content)
    return file
  })

/**
 * Gemini's fork: the conversation copied under a new id (the JSON's `sessionId`, and the file
 * named as gemini names them) into the chats dir for `cwd`. The new id and the file.
 */
export const copyGeminiConversation = (
  homes: AgentHomes,
  conversation: ConversationExport,
  cwd: string,
  newId: string = randomUUID()
): Effect.Effect<{ readonly nativeSessionId: string; readonly file: string }, ConversationUnavailable> =>
  Effect.gen(function*() {
    const old = conversation.nativeSessionId
    const parsed = yield* Effect.try({
      try: (): unknown => JSON.parse(conversation.content),
      catch: () => unavailable("gemini", old, `gemini's conversation ${old} is not JSON`)
    })
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return yield* unavailable("gemini", old, `gemini's conversation ${old} is not a JSON object`)
    }
    const dir = yield* realDir(cwd)
    const chats = geminiChatsDir(homes, dir)
    const now = new Date()
    const copy: Record<string, unknown> = { ...parsed, sessionId: newId }
    // the file names its project by hash when it does: the copy's project is the target's
    if ("projectHash" in copy) copy.projectHash = path.basename(path.dirname(chats))
    if ("lastUpdated" in copy) copy.lastUpdated = now.toISOString()
    const file = path.join(chats, geminiFileName(newId, now))
    yield* writeAtomic("gemini", newId, file, JSON.stringify(copy))
    return { nativeSessionId: newId, file }
  })

// ---------------------------------------------------------------------------
// A fork's conversation, wherever it comes from

/** What a fork continues: a file on this computer, or an export from another. */
export type ConversationSource =
  | {
    readonly _tag: "Local"
    readonly agent: Agent
    readonly nativeSessionId: string
    readonly file: string
  }
  | { readonly _tag: "Exported"; readonly conversation: ConversationExport }

/**
 * Puts the conversation where its agent started in `cwd` finds the one to fork, and answers the
 * id to hand to the Fork launch: the conversation's own (claude, codex), or, for gemini, a copy's.
 * A local file already where the agent looks is left alone (no read, no size bound).
 */
export const prepareFork = (
  homes: AgentHomes,
  source: ConversationSource,
  cwd: string
): Effect.Effect<string, ConversationError> =>
  Effect.gen(function*() {
    const agent = source._tag === "Local" ? source.agent : source.conversation.agent
    const id = source._tag === "Local" ? source.nativeSessionId : source.conversation.nativeSessionId
    let exported: ConversationExport
    if (source._tag === "Exported") exported = source.conversation
    else {
      const fileName = path.basename(source.file)
      const destination = destinationOf(homes, agent, fileNameFor(agent, id, fileName), yield* realDir(cwd))
      // where the agent will look already: importConversation leaves it alone, nothing to read
      const content = agent !== "gemini" && destination === path.resolve(source.file)
        ? ""
        : yield* readBounded(agent, id, source.file)
      exported = { agent, nativeSessionId: id, fileName, content }
    }
    if (agent === "gemini") return (yield* copyGeminiConversation(homes, exported, cwd)).nativeSessionId
    yield* importConversation(homes, exported, cwd, source._tag === "Local" ? source.file : undefined)
    return id
  })
