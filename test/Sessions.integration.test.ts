import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Schedule } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as GitWorktrees from "../layers/GitWorktrees.js"
import * as IndexedCache from "../layers/IndexedCache.js"
import * as SessionsLive from "../layers/SessionsLive.js"
import * as SqliteSessionStore from "../layers/SqliteSessionStore.js"
import * as ConfigLive from "../layers/TelemuxConfigLive.js"
import * as TmuxBridge from "../layers/TmuxBridge.js"
import { Sessions } from "../services/Sessions.js"
import { SessionStore } from "../services/SessionStore.js"
import { TerminalBridge } from "../services/TerminalBridge.js"
import type { SessionId } from "../src/domain/Session.js"

interface World {
  readonly dir: string
  readonly socket: string
  readonly db: string
}

const makeWorld = (): World => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-sess-int-"))
  return {
    dir,
    socket: `telemux-it-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
    db: path.join(dir, "telemux.db")
  }
}

/** Sessions on real tmux (private socket) and a real SQLite file; a fresh daemon-like graph per call. */
const daemonLayer = (world: World) =>
  SessionsLive.layer.pipe(
    Layer.provide(GitWorktrees.layer),
    Layer.provideMerge(Layer.mergeAll(
      IndexedCache.layer,
      SqliteSessionStore.layerFile(world.db),
      TmuxBridge.layer({ socket: world.socket }),
      ConfigLive.layerFromRecord({ TELEMUX_COMPUTER: "itest", TELEMUX_HOME: world.dir })
    )),
    Layer.provide(NodeContext.layer)
  )

const cleanup = (world: World) =>
  Effect.addFinalizer(() =>
    Effect.sync(() => {
      try {
        execFileSync("tmux", ["-L", world.socket, "kill-server"], { stdio: "ignore" })
      } catch {
        // already gone
      }
      fs.rmSync(world.dir, { recursive: true, force: true })
    })
  )

/** Waits (bounded) until the pane's foreground command is `command`. */
const waitForCommand = (id: SessionId, command: string) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const bridge = yield* TerminalBridge
    const session = yield* sessions.get(id)
    const panes = yield* bridge.listPanes
    const pane = panes.find((p) => p.paneId === session.paneId)
    if (pane?.currentCommand !== command) {
      return yield* Effect.fail(`pane runs ${pane?.currentCommand}, waiting for ${command}`)
    }
  }).pipe(Effect.retry({ schedule: Schedule.spaced(Duration.millis(50)), times: 100 }))

const waitForFile = (file: string, expectedLength: number) =>
  Effect.sync(() => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "")).pipe(
    Effect.filterOrFail((text) => text.length >= expectedLength, () => "file not complete yet"),
    Effect.retry({ schedule: Schedule.spaced(Duration.millis(100)), times: 100 })
  )

/** Text that a shell or tmux would mangle if it were not passed literally. */
const trickyText = (): string => {
  const lines = [
    "-n leading dash, like an option",
    `quotes: 'single' "double" \`back\``,
    "dollars: $HOME ${PATH} $(whoami) $((1+1))",
    "tmux syntax: #{pane_id} ; \\; ~ %1",
    "backslash \\n and unicode: héllo ✓ 日本"
  ]
  // 50 KB more, in lines short enough for the tty's canonical-mode line limit (4095 bytes)
  let i = 0
  while (lines.join("\n").length < 52_000) lines.push(`line ${i++} ${"x".repeat(90)}`)
  return lines.join("\n")
}

describe("Sessions on real tmux and SQLite", () => {
  it.scopedLive(
    "input arrives literally (quotes, $, leading -, 50 KB) into a pane left in copy-mode; keys; capture; close",
    () =>
      Effect.gen(function*() {
        const world = makeWorld()
        yield* cleanup(world)
        const project = path.join(world.dir, "project")
        fs.mkdirSync(project)
        yield* Effect.gen(function*() {
          const sessions = yield* Sessions
          const session = yield* sessions.create({ projectDir: project, title: "it" })
          yield* waitForCommand(session.sessionId, "bash").pipe(Effect.orElse(() => Effect.void))

          const out = path.join(project, "out.txt")
          yield* sessions.sendText(session.sessionId, "cat > out.txt", true)
          yield* waitForCommand(session.sessionId, "cat")
          execFileSync("tmux", ["-L", world.socket, "copy-mode", "-t", session.paneId!])
          const text = trickyText()
          yield* sessions.sendText(session.sessionId, text, true)
          yield* sessions.sendKeys(session.sessionId, [{ key: "C-d", repeat: 1 }])
          const written = yield* waitForFile(out, text.length + 1)
          assert.strictEqual(written, text + "\n")

          yield* sessions.sendText(session.sessionId, "sleep 100", true)
          yield* waitForCommand(session.sessionId, "sleep")
          yield* sessions.sendKeys(session.sessionId, [{ key: "C-c", repeat: 1 }])
          yield* waitForCommand(session.sessionId, "bash")

          yield* sessions.sendText(session.sessionId, "echo captured-$((40+2))", true)
          const screen = yield* sessions.capture(session.sessionId, 50).pipe(
            Effect.filterOrFail((s) => s.includes("captured-42"), () => "not on screen yet"),
            Effect.retry({ schedule: Schedule.spaced(Duration.millis(50)), times: 100 })
          )
          assert.include(screen, "echo captured-$((40+2))")

          const updated = yield* sessions.get(session.sessionId)
          assert.strictEqual(updated.lastInput, "echo captured-$((40+2))")

          const closed = yield* sessions.close(session.sessionId, "user")
          assert.strictEqual(closed.closeReason, "user")
          const panes = yield* (yield* TerminalBridge).listPanes
          assert.isFalse(panes.some((p) => p.sessionName === session.tmuxName))
          const row = yield* (yield* SessionStore).getSession(session.sessionId)
          assert.strictEqual(Option.getOrThrow(row).status, "closed")
        }).pipe(Effect.provide(daemonLayer(world)))
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "a restarted daemon adopts live sessions and closes the one killed from outside as tmux_gone",
    () =>
      Effect.gen(function*() {
        const world = makeWorld()
        yield* cleanup(world)
        const [kept, killed] = yield* Effect.gen(function*() {
          const sessions = yield* Sessions
          return [yield* sessions.create({ projectDir: world.dir }), yield* sessions.create({ projectDir: world.dir })]
        }).pipe(Effect.provide(daemonLayer(world)))

        // the first "daemon" is gone; its tmux sessions are not. One is killed meanwhile.
        execFileSync("tmux", ["-L", world.socket, "kill-session", "-t", `=${killed.tmuxName}`])

        yield* Effect.gen(function*() {
          const sessions = yield* Sessions
          assert.strictEqual((yield* sessions.list({})).length, 2)
          const report = yield* sessions.reconcile
          assert.deepStrictEqual(report.closed, [killed.sessionId])
          assert.deepStrictEqual((yield* sessions.list({})).map((s) => s.sessionId), [kept.sessionId])
          assert.strictEqual((yield* sessions.get(killed.sessionId)).closeReason, "tmux_gone")
          yield* sessions.sendText(kept.sessionId, "echo still-$((2*3))", true)
          yield* sessions.capture(kept.sessionId, 10).pipe(
            Effect.filterOrFail((s) => s.includes("still-6"), () => "not on screen yet"),
            Effect.retry({ schedule: Schedule.spaced(Duration.millis(50)), times: 100 })
          )
        }).pipe(Effect.provide(daemonLayer(world)))
      }),
    { timeout: 60_000 }
  )
})
