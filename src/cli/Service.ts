/**
 * `telemux service install|uninstall|status`: the daemon as a user service that starts at login
 * and again after a failure — a systemd user unit on Linux, a launchd agent on macOS (ServiceFiles.ts
 * says what is in them). Install is idempotent (the same file twice is left as it is), uninstall
 * removes only a file install wrote, and neither touches the sessions: they live in tmux.
 * Where the service manager cannot be reached (no user session bus: a container, an ssh session
 * without lingering), the file is still written and the commands to run are printed.
 */
import { Command, Options } from "@effect/cli"
import * as PlatformCommand from "@effect/platform/Command"
import { Console, Data, Duration, Effect, Option } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { runBounded } from "../../layers/Subprocess.js"
import { CliEnvironment } from "./CliEnvironment.js"
import { LocalFailure, RequestRefused } from "./CliError.js"
import { rootCommand } from "./Root.js"
import {
  LAUNCHD_LABEL,
  launchdPlist,
  serviceEnvironment,
  servicePath,
  type ServicePlatform,
  type ServiceSpec,
  SYSTEMD_UNIT,
  systemdUnit,
  unwritable,
  WRITTEN_BY
} from "./ServiceFiles.js"

export const MANAGER_TIMEOUT = Duration.seconds(10)

class ManagerTimeout extends Data.TaggedError("ManagerTimeout")<{}> {}

interface ManagerAnswer {
  readonly ok: boolean
  readonly output: string
}

/** systemctl / launchctl, bounded; a manager that cannot be started or reached answers not ok. */
const manager = (command: string, ...args: ReadonlyArray<string>) =>
  runBounded(PlatformCommand.make(command, ...args), {
    timeout: MANAGER_TIMEOUT,
    killGrace: Duration.millis(500),
    onTimeout: () => new ManagerTimeout()
  }).pipe(
    Effect.map((result): ManagerAnswer => ({
      ok: result.exitCode === 0,
      output: `${result.stdout}${result.stderr}`.trim()
    })),
    Effect.catchAll((error) =>
      Effect.succeed<ManagerAnswer>({
        ok: false,
        output: error._tag === "ManagerTimeout" ? `${command} did not answer within 10 s` : String(error.message)
      })
    )
  )

const systemctl = (...args: ReadonlyArray<string>) => manager("systemctl", "--user", ...args)
const launchDomain = () => `gui/${process.getuid?.() ?? 0}`

const unreachable = (answer: ManagerAnswer) =>
  /bus|XDG_RUNTIME_DIR|not found|ENOENT|No medium|did not answer|Operation not permitted/i.test(answer.output)

const managerOption = Options.choice("manager", ["systemd", "launchd"] as const).pipe(
  Options.withDescription("the service manager (default: systemd on Linux, launchd on macOS)"),
  Options.optional
)

interface Target {
  readonly platform: ServicePlatform
  readonly file: string
  readonly home: string
}

const targetOf = (chosen: Option.Option<ServicePlatform>) =>
  Effect.gen(function*() {
    const { env } = yield* CliEnvironment
    const platform = Option.getOrUndefined(chosen) ??
      (process.platform === "darwin" ? "launchd" : process.platform === "linux" ? "systemd" : undefined)
    if (platform === undefined) {
      return yield* new RequestRefused({
        detail: `no service manager telemux knows on ${process.platform}: run \`telemux daemon\` from your own startup`
      })
    }
    const home = env.HOME ?? os.homedir()
    return { platform, file: servicePath(platform, home, env), home } satisfies Target
  })

const readIfThere = (file: string) =>
  Effect.tryPromise({ try: () => fs.readFile(file, "utf8"), catch: (e) => e }).pipe(
    Effect.map(Option.some),
    Effect.catchAll((e) =>
      (e as NodeJS.ErrnoException).code === "ENOENT"
        ? Effect.succeed(Option.none<string>())
        : Effect.fail(new LocalFailure({ detail: `cannot read ${file}: ${String(e)}` }))
    )
  )

const notOurs = (file: string) =>
  new RequestRefused({
    detail: `${file} exists and was not written by \`telemux service install\`: it is left alone — move it away first`
  })

const content = (target: Target) =>
  Effect.gen(function*() {
    const { env } = yield* CliEnvironment
    const { config } = yield* rootCommand
    const main = fileURLToPath(new URL("./main.js", import.meta.url))
    yield* Effect.tryPromise({ try: () => fs.access(main), catch: () => undefined }).pipe(
      Effect.mapError(() =>
        new LocalFailure({ detail: `the daemon is not built at ${main}: run \`npm run build\` first` })
      )
    )
    const configFile = Option.getOrUndefined(config) ?? env.TELEMUX_CONFIG
    const spec: ServiceSpec = {
      node: process.execPath,
      main,
      configFile: configFile === undefined || configFile === "" ? undefined : path.resolve(configFile),
      environment: serviceEnvironment(env)
    }
    const bad = unwritable(spec)
    if (bad.length > 0) {
      return yield* new RequestRefused({ detail: `a service cannot carry a line break in ${bad.join(", ")}` })
    }
    return target.platform === "systemd"
      ? systemdUnit(spec)
      : launchdPlist(spec, path.join(target.home, "Library", "Logs", "telemux.log"))
  })

const writePrivate = (file: string, text: string) =>
  Effect.tryPromise({
    try: async () => {
      await fs.mkdir(path.dirname(file), { recursive: true })
      const temporary = `${file}.${process.pid}.tmp`
      // 0600: it may hold secrets (TELEMUX_FLEET_SECRET, TELEMUX_NOTIFY_SECRET)
      await fs.writeFile(temporary, text, { mode: 0o600 })
      await fs.rename(temporary, file)
    },
    catch: (e) => new LocalFailure({ detail: `cannot write ${file}: ${String(e)}` })
  })

const by = (answer: ManagerAnswer, done: string, todo: string) =>
  answer.ok
    ? Console.log(done)
    : Console.log(
      unreachable(answer)
        ? `the service manager is not reachable here (${
          answer.output.split("\n")[0]
        }); in your login session run: ${todo}`
        : `${todo} failed: ${answer.output}`
    )

const install = Command.make("install", { manager: managerOption }, ({ manager: chosen }) =>
  Effect.gen(function*() {
    const target = yield* targetOf(chosen)
    const wanted = yield* content(target)
    const existing = yield* readIfThere(target.file)
    if (Option.isSome(existing) && !existing.value.includes(WRITTEN_BY)) return yield* notOurs(target.file)
    const changed = Option.isNone(existing) || existing.value !== wanted
    if (changed) yield* writePrivate(target.file, wanted)
    yield* Console.log(`${changed ? "wrote" : "unchanged"} ${target.file}`)
    if (target.platform === "systemd") {
      const reload = yield* systemctl("daemon-reload")
      // a changed unit restarts a running daemon (only the daemon: the sessions stay in tmux)
      const start = reload.ok
        ? yield* Effect.zipRight(
          changed ? systemctl("try-restart", SYSTEMD_UNIT) : Effect.void,
          systemctl("enable", "--now", SYSTEMD_UNIT)
        )
        : reload
      yield* by(
        start,
        `enabled and started ${SYSTEMD_UNIT}; logs: journalctl --user -u telemux -f; ` +
          "`loginctl enable-linger $USER` keeps it running after you log out",
        `systemctl --user daemon-reload && systemctl --user enable --now ${SYSTEMD_UNIT}`
      )
    } else {
      if (changed) yield* manager("launchctl", "bootout", `${launchDomain()}/${LAUNCHD_LABEL}`)
      const loaded = yield* manager("launchctl", "print", `${launchDomain()}/${LAUNCHD_LABEL}`)
      const start = loaded.ok ? loaded : yield* manager("launchctl", "bootstrap", launchDomain(), target.file)
      yield* by(
        start,
        `loaded ${LAUNCHD_LABEL}; logs: ${path.join(target.home, "Library", "Logs", "telemux.log")}`,
        `launchctl bootstrap ${launchDomain()} ${target.file}`
      )
    }
  })).pipe(Command.withDescription("run the daemon as a user service (systemd or launchd), restarted on failure"))

const uninstall = Command.make(
  "uninstall",
  { manager: managerOption },
  ({ manager: chosen }) =>
    Effect.gen(function*() {
      const target = yield* targetOf(chosen)
      const existing = yield* readIfThere(target.file)
      if (Option.isNone(existing)) return yield* Console.log(`not installed (no ${target.file}); nothing to do`)
      if (!existing.value.includes(WRITTEN_BY)) return yield* notOurs(target.file)
      const stop = target.platform === "systemd"
        ? yield* systemctl("disable", "--now", SYSTEMD_UNIT)
        : yield* manager("launchctl", "bootout", `${launchDomain()}/${LAUNCHD_LABEL}`)
      yield* Effect.tryPromise({
        try: () => fs.rm(target.file),
        catch: (e) => new LocalFailure({ detail: `cannot remove ${target.file}: ${String(e)}` })
      })
      if (target.platform === "systemd" && stop.ok) yield* systemctl("daemon-reload")
      yield* Console.log(`removed ${target.file}`)
      yield* by(
        stop,
        "stopped the service; the sessions keep running in tmux (`telemux daemon` finds them again)",
        target.platform === "systemd"
          ? `systemctl --user disable --now ${SYSTEMD_UNIT}`
          : `launchctl bootout ${launchDomain()}/${LAUNCHD_LABEL}`
      )
    })
).pipe(Command.withDescription("stop the user service and remove the file `service install` wrote"))

const status = Command.make("status", { manager: managerOption }, ({ manager: chosen }) =>
  Effect.gen(function*() {
    const target = yield* targetOf(chosen)
    const existing = yield* readIfThere(target.file)
    if (Option.isNone(existing)) {
      yield* Console.log(`not installed (no ${target.file}); \`telemux service install\` sets it up`)
    } else if (!existing.value.includes(WRITTEN_BY)) {
      yield* Console.log(`${target.file} exists but was not written by telemux`)
    } else {
      const current = existing.value === (yield* content(target))
      yield* Console.log(
        `installed: ${target.file}` +
          (current ? "" : " (differs from what install writes now: run `telemux service install` again)")
      )
    }
    if (target.platform === "systemd") {
      const answer = yield* systemctl("is-active", SYSTEMD_UNIT)
      const state = answer.output.split("\n")[0] ?? ""
      yield* Console.log(
        /^(active|inactive|failed|activating|deactivating|reloading)$/.test(state)
          ? `service: ${state}`
          : `service: unknown — systemctl --user is not reachable here (${state})`
      )
    } else {
      const answer = yield* manager("launchctl", "print", `${launchDomain()}/${LAUNCHD_LABEL}`)
      const state = /state = (\w+)/.exec(answer.output)?.[1]
      yield* Console.log(
        answer.ok
          ? `service: loaded${state === undefined ? "" : `, ${state}`}`
          : unreachable(answer)
          ? `service: unknown — launchctl is not reachable here (${answer.output.split("\n")[0]})`
          : "service: not loaded"
      )
    }
  })).pipe(Command.withDescription("whether the user service is installed, and its state"))

export const service = Command.make("service").pipe(
  Command.withDescription("the daemon as a user service: install, uninstall, status"),
  Command.withSubcommands([install, uninstall, status])
)
