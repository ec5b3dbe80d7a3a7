import { build } from "esbuild"
import * as fs from "node:fs"
import * as http from "node:http"
import { createRequire } from "node:module"
import * as path from "node:path"
import { WebSocketServer } from "ws"

/**
 * A server for bench/webFloorPage.ts: the page (xterm.js bundled as the dashboard bundles it, its
 * stylesheet inline) and a WebSocket that sends each message back at once, as bytes — a keystroke's
 * echo with nothing between the browser and it. Returns its origin and a stop.
 */
export const startFloorServer = async () => {
  const bundled = await build({
    entryPoints: [path.resolve(import.meta.dirname, "webFloorPage.ts")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    minify: true
  })
  const script = bundled.outputFiles[0]!.text
  const css = fs.readFileSync(createRequire(import.meta.url).resolve("@xterm/xterm/css/xterm.css"), "utf8")
  const page = `<!doctype html><html><head><meta charset="utf-8"><style>${css}</style></head>` +
    `<body><div id="terminal" class="terminal-host"></div><script type="module">${script}</script></body></html>`
  const server = http.createServer((_request, response) => {
    response.setHeader("content-type", "text/html; charset=utf-8")
    response.end(page)
  })
  const sockets = new WebSocketServer({ server, path: "/echo", perMessageDeflate: false })
  sockets.on("connection", (socket) => socket.on("message", (data: Buffer) => socket.send(data, { binary: true })))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return {
    origin: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of sockets.clients) client.terminate()
        sockets.close()
        server.close(() => resolve())
      })
  }
}
