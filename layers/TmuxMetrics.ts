/**
 * tmux commands by command, channel and result, with their latency; control-channel reconnects;
 * commands that fell back to spawning tmux because the channel was down. The command label is
 * the tmux subcommand (`capture-pane`, …), which comes from the daemon's own code: a few dozen at
 * most. A command list is labelled by its first command (lists are batches of one kind).
 */
import { Cause, Exit, Option } from "effect"
import * as MetricKey from "effect/MetricKey"
import { latencyBoundaries } from "../src/metrics/Latency.js"
import { NO_LABELS, seriesOf } from "../src/metrics/Series.js"

/** Where a command ran: on a `tmux -C` control client, or in a spawned `tmux` process. */
export type Channel = "control" | "spawn"
/** How it ended: answered, refused by tmux, timed out, or lost with the channel. */
export type Result = "ok" | "refused" | "timeout" | "down" | "error"

const commands = MetricKey.counter("telemux_tmux_commands_total", {
  incremental: true,
  description:
    "tmux commands run, by subcommand, channel (control, spawn) and result (ok, refused, timeout, down, error)"
})
const duration = MetricKey.histogram(
  "telemux_tmux_command_duration_seconds",
  latencyBoundaries,
  "tmux command latency from being written (or spawned) to its answer, by subcommand and channel"
)
const reconnects = MetricKey.counter("telemux_tmux_control_reconnects_total", {
  incremental: true,
  description: "control-mode clients connected again after their connection ended, by client (events, input, fleet)"
})
const fallbacks = MetricKey.counter("telemux_tmux_spawn_fallbacks_total", {
  incremental: true,
  description: "commands run by spawning tmux because the control channel was down, by subcommand"
})

const SUBCOMMAND = /^[a-z]+(-[a-z]+)*$/
const commandLabel = (
  subcommand: string
) => (SUBCOMMAND.test(subcommand) && subcommand.length <= 32 ? subcommand : "other")

const commandsOf = seriesOf(commands, "command", "channel", "result")
const durationOf = seriesOf(duration, "command", "channel")
const reconnectsOf = seriesOf(reconnects, "client")
const fallbacksOf = seriesOf(fallbacks, "command")

/**
 * How a command ended, from its exit: `answered` says whether tmux accepted it; a failure is
 * classified by its tag; an interruption (the daemon stopping, a caller gone) is none of tmux's
 * doing and is not counted.
 */
export const resultOf = <A, E extends { readonly _tag: string }>(
  exit: Exit.Exit<A, E>,
  answered: (value: A) => boolean
): Result | undefined => {
  if (Exit.isSuccess(exit)) return answered(exit.value) ? "ok" : "refused"
  if (Cause.isInterruptedOnly(exit.cause)) return undefined
  return Option.match(Cause.failureOption(exit.cause), {
    onNone: () => "error",
    onSome: (e) => (e._tag === "TmuxTimeout" ? "timeout" : e._tag === "ControlChannelDown" ? "down" : "error")
  })
}

export const recordCommand = (subcommand: string, channel: Channel, result: Result, seconds: number) => {
  const command = commandLabel(subcommand)
  commandsOf(command, channel, result).unsafeUpdate(1, NO_LABELS)
  durationOf(command, channel).unsafeUpdate(seconds, NO_LABELS)
}

export const recordReconnect = (client: string) => reconnectsOf(commandLabel(client)).unsafeUpdate(1, NO_LABELS)

export const recordFallback = (subcommand: string) => fallbacksOf(commandLabel(subcommand)).unsafeUpdate(1, NO_LABELS)
