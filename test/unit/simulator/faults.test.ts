/**
 * Unit tests of `local/standins/simulator/faults.ts`: fault rules.
 */
import { describe, expect, it } from 'vitest';
import { defaultFaultBody, FaultStore, faultRuleSchema } from '../../../local/standins/simulator/faults.js';

describe('fault rules', () => {
  it('match by route key and method, first rule wins', () => {
    const f = new FaultStore();
    f.add({ route: 'POST /jobs', status: 500 });
    f.add({ route: '*', method: 'get', status: 503 });
    expect(f.match('POST /jobs', 'POST')?.response?.status).toBe(500);
    expect(f.match('GET /jobs/{id}', 'GET')?.response?.status).toBe(503);
    expect(f.match('POST /unwrap', 'POST')).toBeUndefined();
  });

  it('apply to the next N requests only, then disappear', () => {
    const f = new FaultStore();
    f.add({ route: 'GET /storages', status: 429, retryAfterSeconds: 7, times: 2 });
    const first = f.match('GET /storages', 'GET');
    expect(first?.response).toEqual({
      status: 429,
      headers: { 'retry-after': '7' },
      body: {
        error: { code: 'TooManyRequests', message: 'Rate limit is exceeded. Try again in 7 seconds.' },
      },
    });
    expect(f.match('GET /storages', 'GET')?.rule.hits).toBe(2);
    expect(f.match('GET /storages', 'GET')).toBeUndefined();
    expect(f.list()).toEqual([]);
  });

  it('fire with the given probability (injected randomness)', () => {
    const draws = [0.9, 0.1];
    const f = new FaultStore(() => draws.shift()!);
    f.add({ status: 500, probability: 0.5, times: 1 });
    expect(f.match('GET /jobs', 'GET')).toBeUndefined(); // 0.9 ≥ 0.5: not this time, not consumed
    expect(f.match('GET /jobs', 'GET')?.response?.status).toBe(500);
    expect(f.match('GET /jobs', 'GET')).toBeUndefined();
  });

  it('latency-only rules delay without answering; custom bodies are sent as given', () => {
    const f = new FaultStore();
    f.add({ route: 'GET /jobs', latencyMs: 250, times: 1 });
    f.add({ route: 'GET /jobs', status: 418, body: { custom: true } });
    const slow = f.match('GET /jobs', 'GET');
    expect([slow?.latencyMs, slow?.response]).toEqual([250, undefined]);
    expect(f.match('GET /jobs', 'GET')?.response?.body).toEqual({ custom: true });
    expect(f.clear()).toBe(1);
  });

  it('use the Vault error shape on the unwrap route', () => {
    expect(defaultFaultBody(503, 'POST /unwrap')).toEqual({
      errors: ['The service is temporarily unavailable. Please retry the request.'],
    });
    expect(defaultFaultBody(500, 'GET /jobs')).toMatchObject({ error: { code: 'InternalServerError' } });
  });

  it('reject malformed rules', () => {
    expect(faultRuleSchema.safeParse({ status: 99 }).success).toBe(false);
    expect(faultRuleSchema.safeParse({ probability: 2 }).success).toBe(false);
    expect(faultRuleSchema.safeParse({ status: 500, colour: 'red' }).success).toBe(false);
    expect(faultRuleSchema.safeParse({ route: 'POST /jobs', status: 500, times: 1 }).success).toBe(true);
  });
});
