/**
 * The dashboard's service worker (`/sw.js`), so that it can be installed as an app: it caches the
 * app shell only — the pages and their hashed assets, listed by the build in SHELL — and never an
 * API answer, the stream, or anything carrying credentials. Assets (immutable under their hashed
 * names) come from the cache; a page from the network, or from the cache when the network fails.
 * Anything else is not touched. A new build is a new cache; the old ones are deleted.
 */
export {}

declare const self: ServiceWorkerGlobalScope
/** Replaced by the build: the shell's URLs and a version that changes with them. */
declare const SHELL: ReadonlyArray<string>
declare const SHELL_VERSION: string

const CACHE = `telemux-shell-${SHELL_VERSION}`
const PAGES = new Set(["/", "/sign-in"])

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll([...SHELL])).then(() => self.skipWaiting()))
})

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim())
  )
})

self.addEventListener("fetch", (event) => {
  const request = event.request
  const url = new URL(request.url)
  if (request.method !== "GET" || url.origin !== self.location.origin) return
  if (url.pathname.startsWith("/assets/") && SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit ?? fetch(request)))
    return
  }
  if (request.mode === "navigate" && !url.pathname.startsWith("/v1/") && url.pathname !== "/health") {
    // the app's own paths (/session/…, /projects) are its index page
    const page = PAGES.has(url.pathname) ? url.pathname : "/"
    event.respondWith(
      fetch(request).catch(() => caches.match(page).then((hit) => hit ?? Response.error()))
    )
  }
})
