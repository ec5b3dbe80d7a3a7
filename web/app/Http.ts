/**
 * The API as the dashboard calls it: JSON, the cookie sent by the browser (same origin). Every
 * answer is an outcome, never an exception: a refusal carries the daemon's own message (it says
 * what to do next), a daemon that cannot be reached says so.
 */
export type Outcome<A> =
  | { readonly ok: true; readonly value: A }
  | { readonly ok: false; readonly status: number; readonly tag: string; readonly message: string }

export const call = async <A>(method: string, path: string, body?: unknown): Promise<Outcome<A>> => {
  let response: Response
  try {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
    })
  } catch {
    return { ok: false, status: 0, tag: "Unreachable", message: "The daemon cannot be reached; is it running?" }
  }
  const text = await response.text().catch(() => "")
  let json: unknown = undefined
  try {
    json = text === "" ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  if (response.ok) return { ok: true, value: json as A }
  const answer = (typeof json === "object" && json !== null ? json : {}) as {
    readonly _tag?: unknown
    readonly message?: unknown
  }
  return {
    ok: false,
    status: response.status,
    tag: typeof answer._tag === "string" ? answer._tag : `HTTP ${response.status}`,
    message: typeof answer.message === "string" && answer.message !== ""
      ? answer.message
      : `The daemon answered ${response.status}.`
  }
}

export const get = <A>(path: string) => call<A>("GET", path)
