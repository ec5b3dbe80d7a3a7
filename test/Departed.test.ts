import { assert, describe, it } from "@effect/vitest"
import { ComputerName, SessionId } from "../src/domain/Session.js"
import { DEPARTED_COMPUTERS_MAX, DEPARTED_SESSIONS_MAX, makeDeparted } from "../src/fleet/Departed.js"
import { isBeyond } from "../src/fleet/StreamId.js"

const B = ComputerName.make("beta")
const C = ComputerName.make("gamma")
const id = (n: number) => SessionId.make(`00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`)

describe("Departed: sessions of computers that left (bounded)", () => {
  it("remembers a departed computer's sessions and when it left; forgets them when it is back", () => {
    const departed = makeDeparted()
    departed.left(B, [id(1), id(2)], 1000)
    departed.left(C, [id(3)], 2000)
    assert.deepStrictEqual(departed.session(id(1)), { computer: B, since: 1000 })
    assert.deepStrictEqual(departed.computer(C), { computer: C, since: 2000 })
    assert.isUndefined(departed.session(id(4)))
    departed.returned(B)
    assert.isUndefined(departed.session(id(1)))
    assert.isUndefined(departed.computer(B))
    assert.deepStrictEqual(departed.session(id(3)), { computer: C, since: 2000 })
  })

  it(`driven past its bound (${DEPARTED_SESSIONS_MAX} sessions): stays at the bound, forgetting the least recently used`, () => {
    const departed = makeDeparted()
    const total = DEPARTED_SESSIONS_MAX + 2500
    departed.left(B, Array.from({ length: DEPARTED_SESSIONS_MAX }, (_, i) => id(i)), 1000)
    // the oldest, touched now, outlives the ones after it
    assert.isDefined(departed.session(id(0)))
    departed.left(
      C,
      Array.from({ length: total - DEPARTED_SESSIONS_MAX }, (_, i) => id(DEPARTED_SESSIONS_MAX + i)),
      2000
    )
    assert.strictEqual(departed.sessionCount(), DEPARTED_SESSIONS_MAX)
    assert.isDefined(departed.session(id(0)))
    assert.isUndefined(departed.session(id(1)))
    assert.isUndefined(departed.session(id(2500)))
    assert.isDefined(departed.session(id(2501)))
    assert.isDefined(departed.session(id(total - 1)))
  })

  it(`remembers at most ${DEPARTED_COMPUTERS_MAX} computers`, () => {
    const departed = makeDeparted()
    for (let i = 0; i <= DEPARTED_COMPUTERS_MAX; i++) departed.left(ComputerName.make(`c${i}`), [], i)
    assert.isUndefined(departed.computer(ComputerName.make("c0")))
    assert.isDefined(departed.computer(ComputerName.make(`c${DEPARTED_COMPUTERS_MAX}`)))
  })
})

describe("StreamId.isBeyond: a position no new entry would ever follow", () => {
  it("compares as Redis orders ids; a missing stream (0-0) has every real position beyond it", () => {
    assert.isTrue(isBeyond("99999999999999-0", "1700000000000-5"))
    assert.isTrue(isBeyond("1700000000000-6", "1700000000000-5"))
    assert.isFalse(isBeyond("1700000000000-5", "1700000000000-5"))
    assert.isFalse(isBeyond("1700000000000-4", "1700000000000-5"))
    assert.isFalse(isBeyond("0-0", "0-0"))
    assert.isTrue(isBeyond("1-0", "0-0"))
    assert.isTrue(isBeyond("not-an-id", "0-0"))
  })
})
