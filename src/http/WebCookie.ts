/**
 * The web dashboard's session cookie as the daemon sets and reads it. Pure, shared by the API's
 * middleware, the sign-in endpoints and the stream's upgrade.
 */
import { Cookies } from "@effect/platform"
import { Duration } from "effect"

/**
 * One cookie name per port: browsers keep cookies per host, not per port, so two daemons on one
 * machine (a fleet on one laptop, a test) would otherwise sign each other out.
 */
export const cookieNameFor = (port: number) => `telemux_session_${port}`

/** The cookie that opens a session, `Secure` only when served over TLS (a browser drops a Secure cookie over plain HTTP). */
export const sessionCookieOptions = (
  options: { readonly expiresAt: number; readonly now: number; readonly secure: boolean }
): Cookies.Cookie["options"] => ({
  httpOnly: true,
  sameSite: "strict",
  path: "/",
  secure: options.secure,
  maxAge: Duration.seconds(Math.max(0, Math.ceil((options.expiresAt - options.now) / 1000)))
})

/** The cookie that ends one: same attributes, empty, already expired. */
export const clearedCookieOptions = (secure: boolean): Cookies.Cookie["options"] => ({
  httpOnly: true,
  sameSite: "strict",
  path: "/",
  secure,
  maxAge: Duration.zero
})

/** The session cookie's value in a `Cookie` header, if any. */
export const cookieValueOf = (port: number, header: string | undefined): string | undefined => {
  if (header === undefined || header === "") return undefined
  const value = Cookies.parseHeader(header)[cookieNameFor(port)]
  return value === undefined || value === "" ? undefined : value
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"])

/**
 * A cookie is sent by the browser whatever page asked; so a request it authenticates must come
 * from the dashboard itself. The request guard has already refused a foreign `Origin` and a
 * `Sec-Fetch-Site` other than same-origin or none; here an unsafe method must also *prove* it is
 * same-origin (an own Origin, or `Sec-Fetch-Site: same-origin`): a request that says nothing is
 * not taken on trust. `isOwnOrigin` is the guard's own predicate.
 */
export const cookieRequestAllowed = (
  method: string,
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  isOwnOrigin: (origin: string) => boolean
): boolean => {
  const origin = headers.origin
  const site = headers["sec-fetch-site"]
  if (origin !== undefined && (typeof origin !== "string" || !isOwnOrigin(origin))) return false
  if (site !== undefined && site !== "same-origin" && site !== "none") return false
  if (SAFE_METHODS.has(method.toUpperCase())) return true
  return typeof origin === "string" || site === "same-origin"
}

/** A WebSocket upgrade: a browser always sends its page's Origin, so one that is missing is not taken on trust. */
export const cookieUpgradeAllowed = (
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  isOwnOrigin: (origin: string) => boolean
): boolean => typeof headers.origin === "string" && cookieRequestAllowed("GET", headers, isOwnOrigin)

export const COOKIE_ORIGIN_MESSAGE =
  "a request signed in by the dashboard's cookie must come from the dashboard's own page " +
  "(an Origin of this daemon, or Sec-Fetch-Site: same-origin); scripts and tools send the bearer token instead"
export const COOKIE_ENDED_MESSAGE =
  "the dashboard sign-in has ended (signed out, expired, or the API token was rotated); sign in again with `telemux web`"
