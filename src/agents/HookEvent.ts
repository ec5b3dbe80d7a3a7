import { Schema } from "effect"
import { Agent } from "../domain/Session.js"

/**
 * What an agent's hook told us, whichever agent it was. The hook command builds the encoded
 * form without `effect` (src/agents/HookPayload.ts); the daemon decodes it with these schemas.
 */

const optionalString = Schema.optionalWith(Schema.String, { exact: true })

const common = {
  agent: Agent,
  /** When the hook ran. */
  at: Schema.DateTimeUtc
}

/** The agent started (or resumed) a conversation; `nativeSessionId` is what its resume flag takes. */
export class SessionStarted extends Schema.TaggedClass<SessionStarted>()("SessionStarted", {
  ...common,
  nativeSessionId: Schema.NonEmptyString,
  /** The agent's transcript or session file. */
  nativeLogFile: optionalString,
  /** `startup`, `resume`, `clear`, `compact` (Claude, Gemini). */
  source: optionalString
}) {}

/** The user (or telemux) submitted a prompt; `prompt` is summarised (≤ 200 characters). */
export class PromptSubmitted extends Schema.TaggedClass<PromptSubmitted>()("PromptSubmitted", {
  ...common,
  nativeSessionId: optionalString,
  prompt: optionalString
}) {}

/** The agent finished its turn; `lastMessage` is its last reply, whole up to TURN_TEXT_MAX_CHARS (HookPayload.ts). */
export class TurnStopped extends Schema.TaggedClass<TurnStopped>()("TurnStopped", {
  ...common,
  nativeSessionId: optionalString,
  lastMessage: optionalString,
  transcriptPath: optionalString
}) {}

/** The agent waits on the user: a permission prompt, a question, an idle reminder. */
export class InputRequested extends Schema.TaggedClass<InputRequested>()("InputRequested", {
  ...common,
  nativeSessionId: optionalString,
  message: Schema.String,
  /** The agent's own kind of notification (`permission_prompt`, `idle_prompt`, `ToolPermission`…). */
  notificationType: optionalString
}) {}

/** A payload that could not be read; recorded rather than dropped, so the daemon can log it. */
export class HookPayloadInvalid extends Schema.TaggedClass<HookPayloadInvalid>()("HookPayloadInvalid", {
  ...common,
  /** The event the hook was invoked for. */
  event: Schema.String,
  reason: Schema.String,
  /** The start of the payload (at most HOOK_RAW_MAX_CHARS characters). */
  raw: Schema.String
}) {}

export const HookEvent = Schema.Union(SessionStarted, PromptSubmitted, TurnStopped, InputRequested, HookPayloadInvalid)
export type HookEvent = typeof HookEvent.Type
/** The JSON shape stored in the outbox. */
export type HookEventJson = typeof HookEvent.Encoded

export const HookEventFromJson = Schema.parseJson(HookEvent)
export const decodeHookEventJson = Schema.decodeUnknown(HookEventFromJson)
export const encodeHookEventJson = Schema.encode(HookEventFromJson)
