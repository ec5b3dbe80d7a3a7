import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { Duration, Schema } from "effect"
import { IDEMPOTENCY_TTL, IdempotencyKey } from "../../services/Idempotency.js"
import { INPUT_MAX_BYTES, SESSIONS_LIST_LIMIT_MAX } from "../../services/Sessions.js"
import { CAPTURE_HISTORY_DEFAULT, CAPTURE_HISTORY_MAX } from "../../services/TerminalBridge.js"
import { AgentModeUnsupported, NativeSessionIdInvalid } from "../agents/AgentCommands.js"
import { Computer, FleetLink } from "../domain/Computer.js"
import {
  AgentBusy,
  AgentCommandNotFound,
  ComputerUnreachable,
  DaemonUnavailable,
  IdempotencyKeyReused,
  InvalidRequest,
  OutcomeUnknown,
  PayloadTooLarge,
  RemoteTimeout,
  SessionClosed,
  SessionNotFound,
  StorageFailure,
  TerminalUnavailable,
  Unauthorized,
  UnsupportedMediaType
} from "../domain/Errors.js"
import { InputText } from "../domain/InputText.js"
import { KEY_PRESSES_MAX, KeyInput, toKeyPress } from "../domain/Keys.js"
import { Project } from "../domain/Project.js"
import { Agent, AgentMode, ComputerName, Session, SessionId, SessionStatus } from "../domain/Session.js"
import {
  CleanupPayload,
  CleanupReport,
  FinishPayload,
  FinishResult,
  NoWorktree,
  WorktreeDiff,
  WorktreeEntry,
  WorktreeErrorSchema,
  WorktreeRequest
} from "../domain/Worktree.js"
import { VERSION } from "../Version.js"
import { describeErrorResponses } from "./ErrorResponses.js"

/** Refused by the Host/Origin check (DNS rebinding) before anything else runs. */
export class HostNotAllowed extends Schema.TaggedError<HostNotAllowed>()(
  "HostNotAllowed",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

/**
 * Bearer token from the `Authorization` header only (a token in a URL would end up in logs and
 * history); without one, the web dashboard's cookie from its own origin (layers/WebSignIn.ts).
 */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("telemux/Authorization", {
  failure: Unauthorized,
  security: {
    bearer: HttpApiSecurity.bearer.pipe(
      HttpApiSecurity.annotate(
        OpenApi.Description,
        "The daemon's token: generated on first start into `$TELEMUX_HOME/token` (mode 0600); `telemux token` prints it. " +
          "A browser signed in to the web dashboard (`POST /v1/web/sign-in`) sends its session cookie " +
          "`telemux_session_<port>` instead, accepted only from the dashboard's own origin"
      )
    )
  }
}) {}

const strict = { parseOptions: { onExcessProperty: "error" } } as const

const utf8Length = (text: string): number => {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes
}

/**
 * A query parameter holding a whole number. On the wire it is text, so the generated JSON Schema
 * would say "a string"; the override says what a client may send.
 */
const IntFromString = (min: number, max: number, doc: { readonly description: string; readonly default?: number }) =>
  Schema.NumberFromString.pipe(
    Schema.int({ message: () => "must be an integer" }),
    Schema.between(min, max, { message: () => `must be between ${min} and ${max}` })
  ).annotations({ jsonSchema: { type: "integer", minimum: min, maximum: max, ...doc } })

/**
 * Query parameters are a plain Struct with a `title`, never an `identifier`: OpenApi.fromApi reads
 * the parameters from the Struct's JSON Schema `properties`, and an identifier turns that schema into
 * a `$ref` to a component, so every parameter silently dropped out of the document. Their
 * descriptions go in `jsonSchema`, not `description`: a `description` would also replace the
 * expected value named in decode errors.
 */
const queryParams = (title: string) => ({ ...strict, title }) as const

const sessionIdParam = HttpApiSchema.param("id", SessionId)

/** The Telegram front-end as this daemon sees it (TELEMUX_TELEGRAM_TOKEN set). */
export const TelegramHealth = Schema.Struct({
  /** The computer whose daemon polls the bot now (the fleet lease's holder), or null: none. */
  poller: Schema.NullOr(Schema.String),
  /** How many Telegram users this daemon serves (TELEMUX_TELEGRAM_USERS; none: nobody). */
  users: Schema.NonNegative
})

export class Health extends Schema.Class<Health>("Health")({
  ok: Schema.Literal(true),
  version: Schema.String,
  computer: ComputerName,
  uptimeSeconds: Schema.NonNegative,
  /** The Redis link, or null when this daemon is in no fleet. */
  fleet: Schema.NullOr(FleetLink),
  /** The Telegram front-end; absent when this daemon has no bot token. */
  telegram: Schema.optionalWith(TelegramHealth, { exact: true })
}) {}

export const ListSessionsParams = Schema.Struct({
  computer: Schema.optionalWith(
    // ComputerName has its own message, so here a plain description changes no error
    ComputerName.annotations({
      description: "only the sessions of this computer (default: every computer of the fleet)"
    }),
    { exact: true }
  ),
  status: Schema.optionalWith(
    Schema.Union(SessionStatus, Schema.Literal("all")).annotations({
      jsonSchema: {
        description: "only sessions in this status; `all` includes closed ones (default: every open session)"
      }
    }),
    { exact: true }
  ),
  limit: Schema.optionalWith(
    IntFromString(1, SESSIONS_LIST_LIMIT_MAX, { description: "at most this many sessions" }),
    { exact: true }
  )
}).annotations(queryParams("ListSessionsParams"))

export const CreateSessionPayload = Schema.Struct({
  projectDir: Schema.NonEmptyString,
  /** The computer to start it on (default: this one); a remote one requires the dir to be inside its trusted dirs. */
  computer: Schema.optionalWith(ComputerName, { exact: true }),
  /** Start this agent in the session (with `mode`, default med), and paste `prompt` once it is ready. */
  agent: Schema.optionalWith(Agent, { exact: true }),
  mode: Schema.optionalWith(AgentMode, { exact: true }),
  prompt: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  title: Schema.optionalWith(Schema.String, { exact: true }),
  /** Run in a new git worktree of the project's repository, on a branch of its own (or an existing one). */
  worktree: Schema.optionalWith(WorktreeRequest, { exact: true })
}).annotations({ ...strict, identifier: "CreateSessionPayload" })

/** A new session continuing the agent's conversation (its current id) under a new id. */
export const ForkPayload = Schema.Struct({
  /** The computer to start it on (default: the session's own). */
  computer: Schema.optionalWith(ComputerName, { exact: true }),
  /** Run the fork in a new git worktree of the session's repository. */
  worktree: Schema.optionalWith(WorktreeRequest, { exact: true }),
  title: Schema.optionalWith(Schema.String, { exact: true }),
  mode: Schema.optionalWith(AgentMode, { exact: true })
}).annotations({ ...strict, identifier: "ForkPayload" })

export const DiffParams = Schema.Struct({
  stat: Schema.optionalWith(
    Schema.Literal("1", "0", "true", "false").annotations({
      jsonSchema: { description: "`1`: per-file stats only, no patch", enum: ["1", "0", "true", "false"] }
    }),
    { exact: true }
  )
}).annotations(queryParams("DiffParams"))

export const WorktreesParams = Schema.Struct({
  computer: Schema.optionalWith(
    ComputerName.annotations({ description: "only this computer's worktrees (default: every computer of the fleet)" }),
    { exact: true }
  )
}).annotations(queryParams("WorktreesParams"))

export const WorktreeCleanupPayload = Schema.Struct({
  ...CleanupPayload.fields,
  /** The computer whose worktrees to clean (default: this one). */
  computer: Schema.optionalWith(ComputerName, { exact: true })
}).annotations({ ...strict, identifier: "WorktreeCleanupPayload" })

export const SendInputPayload = Schema.Struct({
  text: InputText.pipe(
    Schema.filter((text) => utf8Length(text) <= INPUT_MAX_BYTES, {
      message: () => `text is longer than ${INPUT_MAX_BYTES} bytes`
    })
  ),
  enter: Schema.optionalWith(Schema.Boolean, { default: () => true })
}).annotations({ ...strict, identifier: "SendInputPayload" })

export const SendKeysPayload = Schema.Struct({
  keys: Schema.NonEmptyArray(KeyInput).pipe(
    Schema.filter((keys) => keys.reduce((n, key) => n + toKeyPress(key).repeat, 0) <= KEY_PRESSES_MAX, {
      message: () => `at most ${KEY_PRESSES_MAX} key presses per request, repeats counted`
    })
  )
}).annotations({ ...strict, identifier: "SendKeysPayload" })

/** `listener` (a session, on `computer` or this one) is told each time the target stops or asks for input. */
export const ListenPayload = Schema.Struct({
  listener: SessionId,
  computer: Schema.optionalWith(ComputerName, { exact: true })
}).annotations({ ...strict, identifier: "ListenPayload" })

/** The session an agent calls from (the CLI sends its TELEMUX_SESSION_ID): it is told when the target stops. */
export const CALLER_HEADER = "x-telemux-caller"

export const OutputParams = Schema.Struct({
  lines: Schema.optionalWith(
    IntFromString(0, CAPTURE_HISTORY_MAX, {
      description: "lines of history above the visible screen",
      default: CAPTURE_HISTORY_DEFAULT
    }),
    { default: () => CAPTURE_HISTORY_DEFAULT }
  )
}).annotations(queryParams("OutputParams"))

export class SessionOutput extends Schema.Class<SessionOutput>("SessionOutput")({
  sessionId: SessionId,
  screen: Schema.String,
  /** The time the screen is from: now, or, when `stale`, the last capture tmux answered. */
  capturedAt: Schema.DateTimeUtc,
  /** tmux is not answering: this is the last screen it gave, and the session may have changed since. */
  stale: Schema.Boolean
}) {}

export class HealthGroup extends HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("health", "/health")
    .addSuccess(Health)
    .annotate(OpenApi.Summary, "Liveness and the fleet link (no token needed)")
).annotate(OpenApi.Description, "Is the daemon up, and how is its link to the fleet") {}

/** `Idempotency-Key` on create, input and keys: a retry with the same key never runs twice. */
export const IdempotencyHeaders = Schema.Struct({
  "idempotency-key": Schema.optional(IdempotencyKey).annotations({
    description: "Makes the request safe to retry: a request repeated with the same key gets the first one's outcome " +
      `and does not run again (1-255 visible ASCII characters; a UUID is a good key; remembered ${
        Duration.toHours(IDEMPOTENCY_TTL)
      } hours)`
  })
})

/** Create and input may name the session an agent calls from; a value that names no known session is ignored. */
const CallerHeaders = Schema.Struct({
  ...IdempotencyHeaders.fields,
  [CALLER_HEADER]: Schema.optional(Schema.String).annotations({
    description: "The session id of the agent making this request (the CLI sends its TELEMUX_SESSION_ID): " +
      "that session is told when this one stops or asks for input"
  })
})

/**
 * Every session operation may be routed to the computer that owns the session, so each may answer
 * with the fleet's errors as well as its own; they are declared once, on the group.
 * (Per-operation error lists come with the fleet's per-procedure errors.)
 */
export class SessionsGroup extends HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.get("list", "/v1/sessions")
      .setUrlParams(ListSessionsParams)
      .addSuccess(Schema.Array(Session))
      .annotate(OpenApi.Summary, "List sessions (open ones by default; filter by computer and status)")
  )
  .add(
    HttpApiEndpoint.get("get")`/v1/sessions/${sessionIdParam}`
      .addSuccess(Session)
      .annotate(OpenApi.Summary, "Get one session")
      .addError(SessionNotFound)
  )
  .add(
    HttpApiEndpoint.post("create", "/v1/sessions")
      .setPayload(CreateSessionPayload)
      .setHeaders(CallerHeaders)
      .addSuccess(Session, { status: 201 })
      .annotate(OpenApi.Summary, "Start a shell or an agent in a project directory, here or on another computer")
      .addError(TerminalUnavailable)
      .addError(OutcomeUnknown)
      .addError(IdempotencyKeyReused)
      .addError(AgentModeUnsupported)
      .addError(NativeSessionIdInvalid)
      .addError(AgentCommandNotFound)
      .addError(WorktreeErrorSchema)
  )
  .add(
    HttpApiEndpoint.post("input")`/v1/sessions/${sessionIdParam}/input`
      .setPayload(SendInputPayload)
      .setHeaders(CallerHeaders)
      .annotate(OpenApi.Summary, "Type text into the session (bracketed paste), then Enter unless enter is false")
      .addError(SessionNotFound)
      .addError(SessionClosed)
      .addError(TerminalUnavailable)
      .addError(OutcomeUnknown)
      .addError(IdempotencyKeyReused)
  )
  .add(
    HttpApiEndpoint.post("keys")`/v1/sessions/${sessionIdParam}/keys`
      .setPayload(SendKeysPayload)
      .setHeaders(IdempotencyHeaders)
      .annotate(OpenApi.Summary, "Press keys in the session (all in one tmux command)")
      .addError(SessionNotFound)
      .addError(SessionClosed)
      .addError(TerminalUnavailable)
      .addError(OutcomeUnknown)
      .addError(IdempotencyKeyReused)
  )
  .add(
    HttpApiEndpoint.get("output")`/v1/sessions/${sessionIdParam}/output`
      .setUrlParams(OutputParams)
      .addSuccess(SessionOutput)
      .annotate(OpenApi.Summary, "The session's screen plus up to `lines` lines of history")
      .addError(SessionNotFound)
      .addError(SessionClosed)
      .addError(TerminalUnavailable)
  )
  .add(
    HttpApiEndpoint.del("close")`/v1/sessions/${sessionIdParam}`
      .addSuccess(Session)
      .annotate(OpenApi.Summary, "Close the session: kill its tmux session, keep the row as history")
      .addError(SessionNotFound)
      .addError(TerminalUnavailable)
      .addError(OutcomeUnknown)
  )
  .add(
    HttpApiEndpoint.post("resume")`/v1/sessions/${sessionIdParam}/resume`
      .addSuccess(Session)
      .annotate(OpenApi.Summary, "Start the session's agent again on its conversation (refused while it runs)")
      .addError(SessionNotFound)
      .addError(IdempotencyKeyReused)
      .addError(SessionClosed)
      .addError(TerminalUnavailable)
      .addError(OutcomeUnknown)
      .addError(AgentModeUnsupported)
      .addError(NativeSessionIdInvalid)
      .addError(AgentCommandNotFound)
      .addError(AgentBusy)
  )
  .add(
    HttpApiEndpoint.post("restart")`/v1/sessions/${sessionIdParam}/restart`
      .addSuccess(Session)
      .annotate(OpenApi.Summary, "Interrupt the session's agent and start it again on its conversation")
      .addError(SessionNotFound)
      .addError(IdempotencyKeyReused)
      .addError(SessionClosed)
      .addError(TerminalUnavailable)
      .addError(OutcomeUnknown)
      .addError(AgentModeUnsupported)
      .addError(NativeSessionIdInvalid)
      .addError(AgentCommandNotFound)
      .addError(AgentBusy)
  )
  .add(
    HttpApiEndpoint.post("listen")`/v1/sessions/${sessionIdParam}/listeners`
      .setPayload(ListenPayload)
      .annotate(OpenApi.Summary, "Have another session told (a line in its pane) when this one stops or asks for input")
      .addError(SessionNotFound)
      .addError(SessionClosed)
  )
  .add(
    HttpApiEndpoint.get("diff")`/v1/sessions/${sessionIdParam}/diff`
      .setUrlParams(DiffParams)
      .addSuccess(WorktreeDiff)
      .annotate(
        OpenApi.Summary,
        "What the session's worktree changed against the merge-base with its base: tracked, untracked and deleted files (the user's index untouched)"
      )
      .addError(SessionNotFound)
      .addError(NoWorktree)
      .addError(WorktreeErrorSchema)
  )
  .add(
    HttpApiEndpoint.post("finish")`/v1/sessions/${sessionIdParam}/worktree`
      .setPayload(FinishPayload)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(FinishResult)
      .annotate(
        OpenApi.Summary,
        "Finish the session's worktree: commit, push, merge into its base, or discard (each explicit; discard refuses to lose work unless forced)"
      )
      .addError(SessionNotFound)
      .addError(NoWorktree)
      .addError(IdempotencyKeyReused)
      .addError(OutcomeUnknown)
      .addError(SessionClosed)
      .addError(TerminalUnavailable)
      .addError(WorktreeErrorSchema)
  )
  .add(
    HttpApiEndpoint.post("fork")`/v1/sessions/${sessionIdParam}/fork`
      .setPayload(ForkPayload)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(Session, { status: 201 })
      .annotate(
        OpenApi.Summary,
        "A new session continuing this agent's conversation under a new id, optionally in a new worktree or on another computer"
      )
      .addError(SessionNotFound)
      .addError(TerminalUnavailable)
      .addError(OutcomeUnknown)
      .addError(IdempotencyKeyReused)
      .addError(AgentModeUnsupported)
      .addError(NativeSessionIdInvalid)
      .addError(AgentCommandNotFound)
      .addError(WorktreeErrorSchema)
  )
  // the fleet's and the store's errors, which any operation can meet; each endpoint adds its own
  .addError(StorageFailure)
  .addError(ComputerUnreachable)
  .addError(RemoteTimeout)
  .middleware(Authorization)
  .annotate(
    OpenApi.Description,
    "Terminal sessions (shells and agents in tmux) on this computer and the rest of the fleet: each operation on an id goes to the computer that owns the session"
  )
{}

export class ComputersGroup extends HttpApiGroup.make("computers")
  .add(
    HttpApiEndpoint.get("list", "/v1/computers")
      .addSuccess(Schema.Array(Computer))
      .annotate(OpenApi.Summary, "This computer and the others of the fleet, with their stats")
  )
  .middleware(Authorization)
  .annotate(OpenApi.Description, "The computers of the fleet: which are online, with CPU, memory and disk figures")
{}

export class WorktreesGroup extends HttpApiGroup.make("worktrees")
  .add(
    HttpApiEndpoint.get("list", "/v1/worktrees")
      .setUrlParams(WorktreesParams)
      .addSuccess(Schema.Array(WorktreeEntry))
      .annotate(OpenApi.Summary, "The sessions' git worktrees, with their owners and what removing each would lose")
      .addError(WorktreeErrorSchema)
  )
  .add(
    HttpApiEndpoint.post("cleanup", "/v1/worktrees/cleanup")
      .setPayload(WorktreeCleanupPayload)
      .addSuccess(CleanupReport)
      .annotate(
        OpenApi.Summary,
        "Remove worktrees whose session ended: clean ones only, unless forced (a salvage ref keeps forced removals)"
      )
      .addError(OutcomeUnknown)
      .addError(WorktreeErrorSchema)
  )
  .addError(StorageFailure)
  .addError(ComputerUnreachable)
  .addError(RemoteTimeout)
  .middleware(Authorization)
  .annotate(OpenApi.Description, "Git worktrees made for sessions, across the fleet")
{}

export class ProjectsGroup extends HttpApiGroup.make("projects")
  .add(
    HttpApiEndpoint.get("list", "/v1/projects")
      .addSuccess(Schema.Array(Project))
      .annotate(OpenApi.Summary, "The trusted project directories, with their todos")
  )
  .middleware(Authorization)
  .annotate(
    OpenApi.Description,
    "The trusted directories where sessions may be started, with the todos of their roadmaps"
  )
{}

/** Too many failed sign-ins in a short time: the next attempt is accepted after `retryAfterSeconds`. */
export class SignInThrottled extends Schema.TaggedError<SignInThrottled>()(
  "SignInThrottled",
  { message: Schema.String, retryAfterSeconds: Schema.Number },
  HttpApiSchema.annotations({ status: 429 })
) {}

/** A single-use sign-in code for the web dashboard, and the page that takes it. */
export class SignInCode extends Schema.Class<SignInCode>("SignInCode")({
  code: Schema.String,
  /** `/sign-in#code=…`: in the fragment, which a browser never sends to a server (no logs, no Referer). */
  path: Schema.String,
  expiresAt: Schema.DateTimeUtc
}) {}

const SECRET_MAX = 1024

/** A sign-in code (from `telemux web`) or the API token, in the body (never in a URL). */
export const SignInPayload = Schema.Union(
  Schema.Struct({ code: Schema.String.pipe(Schema.nonEmptyString(), Schema.maxLength(SECRET_MAX)) }).annotations({
    ...strict,
    identifier: "SignInWithCode"
  }),
  Schema.Struct({ token: Schema.String.pipe(Schema.nonEmptyString(), Schema.maxLength(SECRET_MAX)) }).annotations({
    ...strict,
    identifier: "SignInWithToken"
  })
)

export class WebGroup extends HttpApiGroup.make("web")
  .add(
    HttpApiEndpoint.post("createSignInCode", "/v1/web/sign-in-codes")
      .addSuccess(SignInCode, { status: 201 })
      .middleware(Authorization)
      .annotate(
        OpenApi.Summary,
        "A single-use web dashboard sign-in code, good for a minute (what `telemux web` opens)"
      )
  )
  .add(
    HttpApiEndpoint.post("signIn", "/v1/web/sign-in")
      .setPayload(SignInPayload)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(Unauthorized)
      .addError(SignInThrottled)
      .annotate(
        OpenApi.Summary,
        "Exchange a sign-in code (once) or the API token for the dashboard's session cookie (HttpOnly, SameSite=Strict)"
      )
  )
  .add(
    HttpApiEndpoint.post("signOut", "/v1/web/sign-out")
      .addSuccess(HttpApiSchema.NoContent)
      .annotate(OpenApi.Summary, "End this browser's dashboard session and clear its cookie")
  )
  .annotate(
    OpenApi.Description,
    "Signing in to the web dashboard served at `/`: a browser gets a session cookie, accepted by the API only from the dashboard's own origin"
  )
{}

export class TelemuxApi extends HttpApi.make("telemux")
  .add(HealthGroup)
  .add(SessionsGroup)
  .add(ComputersGroup)
  .add(ProjectsGroup)
  .add(WorktreesGroup)
  .add(WebGroup)
  .addError(InvalidRequest)
  .addError(HostNotAllowed)
  .addError(UnsupportedMediaType)
  .addError(PayloadTooLarge)
  .addError(DaemonUnavailable)
  .annotate(OpenApi.Title, "telemux")
  .annotate(OpenApi.Version, VERSION)
  .annotate(OpenApi.Description, "Run and drive terminal sessions (shells and AI coding agents) in tmux.")
  // relative: the daemon that serves this document is the one it describes, at whatever address it was reached
  .annotate(OpenApi.Servers, [{ url: "/", description: "this daemon" }])
  .annotate(OpenApi.Transform, describeErrorResponses)
{}
