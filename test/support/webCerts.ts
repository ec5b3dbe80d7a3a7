/**
 * Certificates for TLS tests, made with `openssl` in a temp dir: a CA, and a server certificate it
 * signed for `localhost` and `127.0.0.1` (what a person makes with mkcert), plus a second key that
 * is not the certificate's.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface TestCerts {
  readonly dir: string
  /** The CA's certificate: what TELEMUX_TLS_CA names. */
  readonly ca: string
  readonly cert: string
  readonly key: string
  /** A valid key that belongs to no certificate here. */
  readonly otherKey: string
}

const openssl = (args: ReadonlyArray<string>, cwd: string) => {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new Error(
      code === "ENOENT"
        ? "openssl is needed to make test certificates: install it (apt-get install openssl)"
        : `openssl ${args.join(" ")} failed: ${String((error as { stderr?: unknown }).stderr ?? error)}`
    )
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

export const makeTestCerts = (): TestCerts => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "telemux-certs-"))
  openssl(
    ["req", "-x509", ...EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=telemux test CA"],
    dir
  )
  openssl(["req", ...EC, "-keyout", "key.pem", "-out", "server.csr", "-subj", "/CN=localhost"], dir)
  fs.writeFileSync(path.join(dir, "san.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
  openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "cert.pem",
    "-days",
    "2",
    "-extfile",
    "san.cnf"
  ], dir)
  openssl(["req", ...EC, "-keyout", "other.key", "-out", "other.csr", "-subj", "/CN=other"], dir)
  return {
    dir,
    ca: path.join(dir, "ca.pem"),
    cert: path.join(dir, "cert.pem"),
    key: path.join(dir, "key.pem"),
    otherKey: path.join(dir, "other.key")
  }
}
