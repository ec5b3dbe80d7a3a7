/**
 * Host names as the daemon judges them: what counts as loopback (auth may be off only there) and
 * which `Host` / `Origin` values name this daemon (the DNS-rebinding and cross-site guard).
 * Pure functions, shared by the configuration and the HTTP server.
 */

const IPV4_LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** `localhost`, `127.x.x.x` or `::1` (bracketed or not); any case. */
export const isLoopbackHost = (host: string): boolean => {
  const name = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1")
  if (name === "localhost" || name === "::1") return true
  const v4 = IPV4_LOOPBACK.exec(name)
  return v4 !== null && v4.slice(1).every((octet) => Number(octet) <= 255)
}

/** The host part of a `Host` header (`name`, `name:port`, `[v6]`, `[v6]:port`), lower-cased; undefined when malformed. */
export const hostnameOf = (hostHeader: string): string | undefined => {
  const value = hostHeader.trim().toLowerCase()
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]\s/]+)(?::\d{1,5})?$/.exec(value)
  return match?.[1]
}

const normaliseHost = (host: string): string => {
  const value = host.trim().toLowerCase()
  return value.includes(":") && !value.startsWith("[") ? `[${value}]` : hostnameOf(value) ?? value
}

const UNSPECIFIED = new Set(["0.0.0.0", "[::]"])

/** Accepts loopback names always; the bind host and `allowedHosts` as configured. */
export const makeHostPredicate = (
  settings: { readonly host: string; readonly allowedHosts: ReadonlyArray<string> }
) => {
  const allowed = new Set(
    [settings.host, ...settings.allowedHosts].map(normaliseHost).filter((host) => !UNSPECIFIED.has(host))
  )
  return (hostname: string): boolean => isLoopbackHost(hostname) || allowed.has(hostname)
}

/**
 * The daemon's own origin, and only it, is same-origin: a page on another port of the same host
 * (`http://localhost:3000`) is another origin and may not drive the API (it needs no CORS
 * preflight for a form POST). The scheme is the one the daemon serves; the port is its own.
 */
export const makeOriginPredicate = (settings: {
  readonly host: string
  readonly allowedHosts: ReadonlyArray<string>
  readonly port: number
  readonly scheme: "http" | "https"
}) => {
  const isAllowedHost = makeHostPredicate(settings)
  return (origin: string): boolean => {
    if (!URL.canParse(origin)) return false
    const url = new URL(origin)
    const scheme = url.protocol.replace(/:$/, "")
    if (scheme !== settings.scheme) return false
    const port = url.port === "" ? (scheme === "https" ? 443 : 80) : Number(url.port)
    const hostname = url.hostname.toLowerCase()
    return hostname !== "" && port === settings.port && isAllowedHost(hostname)
  }
}
