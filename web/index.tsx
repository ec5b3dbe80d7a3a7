/** The web dashboard's entry: xterm.js's stylesheet and ours (bundled into /assets/index.css), then the app. */
import "@xterm/xterm/css/xterm.css"
import "./app/app.css"
import { createRoot } from "react-dom/client"
import { App } from "./app/App.js"

createRoot(document.getElementById("root")!).render(<App />)

// installable as an app; the worker caches the app shell only (web/sw.ts)
if ("serviceWorker" in navigator && window.isSecureContext) {
  void navigator.serviceWorker.register("/sw.js").catch(() => undefined)
}
