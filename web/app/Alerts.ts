/**
 * What the dashboard tells a person about (pure): a session that starts waiting for input, and an
 * agent that finishes its turn (running → idle). Each alert has a key — session, status and the
 * time of the output it is about — so the same event seen twice (a list sent again after a
 * reconnect) is raised once; the keys remembered are bounded.
 */
import type { SessionJson } from "./Wire.js"

export interface Alert {
  readonly key: string
  readonly sessionId: string
  readonly title: string
  readonly body: string
}

const name = (session: SessionJson) =>
  session.title !== "" ? session.title : session.workingDirectory.split("/").filter(Boolean).pop() ?? "/"

export const alertFor = (before: SessionJson | undefined, after: SessionJson): Alert | undefined => {
  const key = `${after.sessionId}:${after.status}:${after.lastOutputAt ?? after.lastActivityAt ?? after.createdAt}`
  const said = after.lastOutput ?? ""
  if (after.status === "waiting_input" && before?.status !== "waiting_input") {
    return { key, sessionId: after.sessionId, title: `${name(after)} is waiting for input`, body: said }
  }
  if (after.agent !== null && after.status === "idle" && before?.status === "running") {
    return { key, sessionId: after.sessionId, title: `${name(after)}: ${after.agent} finished its turn`, body: said }
  }
  return undefined
}

/** Keys of alerts already raised: the last `max`, oldest forgotten first. */
export class SeenAlerts {
  private readonly keys = new Set<string>()

  constructor(private readonly max: number) {}

  /** true the first time `key` is seen. */
  first(key: string): boolean {
    if (this.keys.has(key)) return false
    this.keys.add(key)
    if (this.keys.size > this.max) this.keys.delete(this.keys.values().next().value!)
    return true
  }

  get size(): number {
    return this.keys.size
  }
}
