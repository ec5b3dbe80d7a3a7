import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, LogLevel, Option, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ConfigLive from "../layers/TelemuxConfigLive.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"

const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const load = (env: Record<string, string>, configFile?: string) =>
  TelemuxConfig.pipe(
    Effect.provide(ConfigLive.layer({ configFile }).pipe(Layer.provide(withEnv(env)), Layer.provide(NodeContext.layer)))
  )

describe("TelemuxConfig", () => {
  it.effect("defaults: loopback, port 4780, socket telemux, state under XDG_STATE_HOME", () =>
    Effect.gen(function*() {
      const config = yield* load({ XDG_STATE_HOME: "/var/state" })
      assert.strictEqual(config.host, "127.0.0.1")
      assert.strictEqual(config.port, 4780)
      assert.strictEqual(config.tmuxSocket, "telemux")
      assert.strictEqual(config.home, "/var/state/telemux")
      assert.strictEqual(config.dbPath, "/var/state/telemux/telemux.db")
      assert.strictEqual(config.tokenPath, "/var/state/telemux/token")
      assert.isTrue(config.auth)
      assert.isTrue(Option.isNone(config.redisUrl))
      assert.match(config.computer, /^[A-Za-z0-9_-]{1,64}$/)
      assert.isTrue(Duration.equals(config.inactivityTimeout, Duration.hours(72)))
      assert.deepStrictEqual(config.agentCommands, { claude: "claude", codex: "codex", gemini: "gemini" })
      assert.isTrue(Duration.equals(config.leaseTtl, Duration.seconds(15)))
    }))

  it.effect("TELEMUX_LEASE_TTL is read and clamped to [3 s, 5 min]; a value that is no duration is refused", () =>
    Effect.gen(function*() {
      assert.isTrue(Duration.equals((yield* load({ TELEMUX_LEASE_TTL: "30 seconds" })).leaseTtl, Duration.seconds(30)))
      assert.isTrue(Duration.equals((yield* load({ TELEMUX_LEASE_TTL: "10 millis" })).leaseTtl, Duration.seconds(3)))
      assert.isTrue(Duration.equals((yield* load({ TELEMUX_LEASE_TTL: "2 hours" })).leaseTtl, Duration.minutes(5)))
      const bad = yield* load({ TELEMUX_LEASE_TTL: "soon" }).pipe(Effect.flip)
      assert.strictEqual(bad._tag, "ConfigInvalid")
      assert.include(bad.message, "TELEMUX_LEASE_TTL")
    }))

  it.effect("reads the environment names of the product contract", () =>
    Effect.gen(function*() {
      const config = yield* load({
        TELEMUX_HOME: "/srv/tm",
        TELEMUX_HOST: "0.0.0.0",
        TELEMUX_PORT: "5000",
        TELEMUX_TMUX_SOCKET: "mine",
        TELEMUX_COMPUTER: "box-1",
        TELEMUX_TRUSTED_DIRS: "/a:/b/c",
        TELEMUX_LOG_LEVEL: "Debug",
        TELEMUX_REDIS_URL: "redis://127.0.0.1:6379",
        TELEMUX_FLEET_SECRET: "s3cret",
        TELEMUX_INACTIVITY_TIMEOUT: "2 hours",
        TELEMUX_POLL_INTERVAL_MIN: "1 millis",
        TELEMUX_POLL_INTERVAL_MAX: "10 minutes"
      })
      assert.strictEqual(config.home, "/srv/tm")
      assert.strictEqual(config.dbPath, "/srv/tm/telemux.db")
      assert.strictEqual(config.host, "0.0.0.0")
      assert.strictEqual(config.port, 5000)
      assert.strictEqual(config.tmuxSocket, "mine")
      assert.strictEqual(config.computer, "box-1")
      assert.deepStrictEqual(config.trustedDirs, ["/a", "/b/c"])
      assert.strictEqual(config.logLevel, LogLevel.Debug)
      assert.strictEqual(Redacted.value(Option.getOrThrow(config.redisUrl)), "redis://127.0.0.1:6379")
      assert.strictEqual(Redacted.value(Option.getOrThrow(config.fleetSecret)), "s3cret")
      assert.isTrue(Duration.equals(config.inactivityTimeout, Duration.hours(2)))
      // poll intervals are clamped into the allowed range
      assert.isTrue(Duration.equals(config.pollIntervals.min, Duration.millis(50)))
      assert.isTrue(Duration.equals(config.pollIntervals.max, Duration.seconds(30)))
      assert.isTrue(Duration.equals(config.pollIntervals.default, Duration.seconds(1)))
    }))

  it.effect("a JSON file gives values, the environment overrides them", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-config-"))
      const file = path.join(dir, "config.json")
      fs.writeFileSync(
        file,
        JSON.stringify({ port: 4999, tmuxSocket: "from-file", trustedDirs: ["/x", "/y"], computer: "filebox" })
      )
      const config = yield* load({ TELEMUX_COMPUTER: "envbox", TELEMUX_HOME: dir }, file)
      assert.strictEqual(config.port, 4999)
      assert.strictEqual(config.tmuxSocket, "from-file")
      assert.deepStrictEqual(config.trustedDirs, ["/x", "/y"])
      assert.strictEqual(config.computer, "envbox")
      const viaEnv = yield* load({ TELEMUX_CONFIG: file, TELEMUX_HOME: dir })
      assert.strictEqual(viaEnv.computer, "filebox")
      fs.rmSync(dir, { recursive: true })
    }))

  it.effect("bad values fail with a typed, readable error", () =>
    Effect.gen(function*() {
      const badPort = yield* load({ TELEMUX_PORT: "99999" }).pipe(Effect.flip)
      assert.strictEqual(badPort._tag, "ConfigInvalid")
      assert.include(badPort.message, "TELEMUX_PORT")
      const badName = yield* load({ TELEMUX_COMPUTER: "no spaces allowed" }).pipe(Effect.flip)
      assert.include(badName.message, "TELEMUX_COMPUTER")
      const openBind = yield* load({ TELEMUX_HOST: "0.0.0.0", TELEMUX_AUTH: "false" }).pipe(Effect.flip)
      assert.include(openBind.message, "without a token")
      const badLevel = yield* load({ TELEMUX_LOG_LEVEL: "loud" }).pipe(Effect.flip)
      assert.include(badLevel.message, "TELEMUX_LOG_LEVEL")
      const missingFile = yield* load({}, "/nonexistent/telemux.json").pipe(Effect.flip)
      assert.include(missingFile.message, "cannot read config file")
    }))

  it("maps env names to file keys", () => {
    assert.strictEqual(ConfigLive.fileKeyFor("TELEMUX_TMUX_SOCKET"), "tmuxSocket")
    assert.strictEqual(ConfigLive.fileKeyFor("TELEMUX_PORT"), "port")
    assert.strictEqual(ConfigLive.sanitiseComputerName("my host.example.com"), "my-host")
    assert.strictEqual(ConfigLive.parseLogLevel("Warning"), LogLevel.Warning)
    assert.strictEqual(ConfigLive.parseLogLevel("warn"), LogLevel.Warning)
    assert.strictEqual(ConfigLive.parseLogLevel("DEBUG"), LogLevel.Debug)
    assert.strictEqual(ConfigLive.parseLogLevel("off"), LogLevel.None)
    assert.isUndefined(ConfigLive.parseLogLevel("loud"))
  })
})
