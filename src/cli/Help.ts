/**
 * telemux's own `--help`: @effect/cli's help writes every command's whole usage on one line of
 * the root help (220 columns), a usage line without the program's name (`$ send …`), boilerplate
 * under each option ("A true or false value."), and ANSI codes into a pipe. This renders the same
 * descriptions (the commands' own HelpDocs) as short pages wrapped to the terminal, colour only
 * on a terminal without NO_COLOR.
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import * as Usage from "@effect/cli/Usage"
import { childrenOf, nameOf, type Node, own, spanText } from "./CommandTree.js"
import { displayWidth, padToWidth, wrapWords } from "./DisplayWidth.js"

/** Widest help page; a narrower terminal wraps it narrower. */
export const HELP_WIDTH_MAX = 80

export interface HelpStyle {
  /** Columns to wrap at. */
  readonly width: number
  readonly color: boolean
}

const find = (node: Node, path: ReadonlyArray<string>): Node | undefined => {
  if (path.length === 0) return node
  const child = childrenOf(node).find((c) => nameOf(c) === path[0])
  return child === undefined ? undefined : find(child, path.slice(1))
}

/** Lines @effect/cli adds under every option or argument, which say nothing the usage does not. */
const BOILERPLATE = [
  /^A user-defined piece of text\.$/,
  /^A true or false value\.$/,
  /^An integer\.$/,
  /^A file\.$/,
  /^This setting is optional\.$/,
  /^One of the following: /,
  /^This argument must be repeated at least \d+ times?\.$/,
  /^This argument may be repeated zero or more times\.$/
]
const isBoilerplate = (text: string) => BOILERPLATE.some((pattern) => pattern.test(text.trim()))

const bold = (text: string, style: HelpStyle) => (style.color ? `\x1b[1m${text}\x1b[0m` : text)

const indented = (text: string, indent: number, style: HelpStyle): Array<string> =>
  wrapWords(text, Math.max(20, style.width - indent)).map((line) => " ".repeat(indent) + line)

const render = (doc: HelpDoc.HelpDoc, indent: number, style: HelpStyle): Array<string> => {
  switch (doc._tag) {
    case "Empty":
      return []
    case "Header":
      return ["", bold(`${spanText(doc.value).charAt(0)}${spanText(doc.value).slice(1).toLowerCase()}:`, style)]
    case "Paragraph": {
      const text = spanText(doc.value)
      return text.trim() === "" || isBoilerplate(text) ? [] : indented(text, indent, style)
    }
    case "DescriptionList":
      return doc.definitions.flatMap(([term, body]) => [
        " ".repeat(indent) + bold(spanText(term), style),
        ...render(body, indent + 4, style)
      ])
    case "Enumeration":
      return doc.elements.flatMap((element) => render(element, indent + 2, style))
    case "Sequence":
      return [...render(doc.left, indent, style), ...render(doc.right, indent, style)]
  }
}

const config: CliConfig.CliConfig = { ...CliConfig.defaultConfig, showBuiltIns: false }

/** A command's description as one line of text. */
const summaryOf = (node: Node): string => {
  const text = (doc: HelpDoc.HelpDoc): string =>
    doc._tag === "Paragraph" || doc._tag === "Header"
      ? spanText(doc.value)
      : doc._tag === "Sequence"
      ? `${text(doc.left)} ${text(doc.right)}`.trim()
      : ""
  const description = own(node).description
  return description === undefined ? "" : text(description)
}

/** `telemux send [--no-enter] <id> <text>...`, wrapped under its own start. */
const usageLines = (node: Node, parents: ReadonlyArray<string>, style: HelpStyle): Array<string> =>
  Usage.enumerate(CommandDescriptor.getUsage(node as never), config).map((span) => {
    const text = ["telemux", ...parents, spanText(span)].join(" ")
    const [first = "", ...rest] = wrapWords(text, style.width - 9)
    return [`Usage: ${first}`, ...rest.map((line) => `         ${line}`)].join("\n")
  })

/** One line per command (its name and description), wrapped under the description. */
const commandList = (nodes: ReadonlyArray<Node>, style: HelpStyle): Array<string> => {
  const commands = nodes.map((child) => ({ name: nameOf(child), summary: summaryOf(child) }))
  const nameWidth = Math.max(...commands.map((c) => displayWidth(c.name)))
  return commands.flatMap(({ name, summary }) => {
    const [first = "", ...rest] = wrapWords(summary, Math.max(20, style.width - nameWidth - 4))
    return [`  ${padToWidth(name, nameWidth)}  ${first}`, ...rest.map((line) => `${" ".repeat(nameWidth + 4)}${line}`)]
  })
}

/** What `telemux --help` prints: the commands, one line each where the width allows. */
export const rootHelp = (root: { readonly descriptor: unknown }, version: string, style: HelpStyle) => {
  const node = root.descriptor as unknown as Node
  const lines = [
    ...wrapWords(`telemux ${version} — run and drive terminal sessions (shells, AI agents) in tmux`, style.width),
    "",
    "Usage: telemux [--config FILE] <command> [options] [arguments]",
    "",
    bold("Commands:", style),
    ...commandList(childrenOf(node), style),
    "",
    bold("Options:", style),
    ...[
      ["--config FILE", "the daemon's JSON config file (default: $TELEMUX_CONFIG)"],
      ["--version", "print telemux's version"],
      ["--completions SHELL", "print a completion script for bash, zsh or fish"],
      ["-h, --help", "this help; after a command, that command's"]
    ].flatMap(([name, text]) => {
      const [first = "", ...rest] = wrapWords(text!, Math.max(20, style.width - 23))
      return [`  ${name!.padEnd(19)}  ${first}`, ...rest.map((line) => `${" ".repeat(23)}${line}`)]
    }),
    "",
    ...wrapWords(
      "Run `telemux <command> --help` for a command's options. The daemon is found through TELEMUX_HOME, " +
        "TELEMUX_HOST and TELEMUX_PORT (as the daemon reads them); `telemux doctor` checks the setup.",
      style.width
    )
  ]
  return lines.join("\n")
}

/** What `telemux <command…> --help` prints; undefined for a command that does not exist. */
export const commandHelp = (
  root: { readonly descriptor: unknown },
  path: ReadonlyArray<string>,
  style: HelpStyle
): string | undefined => {
  const node = find(root.descriptor as unknown as Node, path)
  if (node === undefined) return undefined
  const children = childrenOf(node)
  if (children.length > 0) {
    return [
      `Usage: telemux ${path.join(" ")} <command> [options]`,
      "",
      ...indented(summaryOf(node), 2, style),
      "",
      bold("Commands:", style),
      ...commandList(children, style),
      "",
      ...wrapWords(`Run \`telemux ${path.join(" ")} <command> --help\` for a command's options.`, style.width)
    ].join("\n")
  }
  const body = render(CommandDescriptor.getHelp(node as never, config), 2, style)
  return [...usageLines(node, path.slice(0, -1), style), ...body].join("\n")
}
