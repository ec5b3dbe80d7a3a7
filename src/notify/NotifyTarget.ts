/**
 * Where notifications for people go (TELEMUX_NOTIFY, a list separated by commas or spaces):
 *
 * - `ntfy:https://ntfy.sh/my-topic` — an ntfy topic: the server is the URL without its last path
 *   segment, the topic is that segment (published as ntfy's JSON message to the server's root).
 * - `webhook:https://host/path`, or a bare `http(s)://` URL — a generic webhook: a JSON POST signed
 *   with HMAC-SHA256 (TELEMUX_NOTIFY_SECRET, then required).
 * - `desktop` — a desktop notification through `notify-send` (Linux) or `osascript` (macOS).
 */
import { Data, Either } from "effect"

export type NotifyTarget =
  | { readonly _tag: "Ntfy"; readonly server: string; readonly topic: string }
  | { readonly _tag: "Webhook"; readonly url: string }
  | { readonly _tag: "Desktop" }

/** A TELEMUX_NOTIFY entry telemux cannot use; the message says what would work. */
export class NotifyTargetInvalid extends Data.TaggedError("NotifyTargetInvalid")<{
  readonly target: string
  readonly reason: string
}> {
  override get message() {
    return `TELEMUX_NOTIFY target "${this.target}": ${this.reason} — use ntfy:https://host/topic, ` +
      "webhook:https://host/path (or a bare https:// URL) or desktop"
  }
}

/** How a target is named in logs: never its query string, where a token may be. */
export const describeTarget = (target: NotifyTarget): string => {
  switch (target._tag) {
    case "Ntfy":
      return `ntfy ${target.server}${target.topic}`
    case "Webhook": {
      const url = new URL(target.url)
      return `webhook ${url.protocol}//${url.host}${url.pathname}`
    }
    case "Desktop":
      return "desktop"
  }
}

const TOPIC = /^[A-Za-z0-9_-]{1,64}$/

const httpUrl = (entry: string, text: string): Either.Either<URL, NotifyTargetInvalid> => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return Either.left(new NotifyTargetInvalid({ target: entry, reason: "not a URL" }))
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Either.left(new NotifyTargetInvalid({ target: entry, reason: "only http:// and https:// URLs are sent to" }))
  }
  if (url.username !== "" || url.password !== "") {
    return Either.left(new NotifyTargetInvalid({ target: entry, reason: "a user or password in the URL is not sent" }))
  }
  return Either.right(url)
}

const parseOne = (entry: string): Either.Either<NotifyTarget, NotifyTargetInvalid> => {
  if (entry.toLowerCase() === "desktop") return Either.right({ _tag: "Desktop" })
  if (entry.toLowerCase().startsWith("ntfy:")) {
    return Either.flatMap(httpUrl(entry, entry.slice("ntfy:".length)), (url) => {
      const segments = url.pathname.split("/")
      const topic = segments.pop() ?? ""
      if (!TOPIC.test(topic) || url.search !== "" || url.hash !== "") {
        return Either.left(
          new NotifyTargetInvalid({
            target: entry,
            reason: "an ntfy URL ends with its topic (1-64 of A-Z a-z 0-9 _ -)"
          })
        )
      }
      return Either.right<NotifyTarget>({ _tag: "Ntfy", server: `${url.origin}${segments.join("/")}/`, topic })
    })
  }
  const webhook = entry.toLowerCase().startsWith("webhook:") ? entry.slice("webhook:".length) : entry
  if (!/^https?:\/\//i.test(webhook)) {
    return Either.left(new NotifyTargetInvalid({ target: entry, reason: "unknown kind" }))
  }
  return Either.map(httpUrl(entry, webhook), (url): NotifyTarget => ({ _tag: "Webhook", url: url.href }))
}

/** The targets of a TELEMUX_NOTIFY value, each once, in order; the first bad entry fails it all. */
export const parseTargets = (text: string): Either.Either<ReadonlyArray<NotifyTarget>, NotifyTargetInvalid> => {
  const entries = text.split(/[\s,]+/).filter((entry) => entry !== "")
  const targets: Array<NotifyTarget> = []
  const seen = new Set<string>()
  for (const entry of entries) {
    const parsed = parseOne(entry)
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    const key = JSON.stringify(parsed.right)
    if (seen.has(key)) continue
    seen.add(key)
    targets.push(parsed.right)
  }
  return Either.right(targets)
}
