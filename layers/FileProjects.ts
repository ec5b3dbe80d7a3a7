import { Effect, Layer } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Project, Todo } from "../src/domain/Project.js"
import { parseRoadmap } from "../src/domain/Roadmap.js"
import { Projects, ROADMAP_MAX_BYTES } from "../services/Projects.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"

const exists = (file: string) =>
  Effect.tryPromise(() => fs.access(file)).pipe(Effect.as(true), Effect.orElseSucceed(() => false))

const readBounded = (file: string) =>
  Effect.acquireUseRelease(
    Effect.tryPromise(() => fs.open(file, "r")),
    (handle) =>
      Effect.tryPromise(async () => {
        const buffer = Buffer.alloc(ROADMAP_MAX_BYTES)
        const { bytesRead } = await handle.read(buffer, 0, ROADMAP_MAX_BYTES, 0)
        return buffer.subarray(0, bytesRead).toString("utf8")
      }),
    (handle) => Effect.promise(() => handle.close())
  )

const todosOf = (dir: string) =>
  Effect.gen(function*() {
    const todosDir = path.join(dir, "todos")
    const text = yield* readBounded(path.join(todosDir, "roadmap.md")).pipe(Effect.orElseSucceed(() => ""))
    return yield* Effect.forEach(parseRoadmap(text), (item) =>
      Effect.all({
        hasRequirements: exists(path.join(todosDir, item.slug, "requirements.md")),
        hasImplementationPlan: exists(path.join(todosDir, item.slug, "implementation-plan.md"))
      }).pipe(Effect.map((flags) => new Todo({ ...item, ...flags }))), { concurrency: 8 })
  })

const descriptionOf = (dir: string) =>
  readBounded(path.join(dir, "README.md")).pipe(
    Effect.map((text) => text.split(/\r?\n/).find((line) => line.trim() !== "" && !line.startsWith("#")) ?? ""),
    Effect.map((line) => line.trim().slice(0, 200)),
    Effect.orElseSucceed(() => "")
  )

/** Trusted dirs read fresh on each call: the roadmap files are edited by people and agents. */
export const make = (trustedDirs: ReadonlyArray<string>) =>
  Projects.of({
    list: Effect.forEach(trustedDirs, (dir) =>
      Effect.all({ todos: todosOf(dir), description: descriptionOf(dir) }).pipe(
        Effect.map(({ description, todos }) =>
          new Project({ name: path.basename(dir) || dir, path: dir, description, todos })
        )
      ), { concurrency: 4 })
  })

export const layer = Layer.effect(Projects, Effect.map(TelemuxConfig, (config) => make(config.trustedDirs)))
