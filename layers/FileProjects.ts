import { FileSystem } from "@effect/platform"
import { Effect, Layer, Option } from "effect"
import * as path from "node:path"
import { Projects, ROADMAP_MAX_BYTES } from "../services/Projects.js"
import { TelemuxConfig } from "../services/TelemuxConfig.js"
import { Project, Todo } from "../src/domain/Project.js"
import { parseRoadmap } from "../src/domain/Roadmap.js"

// as Buffer#toString("utf8"): invalid bytes become U+FFFD, a byte-order mark is kept
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true })

/** Trusted dirs read fresh on each call: the roadmap files are edited by people and agents. */
export const make = (trustedDirs: ReadonlyArray<string>, computer?: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem

    const exists = (file: string) => fs.exists(file).pipe(Effect.orElseSucceed(() => false))

    /** The file's first ROADMAP_MAX_BYTES, in one read. */
    const readBounded = (file: string) =>
      Effect.scoped(
        Effect.flatMap(fs.open(file, { flag: "r" }), (handle) => handle.readAlloc(ROADMAP_MAX_BYTES))
      ).pipe(Effect.map(Option.match({ onNone: () => "", onSome: (bytes) => utf8.decode(bytes) })))

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

    return Projects.of({
      list: Effect.forEach(trustedDirs, (dir) =>
        Effect.all({ todos: todosOf(dir), description: descriptionOf(dir) }).pipe(
          Effect.map(({ description, todos }) =>
            new Project({
              name: path.basename(dir) || dir,
              path: dir,
              description,
              todos,
              ...(computer === undefined ? {} : { computer })
            })
          )
        ), { concurrency: 4 })
    })
  })

export const layer: Layer.Layer<Projects, never, TelemuxConfig | FileSystem.FileSystem> = Layer.effect(
  Projects,
  Effect.flatMap(TelemuxConfig, (config) => make(config.trustedDirs, config.computer))
)
