/** The `Authorization` header as the API reads it, shared by the API's middleware and the stream's upgrade. */
export type BearerHeader =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "NotBearer" }
  | { readonly _tag: "Token"; readonly token: string }

const BEARER = /^bearer\s+/i

export const parseBearer = (header: string | undefined): BearerHeader => {
  if (header === undefined || header.trim() === "") return { _tag: "Missing" }
  if (!BEARER.test(header)) return { _tag: "NotBearer" }
  return { _tag: "Token", token: header.replace(BEARER, "").trim() }
}

export const MISSING_TOKEN_MESSAGE =
  "missing API token: send the header `Authorization: Bearer <token>` (see `telemux token`)"
export const NOT_BEARER_MESSAGE = "the Authorization header must use the Bearer scheme"
export const INVALID_TOKEN_MESSAGE = "invalid API token: `telemux token` prints the current one"
