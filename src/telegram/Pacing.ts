/**
 * Pacing within Telegram's limits (core.telegram.org/bots/faq#my-bot-is-hitting-limits): about
 * one message per second in a chat, and no more than 20 per minute in a group — edits counted.
 * A chat gets a token bucket (CHAT_BURST at once, then one per CHAT_REFILL: at most
 * CHAT_BURST + 60 s / CHAT_REFILL = 20 in any minute); a session's tail is
 * edited at most once per TAIL_EDIT_INTERVAL; a 429's `retry_after` closes the chat until then.
 * Pure: the caller passes the clock's time in milliseconds.
 */
import { Duration } from "effect"

export const CHAT_BURST = 5
export const CHAT_REFILL = Duration.seconds(4)
export const TAIL_EDIT_INTERVAL = Duration.seconds(3)

export class ChatBudget {
  private tokens: number
  private at: number
  private closedUntil = 0
  private readonly refillMillis: number

  constructor(readonly burst: number = CHAT_BURST, refill: Duration.DurationInput = CHAT_REFILL, now = 0) {
    this.tokens = burst
    this.at = now
    this.refillMillis = Duration.toMillis(refill)
  }

  private refill(now: number) {
    if (now <= this.at) return
    this.tokens = Math.min(this.burst, this.tokens + (now - this.at) / this.refillMillis)
    this.at = now
  }

  /** Milliseconds until a send is allowed (0: now). */
  waitFor(now: number): number {
    this.refill(now)
    const closed = Math.max(0, this.closedUntil - now)
    const token = this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) * this.refillMillis)
    return Math.max(closed, token)
  }

  /** Spends a token (call only when waitFor answered 0). */
  take(now: number) {
    this.refill(now)
    this.tokens = Math.max(0, this.tokens - 1)
  }

  /** Telegram said 429: nothing goes to this chat before `now + retryAfter`. */
  closeFor(now: number, retryAfter: Duration.Duration) {
    this.closedUntil = Math.max(this.closedUntil, now + Duration.toMillis(retryAfter))
    this.tokens = 0
    this.at = Math.max(this.at, now)
  }
}

/** When a session's tail may next be edited, given when it last was (undefined: never). */
export const nextTailEdit = (lastEdit: number | undefined, interval: Duration.Duration = TAIL_EDIT_INTERVAL) =>
  lastEdit === undefined ? 0 : lastEdit + Duration.toMillis(interval)
