/**
 * The keys a phone's keyboard lacks, as the terminal would send them. Arrows follow the program's
 * cursor-key mode (ESC O A in application mode, as vim and less ask, ESC [ A otherwise). A press
 * keeps the focus where it was, so the soft keyboard neither opens nor closes.
 */
const ESC = "\x1b"

interface Key {
  readonly label: string
  readonly name: string
  readonly keys: (applicationCursor: boolean) => string
}

const arrow = (letter: string) => (applicationCursor: boolean) => `${ESC}${applicationCursor ? "O" : "["}${letter}`

const KEYS: ReadonlyArray<Key> = [
  { label: "Esc", name: "Esc (Escape)", keys: () => ESC },
  { label: "Tab", name: "Tab", keys: () => "\t" },
  { label: "Ctrl-C", name: "Ctrl-C (interrupt)", keys: () => "\x03" },
  { label: "Ctrl-D", name: "Ctrl-D (end of input)", keys: () => "\x04" },
  { label: "←", name: "Left arrow", keys: arrow("D") },
  { label: "↑", name: "Up arrow", keys: arrow("A") },
  { label: "↓", name: "Down arrow", keys: arrow("B") },
  { label: "→", name: "Right arrow", keys: arrow("C") },
  { label: "PgUp", name: "PgUp (page up)", keys: () => `${ESC}[5~` },
  { label: "PgDn", name: "PgDn (page down)", keys: () => `${ESC}[6~` },
  { label: "Enter", name: "Enter", keys: () => "\r" }
]

export const KeyBar = (
  { applicationCursor, press }: { readonly press: (keys: string) => void; readonly applicationCursor: () => boolean }
) => (
  <div className="key-bar" role="toolbar" aria-label="Terminal keys">
    {KEYS.map((key) => (
      <button
        key={key.label}
        type="button"
        aria-label={key.name}
        onPointerDown={(event) => event.preventDefault()}
        onMouseDown={(event) => event.preventDefault()}
        onClick={() => press(key.keys(applicationCursor()))}
      >
        {key.label}
      </button>
    ))}
  </div>
)
