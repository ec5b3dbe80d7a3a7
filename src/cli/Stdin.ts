import { Effect } from "effect"
import { LocalFailure } from "./CliError.js"

/** Most bytes `telemux send <id> -` reads from stdin (the daemon's own input limit is 1 MiB). */
export const STDIN_MAX_BYTES = 2 * 1024 * 1024

/** All of stdin as UTF-8, up to STDIN_MAX_BYTES. */
export const readAll = (stdin: NodeJS.ReadableStream): Effect.Effect<string, LocalFailure> =>
  Effect.tryPromise({
    try: async () => {
      const chunks: Array<Buffer> = []
      let size = 0
      for await (const chunk of stdin) {
        const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk
        size += buffer.length
        if (size > STDIN_MAX_BYTES) return undefined
        chunks.push(buffer)
      }
      return Buffer.concat(chunks).toString("utf8")
    },
    catch: (cause) => new LocalFailure({ detail: `cannot read stdin: ${String(cause)}` })
  }).pipe(
    Effect.filterOrFail(
      (text): text is string => text !== undefined,
      () => new LocalFailure({ detail: `stdin holds more than ${STDIN_MAX_BYTES} bytes` })
    )
  )
