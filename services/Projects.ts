import { Context, type Effect } from "effect"
import type { Project } from "../src/domain/Project.js"

/** Largest roadmap file read; a bigger one is read up to this size. */
export const ROADMAP_MAX_BYTES = 512 * 1024

/** The trusted directories of this computer, each with the todos of its `todos/roadmap.md`. */
export class Projects extends Context.Tag("telemux/Projects")<Projects, {
  readonly list: Effect.Effect<ReadonlyArray<Project>>
}>() {}
