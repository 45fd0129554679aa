// A private simulator instance over real HTTPS for contract tests that reset it, inject faults or change its
// limits (which would disturb tests sharing the stack's simulator): its own self-signed certificate, its own
// signing key for bearer tokens, in-memory blobs, and the clock and limits a test chooses.
import { request } from 'node:https';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import selfsigned from 'selfsigned';
import { MemoryBlobStore } from '../../../local/standins/simulator/blobs.js';
import { type SimulatorOverrides, startSimulatorServer } from '../../../local/standins/simulator/server.js';
import type { SimulatorHandle, SimulatorOptions } from '../../../local/standins/simulator/types.js';

export const AUD = 'https://gem.core.orbis.tomtom.com';
export const KEY = 'admin-test-key-000111';
export const PDG_ONLY_KEY = 'pdg-only-key-0000';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // JSON of many shapes; each test reads the fields it asserts on.
  // biome-ignore lint/suspicious/noExplicitAny: test-only access to parsed response bodies
  body: any;
}

export interface PrivateSimulator {
  sim: SimulatorHandle;
  blobs: MemoryBlobStore;
  call(method: string, url: string, headers?: Record<string, string>, body?: unknown): Promise<Reply>;
  /** The API key and a fresh bearer token for `oid`. */
  tomtom(oid?: string, key?: string): Promise<Record<string, string>>;
  admin(method: string, path: string, body?: unknown): Promise<Reply>;
  /** POST …/gem/jobs for a ROAD_MATCHING job of `filename` in storage-001. */
  createJob(oid?: string, filename?: string): Promise<Reply>;
  close(): Promise<void>;
}

export async function startPrivateSimulator(
  options: Partial<Pick<SimulatorOptions, 'clock' | 'jobDurations' | 'jobLimits'>> = {},
  overrides: Omit<SimulatorOverrides, 'blobs'> = {},
): Promise<PrivateSimulator> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  const ca = pems.cert;
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'a', alg: 'RS256' };
  const sign = (c: JWTPayload) =>
    new SignJWT(c).setProtectedHeader({ alg: 'RS256', kid: 'a' }).sign(privateKey);
  // Default: a paused virtual clock, so jobs stay REQUESTED and nothing depends on timing.
  const clock = options.clock ?? {
    now: () => Date.UTC(2026, 1, 18),
    toRealDelayMs: () => Number.POSITIVE_INFINITY,
  };
  const blobs = new MemoryBlobStore(() => clock.now());
  const sim = await startSimulatorServer(
    {
      tls: { cert: pems.cert, key: pems.private },
      clock,
      jwks: { keys: [jwk] },
      gemAudience: AUD,
      apiKeys: [
        { key: KEY, products: ['pdg', 'gem'] },
        { key: PDG_ONLY_KEY, products: ['pdg'] },
      ],
      storages: [
        {
          id: 'storage-001',
          name: 'A',
          containerUrl: 'https://127.0.0.1:1/acct/default/',
          blobConnectionString: 'unused',
          servicePrincipal: { tenantId: 't', clientId: 'c', clientSecret: 'sp-secret-value' },
          allowedObjectIds: ['user-a', 'user-b'],
        },
        {
          id: 'storage-002',
          name: 'B',
          containerUrl: 'https://127.0.0.1:1/other/default/',
          blobConnectionString: 'unused',
          servicePrincipal: { tenantId: 't', clientId: 'c', clientSecret: 's' },
          allowedObjectIds: ['user-b'],
        },
      ],
      ...(options.jobDurations ? { jobDurations: options.jobDurations } : {}),
      ...(options.jobLimits ? { jobLimits: options.jobLimits } : {}),
    },
    { ...overrides, blobs },
  );

  const call: PrivateSimulator['call'] = (method, url, headers = {}, body) =>
    new Promise((resolve, reject) => {
      const req = request(url, { method, ca, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {}
          resolve({ status: res.statusCode!, headers: res.headers, body: parsed });
        });
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });

  const tomtom: PrivateSimulator['tomtom'] = async (oid = 'user-a', key = KEY) => {
    const now = Math.floor(Date.now() / 1000);
    const token = await sign({
      aud: AUD,
      iss: 'https://sts.windows.net/t/',
      iat: now - 30,
      exp: now + 3600,
      oid,
    });
    return { 'tomtom-api-key': key, Authorization: `Bearer ${token}` };
  };

  return {
    sim,
    blobs,
    call,
    tomtom,
    admin: (method, path, body) =>
      call(
        method,
        `${sim.adminUrl}${path}`,
        body === undefined ? {} : { 'content-type': 'application/json' },
        body,
      ),
    createJob: async (oid = 'user-a', filename = 'in.parquet') =>
      call(
        'POST',
        `${sim.url}/maps/orbis/platform/gem/jobs`,
        { ...(await tomtom(oid)), 'content-type': 'application/json' },
        { storage_id: 'storage-001', filename, job_type: 'ROAD_MATCHING', overture_release: '2026-01-21.0' },
      ),
    close: () => sim.close(),
  };
}
