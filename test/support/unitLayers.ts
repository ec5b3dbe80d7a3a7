import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as FakeTerminalBridge from "../../layers/FakeTerminalBridge.js"
import * as FileProjects from "../../layers/FileProjects.js"
import * as GitWorktrees from "../../layers/GitWorktrees.js"
import * as IdempotencyLive from "../../layers/IdempotencyLive.js"
import * as IndexedCache from "../../layers/IndexedCache.js"
import * as MemorySessionStore from "../../layers/MemorySessionStore.js"
import * as PaneProcessesLive from "../../layers/PaneProcessesLive.js"
import * as SessionsLive from "../../layers/SessionsLive.js"
import * as ConfigLive from "../../layers/TelemuxConfigLive.js"
import { Agents } from "../../services/Agents.js"
import { Worktrees } from "../../services/Worktrees.js"

/** Sessions over in-memory doubles, with the doubles exposed for assertions. A fresh graph per call. */
export const sessionsOnDoubles = (env: Readonly<Record<string, string>> = {}) =>
  SessionsLive.layer.pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        // real git, only when a test asks for a worktree; the trusted dirs of TELEMUX_TRUSTED_DIRS
        GitWorktrees.layer,
        FileProjects.layer
      ).pipe(Layer.provideMerge(Layer.mergeAll(
        IndexedCache.layer,
        MemorySessionStore.layer,
        FakeTerminalBridge.layer,
        IdempotencyLive.layerMemory,
        // the fake panes have no processes: their foreground is told by their command's name
        PaneProcessesLive.layerByName(),
        ConfigLive.layerFromRecord({ TELEMUX_COMPUTER: "local", TELEMUX_HOME: "/nonexistent/telemux", ...env }),
        // project dirs are checked on the real file system
        NodeFileSystem.layer
      )))
    )
  )

/** Agents for tests of other parts (the HTTP API, the stream): launching one is not what they test. */
export const agentsUnused = Layer.succeed(
  Agents,
  Agents.of({
    launch: () => Effect.dieMessage("Agents.launch is not under test here"),
    resume: () => Effect.dieMessage("Agents.resume is not under test here"),
    restart: () => Effect.dieMessage("Agents.restart is not under test here"),
    fork: () => Effect.dieMessage("Agents.fork is not under test here"),
    exportConversation: () => Effect.dieMessage("Agents.exportConversation is not under test here"),
    forkImported: () => Effect.dieMessage("Agents.forkImported is not under test here"),
    listen: () => Effect.void,
    notify: () => Effect.void,
    debounceSize: Effect.succeed(0)
  })
)

/** Worktrees for tests of other parts (the HTTP API, the stream): no test of theirs asks for one. */
export const worktreesUnused = Layer.succeed(
  Worktrees,
  Worktrees.of({
    create: () => Effect.dieMessage("Worktrees.create is not under test here"),
    diff: () => Effect.dieMessage("Worktrees.diff is not under test here"),
    commit: () => Effect.dieMessage("Worktrees.commit is not under test here"),
    push: () => Effect.dieMessage("Worktrees.push is not under test here"),
    merge: () => Effect.dieMessage("Worktrees.merge is not under test here"),
    remove: () => Effect.dieMessage("Worktrees.remove is not under test here"),
    list: Effect.succeed([])
  })
)
