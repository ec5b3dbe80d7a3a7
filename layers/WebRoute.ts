/**
 * The web dashboard served at `/` from its built files (`dist/web`, made by `npm run build` from
 * `web/`). The files are read once, when the daemon starts, into memory (bounded: WEB_FILES_MAX
 * files, WEB_BYTES_MAX bytes), each with its ETag and, for text, a gzip copy: a request never
 * touches the disk, so no path can reach outside the directory and no directory is ever listed.
 * A rebuilt dashboard is served from the daemon's next start.
 */
import { HttpApiBuilder, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Option } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as zlib from "node:zlib"
import { HttpListener } from "../services/HttpListener.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import {
  cacheControlOf,
  contentTypeOf,
  isCompressible,
  isDashboardRequest,
  resolveFile,
  securityHeaders
} from "../src/http/StaticFiles.js"

/** Most files and bytes loaded from the dashboard's directory; beyond them the rest is left out, with a warning. */
export const WEB_FILES_MAX = 2000
export const WEB_BYTES_MAX = 64 * 1024 * 1024
/** Text smaller than this is sent as it is. */
const GZIP_MIN_BYTES = 1024

interface WebFile {
  readonly body: Uint8Array
  readonly gzip: Uint8Array | undefined
  readonly etag: string
  readonly type: string
  readonly cacheControl: string
}

/**
 * Gzipped copies of the dashboard's files, made by the build (scripts/build.mjs), each named by
 * the SHA-256 of the bytes it compresses (`<hex>.gz`). Gzipping 3.5 MB at level 9 took 0.4 s of
 * every daemon start, with the event loop held; a copy is checked instead (unzipped and compared,
 * ~20 ms for all: a build cut short by a full disk leaves a truncated one). A file without a
 * good copy (a dashboard built another way, a copy damaged) is gzipped here.
 */
export const GZIP_DIR = ".gzip"

const sha256 = (body: Uint8Array) => crypto.createHash("sha256").update(body).digest()

const etagOf = (digest: Buffer) => `"${digest.toString("base64url").slice(0, 27)}"`

const gzipOf = (root: string, body: Uint8Array, digest: Buffer): Uint8Array => {
  try {
    const copy = fs.readFileSync(path.join(root, GZIP_DIR, `${digest.toString("hex")}.gz`))
    if (zlib.gunzipSync(copy).equals(body)) return copy
  } catch {
    // no copy, or not a whole gzip stream: made here
  }
  return zlib.gzipSync(body, { level: 9 })
}

/**
 * The built dashboard beside the running code: `dist/web` for dist/main.js and for the chunks of
 * dist/cli.js (`telemux daemon`, in dist/cli-chunks/); from source (layers/*.ts under tsx or a
 * test), the built `dist/web` too — never the source pages in `web/`, whose assets are not built.
 */
export const defaultWebRoot = (): string => {
  const here = path.dirname(fileURLToPath(import.meta.url))
  switch (path.basename(here)) {
    case "cli-chunks":
      return path.join(here, "..", "web")
    case "layers":
      return path.join(here, "..", "dist", "web")
    default:
      return path.join(here, "web")
  }
}

/** Every regular file under `root` (dotfiles and symlinks left out), by its URL path. */
export const loadFiles = (root: string) =>
  Effect.gen(function*() {
    const files = new Map<string, WebFile>()
    if (!fs.existsSync(root)) {
      yield* Effect.logWarning("the web dashboard is not built: `/` answers 404 until it is (npm run build)").pipe(
        Effect.annotateLogs({ webRoot: root })
      )
      return files
    }
    let bytes = 0
    let skipped = 0
    const walk = (dir: string, prefix: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (entry.name.startsWith(".")) continue
        const full = path.join(dir, entry.name)
        const urlPath = `${prefix}/${entry.name}`
        if (entry.isDirectory()) walk(full, urlPath)
        else if (entry.isFile()) {
          const body = fs.readFileSync(full)
          if (files.size >= WEB_FILES_MAX || bytes + body.length > WEB_BYTES_MAX) {
            skipped++
            continue
          }
          bytes += body.length
          const digest = sha256(body)
          files.set(urlPath, {
            body,
            gzip: isCompressible(urlPath) && body.length >= GZIP_MIN_BYTES ? gzipOf(root, body, digest) : undefined,
            etag: etagOf(digest),
            type: contentTypeOf(urlPath),
            cacheControl: cacheControlOf(urlPath)
          })
        }
      }
    }
    yield* Effect.try({ try: () => walk(root, ""), catch: (cause) => cause }).pipe(
      Effect.catchAll((cause) =>
        Effect.logWarning("could not read all of the web dashboard's files", cause).pipe(
          Effect.annotateLogs({ webRoot: root })
        )
      )
    )
    if (skipped > 0) {
      yield* Effect.logWarning("the web dashboard is larger than the daemon serves; files were left out").pipe(
        Effect.annotateLogs({ webRoot: root, skipped, filesMax: WEB_FILES_MAX, bytesMax: WEB_BYTES_MAX })
      )
    }
    return files
  })

const NOT_BUILT = "the web dashboard is not built: run `npm run build`, then restart the daemon\n"
const NOT_FOUND = "not found\n"

const acceptsGzip = (header: string | undefined) => header !== undefined && /\bgzip\b/i.test(header)
const matchesEtag = (header: string | undefined, etag: string) =>
  header !== undefined && header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag)

/** Serves the dashboard's files on `GET /*` and `HEAD /*` (the API's own routes are matched first). */
export const WebRouteLive: Layer.Layer<never, never, TelemuxConfig | HttpListener> = HttpApiBuilder.Router.use(
  (router) =>
    Effect.gen(function*() {
      const config = yield* TelemuxConfig
      const listener = yield* HttpListener
      const files = yield* loadFiles(Option.getOrElse(config.webRoot, defaultWebRoot))
      const names = new Set(files.keys())

      const serve = Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const urlPath = request.url.split("?")[0] ?? "/"
        // an API path no route has is the API's to refuse, in JSON (RequestGuard)
        if (!isDashboardRequest(request.method, urlPath)) {
          return yield* new HttpServerError.RouteNotFound({ request })
        }
        const headers = securityHeaders(request.headers.host, listener.scheme)
        const name = resolveFile(names, urlPath, (request.headers.accept ?? "").includes("text/html"))
        const file = name === undefined ? undefined : files.get(name)
        if (file === undefined) {
          return HttpServerResponse.text(files.size === 0 ? NOT_BUILT : NOT_FOUND, {
            status: 404,
            headers: { ...headers, "cache-control": "no-cache" }
          })
        }
        const gzip = file.gzip !== undefined && acceptsGzip(request.headers["accept-encoding"])
        const etag = gzip ? `${file.etag.slice(0, -1)}-gz"` : file.etag
        const common = {
          ...headers,
          etag,
          "cache-control": file.cacheControl,
          ...(file.gzip === undefined ? {} : { vary: "accept-encoding" })
        }
        if (matchesEtag(request.headers["if-none-match"], etag)) {
          return HttpServerResponse.empty({ status: 304, headers: common })
        }
        // HEAD: the same headers; node sends no body for it
        return HttpServerResponse.uint8Array(gzip ? file.gzip! : file.body, {
          contentType: file.type,
          headers: gzip ? { ...common, "content-encoding": "gzip" } : common
        })
      })
      yield* router.get("/*", serve)
      yield* router.head("/*", serve)
    })
)
