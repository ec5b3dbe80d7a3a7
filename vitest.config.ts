import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { defineConfig } from "vitest/config"

/**
 * Tests start tmux servers whose shells would read the developer's ~/.bashrc and ~/.tmux.conf:
 * slow or broken shell start-up (a stale pyenv lock, say) must not decide whether tests pass.
 */
const testHome = path.join(os.tmpdir(), "telemux-test-home")
fs.mkdirSync(testHome, { recursive: true })

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    env: { HOME: testHome },
    // Under CI a JSON report is written too, so .ci/run can print a plain "N passed, N failed" line.
    reporters: process.env.CI ? ["default", "json"] : ["default"],
    outputFile: { json: ".ci/results.json" },
    globalSetup: ["test/support/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // Two cores: integration files share the machine's tmux and disk; run a few at a time.
    maxWorkers: 2,
    minWorkers: 1
  }
})
