/**
 * The fake agent CLIs (test/fixtures/agents) as the fork tests use them: configured by path, strict
 * about conversation files, and their recorded command lines read back.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { Agent } from "../../src/domain/Session.js"
import { FAKE_AGENTS } from "../fixtures/agents/hookBuild.js"

/** The command lines the fake `agent` ran with under `home` (a pane's HOME), one array of words each. */
export const recordedArgv = (home: string, agent: Agent): Array<Array<string>> => {
  const file = path.join(home, `.fake-${agent}-argv.jsonl`)
  if (!fs.existsSync(file)) return []
  return fs.readFileSync(file, "utf8").trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))
}

/**
 * A daemon's variables for the fakes: by path (panes' login shells set their own PATH), and
 * refusing a resume or fork whose conversation file is not where the real agent would look.
 */
export const fakeAgentVariables = {
  TELEMUX_AGENT_CLAUDE: path.join(FAKE_AGENTS, "claude"),
  TELEMUX_AGENT_CODEX: path.join(FAKE_AGENTS, "codex"),
  TELEMUX_AGENT_GEMINI: path.join(FAKE_AGENTS, "gemini"),
  FAKE_AGENT_REQUIRE_CONVERSATION: "1"
}
