/**
 * Who may call the API, and how a browser becomes someone who may: the Authorization middleware
 * (the bearer token, or the web dashboard's session cookie from the dashboard's own origin) and the
 * handlers of the `web` group (a sign-in code for `telemux web`, the exchange of a code or the token
 * for the cookie, sign-out). The sessions behind the cookie are WebAuthLive.ts's.
 */
import { HttpApiBuilder, HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, DateTime, Effect, Layer, Option, Redacted } from "effect"
import { AuthToken } from "../services/AuthToken.js"
import { HttpListener } from "../services/HttpListener.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { type IssuedSession, type SignInError, WebAuth } from "../services/WebAuth.js"
import { Authorization, SignInCode, SignInThrottled, TelemuxApi } from "../src/api/Api.js"
import { Unauthorized } from "../src/domain/Errors.js"
import { INVALID_TOKEN_MESSAGE, MISSING_TOKEN_MESSAGE, NOT_BEARER_MESSAGE, parseBearer } from "../src/http/Bearer.js"
import { makeOriginPredicate } from "../src/http/Hosts.js"
import {
  clearedCookieOptions,
  COOKIE_ENDED_MESSAGE,
  COOKIE_ORIGIN_MESSAGE,
  cookieNameFor,
  cookieRequestAllowed,
  cookieValueOf,
  sessionCookieOptions
} from "../src/http/WebCookie.js"

// ---------------------------------------------------------------------------
// Authorization
// ---------------------------------------------------------------------------

/**
 * The bearer token, or else the web dashboard's session cookie (WebAuthLive.ts) from the
 * dashboard's own origin only (WebCookie.cookieRequestAllowed). A request with an Authorization
 * header is judged by it alone: a wrong token is refused even beside a good cookie.
 */
export const AuthorizationLive: Layer.Layer<Authorization, never, AuthToken | TelemuxConfig | WebAuth | HttpListener> =
  Layer.effect(
    Authorization,
    Effect.gen(function*() {
      const config = yield* TelemuxConfig
      const token = yield* AuthToken
      const web = yield* WebAuth
      const listener = yield* HttpListener
      const isOwnOrigin = makeOriginPredicate({ ...config, port: listener.port, scheme: listener.scheme })
      if (!config.auth) return Authorization.of({ bearer: () => Effect.void })
      const byCookie = (request: HttpServerRequest.HttpServerRequest) =>
        Effect.gen(function*() {
          const value = cookieValueOf(listener.port, request.headers.cookie)
          if (value === undefined) return yield* new Unauthorized({ message: MISSING_TOKEN_MESSAGE })
          if (!cookieRequestAllowed(request.method, request.headers, isOwnOrigin)) {
            return yield* new Unauthorized({ message: COOKIE_ORIGIN_MESSAGE })
          }
          if (Option.isNone(yield* web.authenticate(value))) {
            return yield* new Unauthorized({ message: COOKIE_ENDED_MESSAGE })
          }
        })
      return Authorization.of({
        bearer: (candidate) =>
          Effect.gen(function*() {
            const request = yield* HttpServerRequest.HttpServerRequest
            const bearer = parseBearer(request.headers.authorization)
            if (bearer._tag === "Missing") return yield* byCookie(request)
            if (bearer._tag === "NotBearer") return yield* new Unauthorized({ message: NOT_BEARER_MESSAGE })
            if (!(yield* token.verify(Redacted.value(candidate).trim()))) {
              return yield* new Unauthorized({ message: INVALID_TOKEN_MESSAGE })
            }
          })
      })
    })
  )

// ---------------------------------------------------------------------------
// Web dashboard sign-in
// ---------------------------------------------------------------------------

/** Sets the session cookie on the answer this handler gives. */
const withCookie = (name: string, value: string, options: Parameters<typeof sessionCookieOptions>[0]) =>
  HttpApp.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.unsafeSetCookie(response, name, value, sessionCookieOptions(options)))
  )

export const WebSignInLive = HttpApiBuilder.group(TelemuxApi, "web", (handlers) =>
  Effect.gen(function*() {
    const web = yield* WebAuth
    const listener = yield* HttpListener
    const name = cookieNameFor(listener.port)
    const secure = listener.scheme === "https"
    const issue = (session: IssuedSession) =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (now) => withCookie(name, session.value, { expiresAt: session.expiresAt, now, secure })
      )
    const refused = (error: SignInError): Effect.Effect<never, Unauthorized | SignInThrottled> =>
      error.reason === "throttled"
        ? Effect.zipRight(
          HttpApp.appendPreResponseHandler((_request, response) =>
            Effect.succeed(
              HttpServerResponse.setHeader(response, "retry-after", String(error.retryAfterSeconds ?? 60))
            )
          ),
          Effect.fail(new SignInThrottled({ message: error.message, retryAfterSeconds: error.retryAfterSeconds ?? 60 }))
        )
        : Effect.fail(new Unauthorized({ message: error.message }))
    return handlers
      .handle("createSignInCode", () =>
        Effect.map(web.createCode, (created) =>
          new SignInCode({
            code: created.code,
            path: `/sign-in#code=${created.code}`,
            expiresAt: DateTime.unsafeMake(created.expiresAt)
          })))
      .handle("signIn", ({ payload }) =>
        ("code" in payload ? web.signInWithCode(payload.code) : web.signInWithToken(payload.token)).pipe(
          Effect.flatMap(issue),
          Effect.catchTag("SignInError", refused),
          Effect.annotateLogs({ signIn: "code" in payload ? "code" : "token" })
        ))
      .handle("signOut", () =>
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const value = cookieValueOf(listener.port, request.headers.cookie)
          if (value !== undefined) {
            yield* web.signOut(value)
          }
          // the clearing cookie must match the one set for the browser to replace it
          yield* HttpApp.appendPreResponseHandler((_request, response) =>
            Effect.succeed(HttpServerResponse.unsafeSetCookie(response, name, "", clearedCookieOptions(secure)))
          )
        }))
  }))
