/**
 * The web dashboard's files as the daemon serves them: which request path names which file, its
 * content type, how long a browser may keep it, and the security headers every page carries. Pure:
 * the files themselves are loaded by layers/WebRoute.ts.
 */
import { DAEMON_ROUTES, templateOfPath, UNMATCHED } from "./RouteTemplate.js"

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm"
}

const extensionOf = (file: string) => {
  const base = file.slice(file.lastIndexOf("/") + 1)
  const dot = base.lastIndexOf(".")
  return dot <= 0 ? "" : base.slice(dot).toLowerCase()
}

/** Unknown extensions are served as bytes, never sniffed (`nosniff`). */
export const contentTypeOf = (file: string): string => TYPES[extensionOf(file)] ?? "application/octet-stream"

/** Worth compressing: text, JSON, SVG, source maps. */
export const isCompressible = (file: string): boolean => {
  const type = contentTypeOf(file)
  return type.startsWith("text/") || type.includes("json") || type === "image/svg+xml" || type === "application/wasm"
}

/** The build names bundled assets `assets/<name>-<HASH>.<ext>` (esbuild's `[hash]`, 8 characters or more). */
const HASHED = /^\/assets\/.+-[A-Za-z0-9]{8,}\.[a-z0-9]+$/

/** A hashed asset never changes under its name: kept a year. Anything else (index.html) is revalidated each time (ETag). */
export const cacheControlOf = (file: string): string =>
  HASHED.test(file) ? "public, max-age=31536000, immutable" : "no-cache"

/** A request path (no query) turned into a file name of the dashboard, or `undefined` when it cannot name one. */
export const normalisePath = (rawPath: string): string | undefined => {
  let decoded: string
  try {
    decoded = decodeURIComponent(rawPath)
  } catch {
    return undefined
  }
  if (!decoded.startsWith("/") || decoded.includes("\0") || decoded.includes("\\")) return undefined
  const segments = decoded.split("/").slice(1)
  // `.`/`..` (traversal) and dotfiles are never served; an empty segment is only allowed last (`/`, `/dir/`)
  if (segments.some((segment, i) => segment.startsWith(".") || (segment === "" && i < segments.length - 1))) {
    return undefined
  }
  return decoded
}

/**
 * The file a request path names among `files` (paths like `/index.html`): itself; `/` → `/index.html`;
 * `/sign-in` → `/sign-in.html`; an extension-less path a browser navigates to (`html`) → `/index.html`,
 * for the app's own routes. A directory is never listed.
 */
export const resolveFile = (
  files: ReadonlySet<string>,
  rawPath: string,
  acceptsHtml: boolean
): string | undefined => {
  const path = normalisePath(rawPath)
  if (path === undefined) return undefined
  if (path === "/") return files.has("/index.html") ? "/index.html" : undefined
  if (path.endsWith("/")) return undefined
  if (files.has(path)) return path
  if (extensionOf(path) !== "") return undefined
  if (files.has(`${path}.html`)) return `${path}.html`
  return acceptsHtml && files.has("/index.html") ? "/index.html" : undefined
}

/**
 * Requests the dashboard answers: GET and HEAD of a path that is not the API's (nor `/v1/…`, which
 * stays the API's even when no route has it, so that an API typo gets the API's JSON 404). They are
 * public (the same files for everyone; no credentials in them), so the request guard checks their
 * Host but not their Origin or Sec-Fetch-Site: a link to the dashboard from another site opens it.
 */
export const isDashboardRequest = (method: string, path: string): boolean =>
  (method === "GET" || method === "HEAD") && !path.startsWith("/v1/") && path !== "/v1" &&
  templateOfPath(DAEMON_ROUTES, path) === UNMATCHED

/** A `Host` header fit to be written into a header of ours (it already passed the guard). */
const PLAIN_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/

/**
 * The headers of every dashboard answer. The page may load only what the daemon serves (no inline
 * script, nothing from elsewhere; <style> elements only, for xterm.js), talk only to the daemon (its API and its stream, ws/wss of its
 * own host), and never be framed; it sends no Referer anywhere.
 */
export const securityHeaders = (
  host: string | undefined,
  scheme: "http" | "https"
): Readonly<Record<string, string>> => {
  const ws = scheme === "https" ? "wss" : "ws"
  const own = host !== undefined && PLAIN_HOST.test(host) ? ` ${ws}://${host}` : ""
  return {
    "content-security-policy": [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      // xterm.js draws its terminal with <style> elements it writes (cell sizes, theme colours);
      // style attributes in markup stay refused (style-src-attr falls back to style-src), and no
      // style can load anything from elsewhere (img-src, font-src, connect-src)
      "style-src-elem 'self' 'unsafe-inline'",
      "img-src 'self' data:",
      "font-src 'self'",
      `connect-src 'self'${own}`,
      "manifest-src 'self'",
      "worker-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'"
    ].join("; "),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin"
  }
}
