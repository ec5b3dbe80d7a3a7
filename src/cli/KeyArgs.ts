/**
 * Key names on the command line: the API's names (src/domain/Keys.ts) in any case where that is
 * unambiguous (`enter`, `ESCAPE`, `f5`, `c-C` → `C-c`), `M-x` with its letter's case kept (Alt+x
 * and Alt+Shift+x are two keys), and an optional repeat count as `Name*N` (`BSpace*5`). A refusal
 * speaks this syntax, not the API's JSON.
 */
import { Either, Schema } from "effect"
import { EDITING_KEYS, KEY_REPEAT_MAX, KeyInput, KeyName, NAMED_KEYS } from "../domain/Keys.js"
import { UsageError } from "./CliError.js"

const isKeyName = Schema.is(KeyName)

const BY_LOWERCASE: ReadonlyMap<string, KeyName> = new Map(NAMED_KEYS.map((name) => [name.toLowerCase(), name]))

/** What a refusal tells the person: the names, the prefixes and the repeat syntax. */
export const KEYS_HINT = `name one of ${EDITING_KEYS.join(", ")}, F1-F12, C-<letter> (Ctrl), ` +
  `M-<letter or digit> (Alt), each optionally repeated as Name*N with N 1-${KEY_REPEAT_MAX} (Up*3)`

/** The key `name` stands for, if any: case-insensitive but for M-'s letter. */
export const canonicalKeyName = (name: string): KeyName | undefined => {
  const named = BY_LOWERCASE.get(name.toLowerCase())
  if (named !== undefined) return named
  const prefixed = /^([cCmM])-(.)$/.exec(name)
  if (prefixed === null) return undefined
  const candidate = prefixed[1]!.toLowerCase() === "c"
    ? `C-${prefixed[2]!.toLowerCase()}`
    : `M-${prefixed[2]!}`
  return isKeyName(candidate) ? candidate : undefined
}

export const parseKeyArg = (arg: string): Either.Either<KeyInput, UsageError> => {
  const word = arg.trim()
  const match = /^(.+?)\*(\d+)$/.exec(word)
  const name = match === null ? word : match[1]!
  const key = canonicalKeyName(name)
  if (key === undefined) {
    return Either.left(new UsageError({ detail: `unknown key "${arg}": ${KEYS_HINT}` }))
  }
  if (match === null) return Either.right(key)
  const repeat = Number(match[2])
  return Number.isSafeInteger(repeat) && repeat >= 1 && repeat <= KEY_REPEAT_MAX
    ? Either.right({ key, repeat })
    : Either.left(
      new UsageError({ detail: `"${arg}": a key repeats 1 to ${KEY_REPEAT_MAX} times (${key}*3), not ${match[2]}` })
    )
}

export const parseKeyArgs = (
  args: ReadonlyArray<string>
): Either.Either<readonly [KeyInput, ...Array<KeyInput>], UsageError> =>
  Either.flatMap(Either.all(args.map(parseKeyArg)), (keys) =>
    keys.length === 0
      ? Either.left(new UsageError({ detail: `name at least one key: ${KEYS_HINT}` }))
      : Either.right(keys as unknown as readonly [KeyInput, ...Array<KeyInput>]))
