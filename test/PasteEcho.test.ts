import { describe, expect, it } from "vitest"
import { PASTE_TAIL_LENGTH, pasteTail, visibleText, watchEcho } from "../src/tmux/PasteEcho.js"

describe("PasteEcho", () => {
  it("reads what a person sees: no escapes, controls, whitespace or frames", () => {
    expect(visibleText("\u001b[1;32mhello\u001b[0m world\r\n")).toBe("helloworld")
    expect(visibleText("\u001b]0;title\u0007ab\u001b]8;;x\u001b\\c")).toBe("abc")
    expect(visibleText("│ a long li│\r\n│ne here   │")).toBe("alonglinehere")
    expect(visibleText("\u001b(Bx\u001b7y\u001b8")).toBe("xy")
  })

  it("takes the end of the paste's last visible line", () => {
    expect(pasteTail("echo hello world")).toBe("ohelloworld".slice(-PASTE_TAIL_LENGTH))
    expect(pasteTail("first\nlast  \n\n  ")).toBe("last")
    expect(pasteTail("   \n\t")).toBeUndefined()
    expect(pasteTail("")).toBeUndefined()
    // astral characters are not cut in half
    expect(pasteTail("🙂".repeat(10))).toBe("🙂".repeat(PASTE_TAIL_LENGTH))
  })

  it("finds the tail across outputs, wrapped and coloured, and not before it is all there", () => {
    const watch = watchEcho(pasteTail("please fix the failing test")!)
    expect(watch.add("claude> please fix the fail")).toBe(false)
    expect(watch.add("\u001b[K│\r\n│ing te")).toBe(false)
    expect(watch.add("\u001b[1ms\u001b[0mt")).toBe(true)
  })

  it("a late prompt or a summary is not the paste", () => {
    const watch = watchEcho(pasteTail("after the hook")!)
    expect(watch.add("\r\nclaude> ")).toBe(false)
    expect(watch.add("[Pasted text #1]")).toBe(false)
  })
})
