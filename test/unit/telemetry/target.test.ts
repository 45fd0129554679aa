import { describe, expect, it } from 'vitest';
import { telemetryTargetOf } from '../../../shared/telemetry/target.js';

const CONNECTION = 'InstrumentationKey=00000000-0000-4000-8000-000000000002;IngestionEndpoint=https://x/';

describe('telemetryTargetOf', () => {
  it('traces nothing when no variable is set (or they are blank)', () => {
    expect(telemetryTargetOf({})).toEqual({ kind: 'none' });
    expect(
      telemetryTargetOf({ APPLICATIONINSIGHTS_CONNECTION_STRING: ' ', OTEL_EXPORTER_OTLP_ENDPOINT: '' }),
    ).toEqual({ kind: 'none' });
    expect(telemetryTargetOf({ OTEL_TRACES_EXPORTER: 'otlp' })).toEqual({ kind: 'none' });
  });

  it('prefers Azure Monitor, with the managed identity of the Entra authentication string', () => {
    expect(
      telemetryTargetOf({
        APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION,
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=abc-123;Authorization=AAD',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      }),
    ).toEqual({ kind: 'azure-monitor', connectionString: CONNECTION, managedIdentityClientId: 'abc-123' });
  });

  it('uses no managed identity when the authentication string is not Entra (AAD)', () => {
    expect(
      telemetryTargetOf({
        APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION,
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=abc-123',
      }),
    ).toEqual({ kind: 'azure-monitor', connectionString: CONNECTION });
  });

  it('sends to an OTLP endpoint, or prints on the console when asked', () => {
    expect(telemetryTargetOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toEqual({
      kind: 'otlp',
      endpoint: 'http://127.0.0.1:4318',
    });
    expect(telemetryTargetOf({ OTEL_TRACES_EXPORTER: 'Console' })).toEqual({ kind: 'console' });
  });
});
