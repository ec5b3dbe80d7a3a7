import { Context, Data, type Effect, type Option } from "effect"

export class PositionStoreError extends Data.TaggedError("PositionStoreError")<{
  readonly operation: string
  readonly cause: unknown
}> {}

/**
 * Where each stream reader got to, kept across restarts, so a reconnect or a restart resumes
 * after the last entry taken and never replays handled history.
 */
export class StreamPositions extends Context.Tag("telemux/StreamPositions")<StreamPositions, {
  readonly get: (reader: string) => Effect.Effect<Option.Option<string>, PositionStoreError>
  readonly set: (reader: string, id: string) => Effect.Effect<void, PositionStoreError>
}>() {}
