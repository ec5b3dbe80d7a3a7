// The build: the daemon (dist/main.js), the `telemux` command (dist/cli.js, with the daemon and
// the TUI split into chunks it loads only when run) and the agents' hook command (dist/hook.js,
// kept free of `effect` so it starts fast). Dependencies stay external (node_modules).
import { build } from "esbuild"
import * as fs from "node:fs"

const common = { bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", sourcemap: true }

await build({ ...common, entryPoints: ["src/main.ts"], outdir: "dist" })
await build({ ...common, entryPoints: ["src/hook.ts"], outdir: "dist", sourcemap: false })

fs.rmSync("dist/cli-chunks", { recursive: true, force: true })
await build({
  ...common,
  entryPoints: ["src/cli.ts"],
  outdir: "dist",
  splitting: true,
  chunkNames: "cli-chunks/[name]-[hash]",
  banner: { js: "#!/usr/bin/env node" }
})
fs.chmodSync("dist/cli.js", 0o755)
console.log("built dist/main.js, dist/cli.js, dist/hook.js")
