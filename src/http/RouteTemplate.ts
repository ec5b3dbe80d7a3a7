/**
 * The route a request path belongs to, as its template (`/v1/sessions/:id`): what a metric or a
 * span may be labelled with. A path is unbounded (session ids, typos, probes); its template is
 * one of the API's few routes, or `unmatched`.
 */
import { HttpApi } from "@effect/platform"
import { TelemuxApi } from "../api/Api.js"
import { STREAM_PATH } from "../api/StreamProtocol.js"

export interface RouteTemplate {
  readonly method: string
  /** The path as the API declares it, with `:name` for its parameters. */
  readonly path: string
  readonly pattern: RegExp
}

/** Served beside the API's endpoints: the stream, the docs, the metrics. */
export const EXTRA_ROUTES: ReadonlyArray<{ readonly method: string; readonly path: string }> = [
  { method: "GET", path: STREAM_PATH },
  { method: "GET", path: "/docs" },
  { method: "GET", path: "/openapi.json" },
  { method: "GET", path: "/metrics" }
]

/** The label of a path that is no route. */
export const UNMATCHED = "unmatched"

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const templateOf = (method: string, path: string): RouteTemplate => ({
  method: method.toUpperCase(),
  path,
  pattern: new RegExp(
    `^${path.split("/").map((part) => (part.startsWith(":") ? "[^/]+" : escapeRegExp(part))).join("/")}$`
  )
})

/** Every route of an API and the extra ones, in declaration order. */
export const routesOf = (
  api: HttpApi.HttpApi.Any,
  extra: ReadonlyArray<{ readonly method: string; readonly path: string }>
): ReadonlyArray<RouteTemplate> => {
  const routes: Array<RouteTemplate> = []
  HttpApi.reflect(api as HttpApi.HttpApi<string, never, never, never>, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint }) => routes.push(templateOf(endpoint.method, endpoint.path))
  })
  for (const route of extra) routes.push(templateOf(route.method, route.path))
  return routes
}

/** The daemon's routes: telemux's API and what is served beside it. */
export const DAEMON_ROUTES = routesOf(TelemuxApi, EXTRA_ROUTES)

/** A path (no query) → its route's template, whatever the method; `unmatched` when none has it. */
export const templateOfPath = (routes: ReadonlyArray<RouteTemplate>, path: string): string => {
  for (const route of routes) if (route.pattern.test(path)) return route.path
  return UNMATCHED
}
