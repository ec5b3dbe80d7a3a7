import { buildSync } from "esbuild"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { openSqlite } from "../src/agents/SqliteFile.js"
import { outboxPath } from "../src/agents/StateDir.js"
import { type BenchRow, formatNs, printRows, ratio } from "./measure.js"

const RUNS = 20
const WARMUP = 3
const HOOK_JS = resolve(import.meta.dirname, "..", "dist", "hook.js")

/** dist/hook.js as the build makes it; built here when a bench runs before the build did. */
const ensureHook = () => {
  if (existsSync(HOOK_JS)) return
  buildSync({
    entryPoints: [resolve(import.meta.dirname, "..", "src", "hook.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile: HOOK_JS,
    logLevel: "silent"
  })
}

/** Wall time of `runs` runs of a process (after a warm-up), sorted, in nanoseconds. */
const timeProcess = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, input: string): Array<number> => {
  const times: Array<number> = []
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const start = process.hrtime.bigint()
    const result = spawnSync(process.execPath, args, { env, input, stdio: ["pipe", "ignore", "pipe"], timeout: 10_000 })
    const elapsed = Number(process.hrtime.bigint() - start)
    if (result.status !== 0) throw new Error(`${args.join(" ")} exited ${result.status}: ${result.stderr}`)
    if (i >= WARMUP) times.push(elapsed)
  }
  return times.sort((a, b) => a - b)
}

const median = (sorted: ReadonlyArray<number>) => sorted[Math.floor(sorted.length / 2)]!
const p99 = (sorted: ReadonlyArray<number>) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!

/**
 * The hook command as Claude Code runs it at the end of a turn (`node dist/hook.js claude Stop`,
 * the payload on stdin, the last reply read from a 256 KB transcript, one row into a real
 * outbox file), beside a bare `node -e 0` start: what the hook costs over Node itself.
 */
export const benchHook = async (): Promise<ReadonlyArray<BenchRow>> => {
  ensureHook()
  const dir = mkdtempSync(join(tmpdir(), "telemux-hookbench-"))
  try {
    const home = join(dir, "state")
    const transcript = join(dir, "projects", "p", "session.jsonl")
    mkdirSync(dirname(transcript), { recursive: true })
    const turn = (i: number) =>
      JSON.stringify({ type: "user", message: { role: "user", content: `question ${i} `.repeat(20) } }) + "\n" +
      JSON.stringify({
        type: "assistant",
        message: { role: "assistant", content: [{ type: "text", text: `answer ${i} `.repeat(60) }] }
      }) + "\n"
    let jsonl = ""
    for (let i = 0; jsonl.length < 256 * 1024; i++) jsonl += turn(i)
    writeFileSync(transcript, jsonl)
    const payload = JSON.stringify({
      session_id: "0b6f4d6e-7a3c-4c8e-9f1a-2d3b4c5d6e7f",
      transcript_path: transcript,
      cwd: dir,
      permission_mode: "default",
      hook_event_name: "Stop",
      stop_hook_active: false
    })
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      TELEMUX_HOME: home,
      TELEMUX_SESSION_ID: "aaaaaaaa-1111-4222-8333-444444444444"
    }

    const hook = timeProcess([HOOK_JS, "claude", "Stop"], env, payload)
    const bare = timeProcess(["-e", "0"], env, "")

    const db = openSqlite(outboxPath(home))
    const rows = (db.prepare("SELECT COUNT(*) AS n FROM hook_outbox").get() as { n: number }).n
    db.close()
    if (rows !== WARMUP + RUNS) throw new Error(`the hook wrote ${rows} rows, expected ${WARMUP + RUNS}`)

    const label = `node dist/hook.js claude Stop (stdin payload, 256 KB transcript, SQLite outbox), ${RUNS} runs`
    return [
      {
        name: `${label} (median)`,
        value: formatNs(median(hook)),
        baseline: `${formatNs(median(bare))} node -e 0`,
        ratio: ratio(median(bare), median(hook))
      },
      {
        name: `${label} (p99)`,
        value: formatNs(p99(hook)),
        baseline: `${formatNs(p99(bare))} node -e 0`,
        ratio: ratio(p99(bare), p99(hook))
      }
    ]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export const main = async () => printRows("agent hook command (a process per agent event)", await benchHook())

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
