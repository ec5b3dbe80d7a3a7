import { Duration, Effect, Either, ParseResult, Redacted, Schema } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"
import { ComputerName } from "../domain/Session.js"

/** The envelope format version; a receiver refuses any other. */
export const ENVELOPE_VERSION = 1
/** How far `sentAt` may be from the receiver's clock, either way, before a message is refused as a replay. */
export const REPLAY_WINDOW = Duration.seconds(30)

/** What a message is (`request.sessions.list`, `event.heartbeat`, …); the fleet protocol names them. */
export const EnvelopeKind = Schema.String.pipe(
  Schema.pattern(/^[a-z][a-z0-9_.-]{0,63}$/, {
    message: () => "a message kind is 1 to 64 characters of a-z, 0-9, _, . and -, starting with a letter"
  })
)
export type EnvelopeKind = typeof EnvelopeKind.Type

/** `*` addresses every computer (broadcast events such as heartbeats). */
export const BROADCAST = "*"
export const Recipient = Schema.Union(ComputerName, Schema.Literal(BROADCAST))
export type Recipient = typeof Recipient.Type

const EpochMillis = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

const unsignedFields = {
  v: Schema.Literal(ENVELOPE_VERSION),
  id: Schema.UUID,
  kind: EnvelopeKind,
  from: ComputerName,
  to: Recipient,
  sentAt: EpochMillis,
  deadline: EpochMillis,
  payload: Schema.Unknown
}

/** Every field of an envelope but its signature: what a sender fills in before `sign`. */
export const UnsignedEnvelope = Schema.Struct(unsignedFields)
export type UnsignedEnvelope = typeof UnsignedEnvelope.Type

/** HMAC-SHA256, lower-case hex. */
export const Signature = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/))

/** One fleet message on the wire. Extra fields are refused: nothing unsigned rides along. */
export const Envelope = Schema.Struct({ ...unsignedFields, sig: Signature }).annotations({
  identifier: "Envelope",
  parseOptions: { onExcessProperty: "error" }
})
export type Envelope = typeof Envelope.Type

export type RejectReason = "malformed" | "schema" | "unsigned" | "forged" | "stale"

/** A received message that is not a valid, authentic, fresh envelope; it is logged and dropped. */
export class EnvelopeRejected extends Schema.TaggedError<EnvelopeRejected>()("EnvelopeRejected", {
  reason: Schema.Literal("malformed", "schema", "unsigned", "forged", "stale"),
  message: Schema.String
}) {}

/**
 * JSON with object keys sorted at every depth, so a value and its re-encoding (after any JSON
 * round trip, whatever order its keys came in) serialise to the same bytes.
 */
export const canonicalJson = (value: unknown): string => {
  const encode = (v: unknown): string | undefined => {
    const json = v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function"
      ? (v as { toJSON: () => unknown }).toJSON()
      : v
    if (json === null || typeof json !== "object") return JSON.stringify(json)
    if (Array.isArray(json)) return `[${json.map((item) => encode(item) ?? "null").join(",")}]`
    const members: Array<string> = []
    for (const key of Object.keys(json).sort()) {
      const member = encode((json as Record<string, unknown>)[key])
      if (member !== undefined) members.push(`${JSON.stringify(key)}:${member}`)
    }
    return `{${members.join(",")}}`
  }
  return encode(value) ?? "null"
}

/** The bytes the signature covers: every field but `sig`, in a fixed order, behind a domain tag. */
const signedBytes = (e: UnsignedEnvelope): string =>
  `telemux-envelope\n${JSON.stringify([e.v, e.id, e.kind, e.from, e.to, e.sentAt, e.deadline])}\n${
    canonicalJson(e.payload)
  }`

const hmac = (secret: Redacted.Redacted<string>, e: UnsignedEnvelope): Buffer =>
  createHmac("sha256", Redacted.value(secret)).update(signedBytes(e), "utf8").digest()

/** Signs an envelope with the fleet secret. */
export const sign = (secret: Redacted.Redacted<string>, unsigned: UnsignedEnvelope): Envelope => ({
  v: unsigned.v,
  id: unsigned.id,
  kind: unsigned.kind,
  from: unsigned.from,
  to: unsigned.to,
  sentAt: unsigned.sentAt,
  deadline: unsigned.deadline,
  payload: unsigned.payload,
  sig: hmac(secret, unsigned).toString("hex")
})

/** The wire text of an envelope. */
export const encode = (envelope: Envelope): string => JSON.stringify(envelope)

const reject = (reason: RejectReason, message: string) => Effect.fail(new EnvelopeRejected({ reason, message }))

const decodeEnvelope = Schema.decodeUnknownEither(Envelope, { errors: "first" })

/**
 * Parses, validates and authenticates one received message: well-formed JSON, the envelope schema,
 * a signature that matches (compared in constant time) and `sentAt` within `replayWindow` of `now`.
 * Deadlines are the protocol's business, not checked here.
 */
export const open = (
  secret: Redacted.Redacted<string>,
  raw: string,
  now: number,
  options: { readonly replayWindow: Duration.DurationInput }
): Effect.Effect<Envelope, EnvelopeRejected> =>
  Effect.suspend(() => {
    const parsed = Either.try(() => JSON.parse(raw) as unknown)
    if (Either.isLeft(parsed)) return reject("malformed", "the message is not JSON")
    const value = parsed.right
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return reject("schema", "the message is not a JSON object")
    }
    const sig = (value as { sig?: unknown }).sig
    if (sig === undefined || sig === null || sig === "") return reject("unsigned", "the message carries no signature")
    const decoded = decodeEnvelope(value)
    if (Either.isLeft(decoded)) {
      return reject(
        "schema",
        `not a v${ENVELOPE_VERSION} envelope: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`
      )
    }
    const envelope = decoded.right
    const expected = hmac(secret, envelope)
    const given = Buffer.from(envelope.sig, "hex")
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return reject("forged", `signature mismatch on ${envelope.kind} ${envelope.id} from ${envelope.from}`)
    }
    const window = Duration.toMillis(Duration.decode(options.replayWindow))
    const skew = envelope.sentAt - now
    if (Math.abs(skew) > window) {
      return reject(
        "stale",
        `${envelope.kind} ${envelope.id} from ${envelope.from} was sent ${Math.abs(skew)} ms ${
          skew < 0 ? "ago" : "in the future"
        }, outside the ${window} ms replay window`
      )
    }
    return Effect.succeed(envelope)
  })
