#!/usr/bin/env node
// npm records a platform package only when the registry in use serves it (npm/cli#4828), and the
// registry reachable here lacks some (rollup's android builds, for one). `npm ci` then refuses the
// lockfile. Platform packages of another OS/CPU are never downloaded, so an entry naming the version
// the parent asks for is all `npm ci` needs. Run after `npm install` changes the lockfile.
import fs from "node:fs"

const file = new URL("../package-lock.json", import.meta.url)
const lock = JSON.parse(fs.readFileSync(file, "utf8"))
const packages = lock.packages

const OS = ["android", "darwin", "freebsd", "linux", "openbsd", "sunos", "win32", "aix", "netbsd", "openharmony"]
const CPU = ["arm64", "arm", "x64", "ia32", "ppc64", "riscv64", "s390x", "loong64", "mips64el", "loongarch64"]
const platformOf = (name) => {
  const parts = name.split("/").pop().split("-")
  const os = parts.find((p) => OS.includes(p))
  const cpu = parts.find((p) => CPU.includes(p))
  return { ...(os ? { os: [os === "win32" ? "win32" : os] } : {}), ...(cpu ? { cpu: [cpu] } : {}) }
}

let added = 0
for (const [location, entry] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${location}/node_modules/${name}`
    const hoisted = `node_modules/${name}`
    if (packages[nested] || packages[hoisted]) continue
    if (!/^\d+\.\d+\.\d+/.test(spec)) continue
    packages[hoisted] = {
      version: spec,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...platformOf(name)
    }
    added++
  }
}

lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)))
)
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + "\n")
console.log(`complete-lockfile: added ${added} platform entries`)
