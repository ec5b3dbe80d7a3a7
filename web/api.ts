/** The daemon's sign-in endpoints as the pages call them: JSON bodies, the cookie sent by the browser (same origin). */
export interface Outcome {
  readonly ok: boolean
  readonly message: string
}

export const post = async (path: string, body?: unknown): Promise<Outcome> => {
  try {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
    })
    if (response.ok) return { ok: true, message: "" }
    const answer = (await response.json().catch(() => ({}))) as { readonly message?: unknown }
    return {
      ok: false,
      message: typeof answer.message === "string" ? answer.message : `the daemon answered ${response.status}`
    }
  } catch {
    return { ok: false, message: "the daemon cannot be reached; is it running?" }
  }
}
