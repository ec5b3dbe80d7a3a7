/**
 * The daemon's logs: one JSON object per line on stdout, with Logger.json's fields (`message`,
 * `logLevel`, `timestamp`, `annotations`, `spans`, `fiberId`) and, in place of its `cause` (a
 * Cause.pretty string with a stack even for an expected failure), what an operator can match on:
 *
 * - `message` is always a string: the message's parts joined by a space. A typed error given as a
 *   part (`Effect.logWarning("capture failed", error)`) is moved out of it, to `error`.
 * - `error`: the expected failure — a typed error found in the message or the failures of the
 *   logged cause — as `{ _tag, ...its fields }`, no stack; a foreign error in a field (`cause`) as
 *   `{ name, message }`. Several failures make an array.
 * - `defect`: for a defect (Effect.die, something thrown), Cause.pretty with the stack.
 * - `interrupted: true`: a cause that is only an interruption, and nothing else.
 *
 * Values are made JSON-safe on the way (Redacted stays redacted; bigint, symbols, functions, cycles
 * and huge values are rendered, cut or marked): a log line never throws and never costs much.
 */
import {
  Cause,
  Chunk,
  Config,
  Effect,
  FiberId,
  HashMap,
  Inspectable,
  Layer,
  List,
  Logger,
  Option,
  Predicate,
  Redacted,
  Schema
} from "effect"
import { ConfigInvalid } from "../services/TelemuxConfig.js"

/** Longest string kept in a field; a longer one ends with "… (cut)". */
export const STRING_MAX = 2000
/** A defect's pretty text (message and stack, with its causes) may be longer. */
export const DEFECT_MAX = 8000
const DEPTH_MAX = 6
const ENTRIES_MAX = 50
const NESTED_CAUSES_MAX = 4

const cut = (text: string, max = STRING_MAX) => (text.length > max ? `${text.slice(0, max)}… (cut)` : text)

const tagOf = (u: object): string | undefined => {
  const tag = (u as { readonly _tag?: unknown })._tag
  return typeof tag === "string" ? tag : undefined
}

/** What is logged as an error: an Error, or a value with a string `_tag` (Effect's typed failures). */
const isErrorLike = (u: unknown): u is object =>
  Predicate.isError(u) || (typeof u === "object" && u !== null && tagOf(u) !== undefined && !Redacted.isRedacted(u))

/** An error inside a field (most often a wrapper's `cause`): what it is and says, never its stack. */
const nestedError = (error: Error, level: number): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  const tag = tagOf(error)
  if (tag !== undefined) out._tag = tag
  if (tag === undefined || error.name !== tag) out.name = String(error.name)
  out.message = cut(String(error.message))
  const code = (error as { readonly code?: unknown }).code
  if (typeof code === "string" || typeof code === "number") out.code = code
  if (error.cause !== undefined) {
    out.cause = level < NESTED_CAUSES_MAX && Predicate.isError(error.cause)
      ? nestedError(error.cause, level + 1)
      : jsonSafe(error.cause, DEPTH_MAX - 1, new Set())
  }
  return out
}

/** `u` as JSON can carry it, bounded in depth, width and string length; never throws on odd values. */
const jsonSafe = (u: unknown, depth: number, seen: Set<object>): unknown => {
  switch (typeof u) {
    case "string":
      return cut(u)
    case "number":
      return Number.isFinite(u) ? u : String(u)
    case "boolean":
    case "undefined":
      return u
    case "bigint":
      return String(u)
    case "symbol":
      return u.toString()
    case "function":
      return `[function ${u.name || "anonymous"}]`
  }
  if (u === null) return null
  const value = u as object
  if (Redacted.isRedacted(value)) return String(value)
  if (Inspectable.isRedactable(value)) return jsonSafe(Inspectable.redact(value), depth, seen)
  if (seen.has(value)) return "[Circular]"
  if (Predicate.isError(value)) return nestedError(value, 0)
  if (depth >= DEPTH_MAX) return "[nested too deep]"
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString()
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`
  seen.add(value)
  try {
    if (Array.isArray(value) || value instanceof Set) return entries(Array.from(value), depth, seen)
    if (value instanceof Map) return entries(Array.from(value), depth, seen)
    const toJSON = (value as { readonly toJSON?: unknown }).toJSON
    if (typeof toJSON === "function" && toJSON.length === 0) {
      const json: unknown = toJSON.call(value)
      return json === value ? fields(value, depth, seen) : jsonSafe(json, depth + 1, seen)
    }
    return fields(value, depth, seen)
  } finally {
    seen.delete(value)
  }
}

const entries = (items: ReadonlyArray<unknown>, depth: number, seen: Set<object>) => {
  const out = items.slice(0, ENTRIES_MAX).map((item) => jsonSafe(item, depth + 1, seen))
  if (items.length > ENTRIES_MAX) out.push(`… ${items.length - ENTRIES_MAX} more`)
  return out
}

const fields = (value: object, depth: number, seen: Set<object>) => {
  const out: Record<string, unknown> = {}
  const keys = Object.keys(value)
  for (const key of keys.slice(0, ENTRIES_MAX)) {
    out[key] = jsonSafe((value as Record<string, unknown>)[key], depth + 1, seen)
  }
  if (keys.length > ENTRIES_MAX) out["…"] = `${keys.length - ENTRIES_MAX} more fields`
  return out
}

/**
 * Schema.TaggedError gives an error without a `message` field one made of its fields (`{ a: 1 }`):
 * the fields are logged anyway. A `get message()` of the error's own class is kept.
 */
const isMadeUpMessage = (error: object, message: string) =>
  !Object.hasOwn(error, "message") && Schema.isSchema(error.constructor) && message.startsWith("{ ") &&
  message.endsWith(" }")

/**
 * A typed error as logged: `_tag` (or `name`), `message`, then its own fields; `cause` even where
 * the Error constructor made it non-enumerable. A ParseError's fields are its schema's AST: its
 * message says it all.
 */
export const errorJson = (error: unknown): unknown => {
  if (!isErrorLike(error)) return jsonSafe(error, 0, new Set())
  const out: Record<string, unknown> = {}
  const tag = tagOf(error)
  if (tag !== undefined) out._tag = tag
  else out.name = String((error as Error).name)
  const message = (error as { readonly message?: unknown }).message
  if (typeof message === "string" && message !== "" && !isMadeUpMessage(error, message)) out.message = cut(message)
  if (tag === "ParseError") return out
  const seen = new Set<object>([error])
  for (const key of Object.keys(error).slice(0, ENTRIES_MAX)) {
    if (key === "_tag" || key === "message" || key === "stack") continue
    out[key] = jsonSafe((error as Record<string, unknown>)[key], 1, seen)
  }
  const cause = (error as { readonly cause?: unknown }).cause
  if (cause !== undefined && !("cause" in out)) out.cause = jsonSafe(cause, 1, seen)
  return out
}

const renderDefect = (cause: Cause.Cause<unknown>): string => {
  try {
    return cut(Cause.pretty(Cause.stripFailures(cause), { renderErrorCause: true }), DEFECT_MAX)
  } catch {
    return cut(JSON.stringify(jsonSafe(Chunk.toReadonlyArray(Cause.defects(cause)), 0, new Set())), DEFECT_MAX)
  }
}

const messagePart = (part: unknown): string =>
  typeof part === "string" ? part : typeof part === "object" && part !== null
    ? JSON.stringify(jsonSafe(part, 0, new Set()))
    : String(jsonSafe(part, 0, new Set()))

/** One log line as the JSON text written (no newline). */
export const formatLogLine = (options: Logger.Logger.Options<unknown>): string => {
  const { annotations, cause, date, fiberId, logLevel, message, spans } = options
  try {
    const parts: ReadonlyArray<unknown> = Array.isArray(message) ? message : [message]
    const text: Array<string> = []
    const errors: Array<unknown> = []
    for (const part of parts) {
      if (isErrorLike(part)) errors.push(errorJson(part))
      else text.push(messagePart(part))
    }
    for (const failure of Cause.failures(cause)) errors.push(errorJson(failure))
    const line: Record<string, unknown> = {
      message: text.join(" "),
      logLevel: logLevel.label,
      timestamp: date.toISOString()
    }
    if (errors.length > 0) line.error = errors.length === 1 ? errors[0] : errors
    if (!Cause.isEmpty(cause)) {
      if (Cause.isInterruptedOnly(cause)) line.interrupted = true
      else if (!Chunk.isEmpty(Cause.defects(cause))) line.defect = renderDefect(cause)
    }
    const annotationsJson: Record<string, unknown> = {}
    for (const [key, value] of HashMap.toEntries(annotations)) annotationsJson[key] = jsonSafe(value, 0, new Set())
    const spansJson: Record<string, number> = {}
    const now = date.getTime()
    for (const span of List.toArray(spans)) spansJson[span.label] = now - span.startTime
    line.annotations = annotationsJson
    line.spans = spansJson
    line.fiberId = FiberId.threadName(fiberId)
    return JSON.stringify(line)
  } catch (error) {
    return JSON.stringify({
      message: `a log line could not be written: ${cut(String(Predicate.isError(error) ? error.message : error))}`,
      logLevel: logLevel.label,
      timestamp: date.toISOString()
    })
  }
}

/** The daemon's logger, writing each line with `write` (stdout in the daemon, an array in tests). */
export const makeLogger = (write: (line: string) => void): Logger.Logger<unknown, void> =>
  Logger.make((options) => {
    try {
      write(formatLogLine(options))
    } catch {
      // nowhere left to say it: a log line never fails the fiber that logged it
    }
  })

/**
 * How the lines are written: `json` (the format above, for machines: journald, a file, a collector)
 * or `pretty` (one short line a person reads: time, level, message, then `key=value` annotations
 * and the error's tag and message).
 */
export type LogFormat = "json" | "pretty"

const LOG_FORMATS: ReadonlyArray<LogFormat> = ["json", "pretty"]

/**
 * TELEMUX_LOG_FORMAT as given (any case), else `pretty` when the logs go to a terminal and `json`
 * when they go anywhere else; a value that is neither is a configuration error.
 */
export const resolveLogFormat = (
  value: string | undefined,
  toTerminal: boolean
): LogFormat | ConfigInvalid => {
  if (value === undefined || value.trim() === "") return toTerminal ? "pretty" : "json"
  const wanted = value.trim().toLowerCase()
  const format = LOG_FORMATS.find((f) => f === wanted)
  return format ?? new ConfigInvalid({ message: `TELEMUX_LOG_FORMAT "${value}" is not json or pretty` })
}

const prettyValue = (value: unknown): string => {
  const text = typeof value === "string" ? value : JSON.stringify(jsonSafe(value, 0, new Set()))
  return /[\s"=]/.test(text) || text === "" ? JSON.stringify(text) : text
}

const prettyError = (error: unknown): string => {
  const json = errorJson(error)
  if (typeof json !== "object" || json === null) return String(json)
  const { _tag, message, name } = json as { _tag?: unknown; message?: unknown; name?: unknown }
  const label = String(_tag ?? name ?? "Error")
  return typeof message === "string" ? `${label}: ${message}` : label
}

/** One log line for a person: `HH:MM:SS.mmm LEVEL message key=value … error=Tag: message`. */
export const formatPrettyLine = (options: Logger.Logger.Options<unknown>): string => {
  const { annotations, cause, date, logLevel, message } = options
  try {
    const parts: ReadonlyArray<unknown> = Array.isArray(message) ? message : [message]
    const text: Array<string> = []
    const errors: Array<string> = []
    for (const part of parts) {
      if (isErrorLike(part)) errors.push(prettyError(part))
      else text.push(messagePart(part))
    }
    for (const failure of Cause.failures(cause)) errors.push(prettyError(failure))
    const fields = Array.from(HashMap.toEntries(annotations), ([key, value]) => `${key}=${prettyValue(value)}`)
    for (const error of errors) fields.push(`error=${prettyValue(error)}`)
    if (!Cause.isEmpty(cause) && !Chunk.isEmpty(Cause.defects(cause))) {
      fields.push(`\n${renderDefect(cause)}`)
    }
    const time = date.toISOString().slice(11, 23)
    return [time, logLevel.label.padEnd(7), text.join(" "), ...fields].join(" ")
  } catch (error) {
    return `${date.toISOString()} ${logLevel.label} a log line could not be written: ${String(error)}`
  }
}

/** The daemon's logger in `format`, writing each line with `write`. */
export const makeFormatLogger = (format: LogFormat, write: (line: string) => void): Logger.Logger<unknown, void> =>
  format === "json" ? makeLogger(write) : Logger.make((options) => {
    try {
      write(formatPrettyLine(options))
    } catch {
      // as makeLogger: a log line never fails the fiber that logged it
    }
  })

/** Replaces Effect's default logger (as Logger.json does) with the daemon's in `format`, on stdout. */
export const layerFor = (format: LogFormat) =>
  Logger.replace(
    Logger.defaultLogger,
    makeFormatLogger(format, (line) => process.stdout.write(`${line}\n`))
  )

/**
 * The daemon's logger on stdout, in the format TELEMUX_LOG_FORMAT names (read from the environment
 * only: the logger exists before the config file is read, so that its errors are logged too), by
 * default `pretty` when stdout is a terminal and JSON otherwise.
 */
export const layer = Layer.unwrapEffect(
  Config.option(Config.string("TELEMUX_LOG_FORMAT")).pipe(
    Effect.orElseSucceed(() => Option.none<string>()),
    Effect.flatMap((value) => {
      const format = resolveLogFormat(Option.getOrUndefined(value), process.stdout.isTTY === true)
      return format instanceof ConfigInvalid ? Effect.fail(format) : Effect.succeed(layerFor(format))
    })
  )
)
