/**
 * Holds the UI state between messages: `dispatch` runs the reducer, tells subscribers (the Ink
 * components, through useSyncExternalStore) when the state changed, and hands the commands the
 * step produced to `onCommand` (the client). Messages dispatched while a step runs (a command
 * answering at once) are queued and run in order after it.
 */
import type { Cmd, Msg, TuiState } from "./Model.js"
import { update } from "./Update.js"

export interface Store {
  readonly getState: () => TuiState
  readonly subscribe: (listener: () => void) => () => void
  readonly dispatch: (msg: Msg) => void
}

export const makeStore = (initial: TuiState, onCommand: (command: Cmd) => void): Store => {
  let state = initial
  const listeners = new Set<() => void>()
  const queue: Array<Msg> = []
  let running = false

  const dispatch = (msg: Msg) => {
    queue.push(msg)
    if (running) return
    running = true
    try {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const result = update(state, next)
        const changed = result.state !== state
        state = result.state
        if (changed) { for (const listener of listeners) listener() }
        for (const command of result.commands) onCommand(command)
      }
    } finally {
      running = false
    }
  }

  return {
    getState: () => state,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    dispatch
  }
}
