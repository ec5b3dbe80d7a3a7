import { Command, FileSystem, HttpClient } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as path from "node:path"
import { ERROR_MEANINGS, errorNamesOf } from "../src/api/ErrorResponses.js"
import { NAMED_KEYS } from "../src/domain/Keys.js"
import { withApi } from "./support/apiInProcess.js"

const REPO = path.resolve(import.meta.dirname, "..")

/** The document exactly as the daemon serves it. */
const servedDocument = withApi(() =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.get("/openapi.json")
    assert.strictEqual(response.status, 200)
    return yield* response.text
  })
)

const text = (stream: Stream.Stream<Uint8Array, unknown>) => stream.pipe(Stream.decodeText(), Stream.mkString)

/** `npx redocly lint` with the repo's redocly.yaml: exit code, and the JSON report on stdout. */
const redoclyLint = (file: string) =>
  Effect.scoped(Effect.gen(function*() {
    const lint = Command.make(
      "npx",
      "--no",
      "redocly",
      "lint",
      file,
      "--config",
      path.join(REPO, "redocly.yaml"),
      "--format",
      "json"
    ).pipe(
      Command.workingDirectory(REPO),
      Command.env({ REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" })
    )
    const process = yield* Command.start(lint)
    const [stdout, stderr, exitCode] = yield* Effect.all(
      [text(process.stdout), text(process.stderr), process.exitCode],
      {
        concurrency: "unbounded"
      }
    )
    return { stdout, stderr, exitCode }
  }))

type Parameter = { readonly name: string; readonly in: string; readonly schema: any }
type Operation = {
  readonly summary?: string
  readonly parameters: ReadonlyArray<Parameter>
  readonly responses: Record<string, any>
}

const operationsOf = (doc: any): ReadonlyArray<readonly [string, Operation]> =>
  Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([p, item]) =>
    Object.entries(item).map(([method, op]) => [`${method.toUpperCase()} ${p}`, op] as const)
  )

describe("OpenAPI document", () => {
  it.live("is redocly-lint clean (recommended-strict)", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "telemux-openapi-" })
      const file = path.join(dir, "openapi.json")
      yield* fs.writeFileString(file, yield* servedDocument)
      const lint = yield* redoclyLint(file)
      const report = JSON.parse(lint.stdout) as {
        totals: { errors: number; warnings: number; ignored: number }
        problems: ReadonlyArray<{ ruleId: string; message: string }>
      }
      console.log(
        `redocly lint: exit ${lint.exitCode}, ${report.totals.errors} errors, ${report.totals.warnings} warnings, ${report.totals.ignored} ignored`
      )
      const problems = report.problems.map((p) => `${p.ruleId}: ${p.message}`).join("\n")
      assert.strictEqual(lint.exitCode, 0, `${problems}\n${lint.stderr}`)
      assert.strictEqual(report.totals.errors, 0, problems)
      assert.strictEqual(report.totals.warnings, 0, problems)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)), { timeout: 60_000 })

  it.live("declares the query parameters, the key names, a summary per operation and what each error means", () =>
    Effect.gen(function*() {
      const doc = JSON.parse(yield* servedDocument)
      const operations = new Map(operationsOf(doc))
      const query = (operation: string) =>
        new Map(
          (operations.get(operation)?.parameters ?? []).filter((p) => p.in === "query").map((p) => [p.name, p.schema])
        )

      const list = query("GET /v1/sessions")
      assert.deepStrictEqual([...list.keys()].sort(), ["computer", "limit", "status"])
      assert.includeMembers(list.get("status").enum, ["running", "idle", "closed", "all"])
      assert.deepInclude(list.get("limit"), { type: "integer", minimum: 1 })
      assert.isString(list.get("computer").pattern)
      const output = query("GET /v1/sessions/{id}/output")
      assert.deepStrictEqual([...output.keys()], ["lines"])
      assert.deepInclude(output.get("lines"), { type: "integer", minimum: 0 })
      assert.isNumber(output.get("lines").default)

      // every key name: the named ones as an enum, Ctrl+letter as a pattern that admits exactly a-z
      const keyName = doc.components.schemas.KeyName
      const named = keyName.anyOf.find((s: any) => Array.isArray(s.enum))
      assert.deepStrictEqual(named.enum, [...NAMED_KEYS])
      const ctrl = new RegExp(keyName.anyOf.find((s: any) => typeof s.pattern === "string").pattern)
      const letters = "abcdefghijklmnopqrstuvwxyz".split("")
      assert.isTrue(letters.every((c) => ctrl.test(`C-${c}`)))
      assert.isFalse(["C-A", "C-1", "C-", "C-ab", "M-a", "C-a\n"].some((k) => ctrl.test(k)))

      for (const [name, op] of operations) {
        assert.isAbove((op.summary ?? "").length, 0, `${name} has no summary`)
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue
          const errors = errorNamesOf(response.content?.["application/json"]?.schema)
          assert.isAbove(errors.length, 0, `${name} ${status}`)
          for (const error of errors) {
            assert.property(ERROR_MEANINGS, error, `${name} ${status}: ${error} has no meaning`)
          }
        }
      }
      assert.isTrue(operationsOf(doc).length >= 13)
    }))
})
