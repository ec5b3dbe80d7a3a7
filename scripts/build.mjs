// The build: the daemon (dist/main.js), the `telemux` command (dist/cli.js, with the daemon and
// the TUI split into chunks it loads only when run) and the agents' hook command (dist/hook.js,
// kept free of `effect` so it starts fast). Then the web dashboard (dist/web, served by the
// daemon at `/`): see buildWeb below.
//
// `effect` and the `@effect/*` packages are bundled into the daemon and the command; every other
// dependency stays external (node_modules: better-sqlite3 is native, the rest load as they are).
// Loaded from node_modules, Effect's ES modules (hundreds of files) took 0.9 s of the daemon's 1.8 s
// start and most of a CLI command's; bundled, only what is used is in the file, read at once.
import { build } from "esbuild"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"

const common = { bundle: true, platform: "node", format: "esm", target: "node20", sourcemap: true }

const EFFECT_FAMILY = /^(effect|@effect\/[^/]+)(\/|$)/
/** Every bare import but Effect's packages stays an import of node_modules. */
const effectBundled = {
  name: "effect-bundled",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => EFFECT_FAMILY.test(args.path) ? undefined : { external: true })
  }
}

await build({ ...common, plugins: [effectBundled], entryPoints: ["src/main.ts"], outdir: "dist" })
await build({ ...common, packages: "external", entryPoints: ["src/hook.ts"], outdir: "dist", sourcemap: false })

fs.rmSync("dist/cli-chunks", { recursive: true, force: true })
await build({
  ...common,
  plugins: [effectBundled],
  entryPoints: ["src/cli.ts"],
  outdir: "dist",
  splitting: true,
  chunkNames: "cli-chunks/[name]-[hash]",
  banner: { js: "#!/usr/bin/env node" }
})
fs.chmodSync("dist/cli.js", 0o755)

/**
 * web/ → dist/web: each page's script (`web/<page>.ts` or `.tsx` beside `web/<page>.html`) and
 * each `web/*.css` bundled for browsers into `assets/<name>-<HASH>.<ext>` (served immutable); the
 * CSS a script imports (xterm.js's own) becomes `assets/<page>-<HASH>.css`, which the page names
 * `/assets/<page>.css`. Each `web/*.html` is copied with its `/assets/<name>.<ext>` references
 * pointed at the hashed names (served no-cache), and anything in `web/public/` copied as it is.
 * Then the service worker, `web/sw.ts` → `sw.js`, given the list of the app shell's URLs to cache.
 * Everything the page loads is in dist/web: nothing is fetched from elsewhere at run time. The
 * gzipped size of the scripts is printed, and a build past WEB_JS_GZIP_MAX fails.
 */
const WEB_JS_GZIP_MAX = 300 * 1024
const buildWeb = async () => {
  const out = "dist/web"
  fs.rmSync(out, { recursive: true, force: true })
  const names = fs.readdirSync("web")
  const entries = names
    .filter((name) =>
      name.endsWith(".css") || (/\.tsx?$/.test(name) && names.includes(name.replace(/\.tsx?$/, ".html")))
    )
    .map((name) => `web/${name}`)
  const result = await build({
    entryPoints: entries,
    bundle: true,
    platform: "browser",
    format: "esm",
    target: ["es2022"],
    minify: true,
    sourcemap: true,
    outdir: out,
    entryNames: "assets/[name]-[hash]",
    chunkNames: "assets/[name]-[hash]",
    jsx: "automatic",
    // a page's imports loaded later (the session view's xterm.js) come as chunks of their own: the
    // sessions list does not wait for the terminal's code to be parsed
    splitting: true,
    // React's production build: no development checks, a fraction of the size
    define: { "process.env.NODE_ENV": "\"production\"" },
    metafile: true
  })
  /** `/assets/sign-in.js` → `/assets/sign-in-ABCD1234.js`, for every entry. */
  const hashed = new Map()
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    if (output.entryPoint === undefined) continue
    const name = path.basename(output.entryPoint).replace(/\.tsx?$/, ".js")
    hashed.set(`/assets/${name}`, `/${path.relative(out, file)}`)
    if (output.cssBundle !== undefined) {
      hashed.set(`/assets/${name.replace(/\.js$/, ".css")}`, `/${path.relative(out, output.cssBundle)}`)
    }
  }
  for (const name of fs.readdirSync("web").filter((name) => name.endsWith(".html"))) {
    let html = fs.readFileSync(`web/${name}`, "utf8")
    html = html.replace(/\/assets\/[A-Za-z0-9._-]+\.(js|css)/g, (ref) => {
      const target = hashed.get(ref)
      if (target === undefined) throw new Error(`web/${name} refers to ${ref}, which no web/ entry builds`)
      return target
    })
    fs.writeFileSync(`${out}/${name}`, html)
  }
  if (fs.existsSync("web/public")) fs.cpSync("web/public", out, { recursive: true })
  // the service worker (/sw.js, a fixed name: browsers look for it there) with the app shell it caches
  const shell = [
    "/",
    "/sign-in",
    ...[...hashed.values()],
    // the chunks pages import later
    ...Object.keys(result.metafile.outputs)
      .filter((file) => /\.(js|css)$/.test(file) && result.metafile.outputs[file].entryPoint === undefined)
      .map((file) => `/${path.relative(out, file)}`),
    ...(fs.existsSync("web/public") ? fs.readdirSync("web/public").map((name) => `/${name}`) : [])
  ].filter((url, i, all) => all.indexOf(url) === i).sort()
  await build({
    entryPoints: ["web/sw.ts"],
    bundle: true,
    platform: "browser",
    format: "iife",
    target: ["es2022"],
    minify: true,
    outfile: `${out}/sw.js`,
    define: {
      SHELL: JSON.stringify(shell),
      SHELL_VERSION: JSON.stringify(crypto.createHash("sha256").update(shell.join("\n")).digest("hex").slice(0, 12))
    }
  })
  const gzippedSize = writeGzipCopies(out)
  const scripts = Object.keys(result.metafile.outputs).filter((file) => file.endsWith(".js"))
  const gzipped = scripts.reduce((sum, file) => sum + gzippedSize(file), 0)
  const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`
  console.log(`dist/web: ${scripts.length} scripts, ${kb(gzipped)} gzipped (at most ${kb(WEB_JS_GZIP_MAX)})`)
  if (gzipped > WEB_JS_GZIP_MAX) {
    throw new Error(`the web dashboard's scripts are ${kb(gzipped)} gzipped, past ${kb(WEB_JS_GZIP_MAX)}`)
  }
}
/**
 * A gzipped copy of every file of 1 KB or more under `out`, in `out/.gzip/<sha256 hex>.gz`: the
 * daemon serves the copy of a file's exact bytes instead of gzipping at start (layers/WebRoute.ts,
 * GZIP_DIR). Which files it sends gzipped is its choice; a copy it does not use costs disk only.
 * Returns a file's gzipped size (of its copy; a smaller file is gzipped for it).
 */
function writeGzipCopies(out) {
  const dir = path.join(out, ".gzip")
  const sizes = new Map()
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir)
  const walk = (from) => {
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue
      const full = path.join(from, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.isFile()) {
        const body = fs.readFileSync(full)
        if (body.length < 1024) continue
        const name = crypto.createHash("sha256").update(body).digest("hex")
        const gzip = zlib.gzipSync(body, { level: 9 })
        fs.writeFileSync(path.join(dir, `${name}.gz`), gzip)
        sizes.set(path.resolve(full), gzip.length)
      }
    }
  }
  walk(out)
  return (file) => sizes.get(path.resolve(file)) ?? zlib.gzipSync(fs.readFileSync(file), { level: 9 }).length
}

await buildWeb()
console.log("built dist/main.js, dist/cli.js, dist/hook.js, dist/web/")
