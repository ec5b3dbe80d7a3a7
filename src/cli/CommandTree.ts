/**
 * Reading @effect/cli's command tree (its descriptors' internal instructions) and its help spans:
 * what telemux's own `--help` (Help.ts) and the completion scripts (Completion.ts) both walk.
 */
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"

/** The shape of @effect/cli's command descriptors, as far as help and completion read it. */
export interface Node {
  readonly _tag: "Standard" | "GetUserInput" | "Map" | "Subcommands"
  readonly name?: string
  readonly description?: HelpDoc.HelpDoc
  readonly command?: Node
  readonly parent?: Node
  readonly children?: ReadonlyArray<Node>
}

/** The command a node stands for (a mapped command's inner one, a parent of subcommands itself). */
export const own = (node: Node): Node =>
  node._tag === "Map" ? own(node.command!) : node._tag === "Subcommands" ? own(node.parent!) : node
export const nameOf = (node: Node): string => own(node).name ?? ""
export const childrenOf = (node: Node): ReadonlyArray<Node> =>
  node._tag === "Map" ? childrenOf(node.command!) : node._tag === "Subcommands" ? node.children! : []

/** A help span's plain text. */
export const spanText = (span: Span.Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
    default:
      return spanText(span.value)
  }
}
