import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Schedule } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ControlBridge from "../layers/ControlBridge.js"
import * as GitWorktrees from "../layers/GitWorktrees.js"
import * as IndexedCache from "../layers/IndexedCache.js"
import * as SessionsLive from "../layers/SessionsLive.js"
import * as SqliteSessionStore from "../layers/SqliteSessionStore.js"
import * as ConfigLive from "../layers/TelemuxConfigLive.js"
import * as TmuxBridge from "../layers/TmuxBridge.js"
import { Sessions } from "../services/Sessions.js"
import { TerminalBridge } from "../services/TerminalBridge.js"
import { inputTextProblem } from "../src/domain/InputText.js"
import type { SessionId } from "../src/domain/Session.js"
import { scopedTmuxSocket } from "./support/tmuxSocket.js"

/**
 * Input text reaches the pane byte for byte: every control character but NUL (refused by the API),
 * escape sequences that are not paste markers, C1 characters, tmux's own syntax. The pane reads
 * with the terminal in raw mode (`stty raw -echo`: no signals, no CR→LF, no flow control) and
 * `dd` copies exactly what arrived. The two documented rewrites: CRLF is sent as one line end,
 * and tmux's paste turns each LF into CR.
 */

const ESC = "\u001b"

const allControlsButNul = () => {
  let text = ""
  for (let c = 1; c < 0x20; c++) text += String.fromCharCode(c)
  return text + "\u007f"
}

const PAYLOAD = [
  allControlsButNul(),
  "tab\there cr\rhere crlf\r\nhere lf\nhere",
  `${ESC}[A${ESC}[2~${ESC}[200x${ESC}OP${ESC}]0;t\u0007`,
  "C1 as characters: \u0080\u0085\u009b\u009c\u009f",
  `tmux and shell syntax: #{pane_id} ; \\; ~ %1 "q" 'q' $HOME \\`,
  "unicode: héllo ✓ 日本 😀"
].join("|")

/** What the pane receives for `text`: CRLF → LF (Sessions), then LF → CR (tmux's paste-buffer). */
const expectedBytes = (text: string) => Buffer.from(text.replace(/\r\n/g, "\n").replace(/\n/g, "\r"), "utf8")

type BridgeLayer = Layer.Layer<TerminalBridge, never, NodeContext.NodeContext>

const bridges: ReadonlyArray<readonly [string, (socket: string) => BridgeLayer]> = [
  ["the control channel (set-buffer, the daemon's path)", (socket) => ControlBridge.layer({ socket })],
  ["a spawned tmux (load-buffer from stdin, the fallback)", (socket) => TmuxBridge.layer({ socket })]
]

const sessionsOn = (bridge: BridgeLayer, dir: string) =>
  SessionsLive.layer.pipe(
    Layer.provide(GitWorktrees.layer),
    Layer.provideMerge(Layer.mergeAll(
      IndexedCache.layer,
      SqliteSessionStore.layerFile(path.join(dir, "telemux.db")),
      bridge,
      ConfigLive.layerFromRecord({ TELEMUX_COMPUTER: "itest", TELEMUX_HOME: dir })
    )),
    Layer.provide(NodeContext.layer)
  )

const waitForCommand = (id: SessionId, command: string) =>
  Effect.gen(function*() {
    const session = yield* (yield* Sessions).get(id)
    const pane = (yield* (yield* TerminalBridge).listPanes).find((p) => p.paneId === session.paneId)
    if (pane?.currentCommand !== command) {
      return yield* Effect.fail(`pane runs ${pane?.currentCommand}, waiting for ${command}`)
    }
  }).pipe(Effect.retry({ schedule: Schedule.spaced(Duration.millis(50)), times: 200 }))

/** The file once it holds `length` bytes; what arrived within 10 s when that does not happen. */
const waitForBytes = (file: string, length: number) =>
  Effect.sync(() => (fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0))).pipe(
    Effect.filterOrFail((bytes) => bytes.length >= length, (partial) => partial),
    Effect.retry({ schedule: Schedule.spaced(Duration.millis(50)), times: 200 }),
    Effect.catchAll((partial) => Effect.succeed(partial))
  )

describe("input text reaches the pane byte for byte (real tmux)", () => {
  it("the payload is pastable: nothing in it is refused", () => {
    assert.isUndefined(inputTextProblem(PAYLOAD))
  })

  for (const [name, bridge] of bridges) {
    it.scopedLive(`through ${name}`, () =>
      Effect.gen(function*() {
        const socket = yield* scopedTmuxSocket
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-bytes-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
        const out = path.join(dir, "received.bin")
        const text = PAYLOAD.repeat(3)
        const expected = expectedBytes(text)

        const received = yield* Effect.gen(function*() {
          const sessions = yield* Sessions
          const session = yield* sessions.create({ projectDir: dir, title: "bytes" })
          yield* waitForCommand(session.sessionId, "bash")
          yield* sessions.sendText(
            session.sessionId,
            `stty raw -echo; dd bs=1 count=${expected.length} of=${out} status=none; stty sane`,
            true
          )
          yield* waitForCommand(session.sessionId, "dd")
          yield* sessions.sendText(session.sessionId, text, false)
          return yield* waitForBytes(out, expected.length)
        }).pipe(Effect.provide(sessionsOn(bridge(socket), dir)))

        if (!received.equals(expected)) {
          const first = [...expected].findIndex((byte, i) => received[i] !== byte)
          assert.fail(
            `${received.length} of ${expected.length} bytes, first difference at byte ${first}:\n` +
              `expected ${JSON.stringify(expected.subarray(Math.max(0, first - 8), first + 8).toString("latin1"))}\n` +
              `received ${JSON.stringify(received.subarray(Math.max(0, first - 8), first + 8).toString("latin1"))}`
          )
        }
        assert.strictEqual(received.length, expected.length)
      }).pipe(Effect.provide(NodeContext.layer)), { timeout: 60_000 })
  }
})
