import { Layer } from "effect"
import * as FakeTerminalBridge from "../../layers/FakeTerminalBridge.js"
import * as IndexedCache from "../../layers/IndexedCache.js"
import * as MemorySessionStore from "../../layers/MemorySessionStore.js"
import * as SessionsLive from "../../layers/SessionsLive.js"
import * as ConfigLive from "../../layers/TelemuxConfigLive.js"

/** Sessions over in-memory doubles, with the doubles exposed for assertions. A fresh graph per call. */
export const sessionsOnDoubles = (env: Readonly<Record<string, string>> = {}) =>
  SessionsLive.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(
      IndexedCache.layer,
      MemorySessionStore.layer,
      FakeTerminalBridge.layer,
      ConfigLive.layerFromRecord({ TELEMUX_COMPUTER: "local", TELEMUX_HOME: "/nonexistent/telemux", ...env })
    ))
  )
