/**
 * Whether output gets colour, and colour taken out of text: shared by Entry.ts and the commands that
 * page their output (WorktreeCommands.ts), which Entry.ts imports.
 */

/** Whether `stream` gets colour: a terminal, and neither NO_COLOR (https://no-color.org) nor TERM=dumb. */
export const colorWanted = (
  env: NodeJS.ProcessEnv,
  stream: { readonly isTTY?: boolean } | undefined
): boolean => stream?.isTTY === true && (env.NO_COLOR ?? "") === "" && env.TERM !== "dumb"

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/g

export const stripAnsi = (text: string): string => text.replace(SGR, "")
