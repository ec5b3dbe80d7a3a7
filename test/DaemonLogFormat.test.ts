import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Logger } from "effect"
import * as DaemonLogger from "../layers/DaemonLogger.js"

class PaneTimeout extends Data.TaggedError("PaneTimeout")<{ readonly command: string }> {
  override get message() {
    return `tmux ${this.command} did not answer`
  }
}

describe("TELEMUX_LOG_FORMAT", () => {
  it("defaults to pretty on a terminal and JSON elsewhere; takes either name in any case; refuses others", () => {
    assert.strictEqual(DaemonLogger.resolveLogFormat(undefined, true), "pretty")
    assert.strictEqual(DaemonLogger.resolveLogFormat(undefined, false), "json")
    assert.strictEqual(DaemonLogger.resolveLogFormat(" ", false), "json")
    assert.strictEqual(DaemonLogger.resolveLogFormat("JSON", true), "json")
    assert.strictEqual(DaemonLogger.resolveLogFormat("Pretty", false), "pretty")
    const bad = DaemonLogger.resolveLogFormat("logfmt", true)
    assert.strictEqual(typeof bad === "string" ? bad : bad._tag, "ConfigInvalid")
    assert.include(typeof bad === "string" ? bad : bad.message, `"logfmt" is not json or pretty`)
  })

  it.effect("pretty: time, level, message, annotations as key=value, the error's tag and message", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      yield* Effect.logWarning("capture failed", new PaneTimeout({ command: "capture-pane" })).pipe(
        Effect.annotateLogs({ sessionId: "3f2c", title: "two words" }),
        Effect.provide(
          Logger.replace(Logger.defaultLogger, DaemonLogger.makeFormatLogger("pretty", (line) => lines.push(line)))
        )
      )
      assert.strictEqual(lines.length, 1)
      assert.match(
        lines[0]!,
        /^\d\d:\d\d:\d\d\.\d{3} WARN {4}capture failed (sessionId=3f2c title="two words"|title="two words" sessionId=3f2c) error="PaneTimeout: tmux capture-pane did not answer"$/
      )
    }))
})
