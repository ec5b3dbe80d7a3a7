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
import { HttpClient, HttpClientError } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Duration, Effect, Layer, Option } from "effect"
import type { TelemuxSettings } from "../services/TelemuxConfig.js"
import { VERSION } from "../src/Version.js"

/** Whether spans leave the process: the fleet's rpc propagates trace context only then (it costs per call). */
export const isTracing = (settings: TelemuxSettings) => Option.isSome(settings.otlp)

const withoutSecrets = (url: string) => {
  const parsed = new URL(url)
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`
}

/**
 * One export may take this long; then it fails (and the exporter pauses for a minute). Without it
 * a collector that accepts and never answers held each batch, and every later one, for good.
 */
export const EXPORT_TIMEOUT = Duration.seconds(10)
/**
 * The last spans' export at shutdown is given this long: a collector that does not answer held the
 * daemon's exit for ~5 s (the exporter's own default is 3 s), past the 1 s every SIGTERM is promised.
 */
export const EXPORT_AT_SHUTDOWN_TIMEOUT = Duration.millis(300)

const boundedClient = Layer.effect(
  HttpClient.HttpClient,
  Effect.map(
    HttpClient.HttpClient,
    HttpClient.transform((response, request) =>
      Effect.timeoutFail(response, {
        duration: EXPORT_TIMEOUT,
        onTimeout: () =>
          new HttpClientError.RequestError({
            request,
            reason: "Transport",
            description: `the trace collector did not answer within ${Duration.format(EXPORT_TIMEOUT)}`
          })
      })
    )
  )
).pipe(Layer.provide(NodeHttpClient.layerUndici))

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
              shutdownTimeout: EXPORT_AT_SHUTDOWN_TIMEOUT,
              resource: {
                serviceName: otlp.serviceName,
                serviceVersion: VERSION,
                attributes: { "telemux.computer": settings.computer, "host.name": settings.computer }
              }
            }).pipe(
              Layer.provide(
                otlp.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf
              ),
              Layer.provide(boundedClient)
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
