/**
 * A session's live terminal in xterm.js, by the stream's `terminal` subscription (TerminalFeed:
 * snapshot, then chunks by seq; a gap or a reconnect asks again from the last seq applied). Keys go
 * out as the emulator produces them (`input`, in pieces of at most 64 KiB of bytes), pasted text
 * too (xterm.js brackets it when the program asked). While this tab has the focus, the terminal
 * asks for the size the page can show (`resize`): when it gets the focus, when the page changes
 * size, and on a new connection if it is not that size. A size the daemon does not apply (a person
 * attached with tmux keeps theirs) is shown as it is, scrolled inside its frame. The key bar sends
 * what a phone's keyboard lacks.
 */
import { FitAddon } from "@xterm/addon-fit"
import { Terminal } from "@xterm/xterm"
import { useEffect, useRef, useState } from "react"
import { KeyBar } from "./KeyBar.js"
import type { LinkState, StreamLink } from "./Stream.js"
import { inputFailedNotice, pieces, TerminalFeed } from "./TerminalFeed.js"

/** UTF-16 units per `input` message: even at 4 bytes per character, within the daemon's 64 KiB. */
const INPUT_PIECE = 16_000
/** Byte values per binary `input` message (one byte each). */
const BINARY_PIECE = 60_000
const RESIZE_SETTLE_MS = 120

export const TerminalView = (
  { link, linkState, sessionId }: {
    readonly link: StreamLink
    readonly linkState: LinkState
    readonly sessionId: string
  }
) => {
  const hostRef = useRef<HTMLDivElement>(null)
  const termRef = useRef<Terminal | undefined>(undefined)
  const [notice, setNotice] = useState<string | undefined>(undefined)
  const [drawn, setDrawn] = useState(false)

  useEffect(() => {
    const host = hostRef.current
    if (host === null) return
    const term = new Terminal({
      // A steady cursor: xterm.js restarts the blink on every key, a visual change that makes
      // Chromium hold the page's other tasks (the echo's message among them) until the next frame
      // is drawn — every keystroke's echo then came a frame later (bench: 29 ms p50 against 7 ms).
      cursorBlink: false,
      scrollback: 5000,
      fontFamily: "ui-monospace, \"DejaVu Sans Mono\", Menlo, Consolas, monospace",
      fontSize: 14
    })
    const fit = new FitAddon()
    term.loadAddon(fit)
    term.open(host)
    termRef.current = term
    const feed = new TerminalFeed({
      resize: (cols, rows) => {
        if (term.cols !== cols || term.rows !== rows) term.resize(cols, rows)
      },
      write: (data) => term.write(data)
    })

    const send = (data: string, binary: boolean) => {
      for (const piece of pieces(data, binary ? BINARY_PIECE : INPUT_PIECE)) {
        const sent = link.send({ type: "input", sessionId, data: piece, ...(binary ? { binary: true } : {}) })
        if (!sent) {
          setNotice("Not connected: what you typed was not sent. It reconnects by itself.")
          return
        }
      }
    }
    const typed = term.onData((data) => send(data, false))
    const mouse = term.onBinary((data) => send(data, true))

    /** Asks for the size this page shows, when this tab has the focus; `always` even if it is the size now. */
    const askSize = (always: boolean) => {
      if (!document.hasFocus() || document.visibilityState !== "visible") return
      const size = fit.proposeDimensions()
      if (size === undefined || !Number.isFinite(size.cols) || !Number.isFinite(size.rows)) return
      const cols = Math.max(2, size.cols)
      const rows = Math.max(1, size.rows)
      if (!always && cols === term.cols && rows === term.rows) return
      link.send({ type: "resize", sessionId, cols, rows })
    }
    let settle: number | undefined
    const observer = new ResizeObserver(() => {
      window.clearTimeout(settle)
      settle = window.setTimeout(() => askSize(false), RESIZE_SETTLE_MS)
    })
    observer.observe(host)
    const onFocus = () => askSize(true)
    window.addEventListener("focus", onFocus)
    term.textarea?.addEventListener("focus", onFocus)

    const unlisten = link.listen({
      // a new connection resumes where the view was (`since`): the size is asked again only if it
      // differs, since a resize redraws every watcher from a snapshot
      state: (state) => {
        if (state === "open") askSize(false)
      },
      message: (message) => {
        if (!("sessionId" in message) || message.sessionId !== sessionId) return
        switch (message.type) {
          case "terminal":
            feed.snapshot(message.seq, message.snapshot)
            setDrawn(true)
            setNotice(undefined)
            break
          case "size":
            setNotice(
              message.applied
                ? undefined
                : `Someone attached with tmux keeps this terminal at ${message.cols}×${message.rows}; it is shown at that size.`
            )
            break
          case "terminalLost":
            setNotice(
              message.error === "SessionClosed"
                ? "This session was closed."
                : `${message.message} It comes back by itself.`
            )
            break
          case "inputFailed":
            setNotice(inputFailedNotice(message))
            break
        }
      },
      chunk: (frame) => {
        if (frame.sessionId !== sessionId) return
        if (feed.chunk(frame.seq, frame.bytes) === "gap") link.refollowTerminal(sessionId)
      }
    })
    const unwatch = link.watchTerminal(sessionId, () => feed.lastSeq)
    askSize(true)
    if (window.matchMedia("(pointer: fine)").matches) term.focus()

    return () => {
      unwatch()
      unlisten()
      observer.disconnect()
      window.clearTimeout(settle)
      window.removeEventListener("focus", onFocus)
      typed.dispose()
      mouse.dispose()
      termRef.current = undefined
      term.dispose()
    }
  }, [link, sessionId])

  useEffect(() => {
    const term = termRef.current
    if (term !== undefined) term.options.disableStdin = linkState !== "open"
  }, [linkState])

  const press = (keys: string) => {
    const term = termRef.current
    if (term === undefined) return
    const sent = link.send({ type: "input", sessionId, data: keys })
    if (!sent) setNotice("Not connected: the key was not sent. It reconnects by itself.")
  }

  return (
    <div className="terminal-area">
      {notice !== undefined && <p className="notice" role="status">{notice}</p>}
      <div
        className="terminal-host"
        ref={hostRef}
        role="region"
        aria-label="Terminal"
        aria-busy={!drawn}
        data-drawn={drawn ? "yes" : "no"}
      />
      <KeyBar press={press} applicationCursor={() => termRef.current?.modes.applicationCursorKeysMode ?? false} />
    </div>
  )
}
