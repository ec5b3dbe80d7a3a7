/**
 * `@effect/rpc` over the fleet's Redis streams: the client and server Protocols of FleetRpcs.
 *
 * A call leaves as one signed envelope (kind `rpc-request`) on the callee's inbox stream; its
 * answer — an Exit, or the items of a stream — comes back as envelopes (`rpc-reply`) on the
 * caller's reply stream. One client serves every destination: each request names its computer
 * and deadline in headers (TO_HEADER, DEADLINE_HEADER) that the protocol takes off and turns into
 * the envelope's address and deadline; interruptions follow their request to the same computer.
 * The server learns the caller from the envelope's signature (FROM_HEADER, set by the protocol,
 * never by the caller), drops repeated envelopes, answers an expired request RemoteTimeout
 * instead of running it, and a request beyond QUEUED_REQUESTS_MAX "busy".
 */
import { RpcClient, RpcClientError, type RpcMessage, RpcServer } from "@effect/rpc"
import { Clock, Duration, Effect, Exit, Mailbox, Option, Schema } from "effect"
import { FleetLink } from "../services/FleetLink.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import type { StreamEntry } from "../services/Transport.js"
import { ComputerUnreachable, RemoteTimeout } from "../src/domain/Errors.js"
import { ComputerName } from "../src/domain/Session.js"
import {
  FleetKeys,
  HANDLED_IDS_MAX,
  INBOX_MAXLEN,
  Kinds,
  PENDING_REQUESTS_MAX,
  QUEUED_REQUESTS_MAX,
  REPLIES_MAXLEN,
  STREAM_TTL
} from "../src/fleet/Protocol.js"
import { type FleetRpc, FleetRpcs, READ_ONLY_PROCEDURES } from "../src/fleet/Rpcs.js"
import * as FleetMetrics from "./FleetMetrics.js"
import { boundedSet } from "./FleetSeal.js"

/** The computer a request goes to (taken off by the client protocol). */
export const TO_HEADER = "x-telemux-to"
/** When the caller stops waiting, epoch ms (taken off by the client protocol; the envelope carries it). */
export const DEADLINE_HEADER = "x-telemux-deadline"
/** The computer a request came from, as its envelope's signature proves (set by the server protocol). */
export const FROM_HEADER = "x-telemux-from"

const Headers = Schema.Array(Schema.Tuple(Schema.String, Schema.String))

/** What a caller may send: a request, or about one (the rest of the rpc wire is not used here). */
const FromClient = Schema.Union(
  Schema.Struct({
    _tag: Schema.Literal("Request"),
    id: Schema.String,
    tag: Schema.String,
    payload: Schema.Unknown,
    headers: Headers,
    traceId: Schema.optional(Schema.String),
    spanId: Schema.optional(Schema.String),
    sampled: Schema.optional(Schema.Boolean)
  }),
  Schema.Struct({ _tag: Schema.Literal("Interrupt", "Ack"), requestId: Schema.String })
)
const decodeFromClient = Schema.decodeUnknownOption(FromClient)

/** What a server may send back: an Exit or a stream's items, for one request. */
const FromServer = Schema.Union(
  Schema.Struct({ _tag: Schema.Literal("Exit"), requestId: Schema.String, exit: Schema.Unknown }),
  Schema.Struct({
    _tag: Schema.Literal("Chunk"),
    requestId: Schema.String,
    values: Schema.NonEmptyArray(Schema.Unknown)
  })
)
const decodeFromServer = Schema.decodeUnknownOption(FromServer)

const encodeFailure = Schema.encodeSync(Schema.Exit({
  success: Schema.Unknown,
  failure: Schema.Union(RemoteTimeout, ComputerUnreachable),
  defect: Schema.Defect
}))

/** An answer of failure, built by the protocol itself (the error is of FleetCallerMiddleware's). */
const failed = (requestId: string, error: RemoteTimeout | ComputerUnreachable): RpcMessage.FromServerEncoded => ({
  _tag: "Exit",
  requestId,
  exit: encodeFailure(Exit.fail(error))
})

// ---------------------------------------------------------------------------
// The caller's side
// ---------------------------------------------------------------------------

/**
 * The client protocol, and `onReplies`, which the caller's reader of its reply stream feeds:
 * answers are passed on only from the computer their request went to.
 */
interface InFlight {
  readonly computer: ComputerName
  readonly procedure: string
  /** `performance.now()` when it left or was read. */
  readonly at: number
}

export const makeClientProtocol = Effect.gen(function*() {
  const link = yield* FleetLink
  const { metrics: measure } = yield* TelemuxConfig
  let deliver: ((data: RpcMessage.FromServerEncoded) => Effect.Effect<void>) | undefined
  /**
   * Each request in flight: where it went (its answer must come from there, its interruption goes
   * there), and its procedure and when it left (for the fleet metrics).
   */
  const destinations = new Map<string, InFlight>()
  /** The request is over (answered, interrupted or never sent): forgotten, and counted. */
  const finish = (requestId: string, result: string) => {
    const call = destinations.get(requestId)
    if (call === undefined) return
    destinations.delete(requestId)
    if (measure) FleetMetrics.recordRequest("called", call.procedure, result, (performance.now() - call.at) / 1000)
  }

  const protocolError = (message: string, cause?: unknown) =>
    new RpcClientError.RpcClientError({ reason: "Protocol", message, cause })

  const sendTo = (to: ComputerName, message: RpcMessage.FromClientEncoded, lifetime: Duration.Duration) =>
    Effect.flatMap(
      link.seal(Kinds.request, to, message, lifetime),
      (raw) => link.append("request", FleetKeys.inbox(to), raw, { maxLen: INBOX_MAXLEN, ttl: STREAM_TTL })
    )

  const send = (message: RpcMessage.FromClientEncoded): Effect.Effect<void, RpcClientError.RpcClientError> => {
    switch (message._tag) {
      case "Request": {
        const headers = new Map(message.headers)
        const to = headers.get(TO_HEADER)
        if (to === undefined) return Effect.dieMessage(`fleet request ${message.tag} without ${TO_HEADER}`)
        if (destinations.size >= PENDING_REQUESTS_MAX) {
          return Effect.fail(protocolError(`${PENDING_REQUESTS_MAX} requests are already waiting for answers`))
        }
        const computer = ComputerName.make(to)
        return Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const deadline = Number(headers.get(DEADLINE_HEADER) ?? Number.NaN)
          const lifetime = Duration.millis(
            Number.isFinite(deadline) ? Math.max(0, deadline - now) : Duration.toMillis(STREAM_TTL)
          )
          destinations.set(message.id, { computer, procedure: message.tag, at: performance.now() })
          yield* sendTo(computer, {
            ...message,
            headers: message.headers.filter(([name]) => name !== TO_HEADER && name !== DEADLINE_HEADER)
          }, lifetime).pipe(
            Effect.catchIf(
              // Written, and no reply: Redis may run it yet (a stall past the bound, then the write) or
              // have run it before the connection ended, and the callee would do what the caller was
              // told was not done. So a change counts as sent: the call waits for the answer, or ends
              // unknown (RemoteTimeout) at its deadline. A read fails at once: asked again, no harm.
              (error) =>
                (error.failure === "timeout" || error.failure === "lost") &&
                !READ_ONLY_PROCEDURES.has(message.tag as FleetRpc["_tag"]),
              (error) =>
                Effect.logWarning(
                  `fleet request ${message.tag} to ${computer}: Redis did not confirm it (${error.message}); ` +
                    "waiting for the answer until its deadline, as it may have been delivered"
                )
            ),
            Effect.tapError(() => Effect.sync(() => finish(message.id, "unsent"))),
            Effect.mapError((error) =>
              protocolError(`the fleet link failed: ${error.advice}; GET /health shows the link`, error)
            )
          )
        })
      }
      case "Interrupt":
      case "Ack": {
        const call = destinations.get(message.requestId)
        if (call === undefined) return Effect.void
        if (message._tag === "Interrupt") finish(message.requestId, "interrupted")
        // best effort: a lost interruption ends when the callee's deadline or watch does
        return sendTo(call.computer, message, STREAM_TTL).pipe(Effect.ignore)
      }
      default:
        return Effect.void
    }
  }

  const protocol = yield* RpcClient.Protocol.make((write) =>
    Effect.sync(() => {
      deliver = write
      return { send, supportsAck: false, supportsTransferables: false }
    })
  )

  /** Answers read from this computer's reply stream. */
  const onReplies = (entries: ReadonlyArray<StreamEntry>) =>
    Effect.forEach(entries, (entry) =>
      Effect.gen(function*() {
        const opened = yield* link.unseal(entry.payload, Kinds.reply, "replies")
        if (Option.isNone(opened)) return
        const message = decodeFromServer(opened.value.payload)
        if (Option.isNone(message)) return yield* Effect.logWarning("dropped a malformed fleet answer")
        const call = destinations.get(message.value.requestId)
        // an answer from anyone but the computer the request went to is not an answer
        if (call === undefined || call.computer !== opened.value.from) return
        if (message.value._tag === "Exit") {
          finish(message.value.requestId, FleetMetrics.resultOfEncodedExit(message.value.exit))
        }
        yield* (deliver?.(message.value as RpcMessage.FromServerEncoded) ?? Effect.void)
      }), { discard: true })

  return { protocol, onReplies, pendingCount: () => destinations.size } as const
})

// ---------------------------------------------------------------------------
// The callee's side
// ---------------------------------------------------------------------------

/**
 * The server protocol, and `onRequests`, which the reader of this computer's inbox feeds, and
 * `disconnect`, for a computer that left (its streams and requests end).
 */
export const makeServerProtocol = Effect.gen(function*() {
  const link = yield* FleetLink
  const { metrics: measure } = yield* TelemuxConfig
  /**
   * Requests handed to the server and not answered yet, by `<client id>/<request id>` (request ids
   * are the callers' own): how many wait (beyond QUEUED_REQUESTS_MAX a request is "busy"), and
   * each one's procedure and when it was read, for the fleet metrics. A computer that leaves takes
   * its entries with it: the server sends no answer to a client it dropped.
   */
  const serving = new Map<string, Omit<InFlight, "computer">>()
  const servingKey = (clientId: number, requestId: string) => `${clientId}/${requestId}`
  const handled = boundedSet<string>(HANDLED_IDS_MAX)
  const disconnects = yield* Mailbox.make<number>()
  const clientIds = new Map<ComputerName, number>()
  const computers = new Map<number, ComputerName>()
  let nextClientId = 1
  let deliver: ((clientId: number, data: RpcMessage.FromClientEncoded) => Effect.Effect<void>) | undefined

  const clientIdOf = (computer: ComputerName) => {
    let id = clientIds.get(computer)
    if (id === undefined) {
      id = nextClientId++
      clientIds.set(computer, id)
      computers.set(id, computer)
    }
    return id
  }

  const sendTo = (computer: ComputerName, response: RpcMessage.FromServerEncoded) =>
    Effect.flatMap(
      link.seal(Kinds.reply, computer, response, STREAM_TTL),
      (raw) => link.append("reply", FleetKeys.replies(computer), raw, { maxLen: REPLIES_MAXLEN, ttl: STREAM_TTL })
    ).pipe(
      Effect.catchAll((error) => Effect.logWarning("could not send a fleet answer", error)),
      Effect.asVoid
    )

  const protocol = yield* RpcServer.Protocol.make((write) =>
    Effect.sync(() => {
      deliver = write
      return {
        disconnects,
        send: (clientId: number, response: RpcMessage.FromServerEncoded) => {
          if (response._tag === "Exit") {
            const key = servingKey(clientId, response.requestId)
            const call = serving.get(key)
            if (call !== undefined) {
              serving.delete(key)
              if (measure) {
                FleetMetrics.recordRequest(
                  "served",
                  call.procedure,
                  FleetMetrics.resultOfEncodedExit(response.exit),
                  (performance.now() - call.at) / 1000
                )
              }
            }
          }
          const computer = computers.get(clientId)
          return computer === undefined ? Effect.void : sendTo(computer, response)
        },
        end: () => Effect.void,
        clientIds: Effect.sync(() => new Set(computers.keys())),
        initialMessage: Effect.succeedNone,
        supportsAck: false,
        supportsTransferables: false,
        supportsSpanPropagation: true
      }
    })
  )

  /** Requests (and interruptions) read from this computer's inbox. */
  const onRequests = (entries: ReadonlyArray<StreamEntry>) =>
    Effect.forEach(entries, (entry) =>
      Effect.gen(function*() {
        const opened = yield* link.unseal(entry.payload, Kinds.request, "inbox")
        if (Option.isNone(opened)) return
        const envelope = opened.value
        if (measure) FleetMetrics.recordInboxLag(((yield* Clock.currentTimeMillis) - envelope.sentAt) / 1000)
        if (!handled.add(envelope.id)) {
          return yield* Effect.logWarning("dropped a repeated request").pipe(
            Effect.annotateLogs({ envelope: envelope.id })
          )
        }
        const message = decodeFromClient(envelope.payload)
        if (Option.isNone(message)) {
          return yield* Effect.logWarning("refused a malformed fleet request").pipe(
            Effect.annotateLogs({ stream: "inbox", from: envelope.from, envelope: envelope.id })
          )
        }
        const from = envelope.from
        const clientId = clientIdOf(from)
        if (message.value._tag !== "Request") return yield* (deliver?.(clientId, message.value) ?? Effect.void)
        const request = message.value
        if (!FleetRpcs.requests.has(request.tag)) {
          return yield* sendTo(
            from,
            failed(
              request.id,
              new ComputerUnreachable({
                computer: link.me,
                message: `computer ${link.me} has no procedure ${request.tag} (another telemux version?)`
              })
            )
          )
        }
        if ((yield* Clock.currentTimeMillis) > envelope.deadline) {
          return yield* sendTo(
            from,
            failed(
              request.id,
              new RemoteTimeout({
                computer: link.me,
                message: "the request expired before it was handled; it did not run"
              })
            )
          )
        }
        if (serving.size >= QUEUED_REQUESTS_MAX) {
          return yield* sendTo(
            from,
            failed(
              request.id,
              new ComputerUnreachable({
                computer: link.me,
                message: `computer ${link.me} is busy: ${QUEUED_REQUESTS_MAX} requests are waiting; try again shortly`
              })
            )
          )
        }
        serving.set(servingKey(clientId, request.id), { procedure: request.tag, at: performance.now() })
        const headers: Array<[string, string]> = [
          ...request.headers.filter(([name]) => name !== FROM_HEADER).map((
            [name, value]
          ): [string, string] => [name, value]),
          [FROM_HEADER, from]
        ]
        yield* (deliver?.(clientId, { ...request, headers }) ?? Effect.void)
      }).pipe(Effect.annotateLogs({ from: entry.stream })), { discard: true })

  /** A computer that left: whatever it asked for here ends. */
  const disconnect = (computer: ComputerName) =>
    Effect.suspend(() => {
      const id = clientIds.get(computer)
      if (id === undefined) return Effect.void
      clientIds.delete(computer)
      computers.delete(id)
      const prefix = `${id}/`
      for (const key of serving.keys()) if (key.startsWith(prefix)) serving.delete(key)
      return Effect.asVoid(disconnects.offer(id))
    })

  return { protocol, onRequests, disconnect } as const
})
