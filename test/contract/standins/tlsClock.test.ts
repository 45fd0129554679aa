/** Certificate reuse and CA bundle merging (tls.ts); the virtual clock has its unit test (test/unit/local/clock.test.ts). */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
      // one process must not share one (inProcessTrust.test.ts relies on this).
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
