import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { setupCommands } from "../layers/WorktreeSetup.js"
import { branchNameProblem, derivedBranchName, slugOfTitle, worktreeDirOf } from "../src/git/BranchName.js"
import {
  cutAtLine,
  parseMergeTree,
  parseNameStatus,
  parseNumstat,
  parseWorktreeList,
  tailOf
} from "../src/git/GitOutput.js"

const NAMES = [
  "main",
  "feature/x",
  "telemux/fix-login-0b6f4d6e",
  "a.b",
  "v1.2.3",
  "-dash",
  "has space",
  "tab\tname",
  "a..b",
  "a~1",
  "a^",
  "a:b",
  "a?",
  "a*",
  "a[b",
  "a\\b",
  "a@{1}",
  "a/",
  "/a",
  "a//b",
  "a.",
  ".hidden",
  "x/.hidden",
  "x.lock",
  "x/y.lock/z",
  "a@b",
  "ünïcödé",
  "x/y/z",
  "a\u007fb"
]

describe("branch names", () => {
  it("judges names as git check-ref-format --branch does", () => {
    for (const name of NAMES) {
      const git = spawnSync("git", ["check-ref-format", "--branch", name], { encoding: "utf8" })
      assert.strictEqual(
        branchNameProblem(name) === null,
        git.status === 0,
        `${JSON.stringify(name)}: git says ${git.status}`
      )
    }
  })

  it("refuses the empty name, HEAD and a name past the bound, saying why", () => {
    assert.match(branchNameProblem("") ?? "", /empty/)
    assert.match(branchNameProblem("HEAD") ?? "", /reserved/)
    // `git check-ref-format --branch @` reads `@` as HEAD's branch; as a new name it is refused.
    assert.match(branchNameProblem("@") ?? "", /reserved/)
    assert.match(branchNameProblem("x".repeat(201)) ?? "", /longer than 200/)
    assert.match(branchNameProblem("a b") ?? "", /" "/)
  })

  it("derives telemux/<slug>-<8 of the id> from a title", () => {
    assert.strictEqual(slugOfTitle("Fix the LOGIN page!"), "fix-the-login-page")
    assert.strictEqual(slugOfTitle("Crème brûlée"), "creme-brulee")
    assert.strictEqual(slugOfTitle("!!!"), "session")
    assert.isAtMost(slugOfTitle("word ".repeat(40)).length, 40)
    assert.isFalse(slugOfTitle("word ".repeat(40)).endsWith("-"))
    const name = derivedBranchName("Fix login", "0B6F4D6E-7a3c-4c8e-9f1a-2d3b4c5d6e7f")
    assert.strictEqual(name, "telemux/fix-login-0b6f4d6e")
    assert.isNull(branchNameProblem(name))
  })

  it("places a worktree at <root>/<repo>-<8 hex>/<branch with - for />", () => {
    const dir = worktreeDirOf("/r", "/home/u/proj", "telemux/a-b")
    assert.match(dir, /^\/r\/proj-[0-9a-f]{8}\/telemux-a-b$/)
    assert.notStrictEqual(worktreeDirOf("/r", "/other/proj", "x"), worktreeDirOf("/r", "/home/u/proj", "x"))
  })
})

describe("git -z output", () => {
  it("reads git worktree list --porcelain -z", () => {
    const out = "worktree /repo\0HEAD abc\0branch refs/heads/main\0\0" +
      "worktree /wt/x\0HEAD def\0detached\0locked reason\0\0" +
      "worktree /wt/y\0HEAD 123\0branch refs/heads/feature/y\0prunable gitdir file points to non-existent location\0\0"
    const list = parseWorktreeList(out)
    assert.deepStrictEqual(list.map((t) => [t.path, t.branch, t.locked, t.prunable]), [
      ["/repo", "main", false, false],
      ["/wt/x", null, true, false],
      ["/wt/y", "feature/y", false, true]
    ])
  })

  it("reads --numstat -z with binary files and renames, dropping a cut record", () => {
    const out = "3\t1\ta.txt\0-\t-\timg.png\0" + "0\t0\t\0old name\0new name\0" + "5\t5\tcut-he"
    assert.deepStrictEqual(parseNumstat(out), [
      { path: "a.txt", oldPath: null, additions: 3, deletions: 1 },
      { path: "img.png", oldPath: null, additions: null, deletions: null },
      { path: "new name", oldPath: "old name", additions: 0, deletions: 0 }
    ])
  })

  it("reads --name-status -z", () => {
    const out = "M\0a.txt\0R097\0old\0new\0D\0gone\0A\0tab\tin name\0C100\0x\0y\0T\0link\0"
    assert.deepStrictEqual(parseNameStatus(out), [
      { path: "a.txt", oldPath: null, change: "modified" },
      { path: "new", oldPath: "old", change: "renamed" },
      { path: "gone", oldPath: null, change: "deleted" },
      { path: "tab\tin name", oldPath: null, change: "added" },
      { path: "y", oldPath: "x", change: "copied" },
      { path: "link", oldPath: null, change: "typechange" }
    ])
  })

  it("reads merge-tree --write-tree --name-only --no-messages -z", () => {
    assert.deepStrictEqual(parseMergeTree("a642f4f0\0f\0g\0"), { tree: "a642f4f0", conflicts: ["f", "g"] })
    assert.deepStrictEqual(parseMergeTree("a642f4f0\0"), { tree: "a642f4f0", conflicts: [] })
  })

  it("cuts a patch at its last whole line and keeps a tail of long output", () => {
    assert.strictEqual(cutAtLine("a\nb\nc"), "a\nb\n")
    assert.strictEqual(cutAtLine("abc"), "")
    assert.strictEqual(tailOf("x".repeat(10), 4), "…xxxx")
  })

  it("reads a setup file's commands: non-empty lines that are not comments", () => {
    assert.deepStrictEqual(setupCommands("# setup\n\nnpm ci\r\n  echo hi > f  \n#x\n"), ["npm ci", "echo hi > f"])
  })
})
