/**
 * The CLI's small pure parts: session-id prefixes, tables, exit codes, key arguments, the watch
 * log of a scrolling screen, the attach command line, the daemon address.
 */
import { ValidationError } from "@effect/cli"
import { HelpDoc } from "@effect/cli"
import { Effect, Either, Exit } from "effect"
import { assert, describe, it } from "vitest"
import { attachCommand } from "../src/cli/Attach.js"
import {
  ChildExit,
  DaemonNotReady,
  DaemonUnreachable,
  OutcomeUnconfirmed,
  RemoteUnreachable,
  SessionAmbiguous,
  SessionUnknown,
  TokenRejected,
  UsageError,
  VersionMismatch
} from "../src/cli/CliError.js"
import { addressOf, connectHost } from "../src/cli/Connection.js"
import { checkRedis, checkTelegram, formatCheck } from "../src/cli/Doctor.js"
import { EXIT, exitCodeOf, exitCodeOfExit } from "../src/cli/ExitCodes.js"
import { parseKeyArg, parseKeyArgs } from "../src/cli/KeyArgs.js"
import { advance, emptyScreenLog, flush, type ScreenLog } from "../src/cli/ScreenLog.js"
import { isFullId, resolvePrefix } from "../src/cli/SessionPrefix.js"
import { formatAge, formatTable, truncate } from "../src/cli/Table.js"
import { ComputerName, SessionId, TmuxName } from "../src/domain/Session.js"
import { makeSession } from "./support/fixtures.js"

const withId = (id: string) => makeSession({ sessionId: SessionId.make(id) })

describe("session id prefixes", () => {
  const a = withId("3f2a0c1e-1111-4111-8111-111111111111")
  const b = withId("3f9b7d00-2222-4222-8222-222222222222")
  const c = withId("a0000000-3333-4333-8333-333333333333")
  const all = [a, b, c]

  it("resolves a unique prefix, a full id, a dash-less prefix, any case, and a tmux name", () => {
    assert.strictEqual(Either.getOrThrow(resolvePrefix("3f2", all)), a)
    assert.strictEqual(Either.getOrThrow(resolvePrefix("A0", all)), c)
    assert.strictEqual(Either.getOrThrow(resolvePrefix(b.sessionId, all)), b)
    assert.strictEqual(Either.getOrThrow(resolvePrefix("3f2a0c1e1111", all)), a)
    assert.strictEqual(Either.getOrThrow(resolvePrefix("3f2a0c1e-11", all)), a)
    assert.strictEqual(Either.getOrThrow(resolvePrefix("tmx_3f9b7d00", all)), b)
    assert.isTrue(isFullId(a.sessionId))
    assert.isFalse(isFullId("3f2a"))
  })

  it("an ambiguous prefix names every candidate; an unknown one or a non-hex one is unknown", () => {
    const ambiguous = resolvePrefix("3f", all)
    assert.isTrue(Either.isLeft(ambiguous))
    const error = Either.getLeft(ambiguous).pipe((o) => o._tag === "Some" ? o.value : undefined)
    assert.instanceOf(error, SessionAmbiguous)
    assert.sameMembers((error as SessionAmbiguous).candidates.map((c) => c.sessionId), [a.sessionId, b.sessionId])
    assert.include(error!.message, a.sessionId)
    assert.include(error!.message, b.sessionId)
    for (const input of ["b", "zz", "", "3f2a-x"]) {
      const result = resolvePrefix(input, all)
      assert.isTrue(Either.isLeft(result) && result.left instanceof SessionUnknown, input)
    }
  })
})

describe("tables", () => {
  it("aligns columns, flattens cells to one line, cuts long ones with …, right-aligns numbers", () => {
    const text = formatTable<{ name: string; n: number }>(
      [
        { header: "NAME", cell: (r) => r.name, max: 8 },
        { header: "N", cell: (r) => String(r.n), align: "right" }
      ],
      [{ name: "short", n: 5 }, { name: "a very long\nname", n: 123 }]
    )
    assert.deepStrictEqual(text.split("\n"), ["NAME        N", "short       5", "a very …  123"])
    assert.strictEqual(truncate("abcdef", 4), "abc…")
    assert.strictEqual(formatAge(0, 59_000), "59s")
    assert.strictEqual(formatAge(0, 3 * 3600_000), "3h")
    assert.strictEqual(formatAge(0, 50 * 3600_000), "2d")
  })
})

describe("exit codes", () => {
  it("maps each failure to its own code", () => {
    assert.strictEqual(exitCodeOf(new DaemonUnreachable({ address: "x", detail: "y" })), EXIT.unreachable)
    assert.strictEqual(exitCodeOf(new TokenRejected({ tokenPath: "t", detail: "d" })), EXIT.unauthorized)
    assert.strictEqual(exitCodeOf(new SessionUnknown({ id: "x" })), EXIT.notFound)
    assert.strictEqual(exitCodeOf(new SessionAmbiguous({ prefix: "x", candidates: [] })), EXIT.ambiguous)
    assert.strictEqual(exitCodeOf(new UsageError({ detail: "x" })), EXIT.usage)
    assert.strictEqual(exitCodeOf(new ChildExit({ code: 42 })), 42)
    // the daemon's newer answers fit the same scheme
    assert.strictEqual(exitCodeOf(new DaemonNotReady({ address: "x", state: "starting" })), EXIT.unreachable)
    assert.strictEqual(exitCodeOf(new OutcomeUnconfirmed({ detail: "x" })), EXIT.outcomeUnknown)
    assert.strictEqual(exitCodeOf(new VersionMismatch({ address: "x", detail: "y" })), EXIT.daemonFailed)
    assert.strictEqual(exitCodeOf(new RemoteUnreachable({ computer: "c", detail: "d" })), EXIT.daemonFailed)
    const codes = Object.values(EXIT)
    assert.strictEqual(new Set(codes).size, codes.length, "distinct")
  })

  it("turns a run's Exit into the process's exit code", () => {
    assert.strictEqual(exitCodeOfExit(Exit.void), 0)
    assert.strictEqual(exitCodeOfExit(Exit.fail(new SessionUnknown({ id: "x" }))), EXIT.notFound)
    assert.strictEqual(exitCodeOfExit(Exit.fail(new OutcomeUnconfirmed({ detail: "x" }))), EXIT.outcomeUnknown)
    assert.strictEqual(exitCodeOfExit(Exit.fail({ _tag: "toString" })), EXIT.failure)
    assert.strictEqual(exitCodeOfExit(Exit.fail(ValidationError.invalidArgument(HelpDoc.p("bad")))), EXIT.usage)
    assert.strictEqual(exitCodeOfExit(Exit.die(new Error("bug"))), EXIT.failure)
    // Ctrl+C / SIGTERM is how watch, daemon and tui end
    assert.strictEqual(exitCodeOfExit(Exit.interrupt(Effect.runSync(Effect.fiberId))), EXIT.ok)
  })
})

describe("key arguments", () => {
  it("accepts the API's key names and Name*N repeats; refuses others with the list of names", () => {
    assert.deepStrictEqual(Either.getOrThrow(parseKeyArg("C-c")), "C-c")
    assert.deepStrictEqual(Either.getOrThrow(parseKeyArg("BSpace*5")), { key: "BSpace", repeat: 5 })
    assert.deepStrictEqual(Either.getOrThrow(parseKeyArgs(["Escape", "Up*2"])), ["Escape", { key: "Up", repeat: 2 }])
    for (const bad of ["Bogus", "C-1", "Up*0", "Up*999"]) {
      const result = parseKeyArg(bad)
      assert.isTrue(Either.isLeft(result) && result.left._tag === "UsageError", bad)
    }
    assert.include((parseKeyArg("Bogus") as Either.Left<UsageError, never>).left.message, "Enter, Escape")
  })
})

describe("watch into a pipe: a scrolling screen as a log", () => {
  const feed = (screens: ReadonlyArray<string>) => {
    let log: ScreenLog = emptyScreenLog
    const printed: Array<string> = []
    for (const screen of screens) {
      const { next, print } = advance(log, screen)
      printed.push(...print)
      log = next
    }
    return [...printed, ...flush(log)]
  }

  it("prints each finished line once and the line being typed only when it is finished", () => {
    assert.deepStrictEqual(
      feed([
        "$ \n\n\n",
        "$ echo hi\n\n",
        "$ echo hi\nhi\n$ \n",
        "$ echo hi\nhi\n$ ls\na\nb\n$ \n"
      ]),
      ["$ echo hi", "hi", "$ ls", "a", "b", "$"]
    )
  })

  it("follows a screen that scrolled, and prints a screen that does not continue the last one whole", () => {
    assert.deepStrictEqual(feed(["1\n2\n3\n$ ", "2\n3\n4\n5\n$ "]), ["1", "2", "3", "4", "5", "$"])
    assert.deepStrictEqual(feed(["a\nb\n$ ", "x\ny\n$ "]), ["a", "b", "x", "y", "$"])
  })
})

describe("attach command line", () => {
  const session = {
    sessionId: SessionId.make("3f2a0c1e-1111-4111-8111-111111111111"),
    computer: ComputerName.make("here"),
    tmuxName: TmuxName.make("tmx_3f2a0c1e"),
    status: "idle" as const
  }
  const computers = [
    { name: ComputerName.make("far"), host: "far.example.net", user: "dev" },
    { name: ComputerName.make("anon"), host: "anon.example.net", user: "unknown" }
  ]

  it("attaches a local session with tmux on the daemon's socket, a remote one over ssh", () => {
    assert.deepStrictEqual(
      Effect.runSync(attachCommand({ session, localComputer: "here", computers, tmuxSocket: "telemux" })),
      ["tmux", "-L", "telemux", "attach-session", "-t", "=tmx_3f2a0c1e"]
    )
    assert.deepStrictEqual(
      Effect.runSync(
        attachCommand({
          session: { ...session, computer: ComputerName.make("far") },
          localComputer: "here",
          computers,
          tmuxSocket: "telemux"
        })
      ),
      ["ssh", "-t", "dev@far.example.net", "tmux", "-L", "telemux", "attach-session", "-t", "=tmx_3f2a0c1e"]
    )
    // a daemon that could not tell its user: ssh's own default
    assert.deepStrictEqual(
      Effect.runSync(
        attachCommand({
          session: { ...session, computer: ComputerName.make("anon") },
          localComputer: "here",
          computers,
          tmuxSocket: "telemux"
        })
      )[2],
      "anon.example.net"
    )
  })

  it("refuses a closed session and a computer whose host is unknown", () => {
    const closed = Effect.runSync(
      Effect.either(
        attachCommand({ session: { ...session, status: "closed" }, localComputer: "here", computers, tmuxSocket: "t" })
      )
    )
    assert.isTrue(Either.isLeft(closed) && closed.left.message.includes("closed"))
    const unknown = Effect.runSync(
      Effect.either(
        attachCommand({
          session: { ...session, computer: ComputerName.make("nowhere") },
          localComputer: "here",
          computers,
          tmuxSocket: "t"
        })
      )
    )
    assert.isTrue(Either.isLeft(unknown) && unknown.left.message.includes("nowhere"))
  })
})

describe("doctor's fleet check", () => {
  it("reads the Redis link from /health: none → skipped, up → ✓, otherwise ✗ with the attempt and error", () => {
    assert.strictEqual(checkRedis({}).status, "skipped")
    assert.strictEqual(checkRedis({ fleet: null }).status, "skipped")
    assert.strictEqual(
      formatCheck(checkRedis({ fleet: { state: "up", attempt: 0, lastError: null } })),
      "✓ Redis link is up"
    )
    assert.strictEqual(
      formatCheck(checkRedis({ fleet: { state: "connecting", attempt: 3, lastError: "ECONNREFUSED" } })),
      "✗ Redis link is connecting (attempt 3, ECONNREFUSED)"
    )
  })
})

describe("doctor's Telegram check", () => {
  it("reads the bot from /health: none → skipped, its poller → ✓, nobody served or no poller → ✗ with what to do", () => {
    assert.strictEqual(checkTelegram({}).status, "skipped")
    assert.strictEqual(
      formatCheck(checkTelegram({ telegram: { poller: "laptop", users: 2 } })),
      "✓ Telegram bot polled by laptop, serving 2 users"
    )
    const nobody = checkTelegram({ telegram: { poller: "laptop", users: 0 } })
    assert.strictEqual(nobody.status, "failed")
    assert.include(formatCheck(nobody), "TELEMUX_TELEGRAM_USERS")
    const free = checkTelegram({ telegram: { poller: null, users: 1 } })
    assert.strictEqual(free.status, "failed")
    assert.include(formatCheck(free), "polling Telegram")
  })
})

describe("daemon address", () => {
  it("reaches a wildcard bind on loopback and brackets IPv6", () => {
    assert.strictEqual(connectHost("0.0.0.0"), "127.0.0.1")
    assert.strictEqual(connectHost("::"), "[::1]")
    assert.strictEqual(connectHost("::1"), "[::1]")
    assert.strictEqual(connectHost("127.0.0.1"), "127.0.0.1")
    const address = addressOf({ host: "127.0.0.1", port: 4780, tokenPath: "/s/token" })
    assert.strictEqual(address.baseUrl, "http://127.0.0.1:4780")
    assert.strictEqual(address.streamUrl, "ws://127.0.0.1:4780/v1/stream")
  })
})
