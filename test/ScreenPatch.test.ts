import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import {
  applySplices,
  diffLines,
  PATCH_DISTANCE_MAX,
  screenLines,
  withoutTrailingBlank
} from "../src/domain/ScreenPatch.js"
import { trimTrailingBlankLines } from "../src/tmux/Commands.js"

const screenOf = (lines: ReadonlyArray<string>) => lines.join("\n")

/** Screens as a terminal makes them: a few distinct lines, often repeated (blank rows, prompts). */
const line = fc.oneof(fc.constantFrom("", "$ ", "ok", "error: x"), fc.string({ maxLength: 6 }))
const lines = fc.array(line, { maxLength: 40 })

describe("ScreenPatch", () => {
  it("applying the diff of any two screens gives the second exactly", () =>
    fc.assert(
      fc.property(lines, lines, (before, after) => {
        const patched = applySplices(before, diffLines(before, after))
        assert.deepStrictEqual(patched, [...after])
      }),
      { numRuns: 2000 }
    ))

  it("any splices, in order or not, apply as one splice after another does (or not at all, alike)", () => {
    const splice = fc.record({
      at: fc.integer({ min: -1, max: 12 }),
      remove: fc.integer({ min: -1, max: 4 }),
      insert: fc.array(line, { maxLength: 3 })
    })
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.array(splice, { maxLength: 4 }), (before, splices) => {
        let expected: Array<string> | undefined = [...before]
        for (const { at, insert, remove } of splices) {
          if (at < 0 || remove < 0 || at + remove > expected.length) {
            expected = undefined
            break
          }
          expected.splice(at, remove, ...insert)
        }
        const applied = applySplices(before, splices)
        assert.deepStrictEqual(applied, expected)
        if (applied !== undefined) assert.strictEqual(Object.keys(applied).length, applied.length, "no holes")
      }),
      { numRuns: 5000 }
    )
  })

  it("equal screens give no splices; an edit in place gives one splice with only that line", () => {
    const screen = ["$ ls", "a b c", "$ "]
    assert.deepStrictEqual(diffLines(screen, [...screen]), [])
    assert.deepStrictEqual(diffLines(screen, ["$ ls", "a b c", "$ echo hi"]), [{
      at: 2,
      remove: 1,
      insert: ["$ echo hi"]
    }])
  })

  it("a terminal that scrolled up by two: two splices, none carrying a line the client has", () => {
    const before = Array.from({ length: 24 }, (_, i) => `line ${i}`)
    const after = [...before.slice(2), "line 24", "line 25"]
    const splices = diffLines(before, after)
    assert.deepStrictEqual(splices, [{ at: 0, remove: 2, insert: [] }, {
      at: 22,
      remove: 0,
      insert: ["line 24", "line 25"]
    }])
    assert.deepStrictEqual(applySplices(before, splices), after)
  })

  it("scrolled by one while the last line (the prompt) changed: the kept lines are not sent again", () => {
    const before = [...Array.from({ length: 23 }, (_, i) => `t${i}`), "$ t23"]
    const after = [...Array.from({ length: 23 }, (_, i) => `t${i + 1}`), "$ t24"]
    after[22] = "t23"
    const splices = diffLines(before, after)
    assert.deepStrictEqual(splices, [{ at: 0, remove: 1, insert: [] }, { at: 22, remove: 1, insert: ["t23", "$ t24"] }])
    assert.deepStrictEqual(applySplices(before, splices), after)
  })

  it("past PATCH_DISTANCE_MAX differing lines the middle is replaced whole, still exactly", () => {
    const before = Array.from({ length: 200 }, (_, i) => `a${i}`)
    const after = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? `a${i}` : `b${i}`))
    // 100 lines replaced: 200 edits, more than PATCH_DISTANCE_MAX
    assert.isAbove(200, PATCH_DISTANCE_MAX)
    const splices = diffLines(before, after)
    assert.deepStrictEqual(splices, [{ at: 1, remove: 199, insert: after.slice(1) }])
    assert.deepStrictEqual(applySplices(before, splices), after)
  })

  it("a patch for another screen does not apply (undefined, never a wrong screen)", () => {
    const splices = diffLines(["a", "b", "c", "d"], ["a", "d"])
    assert.isUndefined(applySplices(["a"], splices))
    assert.isUndefined(applySplices(["x"], [{ at: -1, remove: 0, insert: [] }]))
  })

  it("screen text round-trips through its lines, trailing newline included", () => {
    for (const text of ["", "one", "one\ntwo", "one\n", "\n\n"]) assert.strictEqual(screenOf(screenLines(text)), text)
  })

  it("a capture's lines without their blank rows are the lines of its trimmed text, an all-blank screen included", () => {
    for (const text of ["", "   ", "\n\n", " \n\t\n  ", "a", "a\n", "a\n  \n\n", "\n\na\n \nb\n\t\n", "  x  \n"]) {
      assert.deepStrictEqual(
        withoutTrailingBlank(text.split("\n")),
        [...screenLines(trimTrailingBlankLines(text))],
        JSON.stringify(text)
      )
    }
    assert.deepStrictEqual(withoutTrailingBlank([]), [""])
  })
})
