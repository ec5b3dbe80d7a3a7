import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FileProjects from "../layers/FileProjects.js"
import { ROADMAP_MAX_BYTES } from "../services/Projects.js"
import { parseRoadmap } from "../src/domain/Roadmap.js"

describe("roadmap", () => {
  it("parses the three todo states and indented descriptions", () => {
    const items = parseRoadmap([
      "# Roadmap",
      "",
      "- [ ] first-thing",
      "  Does the first thing",
      "  over two lines.",
      "- [.] ready-one",
      "- [>] doing-now",
      "    In progress.",
      "Some prose ends a description.",
      "  not a description",
      "- [x] done-is-not-a-todo"
    ].join("\n"))
    assert.deepStrictEqual(items, [
      { slug: "first-thing", state: "pending", description: "Does the first thing over two lines." },
      { slug: "ready-one", state: "ready", description: "" },
      { slug: "doing-now", state: "in_progress", description: "In progress." }
    ])
  })

  it.effect("lists trusted dirs as projects with todos and their document flags", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-proj-"))
      fs.mkdirSync(path.join(dir, "todos", "alpha"), { recursive: true })
      fs.writeFileSync(path.join(dir, "todos", "roadmap.md"), "- [ ] alpha\n  The alpha.\n- [>] beta\n")
      fs.writeFileSync(path.join(dir, "todos", "alpha", "requirements.md"), "r")
      fs.writeFileSync(path.join(dir, "README.md"), "# Title\n\nA project for tests.\n")
      const empty = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-proj-empty-"))
      const projects = yield* (yield* FileProjects.make([dir, empty])).list
      assert.strictEqual(projects.length, 2)
      assert.strictEqual(projects[0]!.description, "A project for tests.")
      assert.deepStrictEqual(
        projects[0]!.todos.map((t) => [t.slug, t.state, t.hasRequirements, t.hasImplementationPlan]),
        [
          ["alpha", "pending", true, false],
          ["beta", "in_progress", false, false]
        ]
      )
      assert.deepStrictEqual(projects[1]!.todos, [])
      fs.rmSync(dir, { recursive: true })
      fs.rmSync(empty, { recursive: true })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("reads a roadmap only up to its size bound", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-proj-big-"))
      fs.mkdirSync(path.join(dir, "todos"))
      const description = "d".repeat(1000)
      const entry = (n: number) => `- [ ] item-${String(n).padStart(4, "0")}\n  ${description}\n`
      const size = entry(0).length
      const count = Math.ceil(ROADMAP_MAX_BYTES / size) + 10
      fs.writeFileSync(
        path.join(dir, "todos", "roadmap.md"),
        Array.from({ length: count }, (_, n) => entry(n)).join("")
      )
      const [project] = yield* (yield* FileProjects.make([dir])).list
      const whole = Math.floor(ROADMAP_MAX_BYTES / size)
      // the entry at the bound is read with the part of its description before it
      assert.strictEqual(project!.todos.length, whole + 1)
      assert.strictEqual(
        project!.todos[whole]!.description,
        description.slice(0, ROADMAP_MAX_BYTES % size - "- [ ] item-0000\n  ".length)
      )
      fs.rmSync(dir, { recursive: true })
    }).pipe(Effect.provide(NodeContext.layer)))
})
