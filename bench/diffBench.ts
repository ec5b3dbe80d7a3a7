import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { make } from "../layers/GitWorktrees.js"
import type { SessionWorktree, WorktreeDiff } from "../src/domain/Worktree.js"
import { type BenchRow, formatNs, printRows, ratio } from "./measure.js"

const FILES = 10_000
const EDITED = 350
const UNTRACKED = 100
const DELETED = 50
const RUNS = 5
const TIME = "/usr/bin/time"

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

const fileText = (i: number) => Array.from({ length: 20 }, (_, line) => `file ${i} line ${line}`).join("\n") + "\n"

/**
 * `Worktrees.diff` (temporary index, `git add -A`, numstat + name-status + the bounded patch) on
 * a worktree of a 10,000-file repository with 500 changes (edits, untracked files, deletions),
 * beside the plain floor in the same run: `git diff HEAD` plus `git status` (which is what it
 * takes to see untracked files at all). Memory: the Node process's RSS growth during a diff, and
 * each git child's peak RSS through `/usr/bin/time -f %M` (a `git` wrapper first on git's PATH).
 */
export const benchDiff = async (): Promise<ReadonlyArray<BenchRow>> => {
  const dir = mkdtempSync(join(tmpdir(), "telemux-diffbench-"))
  try {
    const home = join(dir, "home")
    mkdirSync(home)
    const env = { ...process.env, HOME: home, GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C" }
    const git = (cwd: string, ...args: Array<string>) => {
      const result = spawnSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@localhost", ...args], {
        cwd,
        env,
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024
      })
      if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr}`)
      return result.stdout
    }
    const repo = join(dir, "repo")
    git(dir, "init", "-q", "-b", "main", repo)
    for (let d = 0; d < FILES / 100; d++) {
      mkdirSync(join(repo, `dir${d}`))
      for (let f = 0; f < 100; f++) writeFileSync(join(repo, `dir${d}`, `file${f}.txt`), fileText(d * 100 + f))
    }
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "10,000 files")

    const layer = make({ root: join(dir, "worktrees"), env: { HOME: home, GIT_CONFIG_NOSYSTEM: "1" } })
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
    const wt: SessionWorktree = await run(
      layer.create({
        projectDir: repo,
        title: "bench",
        sessionId: "bench",
        request: { branch: "bench" },
        trusted: false
      })
    )
    // Spread over the tree: every 20th file edited (one line), deleted or added beside it.
    for (let i = 0; i < EDITED; i++) {
      const n = i * 20
      const file = join(wt.path, `dir${Math.floor(n / 100)}`, `file${n % 100}.txt`)
      writeFileSync(file, readFileSync(file, "utf8").replace("line 7\n", "line seven, edited\n"))
    }
    for (let i = 0; i < DELETED; i++) {
      const n = 7000 + i * 20 + 3
      rmSync(join(wt.path, `dir${Math.floor(n / 100)}`, `file${n % 100}.txt`))
    }
    for (let i = 0; i < UNTRACKED; i++) writeFileSync(join(wt.path, `dir${i}`, `new${i}.txt`), fileText(100_000 + i))

    const check = (diff: WorktreeDiff) => {
      if (diff.files.length !== EDITED + UNTRACKED + DELETED) {
        throw new Error(`the diff lists ${diff.files.length} files, expected ${EDITED + UNTRACKED + DELETED}`)
      }
    }
    // Interleaved, so each side meets the same caches; the plain side's `git status` refreshes the
    // worktree's index as an agent's own git use would.
    const fullTimes: Array<number> = []
    const statTimes: Array<number> = []
    const plainTimes: Array<number> = []
    let plainPatch = 0
    let full: WorktreeDiff | null = null
    const timed = async <A>(times: Array<number>, warm: boolean, op: () => Promise<A>) => {
      const start = process.hrtime.bigint()
      const result = await op()
      if (!warm) times.push(Number(process.hrtime.bigint() - start))
      return result
    }
    for (let i = 0; i < RUNS + 1; i++) {
      plainPatch = await timed(plainTimes, i === 0, async () => {
        const patch = git(wt.path, "diff", "HEAD").length
        git(wt.path, "status", "--porcelain", "-z")
        return patch
      })
      full = await timed(fullTimes, i === 0, () => run(layer.diff(wt, { statOnly: false })))
      check(full)
      check(await timed(statTimes, i === 0, () => run(layer.diff(wt, { statOnly: true }))))
    }

    // Memory: the daemon side while one diff runs (RSS sampled every 5 ms), then git's own peaks.
    const rssBefore = process.memoryUsage.rss()
    let rssPeak = rssBefore
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 5)
    await run(layer.diff(wt, { statOnly: false }))
    clearInterval(sampler)
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss())

    let gitPeak = "no /usr/bin/time here"
    let plainPeak = ""
    if (existsSync(TIME)) {
      const bin = join(dir, "bin")
      const log = join(dir, "maxrss.log")
      mkdirSync(bin)
      const realGit = spawnSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).stdout.trim()
      writeFileSync(join(bin, "git"), `#!/bin/sh\nexec ${TIME} -a -o '${log}' -f %M '${realGit}' "$@"\n`)
      chmodSync(join(bin, "git"), 0o755)
      const measured = make({
        root: join(dir, "worktrees"),
        env: { HOME: home, GIT_CONFIG_NOSYSTEM: "1", PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` }
      })
      writeFileSync(log, "")
      await run(measured.diff(wt, { statOnly: false }))
      const kb = readFileSync(log, "utf8").split("\n").filter((l) => /^\d+$/.test(l)).map(Number)
      gitPeak = `${mb(Math.max(...kb) * 1024)} (largest of ${kb.length} git runs)`
      const plainKb = ["diff HEAD", "status --porcelain -z"].map((args) => {
        const r = spawnSync(TIME, ["-f", "%M", realGit, ...args.split(" ")], {
          cwd: wt.path,
          env,
          encoding: "utf8",
          maxBuffer: 256 * 1024 * 1024
        })
        return Number(r.stderr.trim().split("\n").at(-1))
      })
      plainPeak = `${mb(Math.max(...plainKb) * 1024)} git diff HEAD / git status`
    }

    const label = `${
      FILES.toLocaleString("en")
    } files, 500 changed (${EDITED} edits, ${UNTRACKED} untracked, ${DELETED} deleted)`
    const floor = `${formatNs(median(plainTimes))} git diff HEAD + git status`
    return [
      {
        name: `Worktrees.diff, ${label}, patch ${mb(full!.patch?.length ?? 0)} (median of ${RUNS})`,
        value: formatNs(median(fullTimes)),
        baseline: floor,
        ratio: ratio(median(plainTimes), median(fullTimes))
      },
      {
        name: `Worktrees.diff statOnly, same tree (median of ${RUNS})`,
        value: formatNs(median(statTimes)),
        baseline: floor,
        ratio: ratio(median(plainTimes), median(statTimes))
      },
      {
        name: `daemon RSS growth during one diff (patch ${mb(plainPatch)} in git diff HEAD)`,
        value: mb(rssPeak - rssBefore),
        baseline: `${mb(rssBefore)} RSS before`
      },
      { name: "peak RSS of a git child of the diff", value: gitPeak, baseline: plainPeak }
    ]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export const main = async () => printRows("git worktree diff", await benchDiff())

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
