/**
 * Unit tests of `local/standins/simulator/redact.ts`: redaction; request log; admin access.
 */
import { describe, expect, it } from 'vitest';
import { redactHeaders, redactSecret } from '../../../local/standins/simulator/redact.js';
import { credentialKind, RequestLog, safePath } from '../../../local/standins/simulator/requestLog.js';

describe('redaction', () => {
  it('keeps a 4-character prefix of long secrets and nothing of short ones', () => {
    expect(redactSecret('abcd1234efgh')).toBe('abcd…(redacted)');
    expect(redactSecret('short')).toBe('…(redacted)');
    expect(redactSecret(undefined)).toBeUndefined();
  });

  it('redacts secret headers only', () => {
    const out = redactHeaders({
      'tomtom-api-key': 'key-0123456789',
      Authorization: 'Bearer eyJhbGciOi.payload.sig',
      'X-Vault-Token': 'hvs.CAESIabcdefgh',
      'x-version': '1',
    });
    expect(out).toEqual({
      'tomtom-api-key': 'key-…(redacted)',
      authorization: 'Bearer …(redacted)',
      'x-vault-token': 'hvs.…(redacted)',
      'x-version': '1',
    });
    expect(JSON.stringify(out)).not.toContain('payload');
  });

  it('redacts secret-looking query values in logged paths', () => {
    expect(safePath('/x?type=READ&token=hvs.secretsecret')).toBe(
      '/x?type=READ&token=hvs.%E2%80%A6%28redacted%29',
    );
    expect(safePath('/x?type=READ')).toBe('/x?type=READ');
  });
});

describe('request log', () => {
  const base = {
    time: 't',
    virtualTime: 'v',
    method: 'GET',
    path: '/p',
    credential: 'api-key+bearer' as const,
  };

  it('counts per route, status and credential kind, and never holds a whole key', () => {
    const log = new RequestLog(2);
    log.record({
      ...base,
      route: 'GET /storages',
      status: 200,
      apiKey: 'secret-api-key-1',
      subject: 'oid-1',
    });
    log.record({ ...base, route: 'GET /storages', status: 401, apiKey: 'secret-api-key-2' });
    log.record({ ...base, route: 'POST /unwrap', status: 200, credential: 'vault-token' });
    const s = log.summary();
    expect(s.total).toBe(3);
    expect(s.byRoute).toEqual({ 'GET /storages': 2, 'POST /unwrap': 1 });
    expect(s.byStatus).toEqual({ '200': 2, '401': 1 });
    expect(s.byCredential).toEqual({ 'api-key+bearer': 2, 'vault-token': 1 });
    expect(s.byRouteAndStatus['GET /storages']).toEqual({ '200': 1, '401': 1 });
    expect(s.recent.map((r) => r.route)).toEqual(['GET /storages', 'POST /unwrap']); // capacity 2
    expect(s.recent[0]!.apiKey).toBe('secr…(redacted)');
    expect(JSON.stringify(s)).not.toContain('secret-api-key');
    expect(log.summary(0).recent).toEqual([]);
    log.reset();
    expect(log.summary().total).toBe(0);
  });

  it('classifies credentials by the headers present', () => {
    expect(credentialKind({ apiKey: 'k', authorization: 'b' })).toBe('api-key+bearer');
    expect(credentialKind({ apiKey: 'k' })).toBe('api-key');
    expect(credentialKind({ authorization: 'b' })).toBe('bearer');
    expect(credentialKind({ vaultToken: 'hvs.x' })).toBe('vault-token');
    expect(credentialKind({})).toBe('none');
  });
});

describe('admin access', () => {
  it('admits loopback peers only', async () => {
    const { isLoopback } = await import('../../../local/standins/simulator/admin.js');
    expect(['127.0.0.1', '::1', '::ffff:127.0.0.1'].map(isLoopback)).toEqual([true, true, true]);
    expect(['10.0.0.5', '::ffff:192.168.1.2', undefined].map(isLoopback)).toEqual([false, false, false]);
  });
});
