/**
 * Where spans go, decided from the environment without loading anything, so the app's entry can tell at
 * import whether tracing is on. These are the platform's and OpenTelemetry's own variables (the SDKs read them
 * too), not gem-flow settings, so shared/config.ts does not define them:
 * - `APPLICATIONINSIGHTS_CONNECTION_STRING` (set by infra on Azure): Azure Monitor, authenticated with the
 *   managed identity that `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` names (`ClientId=…;Authorization=AAD`);
 * - else `OTEL_EXPORTER_OTLP_ENDPOINT`: an OTLP/HTTP collector (the exporter appends `/v1/traces`);
 * - else `OTEL_TRACES_EXPORTER=console`: printed on the host's output;
 * - else nothing is traced and no SDK is loaded.
 */
export type TelemetryTarget =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'azure-monitor';
      readonly connectionString: string;
      readonly managedIdentityClientId?: string;
    }
  | { readonly kind: 'otlp'; readonly endpoint: string }
  | { readonly kind: 'console' };

type Environment = Readonly<Record<string, string | undefined>>;

export function telemetryTargetOf(env: Environment): TelemetryTarget {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (connectionString) {
    const clientId = managedIdentityClientIdOf(env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING);
    return {
      kind: 'azure-monitor',
      connectionString,
      ...(clientId ? { managedIdentityClientId: clientId } : {}),
    };
  }
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (endpoint) return { kind: 'otlp', endpoint };
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'console') return { kind: 'console' };
  return { kind: 'none' };
}

/**
 * The client id of `ClientId=<id>;Authorization=AAD`, the form the Functions host reads for Entra-authenticated
 * ingestion (the Application Insights resource has local authentication disabled, infra/main.bicep).
 */
function managedIdentityClientIdOf(authentication: string | undefined): string | undefined {
  if (!authentication) return undefined;
  const parts = new Map(
    authentication.split(';').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim()] as const;
    }),
  );
  if (parts.get('authorization')?.toLowerCase() !== 'aad') return undefined;
  return parts.get('clientid') || undefined;
}
