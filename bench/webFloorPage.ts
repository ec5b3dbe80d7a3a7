/**
 * The web bench's floor page: xterm.js (as the dashboard configures it: DOM renderer) typed into
 * over a WebSocket whose server echoes each keystroke back at once. What a keystroke → drawn
 * costs in this browser with no daemon, no tmux and no shell in between.
 */
import { Terminal } from "@xterm/xterm"

const term = new Terminal({
  cols: 120,
  rows: 30,
  // as the dashboard's (web/app/TerminalView.tsx)
  cursorBlink: false,
  scrollback: 5000,
  fontFamily: "ui-monospace, \"DejaVu Sans Mono\", Menlo, Consolas, monospace",
  fontSize: 14
})
const host = document.getElementById("terminal")!
term.open(host)
const ws = new WebSocket(`ws://${location.host}/echo`)
ws.binaryType = "arraybuffer"
ws.onmessage = (event) => term.write(new Uint8Array(event.data as ArrayBuffer))
ws.onopen = () => {
  host.dataset["drawn"] = "yes"
  term.focus()
}
term.onData((data) => ws.send(data))
