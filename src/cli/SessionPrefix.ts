/**
 * Session ids on the command line: a full id, any unique prefix of one (with or without its
 * dashes, any case), or a tmux name (`tmx_1a2b3c4d`).
 */
import { Either } from "effect"
import type { Session } from "../domain/Session.js"
import { SessionAmbiguous, SessionUnknown } from "./CliError.js"

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** True when `input` is a whole session id (no lookup needed). */
export const isFullId = (input: string): boolean => FULL_ID.test(input.trim())

const compact = (id: string) => id.replace(/-/g, "").toLowerCase()

/** The hex digits `input` stands for, or undefined when it cannot be part of an id. */
const prefixOf = (input: string): string | undefined => {
  const text = input.trim().toLowerCase()
  const hex = text.startsWith("tmx_") ? text.slice(4) : text
  if (hex === "" || !/^[0-9a-f-]+$/.test(hex)) return undefined
  return compact(hex)
}

/** The one session whose id starts with `input`; unknown when none does, ambiguous when several do. */
export const resolvePrefix = <S extends Pick<Session, "sessionId" | "status" | "title" | "computer">>(
  input: string,
  sessions: ReadonlyArray<S>
): Either.Either<S, SessionUnknown | SessionAmbiguous> => {
  const prefix = prefixOf(input)
  if (prefix === undefined) return Either.left(new SessionUnknown({ id: input }))
  const exact = sessions.find((s) => compact(s.sessionId) === prefix)
  if (exact !== undefined) return Either.right(exact)
  const matches = sessions.filter((s) => compact(s.sessionId).startsWith(prefix))
  if (matches.length === 1) return Either.right(matches[0]!)
  if (matches.length === 0) return Either.left(new SessionUnknown({ id: input }))
  return Either.left(
    new SessionAmbiguous({
      prefix: input,
      candidates: matches.map((s) => ({
        sessionId: s.sessionId,
        status: s.status,
        title: s.title,
        computer: s.computer
      }))
    })
  )
}
