import { createRequire } from "node:module"

/**
 * better-sqlite3, the few calls telemux makes of it, typed here: the package ships no types
 * and @types/better-sqlite3 is not a dependency. Loaded with `require` so the hook command can
 * use it without `effect` (and esbuild leaves it external).
 */
export interface SqliteStatement {
  readonly run: (
    ...params: ReadonlyArray<unknown>
  ) => { readonly changes: number; readonly lastInsertRowid: number | bigint }
  readonly all: (...params: ReadonlyArray<unknown>) => Array<unknown>
  readonly get: (...params: ReadonlyArray<unknown>) => unknown
}

export interface SqliteDatabase {
  readonly pragma: (source: string) => unknown
  readonly exec: (source: string) => unknown
  readonly prepare: (source: string) => SqliteStatement
  readonly close: () => unknown
}

export interface SqliteOpenOptions {
  /** Busy timeout, milliseconds. */
  readonly timeout?: number
  readonly readonly?: boolean
  readonly fileMustExist?: boolean
}

type SqliteConstructor = new(filename: string, options?: SqliteOpenOptions) => SqliteDatabase

/** Loaded on first use (Node caches it): a hook outside telemux exits without loading the addon. */
export const openSqlite = (filename: string, options: SqliteOpenOptions = {}): SqliteDatabase => {
  const Database = createRequire(import.meta.url)("better-sqlite3") as SqliteConstructor
  return new Database(filename, options)
}
