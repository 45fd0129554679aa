/** Certificate reuse and CA bundle merging (tls.ts), and the virtual clock formula (clock.ts). */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { clockFromSettings, clockSettings, createVirtualClock } from '../../../local/standins/clock.js';
import { ensureTls } from '../../../local/standins/tls.js';

const dir = mkdtempSync(join(tmpdir(), 'gemflow-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ensureTls', () => {
  it('creates a certificate for localhost and 127.0.0.1 and reuses it on the next start', async () => {
    const first = await ensureTls({ dir, extraCaFile: '' });
    expect(first.reused).toBe(false);
    const x509 = new X509Certificate(readFileSync(first.certFile));
    expect(x509.subjectAltName).toContain('DNS:localhost');
    expect(x509.subjectAltName).toContain('IP Address:127.0.0.1');
    const second = await ensureTls({ dir, extraCaFile: '' });
    expect(second.reused).toBe(true);
    expect(second.cert).toBe(first.cert);
    expect(second.caFile).toBe(join(dir, 'tls', 'ca-bundle.pem'));
  });

  it('replaces a certificate whose key does not match', async () => {
    const other = mkdtempSync(join(tmpdir(), 'gemflow-tls-other-'));
    try {
      const a = await ensureTls({ dir: other, extraCaFile: '' });
      const b = await ensureTls({ dir, extraCaFile: '' });
      writeFileSync(b.keyFile, a.key);
      const c = await ensureTls({ dir, extraCaFile: '' });
      expect(c.reused).toBe(false);
      expect(c.cert).not.toBe(b.cert);
      // Distinct subjects: OpenSSL looks trust anchors up by subject, so two stacks' certificates trusted in
      // one process must not share one (in-process-trust.test.ts relies on this).
      expect(new X509Certificate(c.cert).subject).not.toBe(new X509Certificate(a.cert).subject);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('bundles the previously configured NODE_EXTRA_CA_CERTS without nesting its own bundle', async () => {
    const corporate = join(dir, 'corporate.pem');
    writeFileSync(corporate, '-----BEGIN CERTIFICATE-----\nQ09SUE9SQVRF\n-----END CERTIFICATE-----\n');
    const t = await ensureTls({ dir, extraCaFile: corporate });
    const bundle = readFileSync(t.caFile, 'utf8');
    expect(bundle.startsWith(t.cert.trim())).toBe(true);
    expect(bundle).toContain('Q09SUE9SQVRF');
    // A process already launched with this bundle starts another stack in the same dir.
    const again = await ensureTls({ dir, extraCaFile: t.caFile });
    expect(readFileSync(again.caFile, 'utf8').split(t.cert.trim()).length).toBe(2);
  });
});

describe('virtual clock', () => {
  afterEach(() => vi.useRealTimers());

  it('runs scale times faster than real time from the epoch', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const clock = createVirtualClock({ scale: 600 });
    expect(clock.epochMs).toBe(1_000_000);
    expect(clock.now()).toBe(1_000_000);
    vi.setSystemTime(1_000_000 + 1000);
    expect(clock.now()).toBe(1_000_000 + 600_000);
    expect(clock.toRealDelayMs(3 * 3600_000)).toBe(18_000);
    expect(clock.toRealDelayMs(-5)).toBe(0);
  });

  it('sleeps the real equivalent of virtual time', async () => {
    vi.useFakeTimers({ now: 0 });
    const clock = createVirtualClock({ scale: 100 });
    let done = false;
    const sleeping = clock.sleep(60_000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(599);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await sleeping;
    expect(done).toBe(true);
  });

  it('travels through settings to another process with the same formula', () => {
    const clock = createVirtualClock({ scale: 42, epochMs: 1_700_000_000_000 });
    const settings = clockSettings(clock);
    expect(settings).toEqual({ LOCAL_TIME_SCALE: '42', LOCAL_TIME_EPOCH_MS: '1700000000000' });
    const copy = clockFromSettings(settings);
    expect(copy.scale).toBe(42);
    expect(copy.epochMs).toBe(1_700_000_000_000);
    expect(clockFromSettings({}).scale).toBe(1);
  });

  it('refuses a non-positive scale with a clear error', () => {
    expect(() => createVirtualClock({ scale: 0 })).toThrow(/positive/);
  });
});
