/** The help overlay (`?`): every key of every mode, read from the key tables the UI dispatches on. */
import { Box, Text } from "ink"
import { truncate } from "../cli/Table.js"
import { HELP_SECTIONS } from "./Keys.js"

/** Width of the keys column. */
const KEYS_WIDTH = 15

export const helpLines = (): ReadonlyArray<{ readonly title: boolean; readonly text: string }> =>
  HELP_SECTIONS.flatMap((section) => [
    { title: true, text: section.title },
    ...section.keys.map((key) => ({ title: false, text: `  ${key.keys.padEnd(KEYS_WIDTH)} ${key.does}` }))
  ])

export const HelpView = (
  { scroll, width, height }: { readonly scroll: number; readonly width: number; readonly height: number }
) => {
  const lines = helpLines()
  const room = Math.max(1, height - 1)
  const start = Math.min(scroll, Math.max(0, lines.length - room))
  const more = start + room < lines.length
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      {lines.slice(start, start + room).map((line, i) => (
        <Text key={start + i} bold={line.title} {...(line.title ? { color: "cyan" } : {})}>
          {truncate(line.text, width)}
        </Text>
      ))}
      <Text dimColor>{truncate(more ? "↓ more · Esc closes" : "Esc closes", width)}</Text>
    </Box>
  )
}
