/**
 * Registers an OpenTelemetry SDK for the target the environment names (target.ts). Loaded on first use only
 * (functions/telemetry.ts): the SDKs weigh hundreds of modules, and with no target nothing here is imported.
 * Every span passes `MatchAttributesSpanProcessor` (match id, job id, activity onto child spans) and
 * `RedactingSpanProcessor` (secret shapes removed) before an exporter sees it.
 */
import { APP_VERSION } from '../version.js';
import { RedactingSpanProcessor } from './redact.js';
import { MatchAttributesSpanProcessor } from './spans.js';
import type { TelemetryTarget } from './target.js';

/** Flushes and stops the SDK (the worker is shutting down). */
export type StopTelemetry = () => Promise<void>;

export const SERVICE_NAME = 'gem-flow';

export async function startTelemetry(
  target: Exclude<TelemetryTarget, { kind: 'none' }>,
): Promise<StopTelemetry> {
  if (target.kind === 'azure-monitor') return startAzureMonitor(target);
  return startNodeTracer(target);
}

/**
 * Azure Monitor's distro: traces, logs and metrics to Application Insights, with the HTTP and Azure SDK
 * instrumentations (each storage, Key Vault, identity and TomTom request of the app is a child span).
 */
async function startAzureMonitor(
  target: Extract<TelemetryTarget, { kind: 'azure-monitor' }>,
): Promise<StopTelemetry> {
  const { useAzureMonitor, shutdownAzureMonitor } = await import('@azure/monitor-opentelemetry');
  const credential = target.managedIdentityClientId
    ? new (await import('@azure/identity')).ManagedIdentityCredential({
        clientId: target.managedIdentityClientId,
      })
    : undefined;
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString: target.connectionString,
      ...(credential ? { credential } : {}),
    },
    instrumentationOptions: { azureSdk: { enabled: true }, http: { enabled: true } },
    spanProcessors: [new MatchAttributesSpanProcessor(), new RedactingSpanProcessor()],
  });
  return shutdownAzureMonitor;
}

/**
 * A Node tracer provider with the OTLP/HTTP exporter (JSON; it reads `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` itself) or the console exporter, and the Azure SDK's spans through
 * core-tracing's OpenTelemetry instrumenter.
 */
async function startNodeTracer(
  target: Extract<TelemetryTarget, { kind: 'otlp' | 'console' }>,
): Promise<StopTelemetry> {
  const { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider } = await import(
    '@opentelemetry/sdk-trace-node'
  );
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  const exporter =
    target.kind === 'otlp'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter()
      : new ConsoleSpanExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': SERVICE_NAME, 'service.version': APP_VERSION }),
    spanProcessors: [
      new MatchAttributesSpanProcessor(),
      new RedactingSpanProcessor(),
      new BatchSpanProcessor(exporter),
    ],
  });
  provider.register();
  const { useInstrumenter } = await import('@azure/core-tracing');
  const { createOpenTelemetryInstrumenter } = await import('@azure/opentelemetry-instrumentation-azure-sdk');
  useInstrumenter(createOpenTelemetryInstrumenter());
  return () => provider.shutdown();
}
