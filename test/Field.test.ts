import { assert, describe, it } from "@effect/vitest"
import { editField } from "../src/tui/Field.js"
import { noKey } from "../src/tui/Model.js"

describe("editField", () => {
  it("keys typed while the screen was busy come as one chunk: Ctrl+U, Ctrl+W and Backspace act where they come", () => {
    // the TUI test's failure under CI's load: Ctrl+U and a path in one read appended the path
    assert.strictEqual(editField("/no/such/dir", "\u0015/tmp/proj", noKey), "/tmp/proj")
    assert.strictEqual(editField("a b", "c\u0017d", noKey), "a d")
    assert.strictEqual(editField("abc", "\u007f\u007fx\u0008y", noKey), "ay")
    assert.strictEqual(editField("keep", "x\u0015", noKey), "")
  })

  it("a paste still has its line breaks as spaces and other control characters left out", () => {
    assert.strictEqual(editField("", "one\r\ntwo\tthree\u0001", noKey), "one two three")
    assert.strictEqual(editField("", "a\u0015b\nc", noKey), "b c")
    assert.strictEqual(
      editField("", "one\r\ntwo\u0008", noKey),
      "one tw",
      "a line break between editing keys is one space"
    )
  })

  it("single keys as before", () => {
    assert.strictEqual(editField("abc", "u", { ...noKey, ctrl: true }), "")
    assert.strictEqual(editField("abc", "", { ...noKey, backspace: true }), "ab")
    assert.strictEqual(editField("abc", "d", noKey), "abcd")
  })
})
