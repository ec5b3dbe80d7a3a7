import type { FileSystem } from "@effect/platform"
import { Effect } from "effect"
import * as path from "node:path"

/** `dir` is `root` or lies below it (both already resolved). */
export const isInside = (dir: string, root: string): boolean =>
  dir === root || dir.startsWith(root.endsWith(path.sep) ? root : root + path.sep)

/** The directory with every link resolved; as given (made absolute) when it cannot be resolved. */
export const realpath = (fs: FileSystem.FileSystem) => (dir: string): Effect.Effect<string> =>
  fs.realPath(dir).pipe(Effect.orElseSucceed(() => path.resolve(dir)))

/** Whether `dir` (resolved) is inside one of `roots` (resolved). */
export const isTrusted = (dir: string, roots: ReadonlyArray<string>): boolean =>
  roots.some((root) => isInside(dir, root))
