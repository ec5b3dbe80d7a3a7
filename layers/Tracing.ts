/**
 * Spans exported over OTLP/HTTP when the standard OpenTelemetry variables name a collector
 * (TelemuxSettings.otlp): every span the daemon makes — the HTTP request (HttpMiddleware's, which
 * also continues a caller's `traceparent`), the session operation (`Effect.fn` names), the tmux
 * command, a fleet call on both computers — batched to the collector, each tagged with this
 * computer's name. Unset: the exporter's modules are never loaded and nothing leaves the process.
 *
 * Through @effect/opentelemetry's own OTLP exporter, which needs only an HTTP client, not the
 * OpenTelemetry SDK.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import type { TelemuxSettings } from "../services/TelemuxConfig.js"
import { VERSION } from "../src/Version.js"

/** Whether spans leave the process: the fleet's rpc propagates trace context only then (it costs per call). */
export const isTracing = (settings: TelemuxSettings) => Option.isSome(settings.otlp)

const withoutSecrets = (url: string) => {
  const parsed = new URL(url)
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`
}

export const layer = (settings: TelemuxSettings): Layer.Layer<never> =>
  Option.match(settings.otlp, {
    onNone: () => Layer.empty,
    onSome: (otlp) =>
      Layer.unwrapEffect(
        Effect.promise(() =>
          Promise.all([
            import("@effect/opentelemetry/OtlpTracer"),
            import("@effect/opentelemetry/OtlpSerialization")
          ])
        ).pipe(
          Effect.map(([OtlpTracer, OtlpSerialization]) =>
            OtlpTracer.layer({
              url: otlp.tracesUrl,
              exportInterval: otlp.exportInterval,
              resource: {
                serviceName: otlp.serviceName,
                serviceVersion: VERSION,
                attributes: { "telemux.computer": settings.computer, "host.name": settings.computer }
              }
            }).pipe(
              Layer.provide(
                otlp.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf
              ),
              Layer.provide(NodeHttpClient.layerUndici)
            )
          ),
          Effect.tap(() =>
            Effect.logInfo("exporting traces").pipe(
              // no user:password or query from the URL in the log
              Effect.annotateLogs({ url: withoutSecrets(otlp.tracesUrl), protocol: otlp.protocol })
            )
          )
        )
      )
  })
