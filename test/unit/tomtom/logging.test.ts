/**
 * The TomTom client's logging through the real core-rest-pipeline at verbose level: what `@azure/logger` and
 * the console see for a failing and a succeeding call, which must name the request and never carry the API key
 * or the token.
 */
import { AzureLogger, getLogLevel, setLogLevel } from '@azure/logger';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { API_KEYS, testClient } from './fakes.js';

describe('logging through the real pipeline', () => {
  const lines: string[] = [];
  const originalLog = AzureLogger.log;
  const originalLevel = getLogLevel();

  beforeEach(() => {
    lines.length = 0;
    setLogLevel('verbose');
    AzureLogger.log = (...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    };
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(' '));
      });
    }
  });

  afterEach(() => {
    AzureLogger.log = originalLog;
    setLogLevel(originalLevel);
    vi.restoreAllMocks();
  });

  it('logs requests and responses of a failing and a succeeding call without any credential', async () => {
    const { client, tokens } = testClient([
      { status: 401, body: { error: { code: 'Unauthorized', message: 'Token is expired.' } } },
      { status: 401, body: { error: { code: 'Unauthorized', message: 'Token is expired.' } } },
      { status: 200, body: { storages: [] } },
      {
        status: 200,
        body: {
          request_id: 'r',
          data: {
            credentials: { clientId: 'c', clientSecret: 's3cr3t-value' },
            id: 's',
            url: 'https://a.blob.core.windows.net/default/',
          },
        },
      },
    ]);
    await expect(client.listStorages()).rejects.toThrow(/expired/);
    await client.listStorages();
    await client.unwrapStorageCredentials('hvs.wrapped-secret-token');

    const output = lines.join('\n');
    // The pipeline did log the requests, with the credential headers redacted.
    expect(output).toMatch(/Request: \{[\s\S]*"tomtom-api-key": "REDACTED"/);
    expect(output).toMatch(/"authorization": "REDACTED"/i);
    expect(output).toMatch(/"x-vault-token": "REDACTED"/i);
    expect(output).toMatch(/Response status code: 401/);
    for (const secret of [...API_KEYS, ...tokens, 'hvs.wrapped-secret-token', 's3cr3t-value']) {
      expect(output).not.toContain(secret);
    }
    expect(tokens.length).toBeGreaterThan(0);
  });
});
