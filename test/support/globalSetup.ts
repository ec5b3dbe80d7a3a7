import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { CHROMIUM, CHROMIUM_INSTALL } from "./browser.js"

/** Fails the whole run, with the fix, when a tool the integration tests need is missing. */
export default function setup() {
  const need = (bin: string, args: ReadonlyArray<string>, install: string) => {
    try {
      execFileSync(bin, args, { stdio: "ignore", timeout: 5000 })
    } catch {
      throw new Error(`${bin} is required by the integration tests and was not found: ${install}`)
    }
  }
  need("tmux", ["-V"], "install it with `apt-get install -y tmux` (3.2 or newer), or run `bash .ci/run`")
  // Debian's `prometheus` package provides both: promtool checks /metrics, prometheus scrapes it.
  need("promtool", ["--version"], "install it with `apt-get install -y prometheus`, or run `bash .ci/run`")
  need("prometheus", ["--version"], "install it with `apt-get install -y prometheus`, or run `bash .ci/run`")
  // the web dashboard's browser tests (playwright-core drives the system's Chromium)
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK)
  } catch {
    throw new Error(
      `Chromium (${CHROMIUM}) is required by the web dashboard's browser tests and was not found: ${CHROMIUM_INSTALL}`
    )
  }
}
