/**
 * Completion scripts for bash and zsh that complete what a person types after a command, not only
 * the command names: session ids (asked of the daemon through `telemux __complete sessions PREFIX`,
 * bounded and silent when the daemon is not there), key names for `keys`, directories for `new`,
 * the choices of `--agent`, `--mode` and `--status`, and each command's options. The commands and
 * their options are read from the command tree itself, so a new command completes without an edit
 * here. (`--completions fish` stays @effect/cli's: commands and options only.)
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import * as Usage from "@effect/cli/Usage"
import { Duration, Effect, Option } from "effect"
import { EDITING_KEYS, FUNCTION_KEYS } from "../domain/Keys.js"
import { Agent, AgentMode, SessionStatus } from "../domain/Session.js"
import { COMPLETE_COMMAND } from "./Argv.js"
import { CliEnvironment } from "./CliEnvironment.js"
import { childrenOf, type Node, own, spanText } from "./CommandTree.js"
import { loadSettings, readToken, resolveAddress } from "./Connection.js"
import { DaemonClient, layer as daemonClientLayer } from "./DaemonClient.js"

/** Longest a completion waits for the daemon: a shell must not hang on Tab. */
export const COMPLETE_TIMEOUT = Duration.millis(1500)

/** Commands whose first argument is a session id. */
const SESSION_COMMANDS = [
  "send",
  "keys",
  "tail",
  "watch",
  "attach",
  "close",
  "resume",
  "restart",
  "listen",
  "diff",
  "fork",
  "worktree commit",
  "worktree push",
  "worktree merge",
  "worktree discard"
]
/** The case patterns of SESSION_COMMANDS (a nested one quoted: "worktree commit"). */
const sessionPatterns = SESSION_COMMANDS.filter((c) => c !== "keys").map((c) => c.includes(" ") ? `"${c}"` : c)
  .join("|")
const VALUE_OPTIONS =
  "--config|--log-level|--computer|--status|--agent|--mode|--lines|--listener|--title|--prompt|--branch|--base|--message|--remote"

const CTRL_KEYS = "abcdefghijklmnopqrstuvwxyz".split("").map((c) => `C-${c}`)
export const COMPLETED_KEYS = [...EDITING_KEYS, ...FUNCTION_KEYS, ...CTRL_KEYS, "M-"]

/** A command's options, read off its usage line. */
const optionsOf = (node: Node): Array<string> => {
  const usage = Usage.enumerate(CommandDescriptor.getUsage(own(node) as never), CliConfig.defaultConfig)
  const names = usage.flatMap((span) => spanText(span).match(/--[a-z][a-z-]*/g) ?? [])
  return [...new Set([...names, "--help"])]
}

interface Tree {
  /** Every command (a nested one as "hooks install") and its options. */
  readonly commands: ReadonlyArray<{ readonly name: string; readonly options: ReadonlyArray<string> }>
  readonly nested: ReadonlyArray<{ readonly name: string; readonly children: ReadonlyArray<string> }>
}

const treeOf = (root: { readonly descriptor: unknown }): Tree => {
  const children = childrenOf(root.descriptor as Node)
  const commands = children.flatMap((child) => {
    const name = own(child).name ?? ""
    return [
      { name, options: optionsOf(child) },
      ...childrenOf(child).map((c) => ({ name: `${name} ${own(c).name ?? ""}`, options: optionsOf(c) }))
    ]
  })
  const nested = children
    .filter((child) => childrenOf(child).length > 0)
    .map((child) => ({ name: own(child).name ?? "", children: childrenOf(child).map((c) => own(c).name ?? "") }))
  return { commands, nested }
}

const words = (list: ReadonlyArray<string>) => list.join(" ")
const topNames = (tree: Tree) => tree.commands.map((c) => c.name).filter((name) => !name.includes(" "))

export const bashScript = (root: { readonly descriptor: unknown }): string => {
  const tree = treeOf(root)
  const optionCases = tree.commands.map((c) => `    "${c.name}") echo "${words(c.options)}" ;;`).join("\n")
  const nestedCases = tree.nested.map((n) => `    ${n.name}) echo "${words(n.children)}" ;;`).join("\n")
  return `# telemux completion for bash: source it, e.g. in ~/.bashrc:
#   source <(telemux --completions bash)
_telemux_options() {
  case "$1" in
${optionCases}
  esac
}
_telemux_nested() {
  case "$1" in
${nestedCases}
  esac
}
# Words from the list "$1" that start with "$2", any case.
_telemux_match() {
  local word restore
  restore=$(shopt -p nocasematch)
  shopt -s nocasematch
  for word in $1; do
    [[ "$word" == "$2"* ]] && COMPREPLY+=("$word")
  done
  eval "$restore"
}
_telemux_sessions() {
  local line
  while IFS= read -r line; do
    [ -n "$line" ] && COMPREPLY+=("\${line%%$'\\t'*}")
  done < <(command telemux ${COMPLETE_COMMAND} sessions "$1" 2>/dev/null)
}
_telemux_bash_completions() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmd="" pos=0 i=1 word
  COMPREPLY=()
  while [ "$i" -lt "$COMP_CWORD" ]; do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      ${VALUE_OPTIONS}) i=$((i + 1)) ;;
      -*) ;;
      *) if [ -z "$cmd" ]; then cmd="$word"; elif [ -n "$(_telemux_nested "$cmd")" ] && [ "$pos" -eq 0 ]; then cmd="$cmd $word"; pos=-1; else pos=$((pos + 1)); fi ;;
    esac
    i=$((i + 1))
  done
  [ "$pos" -lt 0 ] && pos=0
  case "$prev" in
    --agent) _telemux_match "${words(Agent.literals)}" "$cur"; return 0 ;;
    --mode) _telemux_match "${words(AgentMode.literals)}" "$cur"; return 0 ;;
    --status) _telemux_match "${words(SessionStatus.literals)} all" "$cur"; return 0 ;;
    --config) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
    --listener) _telemux_sessions "$cur"; return 0 ;;
    --computer|--lines|--title|--prompt|--log-level) return 0 ;;
  esac
  if [ -z "$cmd" ]; then
    if [[ "$cur" == -* ]]; then
      _telemux_match "--config --version --completions --help" "$cur"
    else
      _telemux_match "${words(topNames(tree))}" "$cur"
    fi
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    _telemux_match "$(_telemux_options "$cmd")" "$cur"
    return 0
  fi
  case "$cmd" in
    ${sessionPatterns}) [ "$pos" -eq 0 ] && _telemux_sessions "$cur" ;;
    keys) if [ "$pos" -eq 0 ]; then _telemux_sessions "$cur"; else _telemux_match "${
    words(COMPLETED_KEYS)
  }" "$cur"; fi ;;
    new) [ "$pos" -eq 0 ] && COMPREPLY=($(compgen -d -- "$cur")) ;;
    *) [ "$pos" -eq 0 ] && _telemux_match "$(_telemux_nested "$cmd")" "$cur" ;;
  esac
  return 0
}
complete -F _telemux_bash_completions telemux
`
}

export const zshScript = (root: { readonly descriptor: unknown }): string => {
  const tree = treeOf(root)
  const optionCases = tree.commands.map((c) => `    ("${c.name}") print -r -- "${words(c.options)}" ;;`).join("\n")
  const nestedCases = tree.nested.map((n) => `    (${n.name}) print -r -- "${words(n.children)}" ;;`).join("\n")
  return `#compdef telemux
# telemux completion for zsh: after compinit, e.g. in ~/.zshrc:
#   source <(telemux --completions zsh)
_telemux_options() {
  case $1 in
${optionCases}
  esac
}
_telemux_nested() {
  case $1 in
${nestedCases}
  esac
}
_telemux_sessions() {
  local -a ids
  local line
  for line in "\${(@f)$(command telemux ${COMPLETE_COMMAND} sessions "$1" 2>/dev/null)}"; do
    [[ -n $line ]] && ids+=("\${line%%$'\\t'*}:\${line#*$'\\t'}")
  done
  (( \${#ids} )) && _describe -t sessions 'session' ids
}
_telemux() {
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]}
  local cmd="" word
  integer pos=0 i
  for (( i = 2; i < CURRENT; i++ )); do
    word=\${words[i]}
    case $word in
      (${VALUE_OPTIONS}) (( i++ )) ;;
      (-*) ;;
      (*) if [[ -z $cmd ]]; then cmd=$word; elif [[ -n $(_telemux_nested $cmd) ]] && (( pos == 0 )); then cmd="$cmd $word"; pos=-1; else (( pos++ )); fi ;;
    esac
  done
  (( pos < 0 )) && pos=0
  case $prev in
    (--agent) compadd -- ${words(Agent.literals)}; return ;;
    (--mode) compadd -- ${words(AgentMode.literals)}; return ;;
    (--status) compadd -- ${words(SessionStatus.literals)} all; return ;;
    (--config) _files; return ;;
    (--listener) _telemux_sessions "$cur"; return ;;
    (--computer|--lines|--title|--prompt|--log-level) return ;;
  esac
  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      compadd -- --config --version --completions --help
    else
      local -a commands
      commands=(${words(topNames(tree))})
      compadd -- $commands
    fi
    return
  fi
  if [[ $cur == -* ]]; then
    compadd -- \${=$(_telemux_options "$cmd")}
    return
  fi
  case $cmd in
    (${sessionPatterns}) (( pos == 0 )) && _telemux_sessions "$cur" ;;
    (keys) if (( pos == 0 )); then _telemux_sessions "$cur"; else compadd -M 'm:{a-zA-Z}={A-Za-z}' -- ${
    words(COMPLETED_KEYS)
  }; fi ;;
    (new) (( pos == 0 )) && _directories ;;
    (*) (( pos == 0 )) && compadd -- \${=$(_telemux_nested $cmd)} ;;
  esac
}
compdef _telemux telemux
`
}

/**
 * `telemux __complete sessions PREFIX`: the open sessions whose id (or tmux name) starts with
 * PREFIX, one `ID<TAB>STATUS TITLE` a line. Nothing, and success, when the daemon is not there or
 * slow: a completion must never print an error into the line being typed.
 */
export const completeSessions = (prefix: string) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(Option.none())
    const address = yield* resolveAddress(settings, (yield* CliEnvironment).env)
    const token = yield* readToken(settings.tokenPath)
    const sessions = yield* Effect.flatMap(DaemonClient, (client) => client.sessions()).pipe(
      Effect.provide(daemonClientLayer(address, token))
    )
    const wanted = prefix.toLowerCase()
    return sessions
      .filter((s) => s.sessionId.startsWith(wanted) || s.tmuxName.startsWith(prefix))
      .map((s) => `${s.sessionId}\t${s.status} ${s.title}`.replace(/[\r\n]+/g, " "))
      .join("\n")
  }).pipe(
    Effect.timeout(COMPLETE_TIMEOUT),
    Effect.orElseSucceed(() => "")
  )
