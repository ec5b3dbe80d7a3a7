/**
 * The agents' hook command: `node dist/hook.js <agent> <event>`, the payload on stdin (Claude
 * Code, Gemini CLI) or as the last argument (Codex `notify`). It appends one row to the outbox
 * in the state dir and exits 0 — always: a failure is logged to `hook.log`, never reported to
 * the agent. It never talks to the daemon. Outside a telemux pane it does nothing.
 *
 * Plain Node + better-sqlite3 on purpose: importing `effect` would add ~250 ms to every hook.
 * Prints nothing on stdout (Claude adds a SessionStart/UserPromptSubmit hook's stdout to the
 * model's context; Gemini parses it as JSON).
 */
import { runHook } from "./agents/HookCommand.js"

// eslint-disable-next-line no-restricted-syntax -- entry point: the hook reads its environment here and only here
runHook(process.argv.slice(2), process.env)
process.exitCode = 0
