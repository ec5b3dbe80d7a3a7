/**
 * Key names on the command line, as the API takes them (src/domain/Keys.ts): `Enter`, `Escape`,
 * `C-c`, `Up`…, with an optional repeat count as `Name*N` (`BSpace*5`).
 */
import { Either, ParseResult, Schema } from "effect"
import { KeyInput } from "../domain/Keys.js"
import { UsageError } from "./CliError.js"

const decodeKey = Schema.decodeUnknownEither(KeyInput)

export const parseKeyArg = (arg: string): Either.Either<KeyInput, UsageError> => {
  const match = /^(.+?)\*(\d+)$/.exec(arg.trim())
  const raw = match === null ? arg.trim() : { key: match[1], repeat: Number(match[2]) }
  return Either.mapLeft(
    decodeKey(raw),
    (error) => new UsageError({ detail: `${arg}: ${ParseResult.TreeFormatter.formatErrorSync(error)}` })
  )
}

export const parseKeyArgs = (
  args: ReadonlyArray<string>
): Either.Either<readonly [KeyInput, ...Array<KeyInput>], UsageError> =>
  Either.flatMap(Either.all(args.map(parseKeyArg)), (keys) =>
    keys.length === 0
      ? Either.left(new UsageError({ detail: "name at least one key" }))
      : Either.right(keys as unknown as readonly [KeyInput, ...Array<KeyInput>]))
