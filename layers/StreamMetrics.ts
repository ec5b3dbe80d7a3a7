/** The `/v1/stream` metrics (StreamRoute.ts connects clients, StreamClient.ts serves each). */
import { Metric, MetricBoundaries } from "effect"

export const streamClients = Metric.gauge("telemux_stream_clients", { description: "connected stream clients" })

export const streamFramesSent = Metric.counter("telemux_stream_frames_sent_total", {
  description: "frames written to stream clients (session lists and changes, output screens and patches, resyncs)",
  incremental: true
})
export const streamOverflows = Metric.counter("telemux_stream_overflows_total", {
  description:
    "frames dropped because a stream client's outbound queue was full (the client is resynced once it catches up)",
  incremental: true
})
export const streamLagResyncs = Metric.counter("telemux_stream_lag_resyncs_total", {
  description: "resyncs sent to stream clients after they lagged",
  incremental: true
})
export const streamQueueDepth = Metric.histogram(
  "telemux_stream_queue_depth",
  MetricBoundaries.linear({ start: 0, width: 32, count: 10 }),
  "frames in a client's outbound queue after the handler's turn"
)
export const streamSocketBuffered = Metric.histogram(
  "telemux_stream_socket_buffered_bytes",
  MetricBoundaries.exponential({ start: 1024, factor: 4, count: 8 }),
  "bytes buffered in a client's socket after the writer's turn"
)
