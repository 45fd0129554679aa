// host.json's telemetry mode, against the Functions host's own reading of it (Azure/azure-functions-host at
// 89dc438d): ConfigurationSectionNames.cs names the key `telemetryMode`, read from the job host section, i.e.
// the root of host.json (ScriptJobHostOptionsSetup.cs and ScriptHostBuilderExtensions.ConfigureTelemetry);
// the value goes through `Enum.TryParse(value, ignoreCase: true)` into TelemetryMode.cs (None,
// ApplicationInsights, OpenTelemetry), and anything else falls back to ApplicationInsights without a word.
// So the test checks the exact place and an exact enum name: a misspelt mode would silently do nothing.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const HOST_TELEMETRY_MODES = ['None', 'ApplicationInsights', 'OpenTelemetry'];

const host = JSON.parse(readFileSync(path.resolve(__dirname, '../../../host.json'), 'utf8')) as Record<
  string,
  unknown
>;

describe('host.json telemetry mode', () => {
  it('is OpenTelemetry, at the root where the host reads it', () => {
    expect(host.telemetryMode).toBe('OpenTelemetry');
  });

  it('is one of the host enum names, so the host does not fall back to ApplicationInsights', () => {
    const mode = String(host.telemetryMode);
    expect(HOST_TELEMETRY_MODES.map((m) => m.toLowerCase())).toContain(mode.toLowerCase());
    // Nowhere else: a `telemetryMode` under logging or extensions is ignored by the host.
    const nested = JSON.stringify({ ...host, telemetryMode: undefined });
    expect(nested).not.toContain('telemetryMode');
  });
});
