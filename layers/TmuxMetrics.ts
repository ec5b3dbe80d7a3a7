/**
 * tmux commands by command, channel and result, with their latency; control-channel reconnects;
 * commands that fell back to spawning tmux because the channel was down. The command label is
 * the tmux subcommand (`capture-pane`, …), which comes from the daemon's own code: a few dozen at
 * most. A command list is labelled by its first command (lists are batches of one kind).
 */
import { Metric } from "effect"
import { labelSets } from "../src/metrics/LabelSets.js"
import { latencyBoundaries } from "../src/metrics/Latency.js"

/** Where a command ran: on a `tmux -C` control client, or in a spawned `tmux` process. */
export type Channel = "control" | "spawn"
/** How it ended: answered, refused by tmux, timed out, or lost with the channel. */
export type Result = "ok" | "refused" | "timeout" | "down" | "error"

const commands = Metric.counter("telemux_tmux_commands_total", {
  description:
    "tmux commands run, by subcommand, channel (control, spawn) and result (ok, refused, timeout, down, error)"
})
const duration = Metric.histogram(
  "telemux_tmux_command_duration_seconds",
  latencyBoundaries,
  "tmux command latency from being written (or spawned) to its answer, by subcommand and channel"
)
const reconnects = Metric.counter("telemux_tmux_control_reconnects_total", {
  description: "control-mode clients connected again after their connection ended, by client (events, input, fleet)"
})
const fallbacks = Metric.counter("telemux_tmux_spawn_fallbacks_total", {
  description: "commands run by spawning tmux because the control channel was down, by subcommand"
})

const SUBCOMMAND = /^[a-z]+(-[a-z]+)*$/
const commandLabel = (
  subcommand: string
) => (SUBCOMMAND.test(subcommand) && subcommand.length <= 32 ? subcommand : "other")

const resultLabels = labelSets("command", "channel", "result")
const latencyLabels = labelSets("command", "channel")
const clientLabels = labelSets("client")
const commandLabels = labelSets("command")

export const recordCommand = (subcommand: string, channel: Channel, result: Result, seconds: number) => {
  const command = commandLabel(subcommand)
  commands.unsafeUpdate(1, resultLabels(command, channel, result))
  duration.unsafeUpdate(seconds, latencyLabels(command, channel))
}

export const recordReconnect = (client: string) => reconnects.unsafeUpdate(1, clientLabels(commandLabel(client)))

export const recordFallback = (subcommand: string) => fallbacks.unsafeUpdate(1, commandLabels(commandLabel(subcommand)))
