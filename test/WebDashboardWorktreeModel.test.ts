/**
 * The dashboard's worktree model, in Node (web/app/Changes.ts): a patch typed for colour and
 * bounded, the create dialog's worktree request, the fleet's projects grouped by computer.
 */
import { assert, describe, it } from "vitest"
import { patchLines, projectGroups, projectValue, worktreeRequest } from "../web/app/Changes.js"
import type { ProjectJson } from "../web/app/Wire.js"

const project = (name: string, path: string, computer?: string): ProjectJson => ({
  name,
  path,
  description: "",
  todos: [],
  ...(computer === undefined ? {} : { computer })
})

describe("the Changes view's patch", () => {
  it("types lines as git colours them: a `--- ` line inside a hunk is removed, not a header", () => {
    const { lines, cut } = patchLines(
      "diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n same\n-old\n--- looks like a header\n+new\n"
    )
    assert.deepStrictEqual(lines.map((l) => l.kind), [
      "header",
      "header",
      "header",
      "header",
      "hunk",
      "context",
      "del",
      "del",
      "add"
    ])
    assert.isFalse(cut)
  })

  it("draws at most the bound, and says it cut", () => {
    const { lines, cut } = patchLines("+x\n".repeat(30), 10)
    assert.strictEqual(lines.length, 10)
    assert.isTrue(cut)
  })
})

describe("the create dialog's worktree", () => {
  it("off: none; a new branch with optional name and base; an existing branch needs its name", () => {
    assert.isUndefined(worktreeRequest({ enabled: false, existing: false, branch: "x", base: "y" }))
    assert.deepStrictEqual(worktreeRequest({ enabled: true, existing: false, branch: " ", base: "" }), {})
    assert.deepStrictEqual(worktreeRequest({ enabled: true, existing: false, branch: "fix", base: "dev" }), {
      branch: "fix",
      base: "dev"
    })
    assert.deepStrictEqual(worktreeRequest({ enabled: true, existing: true, branch: "feat", base: "ignored" }), {
      branch: "feat",
      existing: true
    })
    assert.include(
      worktreeRequest({ enabled: true, existing: true, branch: "", base: "" }) as string,
      "Name the existing branch"
    )
  })
})

describe("the create dialog's projects", () => {
  it("every computer's, this one first (a project naming no computer is this one's), values unique across the fleet", () => {
    const groups = projectGroups(
      [
        project("web", "/srv/web", "zeta"),
        project("app", "/work/app", "alpha"),
        project("old", "/work/old"),
        project("app", "/work/app", "beta")
      ],
      "alpha"
    )
    assert.deepStrictEqual(groups.map((g) => g.computer), ["alpha", "beta", "zeta"])
    assert.deepStrictEqual(groups[0]!.choices.map((c) => c.value), ["/work/app", "/work/old"])
    assert.deepStrictEqual(groups[1]!.choices.map((c) => c.value), ["beta:/work/app"])
    assert.strictEqual(projectValue("alpha", "/p", "alpha"), "/p")
  })
})
