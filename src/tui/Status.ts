/**
 * How a status looks: a colour, a symbol and a word, so that it reads at a glance in colour and
 * still without it (NO_COLOR, a monochrome terminal, a screen reader).
 */
import type { SessionStatus } from "../domain/Session.js"

export interface StatusStyle {
  readonly color: string
  readonly symbol: string
  readonly label: string
}

export const STATUS_STYLE: Readonly<Record<SessionStatus, StatusStyle>> = {
  creating: { color: "cyan", symbol: "◌", label: "creating" },
  running: { color: "green", symbol: "▶", label: "running" },
  idle: { color: "gray", symbol: "○", label: "idle" },
  waiting_input: { color: "yellow", symbol: "?", label: "waiting" },
  closed: { color: "red", symbol: "✕", label: "closed" }
}

/** The widest label: status columns are this wide, and no wider. */
export const STATUS_LABEL_WIDTH = Math.max(...Object.values(STATUS_STYLE).map((s) => s.label.length))
